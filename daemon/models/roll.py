"""Piano-roll models (the RNN-RBM, the LSTM-NADE) on onnxruntime: the model file, a stream, and generation.

The graph is one step: (frame v(t-1), u(t-2), start, clamp, fixed, noise) -> (sample v(t), bv(t),
bh(t), u(t-1)); see export/rnnrbm.py and export/nade.py. The sampler (k Gibbs steps of an RBM,
or a NADE's key-by-key pass) runs inside it; its uniform noise comes from a seeded numpy
generator here. The file says which sampler it holds (metadata `segue.rbm` or `segue.nade`); an
RBM file whose `segue.rbm` names `temperatures` runs its chain as a replica exchange and takes one
more noise input, `noise_swap`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..formats.pianoroll import KEYS
from .file import ModelFileError, kind_name, open_session, resolve_model, trained_in, trial_run

INPUTS = ("frame", "u", "start", "clamp", "fixed", "noise_h", "noise_v")
TEMPERED_INPUTS = INPUTS + ("noise_swap",)  # an RBM whose chain is a replica exchange (export/rnnrbm.py)
NADE_INPUTS = ("frame", "u", "start", "clamp", "fixed", "noise_v")  # a NADE samples without hidden noise
OUTPUTS = ("sample", "bv", "bh", "u_next")
NADE_OUTPUTS = OUTPUTS + ("log_weight",)  # log p(clamped keys | the keys below them, past), per row
CANDIDATES = 32  # NADE frames drawn per clamped step, one kept by its weight (RollStream.advance)
KIND = "piano-roll"
DEFAULT_ROLL_MODEL = "chorale.onnx"  # the shipped piano-roll model (docs/models/chorale.md)


class RollModel:
    """A loaded piano-roll model."""

    def __init__(self, path: str | Path | None = None, threads: int = 1):
        self.path = resolve_model(path, DEFAULT_ROLL_MODEL)
        self.session, meta = open_session(self.path, threads)
        kind = meta.get("segue.kind")
        if kind != KIND:
            raise ModelFileError(f"{self.path}: {kind_name(kind)}, but this needs a piano-roll model (an RNN-RBM or LSTM-NADE file)")
        try:
            codec = json.loads(meta["segue.codec"])
            self.low, self.high, self.beats = int(codec["low"]), int(codec["high"]), float(codec["beats"])
            if not 1 / 64 <= self.beats <= 16:  # NaN fails too
                raise ValueError(f"a frame of {self.beats:g} beats (a piano-roll frame is 1/64 to 16 beats)")
            self.recurrent = int(json.loads(meta["segue.state"])["u"])
            self.temperatures, self.lowest = 1, 1.0
            if "segue.nade" in meta:
                self.sampler, self.inputs, self.outputs = "nade", NADE_INPUTS, NADE_OUTPUTS
                self.hidden, self.gibbs = int(json.loads(meta["segue.nade"])["hidden"]), 1
            else:
                rbm = json.loads(meta["segue.rbm"])
                self.hidden, self.gibbs = int(rbm["hidden"]), int(rbm["gibbs"])
                self.temperatures, self.lowest = int(rbm.get("temperatures", 1)), float(rbm.get("lowest", 1.0))
                if not (1 <= self.temperatures <= 64 and 0 < self.lowest <= 1 and 1 <= self.gibbs <= 10_000):
                    raise ValueError(f"gibbs {self.gibbs}, temperatures {self.temperatures}, lowest {self.lowest}")
                tempered = self.temperatures > 1
                self.sampler, self.inputs, self.outputs = "rbm", TEMPERED_INPUTS if tempered else INPUTS, OUTPUTS
            self.training = json.loads(meta.get("segue.training", "{}"))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise ModelFileError(f"{self.path}: broken segue metadata ({type(err).__name__}: {err})") from None
        names = {i.name for i in self.session.get_inputs()}, {o.name for o in self.session.get_outputs()}
        if names != (set(self.inputs), set(self.outputs)):
            raise ModelFileError(f"{self.path}: graph inputs/outputs do not match a piano-roll model ({self.sampler})")
        trial_run(self.path, self._trial, {"sample": (1, KEYS), "u_next": (1, self.recurrent)})

    def _trial(self) -> dict[str, np.ndarray]:
        feed = self.feed(np.zeros((1, KEYS)), np.zeros((1, self.recurrent), np.float32), True, np.random.default_rng(0))
        return dict(zip(self.outputs, self.session.run(list(self.outputs), feed)))

    def feed(self, previous: np.ndarray, u: np.ndarray, start: bool, rng: np.random.Generator,
             clamp: np.ndarray | None = None, fixed: np.ndarray | None = None) -> dict[str, np.ndarray]:
        batch = previous.shape[0]
        zeros = np.zeros((batch, KEYS), np.float32)
        feed = {
            "frame": previous.astype(np.float32), "u": u, "start": np.full((batch, 1), float(start), np.float32),
            "clamp": zeros if clamp is None else clamp.astype(np.float32),
            "fixed": zeros if fixed is None else fixed.astype(np.float32),
        }
        copies = (self.temperatures,) if self.temperatures > 1 else ()  # a replica exchange: T copies per row
        if self.sampler == "rbm":
            feed["noise_h"] = rng.random((self.gibbs, batch, *copies, self.hidden), dtype=np.float32)
        feed["noise_v"] = rng.random((self.gibbs, batch, *copies, KEYS), dtype=np.float32)
        if copies:
            feed["noise_swap"] = rng.random((self.gibbs, batch, self.temperatures - 1), dtype=np.float32)
        return feed

    def describe(self) -> str:
        """One line for `segue info`: the sampler and its sizes."""
        if self.sampler == "nade":
            return f"LSTM {self.recurrent // 2} units, NADE {self.hidden} hidden, key-by-key sampling"
        tempering = (f", a replica exchange over {self.temperatures} temperatures down to {self.lowest:g}"
                     if self.temperatures > 1 else "")
        return f"RNN {self.recurrent} units, RBM {self.hidden} hidden, {self.gibbs} Gibbs steps{tempering}"

    def about(self) -> list[str]:
        """What `segue info` says of the file."""
        metrics, config = self.training.get("metrics", {}), self.training.get("config", {})
        name = {"rbm": "RNN-RBM", "nade": "LSTM-NADE"}[self.sampler]
        beats = f"{self.beats:g} beat" + ("" if self.beats == 1 else "s")
        accuracy = f", accuracy {metrics['valid_acc']:.3f}" if "valid_acc" in metrics else ""
        return [f"{self.path}", f"  kind: piano-roll ({name}); keys {self.low}..{self.high}, a frame is {beats}; "
                f"{self.describe()}",
                f"  trained on {', '.join(self.training.get('files', []))} (best epoch {metrics.get('epoch', '?')} "
                f"of {config.get('epochs', '?')}): validation log-likelihood "
                f"{metrics.get('valid_ll', float('nan')):.3f} nats/frame{accuracy}",
                f"  trained by: {self.training.get('command') or '?'}",
                f"  exported by: {self.training.get('export_command') or '?'}", *trained_in(self.training.get("run"))]

    def stream(self, seed: int | None = None) -> "RollStream":
        return RollStream(self, seed)


class RollStream:
    """One piece, frame by frame: `advance(previous)` returns a sample of the next frame."""

    def __init__(self, model: RollModel, seed: int | None = None):
        self.model = model
        self.rng = np.random.default_rng(seed)
        self.u = np.zeros((1, model.recurrent), np.float32)
        self.started = False

    def advance(self, previous: np.ndarray | None, held: np.ndarray | None = None) -> np.ndarray:
        """Step the frame just played (None at the start) and sample the next one (bool (88,)).

        `held`: keys (bool (88,)) that must sound in the sampled frame (the player's notes).
        """
        prev = np.zeros((1, KEYS), np.float32) if previous is None else np.asarray(previous, np.float32)[None]
        clamp = None if held is None else np.asarray(held, np.float32)[None]
        rows = CANDIDATES if self.model.sampler == "nade" and clamp is not None and clamp.any() else 1
        feed = self.model.feed(np.repeat(prev, rows, 0), np.repeat(self.u, rows, 0), start=not self.started,
                               rng=self.rng, clamp=None if clamp is None else np.repeat(clamp, rows, 0),
                               fixed=None if clamp is None else np.repeat(clamp, rows, 0))
        sample, _, _, u, *weight = self.model.session.run(list(self.model.outputs), feed)
        pick = 0
        if rows > 1:  # the NADE's keys below a held key did not see it: resample by each frame's weight
            pick = int(self.rng.choice(rows, p=resampling(weight[0][:, 0])))
        self.u = u[:1]  # the state is the same for every candidate: it depends on the past only
        self.started = True
        return sample[pick] > 0.5


def score_rolls(model: RollModel, rolls: list[np.ndarray], samples: int = 100,
                seed: int | None = None, done=None) -> tuple[np.ndarray | None, np.ndarray]:
    """Each frame of `rolls`, given its true past, through the model file alone: (log p(frame |
    past) per frame, exact, for an LSTM-NADE file, else None; each key's probability of sounding,
    the mean of `samples` frames sampled from the file's own sampler).

    One call per frame: row 0 has every key clamped to the true frame, so its `log_weight` is the
    sum of all 88 conditionals, the frame's exact log-probability; the other rows are free samples.
    An RNN-RBM's likelihood needs AIS over its hidden units, which the file does not hold
    (`segue eval rnnrbm` on its checkpoint). `done(i, n)` is called as each piece is scored."""
    if samples < 1:
        raise ValueError("samples must be >= 1")
    rng = np.random.default_rng(seed)
    exact = model.sampler == "nade"
    rows = samples + exact
    clamp, fixed = np.zeros((rows, KEYS), np.float32), np.zeros((rows, KEYS), np.float32)
    clamp[0] = float(exact)
    logs, marginals = [], []
    for index, roll in enumerate(rolls):
        if done is not None:
            done(index, len(rolls))
        roll = np.asarray(roll, np.float32)
        u = np.zeros((rows, model.recurrent), np.float32)
        previous = np.zeros((rows, KEYS), np.float32)
        for t, frame in enumerate(roll):
            if exact:
                fixed[0] = frame
            feed = model.feed(previous, u, start=t == 0, rng=rng, clamp=clamp, fixed=fixed)
            sample, _, _, u, *weight = model.session.run(list(model.outputs), feed)  # every row: one past, one state
            if exact:
                logs.append(float(weight[0][0, 0]))
            marginals.append(sample[exact:].mean(0))
            previous = np.repeat(frame[None], rows, 0)
    return (np.array(logs) if exact else None), np.array(marginals, np.float32).reshape(-1, KEYS)


def resampling(log_weight: np.ndarray) -> np.ndarray:
    """Probabilities proportional to exp(log_weight). Files exported before the graph's log-sigmoid
    was made stable give -inf (or NaN) when the held keys underflow in float32: those candidates
    get 0, and if every one does, none is better than another and all are equally likely."""
    w = np.asarray(log_weight, np.float64)
    finite = np.isfinite(w)
    if not finite.any():
        return np.full(len(w), 1.0 / len(w))
    w = np.where(finite, np.exp(np.where(finite, w, 0.0) - w[finite].max()), 0.0)
    return w / w.sum()


def continue_roll(model: RollModel, prime: np.ndarray, frames: int, seed: int | None = None) -> np.ndarray:
    """Step the prime's frames, then sample `frames` more, each fed back as the next input."""
    stream = model.stream(seed)
    previous = None
    for frame in prime:
        stream.advance(previous)
        previous = frame
    out = []
    for _ in range(frames):
        previous = stream.advance(previous)
        out.append(previous)
    return np.array(out, bool).reshape(-1, KEYS)
