"""Held-out evaluation of a melody checkpoint, file by file."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .data import midi_files, pieces_from, read_all, seed_windows
from .train import load_checkpoint, scores


@torch.no_grad()
def evaluate_melody(checkpoint: str | Path, paths: Sequence[str | Path], channel: int | None = None,
                    track: int | None = None, valid_fraction: float = 0.1, protocol: str | None = None) -> list[dict]:
    """Metrics on the last `valid_fraction` of each file (the same tails `--split tail` holds out).

    protocol "stream": the model hears the piece from its start, state carried (how segue uses it);
    "window": each held-out event is predicted from the 30 events before it, state from zero (the
    the seed's way). Default: the protocol the checkpoint was trained with.
    """
    ckpt = load_checkpoint(checkpoint)
    model, codec = ckpt.model.eval(), ckpt.codec
    protocol = protocol or ckpt.train.mode
    if protocol not in ("stream", "window"):
        raise ValueError("protocol must be stream or window")
    rows = []
    for piece in pieces_from(read_all(midi_files(paths), channel, track), codec, valid_fraction, min_events=32):
        events = torch.from_numpy(piece.events)
        if protocol == "stream":
            logits, _ = model(events[None, :-1])
            logits, targets = logits[0, piece.valid_from - 1 :], events[piece.valid_from :]
        else:
            w = ckpt.train.window
            windows = torch.from_numpy(seed_windows(piece.events, w)[piece.valid_from - w :])
            logits, _ = model(windows[:, :-1])
            logits, targets = logits[:, -1], windows[:, -1]
        rows.append({"file": piece.name, "events": int(len(targets)), "protocol": protocol,
                     **scores(model, logits, targets)})
    return rows


def format_rows(rows: list[dict]) -> str:
    head = f"{'file':<28} {'events':>6}  {'NLL/event':>9}  {'pitch':>6} {'vel':>6} {'time':>6} {'mean':>6}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['file']:<28} {r['events']:>6}  {r['valid_nll']:>9.3f}  {r['valid_acc_pitch']:>6.3f} "
                     f"{r['valid_acc_velocity']:>6.3f} {r['valid_acc_time']:>6.3f} {r['valid_acc_mean']:>6.3f}")
    n = np.array([r["events"] for r in rows])
    if len(rows) > 1:
        avg = {k: float(np.average([r[k] for r in rows], weights=n)) for k in
               ("valid_nll", "valid_acc_pitch", "valid_acc_velocity", "valid_acc_time", "valid_acc_mean")}
        lines.append(f"{'all (event-weighted)':<28} {n.sum():>6}  {avg['valid_nll']:>9.3f}  {avg['valid_acc_pitch']:>6.3f} "
                     f"{avg['valid_acc_velocity']:>6.3f} {avg['valid_acc_time']:>6.3f} {avg['valid_acc_mean']:>6.3f}")
    return "\n".join(lines)
