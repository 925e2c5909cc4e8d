"""What int8 dynamic quantisation costs: held-out metrics, size and step time, fp32 vs int8.

    python benchmarks/quantize.py [--model M] [--channel 0] FILES...

Both models are run in onnxruntime over the same held-out tails (last 10 % of each file) that
`segue train` holds out and `segue eval melody` scores, state carried from each file's start.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from segue.daemon.models.event import EventModel
from segue.training.data import (  # numpy only, no torch
    midi_files,
    pieces_from,
    read_all,
)


def held_out_metrics(model: EventModel, pieces) -> dict[str, float]:
    nll, hits, count = np.zeros(3), np.zeros(3), 0
    for piece in pieces:
        stream = model.stream()
        for i, row in enumerate(piece.events[:-1]):
            logits = stream.advance(*row)
            if i + 1 < piece.valid_from:
                continue
            target = piece.events[i + 1]
            for h, head in enumerate(model.heads(logits)):
                z = head.astype(np.float64) - head.max()
                nll[h] -= z[target[h]] - np.log(np.exp(z).sum())
                hits[h] += head.argmax() == target[h]
            count += 1
    return {"nll": nll.sum() / count, "pitch": hits[0] / count, "velocity": hits[1] / count,
            "time": hits[2] / count, "events": count}


def step_us(model: EventModel, steps: int = 3000) -> float:
    stream = model.stream()
    for _ in range(200):
        stream.advance(1, 1, 1)
    start = time.perf_counter()
    for _ in range(steps):
        stream.advance(1, 1, 1)
    return (time.perf_counter() - start) / steps * 1e6


def main(argv=None) -> int:
    from segue.export.quantize import quantize

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--model", help="fp32 model (default: the shipped one)")
    parser.add_argument("--channel", type=int)
    args = parser.parse_args(argv)
    fp32 = EventModel(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        int8 = EventModel(quantize(fp32.path, Path(tmp) / "int8.onnx"))
        pieces = pieces_from(read_all(midi_files(args.files), args.channel), fp32.codec, 0.1, min_events=32)
        print(f"{'model':<6} {'size KB':>8} {'step us':>8} {'NLL/event':>10} {'pitch':>6} {'vel':>6} {'time':>6}  (held-out events)")
        for name, model in (("fp32", fp32), ("int8", int8)):
            m = held_out_metrics(model, pieces)
            print(f"{name:<6} {model.path.stat().st_size / 1024:>8.0f} {step_us(model):>8.1f} {m['nll']:>10.3f} "
                  f"{m['pitch']:>6.3f} {m['velocity']:>6.3f} {m['time']:>6.3f}  ({m['events']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
