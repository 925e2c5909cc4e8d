"""Per-frame cost of the live harmoniser: one recurrent step plus the clamped sampler (k Gibbs steps
of an RBM, or one key-by-key NADE pass) in onnxruntime.

    python benchmarks/harmony.py MODEL.onnx [--frames 2000]

Each frame clamps a held triad (as `segue jam --mode harmonize` does with the player's notes),
samples the other keys and steps the RNN with the result, on one thread. Goal:
p99 <= 5 ms, so a 16th-note grid at 180 bpm (83 ms) never starves.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from segue.daemon.formats.pianoroll import KEYS, LOW
from segue.daemon.models.roll import RollModel


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--frames", type=int, default=2000)
    args = parser.parse_args(argv)
    model = RollModel(args.model)
    stream = model.stream(seed=0)
    chords = [(60, 64, 67), (57, 60, 64), (62, 65, 69), (55, 59, 62)]
    previous, times = None, []
    for i in range(args.frames + 100):
        held = np.zeros(KEYS, bool)
        held[[p - LOW for p in chords[(i // 4) % len(chords)]]] = True
        started = time.perf_counter()
        frame = stream.advance(previous, held=held)
        if i >= 100:  # warm-up excluded
            times.append(time.perf_counter() - started)
        previous = frame
    ms = np.array(times) * 1000
    print(f"{args.model}: {model.describe()}, one thread")
    print(f"  per frame: p50 {np.percentile(ms, 50):.3f}  p99 {np.percentile(ms, 99):.3f}  max {ms.max():.3f} ms "
          f"(n={len(ms)}); goal p99 <= 5 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
