"""What the accompanist costs a beat: its chord model's step, and the whole decision of a beat.

    python benchmarks/accompany_step.py [--model pop] [--beats 4000]

Single thread (onnxruntime intra-op 1). `step` is one onnxruntime run of the chord model; `beat`
is everything `segue jam --mode accompany` does when a beat line comes (models/accompanist.py's
Accompaniment.beat: the step, the chord choice, the texture's notes for the beat, the ends of
notes): the time from the engine waking for the beat to its notes being ready for the scheduler,
less the hand-over. The melody heard: random beats of one or two tones of C major.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
from segue.daemon.models.accompanist import AccompanistModel


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pop")
    parser.add_argument("--beats", type=int, default=4000)
    args = parser.parse_args(argv)
    net = AccompanistModel(args.model)
    rng = np.random.default_rng(0)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    heard = np.zeros((args.beats, 14), np.float32)
    for row in heard:
        for pc in rng.choice(scale, size=rng.integers(1, 3), replace=False):
            row[pc] = rng.uniform(0.25, 1.0)
        row[12], row[13] = max(0.0, 1 - row[:12].max()), 1.0
    h = net.initial_state()
    steps = []
    for b in range(args.beats):
        t = time.perf_counter()
        _, h = net.step(heard[b], b % 4, h)
        steps.append(time.perf_counter() - t)
    part, beats, notes = net.stream(0), [], 0
    for b in range(args.beats):
        t = time.perf_counter()
        notes += len(part.beat(heard[b], b % 4, held={60, 64}))
        beats.append(time.perf_counter() - t)
    us = lambda xs: f"p50 {np.percentile(xs, 50) * 1e6:6.0f}  p99 {np.percentile(xs, 99) * 1e6:6.0f} us"  # noqa: E731
    print(f"{net.path.name} on {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"{args.beats} beats, {notes / args.beats:.1f} note messages a beat")
    print(f"  step (chord model)   {us(steps)}")
    print(f"  beat (whole decision) {us(beats)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
