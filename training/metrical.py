"""The metrical melody model: events timed in beats, told where they fall in the bar, trained on the
melody corpus (`segue data melodies`) in every key.

An event is still a note-on or a release (pitch, velocity, time), so the runtime plays it like any
event model, but (EventCodec.beats):
- its pitch class is the interval from the last struck pitch, so the model is the same in every key
  (what the Continuator's interval Markov model gets for free);
- its time classes are beat fractions;
- three input-only features say where it is: the absolute pitch (the register, so a tune is continued
  where it is played), the position in the bar and the bar's length. A fraction of the training
  windows hides the last two (the "unknown" classes), so the same model also plays with no tempo.
Each window is also transposed by a random shift within the keyboard, which moves only the absolute
pitch: every register is seen.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from segue.daemon.formats.codec import POSITIONS, SOUNDING, EventCodec
from segue.daemon.formats.corpus import load, metrical_events

from . import checkpoints
from .loop import Loop
from .model import EventLSTM, ModelConfig, head_losses
from .runner import Runner, RunOptions

CHECKPOINT_KIND = "metrical"
METERS = 6  # meter_class's classes


@dataclass(frozen=True)
class MetricalConfig:
    """One training run; saved in the checkpoint."""

    hidden: int = 256
    layers: int = 1
    dropout: float = 0.3
    length: int = 128  # events per training window
    stride: int = 64
    batch: int = 64
    epochs: int = 30
    lr: float = 2e-3
    clip: float = 1.0
    transpose: int = 6  # each window shifted by -transpose..transpose-1 semitones
    free_fraction: float = 0.15  # windows shown with no position and metre, as when playing freely
    patience: int = 6  # epochs without a better validation score before stopping
    limit: int = 0  # train on at most this many pieces (0: all; tests)
    seed: int = 0

    def __post_init__(self):
        checks = [(self.hidden >= 1 and self.layers >= 1, "hidden and layers must be >= 1"),
                  (0 <= self.dropout < 1, "dropout must be in range [0, 1)"),
                  (2 <= self.length and 1 <= self.stride <= self.length, "length >= 2 and stride in 1..length"),
                  (self.batch >= 1 and self.epochs >= 1 and self.patience >= 1, "batch, epochs, patience >= 1"),
                  (self.lr > 0 and self.clip >= 0, "lr must be > 0 and clip >= 0"),
                  (0 <= self.transpose <= 24, "transpose must be in range 0..24"),
                  (0 <= self.free_fraction <= 1, "free fraction must be in range 0..1")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


ABSOLUTE = 3  # the column of the absolute pitch class


def transposed(window: np.ndarray, shift: int, pitches: int) -> np.ndarray:
    """`window` shifted by `shift` semitones (its absolute pitches: intervals do not move), the shift
    reduced by octaves to stay on the keyboard."""
    low, high = window[:, ABSOLUTE].min(), window[:, ABSOLUTE].max()
    while low + shift < 0:
        shift += 12
    while high + shift > pitches - 1:
        shift -= 12
    if low + shift < 0:  # wider than the keyboard: leave it
        return window
    out = window.copy()
    out[:, ABSOLUTE] += shift
    return out


def windows(pieces: list[np.ndarray], config: MetricalConfig, codec: EventCodec, rng) -> np.ndarray:
    """Training windows (W, length + 1, 5): transposed at random, some with the metre hidden."""
    out = []
    for events in pieces:
        if len(events) < 3:
            continue
        if len(events) <= config.length:
            starts = [0]
        else:
            phase = int(rng.integers(0, config.stride))
            starts = range(phase % (len(events) - config.length), len(events) - config.length, config.stride)
        for s in starts:
            w = events[s:s + config.length + 1]
            if len(w) < config.length + 1:  # a short piece: padded by repeating it (rare; keeps shapes)
                w = np.concatenate([w] * (config.length // len(w) + 2))[:config.length + 1]
            w = transposed(w, int(rng.integers(-config.transpose, config.transpose)) if config.transpose else 0,
                           codec.pitch_classes)
            if rng.random() < config.free_fraction:
                w = w.copy()
                w[:, 4], w[:, 5] = POSITIONS - 1, METERS - 1
            out.append(w)
    return np.stack(out)


def model_for(codec: EventCodec, config: MetricalConfig, sounding: bool = False) -> EventLSTM:
    """`sounding`: it also hears how many notes sound (a keyboard model)."""
    return EventLSTM(ModelConfig(codec.sizes, config.hidden, config.layers, config.dropout,
                                 inputs=(codec.pitch_classes, POSITIONS, METERS, *((SOUNDING,) if sounding else ()))))


@torch.no_grad()
def evaluate(model: EventLSTM, pieces: list[tuple[str, np.ndarray]]) -> dict:
    """Each piece streamed from its start: pitch NLL per note-on (the first note not scored, as for
    the Markov baseline; an interval is a pitch, given the last one), velocity and time NLL per event,
    and pitch top-1; per collection and "all"."""
    model.eval()
    sums: dict[str, np.ndarray] = {}
    device = next(model.parameters()).device
    for collection, events in pieces:
        e = torch.from_numpy(events)[None].to(device)
        logits, _ = model(e[:, :-1, :3], e[:, :-1, 3:])
        logps = model.head_log_probs(logits[0])
        target = e[0, 1:]
        strikes = target[:, 1] > 0
        pitch_nll = -logps[0].gather(1, target[:, :1])[:, 0]
        row = np.array([
            float(strikes.sum()), float(pitch_nll[strikes].sum()),
            float((logps[0].argmax(1) == target[:, 0])[strikes].sum()),
            float(len(target)), float(-logps[1].gather(1, target[:, 1:2]).sum()),
            float(-logps[2].gather(1, target[:, 2:3]).sum()),
        ])
        for key in (collection, "all"):
            sums[key] = sums.get(key, np.zeros(6)) + row
    return {key: {"note_ons": int(s[0]), "pitch_nll": s[1] / max(s[0], 1), "pitch_top1": s[2] / max(s[0], 1),
                  "events": int(s[3]), "velocity_nll": s[4] / max(s[3], 1), "time_nll": s[5] / max(s[3], 1)}
            for key, s in sums.items()}


def corpus_grid(corpus: str | Path) -> int | None:
    """The division of the beat a corpus's notes were put on (training/keys.py), else None."""
    try:
        return json.loads((Path(corpus) / "pieces.json").read_text()).get("grid")
    except (OSError, ValueError):
        return None


