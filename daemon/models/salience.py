"""How likely an onset is to fall on a beat, learnt (model kind "onsets"): the beat tracker's ear.

The tracker (models/beat.py) places the beat where the onsets that mark beats fall. Which onsets
mark beats is what this model says: a small GRU over the onsets as the tracker hears them (a chord
struck within CHORD is one onset), causal, one step an onset. What it hears of each onset
(`OnsetFeatures`): the gap from the onset before in seconds and against the recent gaps, its
loudness against the recent onsets', how many notes it has, its lowest key against the recent
lowest keys and on the keyboard, and the span of its chord. It was trained on renderings with human
timing of the train splits of the melody corpus and POP909 (training/beats.py; docs/models/beat.md):
from them it knows, for instance, that in a texture of running eighths over a bass the bass notes
are on the beats and the eighths between are not.

The file is the usual contract (models/file.py): one step, `(onset (1, 7), h (1, 1, H)) ->
(logit (1, 1), h_next)`, with its kind, feature count and state in the metadata. Cost: one small
session run an onset.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .file import ModelFileError, kind_name, open_session, resolve_model, trained_in, trial_run

KIND = "onsets"
INPUTS, OUTPUTS = ("onset", "h"), ("logit", "h_next")
FEATURES = 7
DEFAULT_SALIENCE = "beat.onnx"  # shipped: docs/models/beat.md
NORMS = 0.1  # how fast the running norms of the recent onsets follow


class OnsetFeatures:
    """What the salience model hears of each onset, causal: (the log gap from the onset before; the
    log of that gap against the recent gaps; its loudness as a z-score against the recent onsets'; its
    notes, at most 6, over 6; how much lower its lowest key is than the recent lowest keys, in
    octaves; its lowest key on the keyboard, -0.5..0.5; its chord's span in two octaves)."""

    def __init__(self):
        self.last: float | None = None
        self.gap = 0.3  # running geometric mean of the gaps
        self.loud = self.spread = self.low = None
        self.louder = self.lower = 0.0  # the last onset's loudness z-score, and how much lower it was (octaves)

    def __call__(self, time: float, weight: float, low: int, high: int, notes: int) -> np.ndarray:
        gap = 0.5 if self.last is None else min(max(time - self.last, 0.03), 4.0)
        self.last = time
        relative = math.log(gap / self.gap)
        self.gap = math.exp(math.log(self.gap) + NORMS * relative)
        if self.loud is None:
            self.loud, self.spread, self.low = weight, 0.04, float(low)
        self.louder, self.lower = (weight - self.loud) / math.sqrt(self.spread), (self.low - low) / 12
        out = np.array([math.log(gap), relative, self.louder, min(notes, 6) / 6, self.lower, low / 127 - 0.5,
                        (high - low) / 24], np.float32)
        self.loud += NORMS * (weight - self.loud)
        self.spread = max(self.spread + NORMS * ((weight - self.loud) ** 2 - self.spread), 0.0025)
        self.low += NORMS * (low - self.low)
        return out


class SalienceModel:
    """A loaded onset salience file (default: the shipped beat.onnx)."""

    _cache: dict[Path, "SalienceModel"] = {}

    def __init__(self, path: str | Path | None = None):
        self.path = resolve_model(path, DEFAULT_SALIENCE)
        self.session, meta = open_session(self.path, 1)
        kind = meta.get("segue.kind")
        if kind != KIND:
            raise ModelFileError(f"{self.path}: {kind_name(kind)}, but the beat tracker needs an onset salience "
                                 f"model (segue.kind {KIND})")
        try:
            if int(json.loads(meta["segue.codec"])["features"]) != FEATURES:
                raise ValueError(f"{FEATURES} features per onset expected")
            self.hidden = int(json.loads(meta["segue.state"])["h"][-1])
            self.training = json.loads(meta.get("segue.training", "{}"))
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(f"{self.path}: broken segue metadata ({type(err).__name__}: {err})") from None
        names = {i.name for i in self.session.get_inputs()}, {o.name for o in self.session.get_outputs()}
        if names != (set(INPUTS), set(OUTPUTS)):
            raise ModelFileError(f"{self.path}: graph inputs/outputs do not match an onset salience model")
        trial_run(self.path, lambda: dict(zip(OUTPUTS, self._run(np.zeros(FEATURES, np.float32), self.initial_state()))),
                  {"logit": (1, 1), "h_next": (1, 1, self.hidden)})

    @classmethod
    def shared(cls, path: str | Path | None = None) -> "SalienceModel":
        """One loaded model per file for every tracker of the process (each keeps its own state)."""
        key = resolve_model(path, DEFAULT_SALIENCE).resolve()
        if key not in cls._cache:
            cls._cache[key] = cls(key)
        return cls._cache[key]

    def initial_state(self) -> np.ndarray:
        return np.zeros((1, 1, self.hidden), np.float32)

    def _run(self, onset: np.ndarray, h: np.ndarray):
        return self.session.run(list(OUTPUTS), {"onset": onset.reshape(1, FEATURES).astype(np.float32), "h": h})

    def stream(self) -> "Salience":
        return Salience(self)

    def about(self) -> list[str]:
        metrics = self.training.get("metrics", {})
        lines = [str(self.path), f"  kind: onset salience for the beat tracker (GRU, hidden {self.hidden}, "
                 f"{FEATURES} features an onset)"]
        if metrics:
            lines.append(f"  valid: {metrics.get('bce', float('nan')):.4f} nats/onset (on a beat or not)")
        if self.training.get("train_command"):
            lines.append(f"  trained by: {self.training['train_command']}")
        return lines + trained_in(self.training.get("run"))


class Salience:
    """One listener's onsets through the model: call it with each onset's features (`OnsetFeatures`,
    which the caller keeps: the tracker weighs its own salience on the same norms), in order."""

    def __init__(self, model: SalienceModel):
        self.model = model
        self.h = model.initial_state()

    def __call__(self, onset: np.ndarray) -> float:
        """The chance that the onset whose features are `onset` is on a beat."""
        logit, self.h = self.model._run(onset, self.h)
        return float(1.0 / (1.0 + math.exp(-float(np.clip(logit[0, 0], -30, 30)))))
