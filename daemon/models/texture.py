"""The accompanist's texture: bars of POP909's piano parts as patterns, played on any chord.

A pattern is one bar of a real piano part over a single chord: each note's sixteenth in the bar,
its length in sixteenths, its pitch and velocity as played, and where it sits on that chord (its
interval above the root). Played on another chord, the whole bar moves by the smallest step from
the old root to the new one, and each chord tone moves to the tone of the new chord it stands for
(root to root, third to third, fifth to fifth, seventh to seventh or, on a triad, up to the
octave); a tone outside the chord keeps its interval above the root. A chord change inside the
bar moves the notes struck after it to the new chord. So the accompaniment keeps the real part's
rhythm, register, spread and bass, and its tones are the chord's.

Numpy only; the patterns travel in the accompanist's model file (metadata) with its chord model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats.chords import QUALITIES, chord_of

STEPS = 16  # sixteenths in a 4-beat bar


def degree_of(interval: int) -> int | None:
    """An interval above the root -> the chord degree it stands for (0 root, 1 third, 2 fifth,
    3 seventh/sixth), or None for a tone outside any chord."""
    return {0: 0, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3, 11: 3}.get(interval % 12)


def move_interval(interval: int, quality: str) -> int:
    """Where an interval above the old root goes on a chord of `quality` (same octave)."""
    tones = QUALITIES[quality]
    degree = degree_of(interval)
    if degree is None:
        return interval
    octave = interval - interval % 12
    if degree < len(tones):
        return octave + tones[degree]
    return octave + 12  # a seventh on a triad: the root an octave up


@dataclass(frozen=True)
class Pattern:
    root: int  # the chord it was played on
    quality: str
    steps: np.ndarray  # (n,) sixteenth in the bar
    lengths: np.ndarray  # (n,) sixteenths
    pitches: np.ndarray  # (n,) MIDI keys as played
    velocities: np.ndarray  # (n,)

    def on(self, root: int, quality: str) -> np.ndarray:
        """The pattern's pitches on the chord (root, quality)."""
        shift = (root - self.root + 6) % 12 - 6
        out = []
        for p in self.pitches:
            interval = (int(p) - self.root) % 12
            out.append(int(p) + shift + move_interval(interval, quality) - interval)
        return np.asarray(out)

    def to_dict(self) -> dict:
        return {"root": self.root, "quality": self.quality, "notes": [
            [int(s), int(n), int(p), int(v)] for s, n, p, v in zip(self.steps, self.lengths, self.pitches, self.velocities)]}

    @classmethod
    def from_dict(cls, d: dict) -> "Pattern":
        rows = np.asarray(d["notes"], np.int64).reshape(-1, 4)
        if d["quality"] not in QUALITIES or not 0 <= int(d["root"]) < 12:
            raise ValueError(f"a texture pattern on an unknown chord: {d['root']}:{d['quality']}")
        if len(rows) and (rows[:, 0].min() < 0 or rows[:, 0].max() >= STEPS or rows[:, 1].min() < 1
                          or rows[:, 2].min() < 0 or rows[:, 2].max() > 127):
            raise ValueError("a texture pattern with notes outside its bar or the keyboard")
        return cls(int(d["root"]), d["quality"], rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])


def realise(pattern: Pattern, chords: list[int]) -> list[tuple[int, int, int, int]]:
    """The pattern over one bar whose chord at each sixteenth is `chords[step]` (classes): notes
    (step, length, pitch, velocity), each on the chord in force when it is struck, cut where the
    chord changes under it; none where there is no chord."""
    out = []
    for s, n, p, v in zip(pattern.steps, pattern.lengths, pattern.pitches, pattern.velocities):
        cls = chords[int(s)]
        root, quality = chord_of(cls)
        if root < 0:
            continue
        single = Pattern(pattern.root, pattern.quality, np.array([s]), np.array([n]), np.array([p]), np.array([v]))
        pitch = int(single.on(root, quality)[0])
        end = int(s) + 1
        while end < min(STEPS, int(s) + int(n)) and chords[end] == cls:
            end += 1
        length = end - int(s) if end < STEPS else int(n)  # a note the bar's end does not cut keeps its length
        out.append((int(s), length, pitch, int(v)))
    return out
