"""The accompanist's chord model (training/chords.py) -> one ONNX step a beat, its texture
patterns in the metadata (daemon/models/accompanist.py reads it)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from segue.daemon.formats.chords import CLASSES, MELODY_FEATURES
from segue.daemon.models.accompanist import BASS_BELOW, INPUTS, KIND, OUTPUTS, SLOTS, AccompanistModel
from segue.daemon.models.file import FORMAT_VERSION

from .onnx import export_step, stamp


class _Step(torch.nn.Module):
    """(melody (B, 14), slot (B,), h (1, B, H)) -> (logits (B, 181), h_next)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, melody, slot, h):
        logits, h_next = self.model(melody[:, None], None, slot[:, None], h)
        return logits[:, 0], h_next


def both_parts(pattern: dict) -> bool:
    """A pattern with a bass (a note below BASS_BELOW) and chords (two keys at or above it): the
    accompanist plays both; the few bars of a left hand alone are left out."""
    pitches = [n[2] for n in pattern["notes"]]
    return any(p < BASS_BELOW for p in pitches) and len({p for p in pitches if p >= BASS_BELOW}) >= 2


def export_accompanist(checkpoint: str | Path, out: str | Path, command: str = "") -> Path:
    from segue.training.chords import load_model

    model, saved = load_model(checkpoint)
    data = saved.data
    if model.config.previous:
        raise ValueError(f"{checkpoint}: the variant that hears its own chords is an experiment; the accompanist "
                         "plays the chord model that hears the melody alone")
    batch, hidden = 2, model.config.hidden
    args = (torch.zeros(batch, MELODY_FEATURES), torch.zeros(batch, dtype=torch.long), torch.zeros(1, batch, hidden))
    export_step(_Step(model), args, out, list(INPUTS), list(OUTPUTS), {"melody": 0, "slot": 0, "h": 1})
    metadata = {
        "segue.format": str(FORMAT_VERSION),
        "segue.kind": KIND,
        "segue.codec": json.dumps({"classes": CLASSES, "melody": MELODY_FEATURES, "slots": SLOTS}),
        "segue.state": json.dumps({"h": [1, hidden]}),
        "segue.patterns": json.dumps([p for p in data["patterns"] if both_parts(p)], separators=(",", ":")),
        "segue.training": json.dumps({"model": saved.model, "train": saved.train, "metrics": saved.metrics,
                                      "data": {k: v for k, v in data.items() if k != "patterns"},
                                      "command": command, "train_command": data.get("command", "")}),
    }
    return stamp(out, metadata, "segue accompanist: the chord model's step, one a beat (see segue.daemon.models.accompanist)")


@torch.no_grad()
def parity(checkpoint: str | Path, onnx_path: str | Path, beats: int = 200, seed: int = 0) -> dict[str, float]:
    """Random melody beats through torch and onnxruntime side by side: the largest differences."""
    from segue.training.chords import load_model

    model = load_model(checkpoint)[0]
    runtime = AccompanistModel(onnx_path)
    rng = np.random.default_rng(seed)
    h, state = torch.zeros(1, 1, model.config.hidden), runtime.initial_state()
    worst = {"logits": 0.0, "state": 0.0, "steps": beats}
    for _ in range(beats):
        melody = rng.random(MELODY_FEATURES).astype(np.float32)
        slot = int(rng.integers(SLOTS))
        logits, h = model(torch.from_numpy(melody)[None, None], None, torch.tensor([[slot]]), h)
        r_logits, state = runtime.step(melody, slot, state)
        worst["logits"] = max(worst["logits"], float(np.abs(logits[0, 0].numpy() - r_logits).max()))
        worst["state"] = max(worst["state"], float(np.abs(h.numpy() - state).max()))
    return worst
