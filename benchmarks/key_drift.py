"""Does `segue generate` stay in its opening key? The README's own command, over seeds and lengths.

For each seed the continuation of the built-in motif (or --prime) is generated through
`generate_file`, as `segue generate` does, and read back. Its opening key is the
Krumhansl-Schmuckler key (Krumhansl-Kessler profiles, duration-weighted) of its first 32 notes; the
figures are the share of notes in that key's scale (minor: natural plus the leading tone) in the
first and the second half, and in every 32-note window (step 16). Chance for a diatonic scale is 7/12.

    python benchmarks/key_drift.py [--model folk] [--seeds 10] [--events 500 2000] [--key-weight W]

Prints one row per length: medians over seeds, the worst seed, and the windows' medians.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from segue.daemon.formats.midifile import read_notes
from segue.daemon.options import GenerateConfig
from segue.daemon.models.sampling import Sampling
from segue.daemon.offline.generate import generate_file

sys.path.insert(0, str(Path(__file__).parent))
from continuation import SCALES, key_of  # noqa: E402

WINDOW, STEP = 32, 16


def played(path: Path) -> tuple[list[int], list[float]]:
    """(pitches, durations in seconds) of a file's notes, in onset order."""
    sounding, notes = {}, []
    for n in read_notes(path):
        if n.velocity:
            sounding[n.pitch] = len(notes)
            notes.append([n.time, n.pitch, 0.25])
        elif n.pitch in sounding:
            i = sounding.pop(n.pitch)
            notes[i][2] = max(n.time - notes[i][0], 1e-3)
    notes.sort()
    return [p for _, p, _ in notes], [d for _, _, d in notes]


def in_key(pitches, key) -> float:
    tonic, mode = key
    scale = {(tonic + s) % 12 for s in SCALES[mode]}
    return float(np.mean([p % 12 in scale for p in pitches])) if len(pitches) else float("nan")


def measure(pitches, durations) -> dict:
    key = key_of(pitches[:WINDOW], durations[:WINDOW])
    half = len(pitches) // 2
    windows = [in_key(pitches[i:i + WINDOW], key) for i in range(0, max(len(pitches) - WINDOW, 0) + 1, STEP)]
    return {"first": in_key(pitches[:half], key), "second": in_key(pitches[half:], key), "windows": windows,
            "notes": len(pitches)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="a model file or shipped name (default: folk)")
    ap.add_argument("--prime", default=None, help="a MIDI file to continue (default: the built-in motif)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--events", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--temperature", type=float, default=0.9)
    ap.add_argument("--key-weight", type=float, default=None, help="(default: generate's default)")
    args = ap.parse_args(argv)
    extra = {} if args.key_weight is None else {"key_weight": args.key_weight}
    print(f"{'events':>6} {'notes':>5} | {'1st half':>8} {'2nd half':>8} {'worst 2nd':>9} | "
          f"{'window median':>13} {'lowest window (median over seeds)':>33} {'lowest window of all':>20}")
    with tempfile.TemporaryDirectory() as tmp:
        for events in args.events:
            rows = []
            for seed in range(args.seeds):
                out = Path(tmp) / f"{events}-{seed}.mid"
                config = GenerateConfig(events=events, sampling=Sampling(args.temperature), seed=seed, **extra)
                generate_file(out, config, model=args.model, prime=args.prime)
                rows.append(measure(*played(out)))
            lowest = [min(r["windows"]) for r in rows]
            print(f"{events:>6} {statistics.median(r['notes'] for r in rows):>5.0f} | "
                  f"{statistics.median(r['first'] for r in rows):>8.3f} {statistics.median(r['second'] for r in rows):>8.3f} "
                  f"{min(r['second'] for r in rows):>9.3f} | "
                  f"{statistics.median(w for r in rows for w in r['windows']):>13.3f} "
                  f"{statistics.median(lowest):>33.3f} {min(lowest):>20.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
