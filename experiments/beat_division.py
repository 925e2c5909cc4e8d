"""How often the live tracker hears the wrong division of the beat, on the melody corpus's valid tunes.

    python experiments/beat_division.py [--pieces 300] [--thirds 2 3 4]

Each tune is rendered with human timing as benchmarks/beats.py renders it and tracked causally; a
beat is heard in thirds or halves (daemon/models/beat.py, `division`). For tunes in a simple meter
(2/4, 3/4, 4/4) the share of their beats heard in thirds is wrong; for compound ones (6/8, 9/8,
12/8) the share heard in halves. THIRDS is the weight thirds must have over halves before the beat
is heard in thirds (and back): a duple tune heard in thirds gets its answers in triplets, off the
player's eighths (benchmarks/heard_grid.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import beats as B  # noqa: E402
from segue.daemon.models import beat  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=300)
    parser.add_argument("--thirds", type=float, nargs="+", default=[beat.THIRDS])
    args = parser.parse_args()
    from segue.daemon.formats.corpus import load

    meters = {f"{p['collection']}:{p['source']}": p["meter"] for p in load(B.ROOT / "runs" / "melodies", "valid")}
    pieces = list(B.corpus_pieces("valid", args.pieces, np.random.default_rng(0)))
    compound = {name for name, *_ in pieces if meters.get(name, "4/4") in ("6/8", "9/8", "12/8")}
    print(f"{len(pieces)} valid tunes ({len(compound)} compound), human timing; share of tracked beats with "
          "the wrong division (mean over tunes)")
    for thirds in args.thirds:
        beat.THIRDS = thirds
        wrong = {"simple": [], "compound": []}
        for name, notes, truth, _ in pieces:
            tracked = beat.track(notes)
            if not tracked:
                continue
            kind = "compound" if name in compound else "simple"
            want = 3 if kind == "compound" else 2
            wrong[kind].append(np.mean([b.division != want for b in tracked]))
        print(f"  THIRDS {thirds:g}: simple tunes heard in thirds {np.mean(wrong['simple']):.3f} "
              f"(tunes mostly so: {np.mean(np.array(wrong['simple']) > 0.5):.3f}); compound tunes heard in halves "
              f"{np.mean(wrong['compound']):.3f} ({np.mean(np.array(wrong['compound']) > 0.5):.3f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
