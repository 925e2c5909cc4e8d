"""Training the event LSTM: the seed's windowed recipe and segue's streaming one."""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from segue.daemon.formats.codec import EventCodec

from . import checkpoints
from .data import Piece, midi_files, pieces_from, read_all, seed_windows, stream_windows
from .loop import Loop, plot_history
from .model import EventLSTM, ModelConfig, head_hits, head_losses
from .runner import Runner, RunOptions

log = logging.getLogger(__name__)
HEADS = ("pitch", "velocity", "time")
OLD_CODEC_NAMES = {"segue": "fixed", "seed": "per-file"}


@dataclass(frozen=True)
class TrainConfig:
    """One training run; saved in the checkpoint and in the exported model's metadata."""

    mode: str = "stream"  # "stream": loss at every step of long windows; "window": 30 in, 1 out
    codec: str = "fixed"  # "fixed": log time classes fixed for every file; "per-file": 11 steps over the files' gaps
    split: str = "tail"  # "tail": last fraction of each piece held out; "random": random windows
    channel: int | None = None
    track: int | None = None
    window: int = 30  # events in, for mode "window"
    length: int = 64  # events per training window, for mode "stream"
    stride: int = 16  # events between the starts of training windows, for mode "stream"
    valid_fraction: float = 0.1
    batch: int = 30
    epochs: int = 100
    lr: float = 1e-3
    clip: float = 1.0  # gradient norm clip; 0 = off
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.2
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "codec", OLD_CODEC_NAMES.get(self.codec, self.codec))  # checkpoints before the rename
        checks = [
            (self.mode in ("stream", "window"), "mode must be stream or window"),
            (self.codec in ("fixed", "per-file"), "codec must be fixed or per-file"),
            (self.split in ("tail", "random"), "split must be tail or random"),
            (not (self.mode == "stream" and self.split == "random"), "stream mode needs split tail"),
            (0 < self.valid_fraction < 0.5, "valid fraction must be in range (0, 0.5)"),
            (self.window >= 1 and self.length >= 2, "window must be >= 1 and length >= 2"),
            (1 <= self.stride <= self.length, "stride must be in range 1..length"),
            (self.batch >= 1 and self.epochs >= 1, "batch and epochs must be >= 1"),
            (self.lr > 0 and self.clip >= 0, "lr must be > 0 and clip >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @classmethod
    def windowed(cls, **overrides) -> "TrainConfig":
        """The seed's recipe (SEEDS.md): channel 0, per-file time classes, 30 events in and 1 out,
        random 1/10 validation."""
        base = dict(mode="window", codec="per-file", split="random", channel=0, batch=30, epochs=100, clip=0.0)
        return cls(**{**base, **overrides})


def train_melody(paths: Sequence[str | Path], out: str | Path, config: TrainConfig, progress: bool = True,
                 command: str = "", run: RunOptions | None = None) -> dict:
    """Train on MIDI files/directories, keep the best checkpoint in `out` (rewritten after every
    epoch with a resume record) and a plot beside it. `run` says how (device, processes, time limit,
    resume); `command` (the command line that asked for this run) is kept in the checkpoint's data.
    """
    runner = Runner(run or RunOptions(progress=progress), config.seed)
    rng = np.random.default_rng(config.seed)
    files = midi_files(paths)
    notes = read_all(files, config.channel, config.track)
    codec = EventCodec() if config.codec == "fixed" else EventCodec.seed(*(n for _, n in notes))
    held = config.valid_fraction if config.split == "tail" else 0.0
    pieces = pieces_from(notes, codec, held, min_events=(config.window if config.mode == "window" else config.length) + 2)
    split = _WindowRun(pieces, config, rng) if config.mode == "window" else _StreamRun(pieces, config, rng)
    model = runner.wrap(EventLSTM(ModelConfig(codec.sizes, config.hidden, config.layers, config.dropout)),
                        _loss(last_only=config.mode == "window"))
    data = {"files": [f.name for f in files], "events": int(sum(len(p.events) for p in pieces)),
            "valid_events": split.valid_count, "command": command, "run": runner.record}

    def row(epoch, train_nll, figures):
        return {"epoch": epoch, "train_nll": train_nll, **(figures or {}),
                "seconds": round(time.monotonic() - runner.started, 1)}

    def write(best_state, best, history, resume):
        data["train_seconds"] = round(time.monotonic() - runner.started, 1)
        save_checkpoint(out, model.config, codec, config, best_state, best, history, data, resume)
        plot_history([h for h in history if "valid_nll" in h], Path(out).with_suffix(".png"), [
            ("NLL per event (nats, 3 heads summed)", [("train", "train_nll", 1.0), ("validation", "valid_nll", 1.0)]),
            ("validation accuracy", [(head, f"valid_acc_{head}", 1.0) for head in (*HEADS, "mean")])], Path(out).stem)

    loop = Loop(runner, model, torch.optim.Adam(model.parameters(), lr=config.lr), rng, "melody", config.epochs,
                config.clip, validate=lambda: split.validate(model), score=lambda f: f["valid_nll"],
                best_key="valid_nll", row=row, config=asdict(config), write=write)
    best, history = loop.run(split.batches)
    runner.close()
    return {"best": best, "data": data, "epochs": len(history)}


def _loss(last_only: bool):
    """The summed heads' mean NLL of a batch of windows (b, T + 1, 3), over every step or the last."""

    def loss(model, windows: np.ndarray):
        w = torch.from_numpy(windows).to(next(model.parameters()).device)
        logits, _ = model(w[:, :-1])
        targets = w[:, 1:]
        if last_only:
            logits, targets = logits[:, -1], targets[:, -1]
        return head_losses(model, logits, targets).sum(), targets[..., 0].numel()

    return loss


class _WindowRun:
    """The windowed recipe's samples: window events in, the next one out, state from zero every time."""

    def __init__(self, pieces: list[Piece], config: TrainConfig, rng):
        self.config, self.rng = config, rng
        if config.split == "random":
            allw = np.concatenate([seed_windows(p.events, config.window) for p in pieces])
            allw = allw[rng.permutation(len(allw))]
            n_valid = max(1, int(len(allw) * config.valid_fraction))
            self.valid, self.train = allw[:n_valid], allw[n_valid:]
        else:  # held-out targets are the tail of each piece; their inputs may reach back before it
            self.train = np.concatenate([seed_windows(p.events[: p.valid_from], config.window) for p in pieces])
            self.valid = np.concatenate([seed_windows(p.events, config.window)[p.valid_from - config.window :]
                                         for p in pieces])
        self.valid_count = len(self.valid)

    def batches(self):
        order = self.rng.permutation(len(self.train))
        for i in range(0, len(order), self.config.batch):
            yield self.train[order[i : i + self.config.batch]]

    @torch.no_grad()
    def validate(self, model):
        model.eval()
        w = torch.from_numpy(self.valid).to(next(model.parameters()).device)
        logits, _ = model(w[:, :-1])
        return scores(model, logits[:, -1], w[:, -1])


class _StreamRun:
    """segue's samples: long windows with a loss at every step, validated by streaming whole pieces."""

    def __init__(self, pieces: list[Piece], config: TrainConfig, rng):
        self.pieces, self.config, self.rng = pieces, config, rng
        self.valid_count = sum(len(p.events) - p.valid_from for p in pieces)

    def batches(self):
        windows = stream_windows(self.pieces, self.config.length, self.config.stride, self.rng)
        order = self.rng.permutation(len(windows))
        for i in range(0, len(order), self.config.batch):
            yield windows[order[i : i + self.config.batch]]

    @torch.no_grad()
    def validate(self, model):
        """Each piece is streamed from its start; only predictions of held-out events are scored."""
        model.eval()
        logits, targets = [], []
        device = next(model.parameters()).device
        for p in self.pieces:
            e = torch.from_numpy(p.events)[None].to(device)
            out, _ = model(e[:, :-1])
            logits.append(out[0, p.valid_from - 1 :])
            targets.append(e[0, p.valid_from :])
        return scores(model, torch.cat(logits), torch.cat(targets))


def scores(model, logits, targets) -> dict:
    """Summed and per-head NLL (nats per event) and per-head accuracy of logits against targets."""
    nll = head_losses(model, logits, targets)
    acc = head_hits(model, logits, targets).double() / len(targets)
    out = {"valid_nll": float(nll.sum())}
    for i, head in enumerate(HEADS):
        out[f"valid_nll_{head}"] = float(nll[i])
        out[f"valid_acc_{head}"] = float(acc[i])
    out["valid_acc_mean"] = float(acc.mean())
    return out


def save_checkpoint(path, model_config, codec, config, state_dict, metrics, history, data, resume=None) -> None:
    checkpoints.save(path, "melody", model=model_config.to_dict(), state=state_dict, train=asdict(config),
                     metrics=metrics, history=history, data=data, codec=codec.to_json(), resume=resume)


@dataclass
class Checkpoint:
    model: EventLSTM
    codec: EventCodec
    train: TrainConfig
    metrics: dict
    history: list
    data: dict


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Rebuild the model from a checkpoint without unpickling arbitrary objects."""
    saved = checkpoints.read(path, "melody")
    try:
        model = EventLSTM(ModelConfig(**saved.model))
        model.load_state_dict(saved.state)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: a broken segue melody checkpoint ({type(err).__name__})") from err
    model.eval()
    return Checkpoint(model, EventCodec.from_json(saved.codec), TrainConfig(**saved.train), saved.metrics,
                      saved.history, saved.data)


