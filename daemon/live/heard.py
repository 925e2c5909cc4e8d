"""The player's beat as segue hears it: a tempo source for jams with no MIDI clock and no Link.

Every note the player strikes goes to the beat tracker (daemon/models/beat.py); once the tracker
is sure enough (CONFIDENT), its beat and bar place the answers as a DAW's clock would. It says
nothing while it is unsure or the player has stopped (nothing heard from them, and nothing played by
segue in their beat, for SILENCE beats), and the timeline falls back to --bpm.
"""
from __future__ import annotations

from ..models.beat import CHORD, CONFIDENT, PointerTracker


class HeardBeat:
    def __init__(self, clock, bpm: float | None = None, player=None):
        """`bpm`: a first guess (--bpm), which the tracker refines at its level (never
        twice or half of it: daemon/models/beat.py). `player()`: when the player was
        last heard: now while they hold a key or a phrase of theirs awaits its answer (the engine
        knows, from the listener's keys); None: their last onset."""
        self.clock = clock
        self.tracker = PointerTracker(bpm)
        self.player = player
        self.kept = float("-inf")  # the last note segue plays in the heard beat (keep)

    def hear(self, stamp: float, pitch: int, velocity: int) -> None:
        """A note the player struck (the tracker hears it: one filter step per onset); a release
        (velocity 0) is the listener's to count. O(1)."""
        if velocity:
            self.tracker.note(stamp, pitch, velocity)

    def keep(self, until: float) -> None:
        """segue plays in the heard beat until `until`: its notes carry the pulse on as the player's
        do, so a part that goes on after the player stops stays in their tempo to its end. O(1)."""
        self.kept = max(self.kept, until)

    def _sounded(self, tracker, now: float) -> float:
        """When the pulse was last heard: the player (see __init__) or segue's last note in the heard
        beat, whichever is later."""
        player = tracker.heard if self.player is None else self.player()
        return max(player, min(self.kept, now))

    def _settled(self):
        """The tracker, with an onset whose chord can no longer grow heard."""
        tracker = self.tracker
        if tracker.pending is not None and self.clock() - tracker.pending[0] > CHORD:
            tracker.flush()
        return tracker

    def confidence(self) -> float:
        tracker, now = self._settled(), self.clock()
        return tracker.confidence(now, self._sounded(tracker, now))

    @property
    def synced(self) -> bool:
        """A beat to play on: the tracker is sure of it and the player has not stopped."""
        return self.confidence() >= CONFIDENT

    def _unit(self, tracker) -> float:
        """The beat the jam counts in, in the tracker's beats: a quarter note, as the models count.
        A beat heard in thirds is a dotted quarter (6/8, 9/8, 12/8): two thirds of it."""
        return 2 / 3 if tracker.division == 3 else 1.0

    @property
    def beat_seconds(self) -> float:
        tracker = self._settled()
        return tracker.beat_seconds * self._unit(tracker)

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_seconds

    def next_grid(self, now: float, beats: float) -> float:
        """The first line of a `beats` grid at or after `now` (a bar or more: the heard bar lines)."""
        tracker = self._settled()
        return tracker.next_beat(now, beats * self._unit(tracker))

    def position(self, at: float) -> tuple[float, float]:
        """(beats into the heard bar at `at`, beats in that bar), in quarter notes: a bar of two
        dotted quarters is 3 beats, as the models count 6/8."""
        tracker = self._settled()
        unit = self._unit(tracker)
        beats, meter = tracker.position(at)
        return beats / unit, meter / unit

    def describe(self) -> str:
        """`heard 6/8, 41% sure`: the bar heard (eighths where the beat is heard in thirds)."""
        tracker = self._settled()
        position = tracker.position(self.clock())
        meter = 4 if position is None else position[1]
        bar = f"{meter * 3}/8" if tracker.division == 3 else f"{meter}/4"
        return f"heard {bar}, {self.confidence():.0%} sure"
