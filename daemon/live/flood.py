"""A flood of note messages (a stuck controller, a feedback loop, a hostile sender) told from playing.

No player sends FLOOD_RATE note messages a second (a fast two-handed run is about 40); a flood
does, and under it MIDI systems lose messages (JACK delivered 100k of 1.2M in a 20,000/s minute),
so the note-offs of keys struck then, and of the first notes after it, may never come. What the
engine does with that evidence (live/engine.py): the flood itself is never answered as a phrase,
the keys it left "held" are forgotten when it ends, and for a while after it a key held with no
input for AFTER_FLOOD_HOLD seconds is taken for a lost note-off rather than held for HOLD_LIMIT.
Cost: O(1) a message (a ring of counts per bucket of time).
"""
from __future__ import annotations

FLOOD_RATE = 500.0  # note messages a second
WINDOW = 0.25  # seconds over which the rate is counted (a flood is over this long after it stops)
BUCKETS = 5
MEMORY = 10.0  # seconds after a flood during which held keys are distrusted
AFTER_FLOOD_HOLD = 0.5  # seconds without input after which a key held then is forgotten


class FloodWatch:
    def __init__(self, rate: float = FLOOD_RATE, window: float = WINDOW):
        self.threshold = rate * window
        self.width = window / BUCKETS
        self.counts = [0] * BUCKETS
        self.bucket = 0  # index of the bucket of time the newest count is in (a running number)
        self.on = False
        self.last_flood = float("-inf")  # stamp of the last message heard while flooding
        self.floods = 0  # how many began
        self.peak = 0.0  # messages a second, of the current or last flood

    def note(self, stamp: float) -> bool:
        """Count a note message arriving at `stamp`; True while a flood is on."""
        self._advance(stamp)
        self.counts[self.bucket % BUCKETS] += 1
        total = sum(self.counts)
        if total >= self.threshold:
            if not self.on:
                self.floods += 1
                self.peak = 0.0
            self.on, self.last_flood = True, stamp
            self.peak = max(self.peak, total / (self.width * BUCKETS))
        return self.on

    def ended(self, now: float) -> bool:
        """True once, when a flood that was on is over at `now` (nothing counted for a window)."""
        self._advance(now)
        if self.on and sum(self.counts) < self.threshold:
            self.on = False
            return True
        return False

    def recent(self, now: float) -> bool:
        """A flood was on within MEMORY seconds."""
        return self.on or now - self.last_flood < MEMORY

    def _advance(self, stamp: float) -> None:
        bucket = int(stamp // self.width)
        if bucket <= self.bucket:
            return  # the same bucket, or a stamp out of order: counted in the newest
        for b in range(self.bucket + 1, min(bucket, self.bucket + BUCKETS) + 1):
            self.counts[b % BUCKETS] = 0
        self.bucket = bucket
