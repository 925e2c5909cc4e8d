"""The accompanist's runtime choices, tried on POP909's valid songs (docs/notes/accompanist.md).

    python experiments/accompanist_choices.py runs/pop909 [--songs 40]

1. The chord each beat: the likeliest, or the one whose tones are likeliest to be the true chord's
   (each pitch class's chance of being a tone, summed over the model's chords; the runtime's).
2. Keeping the likeliest chord in force until another is `stay` times likelier (`bar` times at a
   bar line): the medians of benchmarks/accompany.py's figures, and how often the chord changes
   against the annotations.
3. Keeping the chords under the melody (at most the median of its last 8 beats less `below`
   semitones), against no ceiling.
4. Leaving out the chord notes whose pitch class is unlikely to be a chord tone (below `thin`).
The runtime plays the chord whose tones are likeliest, with the ceiling at the median (below 0),
its chord notes below 0.4 tone chance left out.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import accompany as bench  # noqa: E402
from segue.daemon.models import accompanist as acc  # noqa: E402
from segue.daemon.offline.accompany import accompaniment  # noqa: E402
from segue.training import pop909  # noqa: E402
from segue.training.chords import song_arrays  # noqa: E402

FIGURES = ("chord tones", "melody harmony", "follows", "at once", "coverage", "above the melody")


class Kept(acc.Accompaniment):
    """The chord in force is kept unless another is STAY (at a bar line BAR) times likelier."""

    stay, bar, by_tones, margin = 1.0, 1.0, False, 0.0

    def beat(self, heard, slot, held=(), ceiling=None):
        self._downbeat = slot in (0, None)
        return super().beat(heard, slot, held, ceiling)

    def choose(self, logits):
        if self.by_tones:
            best = acc.Accompaniment.choose(logits)
            if self.margin and self.chord:  # kept unless the best's tones score `margin` more
                p = np.exp(logits - logits.max())
                p[0] = 0.0
                score = acc.TONES @ ((p @ acc.TONES) / p.sum()) / np.maximum(acc.TONES.sum(axis=1), 1)
                if score[best] - score[self.chord] < self.margin:
                    return self.chord
            return best
        best = 1 + int(np.argmax(logits[1:]))
        margin = np.log(self.bar if self._downbeat else self.stay)
        if self.chord and logits[best] - logits[self.chord] < margin:
            return self.chord
        return best


def valid_songs(corpus, count: int, beats: int = 128) -> list:
    """The first `count` valid songs, each as (song, melody rows, first beat, end beat, the bar slot
    of every beat, the annotated chord classes of the beats measured): `beats` beats from the
    melody's first note."""
    songs = []
    for song, notes in pop909.load(corpus, "valid")[:count]:
        melody = pop909.part_rows(notes, "MELODY")
        start = int(np.floor(melody[:, 0].min()))
        end = min(start + beats, len(song.beats))
        _, classes, slots = song_arrays(song, notes)
        songs.append((song, melody, start, end, [int(s) for s in slots], classes[start:end]))
    return songs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--model", default="pop")
    args = parser.parse_args()
    net = acc.AccompanistModel(args.model)
    songs = valid_songs(args.corpus, args.songs)

    def run(label, stay=1.0, bar=1.0, ceiling=True, below=0, tones=False, margin=0.0, thin=acc.THIN):
        Kept.stay, Kept.bar, Kept.by_tones, Kept.margin = stay, bar, tones, margin
        acc.THIN = thin
        acc.CEILING_BELOW = below
        stream, rows, changes, real = net.stream, [], [], []
        net.stream = lambda seed=None: Kept(net, seed)
        try:
            for song, melody, start, end, slots, classes in songs:
                notes, chosen = accompaniment(net, melody, start, end, slots,
                                              seed=int(song.name), ceiling=ceiling)
                rows.append(bench.measure(song, melody, bench._notes_of(notes), start, end))
                changes.append(np.mean(np.diff(chosen) != 0))
                real.append(np.mean(np.diff(classes) != 0))
        finally:
            net.stream = stream
        cells = [f"{statistics.median([r[f] for r in rows if r[f] == r[f]]):.3f}" for f in FIGURES]
        print(f"| {label} | " + " | ".join(cells) + f" | {np.mean(changes):.3f} ({np.mean(real):.3f}) |", flush=True)

    print(f"{len(songs)} valid songs, 128 beats each; medians (changes: mean share of beats the chord changes on; "
          "the annotations' in brackets)")
    print("| choice | " + " | ".join(FIGURES) + " | changes |")
    print("|---|" + "---|" * (len(FIGURES) + 1))
    run("the chord whose tones are likeliest, every pattern note", tones=True, thin=0.0)
    run("the same, chord notes left out below 0.4 tone chance (shipped)", tones=True)
    for stay, bar in ((1.0, 1.0), (1.2, 1.0), (1.5, 1.25), (2.0, 1.25), (3.0, 2.0), (5.0, 2.0)):
        run(f"the likeliest chord, kept unless another is {stay:g} times likelier ({bar:g} at a bar line)", stay, bar,
            thin=0.0)
    for margin in (0.02, 0.05):
        run(f"shipped, kept unless another's tones score {margin:g} more", tones=True, margin=margin)
    for thin in (0.3, 0.5, 0.6):
        run(f"shipped, chord notes left out below {thin:g} tone chance instead", tones=True, thin=thin)
    run("shipped, no ceiling", ceiling=False, tones=True)
    for below in (3, 6):
        run(f"shipped, ceiling {below} under the median", below=below, tones=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
