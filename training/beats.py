"""The beat tracker's onset salience: how likely each onset is to fall on a beat (models/salience.py).

A GRU over the onsets as the tracker hears them (daemon/models/salience.py's features), one step an
onset, causal; out, the chance that the onset is on an annotated beat (and, as a second head that
helps it learn the bar, on a downbeat). Trained on pieces rendered as a player plays them
(training/beat_data.py: a random tempo of 60-180 bpm, drift, jitter, a change of tempo in a third
of them; half of them with accents on the beats of their own, from none to strong): the train split of the melody corpus (`segue data melodies`) and POP909's train songs
(../shared/data/pop909, MIT licence); validated on their valid splits. ASAP is never used: its
licence lets the project measure with it, not train on it. The best valid loss is kept.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from segue.daemon.models import beat as beatmod
from segue.daemon.models.salience import FEATURES, OnsetFeatures

from . import beat_data


@dataclass(frozen=True)
class BeatConfig:
    hidden: int = 48
    epochs: int = 30
    window: int = 256  # onsets per training window
    batch: int = 32
    lr: float = 3e-3
    songs: int = 600  # POP909 train songs at most (those with one tempo in the file)
    tunes: int = 2400  # melody corpus train tunes
    accents: float = 0.5  # the share of pieces rendered with accents of their own (beat_data.varied_accents)
    seed: int = 0


class SalienceNet(torch.nn.Module):
    def __init__(self, config: BeatConfig):
        super().__init__()
        self.config = config
        self.gru = torch.nn.GRU(FEATURES, config.hidden, batch_first=True)
        self.head = torch.nn.Linear(config.hidden, 2)  # on a beat, on a downbeat

    def forward(self, onsets, h=None):
        out, h = self.gru(onsets, h)
        return self.head(out), h


def piece_arrays(notes, beats, downbeats) -> tuple[np.ndarray, np.ndarray]:
    """One rendered piece: its onsets' features (n, FEATURES) and whether each is on a beat and on a
    downbeat (n, 2): within 70 ms of one, or a fifth of the beat when that is less."""
    features, onsets = OnsetFeatures(), beatmod.onsets(notes)
    x = np.stack([features(*o) for o in onsets]) if onsets else np.zeros((0, FEATURES), np.float32)
    times = np.array([o[0] for o in onsets])
    beats, downbeats = np.asarray(beats, float), np.asarray(downbeats, float)
    tolerance = min(0.07, 0.2 * float(np.median(np.diff(beats)))) if len(beats) > 1 else 0.07

    marked = [beat_data.near(times, marks, tolerance) for marks in (beats, downbeats)]
    return x, np.stack(marked, axis=1).astype(np.float32) if len(times) else np.zeros((0, 2), np.float32)


def gather(melodies, pop909, split: str, tunes: int, songs: int, seed: int,
           varied: float, scores=None) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    pieces = list(beat_data.corpus_pieces(melodies, split, tunes, rng, varied=varied)) if tunes else []
    pieces += list(beat_data.pop909_pieces(pop909, split, songs, rng, varied=varied)) if songs else []
    pieces += list(beat_data.score_pieces(scores, split, 0, rng, varied=varied)) if scores else []
    out = [piece_arrays(notes, beats, down) for _, notes, beats, down in pieces]
    return [p for p in out if len(p[0]) > 8]


def _windows(data, window: int):
    for x, y in data:
        for s in range(0, len(x), window):
            if len(x) - s >= 16:
                yield x[s:s + window], y[s:s + window]


def _batch(chunk):
    n = max(len(x) for x, _ in chunk)
    x = np.zeros((len(chunk), n, FEATURES), np.float32)
    y = np.zeros((len(chunk), n, 2), np.float32)
    mask = np.zeros((len(chunk), n), np.float32)
    for i, (a, b) in enumerate(chunk):
        x[i, :len(a)], y[i, :len(a)], mask[i, :len(a)] = a, b, 1.0
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)


@torch.no_grad()
def evaluate(net: SalienceNet, data) -> dict:
    """Binary cross-entropy (nats an onset) of the beat head, and its accuracy at one half."""
    total = right = count = 0.0
    for x, y in data:
        logits, _ = net(torch.from_numpy(x)[None])
        logit, target = logits[0, :, 0], torch.from_numpy(y[:, 0])
        total += float(torch.nn.functional.binary_cross_entropy_with_logits(logit, target, reduction="sum"))
        right += float(((logit > 0).float() == target).sum())
        count += len(target)
    return {"bce": total / count, "accuracy": right / count}


def train_salience(melodies, pop909, out, config: BeatConfig = BeatConfig(), log=print,
                   time_limit: float | None = None, command: str = "", scores=None) -> dict:
    """Render and train; keep the best valid BCE in `out` (kind "beats"). `scores`: a score corpus
    (`segue data scores`) rendered beside the others, every piece of the split."""
    from . import checkpoints

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    train = gather(melodies, pop909, "train", config.tunes, config.songs, config.seed, config.accents, scores)
    valid = gather(melodies, pop909, "valid", 96 if config.tunes else 0, 24 if config.songs else 0, config.seed + 1,
                   config.accents, scores)
    if not train or not valid:
        raise ValueError(f"nothing to train or validate on: {len(train)} train pieces, {len(valid)} valid "
                         f"(from {melodies} and {pop909})")
    onsets = sum(len(x) for x, _ in train)
    log(f"{len(train)} train pieces ({onsets} onsets), {len(valid)} valid, rendered in {time.perf_counter() - started:.0f} s")
    windows = list(_windows(train, config.window))
    net = SalienceNet(config)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs)
    best, history = None, []
    data = {"corpus": f"{melodies} and {pop909}" + (f" and {scores}" if scores else ""), "melodies": str(melodies),
            "pop909": str(pop909), "scores": str(scores) if scores else None, "command": command,
            "pieces": {"train": len(train), "valid": len(valid)}, "onsets": onsets}
    for epoch in range(1, config.epochs + 1):
        net.train()
        losses = []
        order = rng.permutation(len(windows))
        for k in range(0, len(order), config.batch):
            x, y, mask = _batch([windows[i] for i in order[k:k + config.batch]])
            logits, _ = net(x)
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(-1)
                    * mask).sum() / mask.sum()
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            losses.append(float(loss.detach()))
        schedule.step()
        net.eval()
        figures = evaluate(net, valid)
        row = {"epoch": epoch, "train": float(np.mean(losses)), **figures, "seconds": time.perf_counter() - started}
        history.append(row)
        log(f"epoch {epoch}: train {row['train']:.4f}, valid {figures['bce']:.4f} nats an onset, accuracy "
            f"{figures['accuracy']:.3f} ({row['seconds']:.0f} s)")
        if best is None or figures["bce"] < best["bce"]:
            best = row
            checkpoints.save(out, "beats", model=asdict(config), state=net.state_dict(),
                             train={"epochs": config.epochs}, metrics=best, history=history, data=data)
        if time_limit and time.perf_counter() - started > time_limit:
            break
    return {"best": best, "history": history}


def load_model(path: str | Path):
    from . import checkpoints

    saved = checkpoints.read(path, "beats")
    net = SalienceNet(BeatConfig(**saved.model))
    net.load_state_dict(saved.state)
    return net.eval(), saved
