"""What a look into the beat would give the accompanist's chord (valid songs; not causal).

    python experiments/accompanist_lookin.py runs/pop909 [--songs 40]

The shipped chord model names each beat's chord from the melody before it. Here the same model is
also stepped with the beat's own melody and its next prediction taken as the beat's chord, as if
the accompanist could wait to hear the beat before playing it: an upper bound for refining a
beat's later sixteenths with the melody heard on its downbeat. The chords are voiced as plain
triads (benchmarks/accompany.py's triad_part) and measured as benchmarks/accompany.py measures.

A third way hears only the beat's first sixteenth (what a live part could wait for before its
later sixteenths: the melody sounding then, as if it held for the beat): the same step with those
features instead of the whole beat's. Its chord is measured over the whole beat, so its first
sixteenth is counted as revised too.

A fourth way is what a live part can play of it: the beat's first sixteenth on the chord anticipated
before the beat, its other three on the chord revised after hearing the first.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import accompany as bench  # noqa: E402
from accompanist_choices import valid_songs  # noqa: E402
from segue.daemon.formats.chords import melody_features  # noqa: E402
from segue.daemon.models import accompanist as acc  # noqa: E402

FIGURES = ("chord tones", "melody harmony", "melody in chord")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--model", default="pop")
    args = parser.parse_args()
    net = acc.AccompanistModel(args.model)
    rows = {"causal (as shipped)": [], "after hearing the beat's first sixteenth": [], "after hearing the beat": [],
            "live: the first sixteenth anticipated, the rest revised": []}
    for song, melody, start, end, slots, _ in valid_songs(args.corpus, args.songs):
        features = melody_features(melody[:, 0], melody[:, 1], melody[:, 2], end + 1)
        for name, look in zip(rows, (None, "sixteenth", "beat", "live")):
            h, chords = net.initial_state(), []
            for b in range(start, end):
                heard = features[b - 1] if b > start else np.zeros(14, np.float32)
                logits, h = net.step(heard, slots[b], h)
                anticipated = acc.Accompaniment.choose(logits)
                if look:
                    now = features[b] if look == "beat" else first_sixteenth(melody, b)
                    logits, _ = net.step(now, slots[min(b + 1, len(slots) - 1)], h)
                revised = acc.Accompaniment.choose(logits)
                chords += [anticipated if look == "live" else revised] + [revised] * 3
            rows[name].append(bench.measure(song, melody, sixteenth_triads(chords, start), start, end))
    report(rows, args.songs)
    return 0


def first_sixteenth(melody: np.ndarray, b: int) -> np.ndarray:
    """Beat `b`'s melody features from its first sixteenth alone, each note sounding at its end
    taken to hold for the beat."""
    onsets, ends = melody[:, 0], melody[:, 1]
    heard = (onsets < b + 0.25) & (ends > b)
    clipped = np.minimum(ends[heard], b + 0.25)
    part = melody_features(np.maximum(onsets[heard], b) - b, (clipped - b) * 4 + np.maximum(onsets[heard], b) - b,
                           melody[heard, 2], 1)[0]
    part[13] = float(np.any((onsets >= b) & (onsets < b + 0.25)))
    return part


def sixteenth_triads(classes, start: int) -> np.ndarray:
    """Chord classes, one per sixteenth from beat `start`, voiced as benchmarks/accompany.py's
    triad_part voices a beat's: the root in 36-47, the triad closest above 55."""
    beats = bench.triad_part(classes, 0, len(classes))
    beats[:, :2] = beats[:, :2] / 4 + start
    return beats


def report(rows: dict, songs: int) -> None:
    """The medians of each way's figures over the songs."""
    print(f"{songs} valid songs, 128 beats each, chords as triads; medians")
    for name, got in rows.items():
        cells = ", ".join(f"{f} {statistics.median(r[f] for r in got if r[f] == r[f]):.3f}" for f in FIGURES)
        print(f"  {name}: {cells}")


if __name__ == "__main__":
    sys.exit(main())
