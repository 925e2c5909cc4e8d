"""Chords as the accompanist names them, and the melody as its chord model hears it, beat by beat.

The vocabulary: no chord (class 0), or a root (12 pitch classes) with one of POP909's 15 qualities
(Harte shorthands), 181 classes. A chord's bass (an inversion) is not part of its class: the
accompanist's texture chooses the bass note.

The melody of one beat, as the chord model hears it: how much of the beat each pitch class sounds
(0..1 each), how much of it is silent, and whether a note starts in it (14 numbers). Transposing a
song rolls the pitch classes and every chord's root alike (`transpose`).
"""
from __future__ import annotations

import numpy as np

QUALITIES = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus2": (0, 2, 7), "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10), "hdim7": (0, 3, 6, 10), "dim7": (0, 3, 6, 9),
    "maj6": (0, 4, 7, 9), "min6": (0, 3, 7, 9), "minmaj7": (0, 3, 7, 11), "sus4(b7)": (0, 5, 7, 10),
}
QUALITY_NAMES = tuple(QUALITIES)
CLASSES = 1 + 12 * len(QUALITIES)  # no chord, then root-major order
MELODY_FEATURES = 14  # 12 pitch classes, the silent share, a note started
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def chord_class(root: int, quality: str) -> int:
    """(root pitch class, quality) -> 0..180 (0: no chord, root -1 or quality "N")."""
    if root < 0 or quality == "N":
        return 0
    return 1 + (root % 12) * len(QUALITIES) + QUALITY_NAMES.index(quality)


def chord_of(cls: int) -> tuple[int, str]:
    """0..180 -> (root, quality); (-1, "N") for class 0."""
    if cls == 0:
        return -1, "N"
    root, quality = divmod(int(cls) - 1, len(QUALITIES))
    return root, QUALITY_NAMES[quality]


def pitch_classes(cls: int) -> frozenset[int]:
    root, quality = chord_of(cls)
    return frozenset() if root < 0 else frozenset((root + i) % 12 for i in QUALITIES[quality])


def chord_name(cls: int) -> str:
    root, quality = chord_of(cls)
    if root < 0:
        return "N.C."
    short = {"maj": "", "min": "m", "7": "7", "maj7": "maj7", "min7": "m7", "sus4(b7)": "7sus4"}
    return NAMES[root] + short.get(quality, quality)


TRANSPOSED = np.array([[chord_class(*((r + k) % 12 if r >= 0 else -1, q)) if r >= 0 else 0
                        for r, q in map(chord_of, range(CLASSES))] for k in range(12)])


def transpose(classes: np.ndarray, features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Chord classes and melody features `k` semitones up."""
    moved = features.copy()
    moved[..., :12] = np.roll(features[..., :12], k, axis=-1)
    return TRANSPOSED[k % 12][classes], moved


def melody_features(onsets: np.ndarray, ends: np.ndarray, pitches: np.ndarray, beats: int) -> np.ndarray:
    """(beats, 14): per beat, each pitch class's share of it, the silent share, a note started.
    Times in beats from the song's first beat; notes before 0 or after `beats` are cut off."""
    out = np.zeros((beats, MELODY_FEATURES), np.float32)
    for onset, end, pitch in zip(onsets, ends, pitches):
        first, last = max(0, int(np.floor(onset))), min(beats - 1, int(np.ceil(end)) - 1)
        for b in range(first, last + 1):
            share = min(end, b + 1) - max(onset, b)
            if share > 0:
                out[b, int(pitch) % 12] += share
        if 0 <= onset < beats:
            out[int(onset), 13] = 1.0
    out[:, :12] = np.minimum(out[:, :12], 1.0)
    out[:, 12] = np.clip(1.0 - out[:, :12].max(axis=1), 0.0, 1.0)
    return out