def polyphonic(pieces) -> bool:
    """Whether a corpus has notes struck together (a keyboard part) or only single lines."""
    return any(np.any(np.diff(np.asarray(p["onset"], float)) == 0) for p in pieces)


def train_metrical(corpus: str | Path, out: str | Path, config: MetricalConfig, progress: bool = True,
                   command: str = "", log=print, run: RunOptions | None = None) -> dict:
    """Train on the corpus's train split, validate on its valid split every epoch, keep the best."""
    runner = Runner(run or RunOptions(progress=progress), config.seed)
    rng = np.random.default_rng(config.seed)
    codec = EventCodec.beats()
    pieces = load(corpus, "train")[:config.limit or None]
    chords = polyphonic(pieces)  # a keyboard part: the model also hears how many notes sound
    train = [metrical_events(p, codec, chords) for p in pieces]
    valid = [(p["collection"], metrical_events(p, codec, chords)) for p in load(corpus, "valid")[:config.limit or None]]
    if not train or not valid:
        raise ValueError(f"{corpus}: {len(train)} training and {len(valid)} validation pieces; both splits need "
                         f"some (a piece's split comes from a hash of it: give a few dozen pieces or more)")
    model = runner.wrap(model_for(codec, config, chords), _loss)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    data = {"corpus": str(corpus), "command": command, "train_pieces": len(train), "valid_pieces": len(valid),
            "run": runner.record, "polyphonic": chords, "grid": corpus_grid(corpus)}

    def batches():
        windowed = windows(train, config, codec, rng)
        order = rng.permutation(len(windowed))
        for i in range(0, len(order), config.batch):
            yield windowed[order[i:i + config.batch]]

    def row(epoch, train_nll, figures):
        return {"epoch": epoch, "train_nll": train_nll, "seconds": round(time.monotonic() - runner.started),
                **{f"valid_{k}": v for k, v in (figures or {}).items()}}

    def said(record, better):
        if "valid_pitch_nll" in record:
            log(f"epoch {record['epoch']}: train {record['train_nll']:.3f}, valid pitch {record['valid_pitch_nll']:.3f} "
                f"nats/note-on (top-1 {record['valid_pitch_top1']:.3f}), time {record['valid_time_nll']:.3f} "
                f"nats/event{' (best, saved)' if better else ''}; {record['seconds']} s")

    loop = Loop(runner, model, optimiser, rng, CHECKPOINT_KIND, config.epochs, config.clip,
                validate=lambda: evaluate(model, valid)["all"], score=lambda f: f["pitch_nll"] + f["time_nll"],
                best_key="valid_pitch_nll", row=row, config=asdict(config), patience=config.patience, on_row=said,
                schedule=torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.epochs),
                write=lambda state, best, history, resume: save(out, model.config, codec, config, state, best,
                                                                history, data, resume))
    best, history = loop.run(batches)
    runner.close()
    return {"best": best, "epochs": len(history)}


def _loss(model: EventLSTM, w: np.ndarray):
    """The summed heads' mean NLL over every step of windows (b, length + 1, 6)."""
    w = torch.from_numpy(w).to(next(model.parameters()).device)
    logits, _ = model(w[:, :-1, :3], w[:, :-1, 3:])
    return head_losses(model, logits, w[:, 1:, :3]).sum(), w[:, 1:, 0].numel()


def save(path, model_config, codec: EventCodec, config: MetricalConfig, state_dict, metrics, history, data,
         resume=None) -> None:
    checkpoints.save(path, CHECKPOINT_KIND, model=model_config.to_dict(), state=state_dict, train=asdict(config),
                     metrics=metrics, history=history, data=data, codec=codec.to_json(), resume=resume)


def load_model(path: str | Path) -> tuple[EventLSTM, EventCodec, dict]:
    saved = checkpoints.read(path, CHECKPOINT_KIND)
    model = EventLSTM(ModelConfig(**saved.model))
    model.load_state_dict(saved.state)
    model.eval()
    return model, EventCodec.from_json(saved.codec), {"train": saved.train, "metrics": saved.metrics,
                                                       "data": saved.data}

