"""Does a piano-roll model's generated music have the texture of its data? Notes per frame, held
frames, silence, and how long the longest unchanged stretch runs.

    python benchmarks/roll_texture.py MODEL... [--data ../shared/data/polyphonic/jsb_chorales.json]
                                      [--frames 200] [--seeds 5]

Each model continues the first 16 frames of every piece of the data's test split for `--frames`
frames (`segue generate`'s sampler, seeds 0..), and the texture of what it wrote is printed
beside the test split's own. A model whose chains do not mix shows it here: it repeats one frame,
or falls silent, far more often than the data.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from segue.daemon.formats import pianoroll
from segue.daemon.models.roll import RollModel, continue_roll


def texture(rolls: list[np.ndarray]) -> str:
    frames = np.concatenate(rolls)
    notes = frames.sum(1)
    same = [(r[1:] == r[:-1]).all(1) for r in rolls]  # each frame against the one before
    held = np.concatenate(same)
    runs = []  # lengths of the stretches of identical frames
    for s in same:
        runs += list(np.diff(np.flatnonzero(np.r_[True, ~s, True])))
    return (f"notes per frame {notes.mean():.2f} (4 exactly: {np.mean(notes == 4) * 100:5.1f} %), "
            f"silent {np.mean(notes == 0) * 100:4.1f} %, frame as the last {held.mean() * 100:5.1f} %, "
            f"stretches of one frame: p99 {np.percentile(runs, 99):.0f}, longest {max(runs)} frames")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", default="../shared/data/polyphonic/jsb_chorales.json")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    test = pianoroll.load_json(args.data, splits=("test",))["test"]
    print(f"{args.data} test split ({len(test)} pieces): {texture(test)}")
    for name in args.models:
        model, started = RollModel(name), time.perf_counter()
        out = [continue_roll(model, piece[:16], args.frames, seed) for seed in range(args.seeds) for piece in test]
        print(f"{name} ({model.describe()}), {len(out)} continuations of {args.frames} frames: {texture(out)} "
              f"[{time.perf_counter() - started:.0f} s]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
