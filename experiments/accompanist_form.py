"""Hearing the song's form: the accompanist with and without a memory of passages come back (valid songs).

    python experiments/accompanist_form.py runs/pop909 [--songs 40] [--beats 128]

The accompanist as it plays (daemon/offline/accompany.py, the live path beat by beat) with its form
memory (models/accompanist.py, `Form`) off, and on for each pair of the settings given: how many of
the melody's last beats are matched (--window) and how much of a beat they may differ on average
(--differ). Medians over the songs, measured as benchmarks/accompany.py measures; the share of beats
played from a passage come back, and how often the beat foreseen was the beat then played (within a
quarter of a beat's melody).
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
from segue.daemon.models import accompanist as acc  # noqa: E402
from segue.daemon.offline.accompany import accompaniment  # noqa: E402

FIGURES = ("chord tones", "melody harmony", "melody in chord", "follows", "at once", "coverage")


FORM = acc.Form


class Watched(FORM):
    """The form, counting the beats it foresees and how many it foresaw right."""

    def __init__(self, tally: list):
        super().__init__()
        self.tally, self.foreseen = tally, None

    def add(self, heard):
        if self.foreseen is not None:
            self.tally.append(float(np.abs(self.foreseen[:13] - heard[:13]).sum() / 2 < 0.25))
        super().add(heard)

    def coming(self):
        self.foreseen = super().coming()
        return self.foreseen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--beats", type=int, default=128, help="beats from each melody's first note (a large number: whole songs)")
    parser.add_argument("--window", type=int, nargs="+", default=[acc.REPEAT_BEATS])
    parser.add_argument("--differ", type=float, nargs="+", default=[0.1, acc.REPEAT_DIFFER, 0.2])
    args = parser.parse_args()
    net = acc.AccompanistModel("pop")
    songs = valid_songs(args.corpus, args.songs, args.beats)
    print(f"{len(songs)} valid songs, {args.beats} beats each from the melody's first note; medians")
    settings = [(None, None)] + [(w, d) for w in args.window for d in args.differ]
    for window, differ in settings:
        results, shares, right = [], [], []
        for song, melody, start, end, slots, _ in songs:
            tally: list = []
            acc.REPEAT_BEATS, acc.REPEAT_DIFFER = window or acc.REPEAT_BEATS, -1.0 if differ is None else differ
            acc.Form = lambda _tally=tally: Watched(_tally)  # the form each part makes (read when it is made)
            try:
                notes, _ = accompaniment(net, melody, start, end, slots, seed=int(song.name))
            finally:
                acc.Form = FORM
            results.append(bench.measure(song, melody, bench._notes_of(notes), start, end))
            shares.append(len(tally) / max(1, end - start))
            right += tally
        name = "no form" if window is None else f"window {window}, differ {differ}"
        cells = ", ".join(f"{f} {statistics.median(r[f] for r in results if r[f] == r[f]):.3f}" for f in FIGURES)
        extra = "" if window is None else f"; foreseen {statistics.median(shares):.2f} of beats, right {np.mean(right):.2f}"
        print(f"  {name}: {cells}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
