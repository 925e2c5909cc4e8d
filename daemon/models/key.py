"""The key of what was heard, as a prior that keeps a continuation in it.

A melody model that hears intervals and the absolute pitch has no memory of a tonic beyond its
recurrent state, and over hundreds of notes it modulates where the tunes it learned from stay in
one key. A KeyTracker keeps the pitch classes of the last notes *heard* (a prime's, the player's;
never the machine's own, which would teach it its own drift), finds their key by the
Krumhansl-Schmuckler method with Aarden's profiles (note counts per scale degree in the Essen
folksong collection, most of what `folk` learned from), and gives each pitch a log-weight: the
profile of that key to the power `weight`, a product of experts with the network's distribution.
Cost: O(1) a heard note, 24 correlations when the key is asked for after a change.
"""
from __future__ import annotations

from collections import deque

import numpy as np

# Aarden (2003) via music21.analysis.discrete.AardenEssen: percent of notes on each scale degree
# (tonic first) in the Essen collection's major and minor tunes.
AARDEN_MAJOR = np.array([17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624,
                         8.15494, 0.232998, 4.95122])
AARDEN_MINOR = np.array([18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621,
                         1.93186, 7.37619, 1.75623])
MODES = ("major", "minor")
WINDOW = 64  # heard notes the key is taken from: a tune's worth, and the player's last phrases
MIN_NOTES = 4  # fewer heard notes tell no key
# log(profile / its largest value), rows (mode, tonic), columns the absolute pitch class
_LOG = np.stack([np.log(np.roll(profile / profile.max(), tonic)) for profile in (AARDEN_MAJOR, AARDEN_MINOR)
                 for tonic in range(12)]).astype(np.float32)  # (24, 12)
_CENTRED = np.stack([np.roll(profile, tonic) for profile in (AARDEN_MAJOR, AARDEN_MINOR) for tonic in range(12)])
_CENTRED = (_CENTRED - _CENTRED.mean(1, keepdims=True)) / _CENTRED.std(1, keepdims=True)


class KeyTracker:
    """The key of the last `window` heard notes, and the log-prior it sets on each pitch."""

    def __init__(self, window: int = WINDOW):
        if window < MIN_NOTES:
            raise ValueError(f"key window must be at least {MIN_NOTES} notes")
        self.counts = np.zeros(12)
        self.recent: deque[int] = deque()
        self.window = window
        self._key: int | None = None  # row of _LOG, or None
        self._stale = False
        self._cached: tuple | None = None  # (row, base, size, weight, log-weights): draws ask again and again

    def hear(self, pitch: int) -> None:
        pc = int(pitch) % 12
        self.recent.append(pc)
        self.counts[pc] += 1
        if len(self.recent) > self.window:
            self.counts[self.recent.popleft()] -= 1
        self._stale = True

    @property
    def key(self) -> tuple[int, str] | None:
        """(tonic pitch class, 'major' or 'minor'), or None before MIN_NOTES heard notes."""
        row = self._row()
        return None if row is None else (row % 12, MODES[row // 12])

    def _row(self) -> int | None:
        if self._stale:
            self._stale = False
            if len(self.recent) < MIN_NOTES or np.ptp(self.counts) == 0:
                self._key = None
            else:
                heard = (self.counts - self.counts.mean()) / self.counts.std()
                self._key = int(np.argmax(_CENTRED @ heard))
        return self._key

    def log_prior(self, base: int, size: int, weight: float) -> np.ndarray | None:
        """(size,) float32 log-weights for the pitches `base .. base + size - 1` (0 for the key's
        most likely degree, negative elsewhere), times `weight`; None with no key or no weight."""
        row = self._row()
        if row is None or not weight:
            return None
        if self._cached is None or self._cached[:4] != (row, base, size, weight):
            self._cached = (row, base, size, weight, weight * _LOG[row][(base + np.arange(size)) % 12])
        return self._cached[4]
