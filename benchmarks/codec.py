"""How faithfully the seed's encoding and segue's encode the shared MIDI files.

    python benchmarks/codec.py [FILES...]   (default: ../shared/data/midi/*.mid)

For each file and codec: events, time classes, and the onset error after decoding (how far
each decoded event lands from where it was played, in ms): the seed rounds each gap on its
own, so its error drifts along the piece; segue carries the rounding error to the next gap.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from segue.daemon.formats.codec import EventCodec
from segue.daemon.formats.midifile import read_notes

DEFAULT = sorted((Path(__file__).resolve().parents[1].parent / "shared" / "data" / "midi").glob("*.mid"))


def onset_error_ms(codec: EventCodec, notes) -> np.ndarray:
    events, played = codec.encode_timed(notes)
    decoded = np.array([d.time for d in codec.decode(events, start=played[0])])
    return np.abs(decoded - played) * 1000


def main(argv=None) -> int:
    files = [Path(f) for f in (argv if argv else sys.argv[1:])] or DEFAULT
    print(f"{'file':<24} {'channels':<9} {'codec':<6} {'events':>6} {'time cls':>8} "
          f"{'mean err ms':>11} {'p99 err ms':>10} {'max err ms':>10} {'end drift ms':>12}")
    for path in files:
        for label, channel in (("0", 0), ("all", None)):
            notes = read_notes(path, channel=channel)
            for name, codec in (("seed", EventCodec.seed(notes)), ("segue", EventCodec())):
                err = onset_error_ms(codec, notes)
                print(f"{path.name:<24} {label:<9} {name:<6} {len(codec.encode(notes)):>6} {codec.time_classes:>8} "
                      f"{err.mean():>11.1f} {np.percentile(err, 99):>10.1f} {err.max():>10.1f} {err[-1]:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
