"""What hearing the beat costs per note: the tracker's step with and without its learned ear.

    python benchmarks/beat_step.py [--notes 3000]

A steady stream of eighth notes with human timing into PointerTracker (daemon/models/beat.py), one
note at a time as the listener hands them over; each note's call timed (a chord's later notes
cost next to nothing, so every note here starts an onset). The ear (daemon/models/salience.py) is
also timed alone.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
from segue.daemon.models.beat import PointerTracker
from segue.daemon.models.salience import OnsetFeatures, SalienceModel


def per_note(notes, salience) -> np.ndarray:
    tracker = PointerTracker(None, salience=salience)
    took = []
    for t, pitch, velocity in notes:
        started = time.perf_counter()
        tracker.note(t, pitch, velocity)
        took.append(time.perf_counter() - started)
    return np.array(took[100:]) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=3000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    notes = [(0.25 * k + rng.normal(0, 0.01), 60 + k % 7, 80) for k in range(args.notes)]
    print(f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, {args.notes} notes")
    for name, salience in (("without the ear", False), ("with the ear (shipped)", True)):
        us = per_note(notes, salience)
        print(f"  tracker per note, {name:<24} p50 {np.percentile(us, 50):6.0f}  p99 {np.percentile(us, 99):6.0f} us")
    ear, features = SalienceModel.shared().stream(), OnsetFeatures()
    took = []
    for t, pitch, velocity in notes:
        started = time.perf_counter()
        ear(features(t, velocity / 127, pitch, pitch, 1))
        took.append(time.perf_counter() - started)
    print(f"  the ear alone                            p50 {np.percentile(np.array(took) * 1e6, 50):6.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
