"""Following incoming MIDI clock: tempo from 24-ppqn ticks, position from start/continue/song position."""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from ..formats.midifile import BPM_RANGE  # a tempo outside it is no tempo (as for --bpm)
from ..formats.units import count, within

PPQN = 24  # MIDI clock ticks per quarter note
TRANSPORT = ("clock", "start", "stop", "continue", "songpos")


STALE_BEATS, STALE_SECONDS = 2.0, 2.0  # no tick for this long (the shorter): the clock has stopped
GRID_WAIT = 2.0  # seconds an answer waits for a grid line at most (and at most one bar)
GRID_SLACK = 0.05  # seconds over that bound a line may be (clock jitter)
SNAP = np.array([0, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4, 1])  # where in a beat a heard note is placed


class ClockFollower:
    """Tempo is the mean tick interval over the last `window` ticks (one beat by default).

    A clock that stops ticking without a Stop (a DAW closed, a cable pulled) goes stale after two
    beats at its last tempo or 2 s, whichever is shorter: then there is no external tempo.
    `clock`: the time now (default: that of the last tick, so it never goes stale)."""

    def __init__(self, window: int = PPQN, clock=None):
        self.clock = clock
        self._stamps: deque[float] = deque(maxlen=window + 1)
        self.running = False
        self.ticks = 0  # ticks since the song's start (the position of the last tick)

    def feed(self, stamp: float, msg) -> None:
        kind = msg.type
        if kind == "clock":
            if self.running:
                self.ticks += 1
            self._stamps.append(stamp)
        elif kind == "start":
            self.running, self.ticks = True, -1  # the first clock after start is tick 0
            self._stamps.clear()
        elif kind == "continue":
            self.running = True
        elif kind == "stop":
            self.running = False
        elif kind == "songpos":
            self.ticks = msg.pos * 6 - 1  # song position counts 16th notes, 6 ticks each

    @property
    def synced(self) -> bool:
        if not (self.running and len(self._stamps) >= 2):
            return False
        beat = self.beat_seconds
        if not 60.0 / BPM_RANGE[1] <= beat <= 60.0 / BPM_RANGE[0]:
            return False
        now = self._stamps[-1] if self.clock is None else self.clock()
        return now - self._stamps[-1] <= min(STALE_BEATS * beat, STALE_SECONDS)

    @property
    def beat_seconds(self) -> float:
        s = self._stamps
        return (s[-1] - s[0]) / (len(s) - 1) * PPQN

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_seconds

    def next_grid(self, now: float, beats: float) -> float:
        """The time of the first grid line (every `beats` beats from the song's start) at or after `now`."""
        beat = self.beat_seconds
        last = self._stamps[-1]
        position = self.ticks / PPQN + (now - last) / beat  # in beats
        target = math.ceil(position / beats - 1e-9) * beats
        return last + (target - self.ticks / PPQN) * beat


class InternalClock:
    """A steady tempo (--bpm) when no MIDI clock comes in: beats counted from `origin`."""

    def __init__(self, bpm: float, origin: float):
        within("--bpm", bpm, *BPM_RANGE)
        self.beat_seconds, self.origin = 60.0 / bpm, origin

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_seconds

    def next_grid(self, now: float, beats: float) -> float:
        step = beats * self.beat_seconds
        return self.origin + math.ceil((now - self.origin) / step - 1e-9) * step


class Tempo:
    """Where the beat is: incoming MIDI clock when it runs, else an Ableton Link session (`link`,
    daemon/live/link.py), else the player's beat as heard (`heard`, daemon/live/heard.py) when the
    tracker is sure of it, else a steady --bpm, else none (120 bpm assumed)."""

    def __init__(self, bpm: float | None, origin: float, default_beat: float = 0.5, clock=None, link=None,
                 heard=None):
        self.follower = ClockFollower(clock=clock)
        self.link = link
        self.heard = heard
        self.internal = InternalClock(bpm, origin) if bpm else None
        self.default_beat = default_beat  # seconds a beat when nothing gives a tempo
        self.followed: set[str] = set()  # the sources that placed a part: clock, heard, steady

    def feed(self, stamp: float, msg) -> None:
        self.follower.feed(stamp, msg)

    @property
    def known(self) -> bool:
        """A tempo to follow: MIDI clock, Link, the heard beat or --bpm."""
        return self.follower.synced or self._steady() is not None

    def _steady(self):
        """The source that is not MIDI clock: Link, else the heard beat when sure, else --bpm (None: none)."""
        if self.link is not None:
            return self.link
        if self.heard is not None and self.heard.synced:
            return self.heard
        return self.internal

    @property
    def tracked(self) -> bool:
        """The heard beat is the tempo in force."""
        return not self.follower.synced and self.heard is not None and self._steady() is self.heard

    @property
    def source(self) -> str:
        if self.follower.synced:
            return "clock"
        if self.link is not None:
            return f"link, {count(self.link.peers, 'peers')}"
        if self.tracked:
            return self.heard.describe()
        return "--bpm" if self.internal else "no tempo"

    @property
    def beat_seconds(self) -> float:
        if self.follower.synced:
            return self.follower.beat_seconds
        steady = self._steady()
        return steady.beat_seconds if steady is not None else self.default_beat

    def line(self, start: float, beats: float | None) -> float:
        """The first line of a `beats` grid at or after `start` on the tempo in force; `start` itself
        when there is no tempo (or no grid)."""
        if beats and self.follower.synced:  # following the DAW: its beats (or bars)
            self.followed.add("clock")
            return self.follower.next_grid(start, beats)
        steady = self._steady() if beats else None
        if steady is not None:
            self.followed.add("heard" if steady is self.heard else "steady")
            return steady.next_grid(start, beats)
        return start

    @property
    def shared(self):
        """The source of a beat the player shares (MIDI clock, Link, their own as heard), else None."""
        source = self.follower if self.follower.synced else self._steady()
        return None if source is self.internal else source

    def snap(self, at: float) -> float:
        """`at` moved to the nearest sixteenth or triplet eighth of the beat in force: how the models
        hear the player, whose notes are never exactly on a line. Only on a beat the player shares
        (MIDI clock, Link, or their own as heard); on a --bpm counted from segue's start, or with
        no tempo, `at` itself."""
        source = self.shared
        if source is None:
            return at
        beat = self.beat_seconds
        line = source.next_grid(at - beat, 1.0)  # the beat line at or before `at`
        phase = (at - line) / beat
        return line + beat * float(SNAP[np.argmin(np.abs(SNAP - phase))])

    def next_grid(self, start: float, beats: float | None, bar: float = 4.0) -> float:
        """Where an answer starts: `line`, unless that is further than one bar (`bar` beats) or
        GRID_WAIT seconds away; then the next beat if that is near enough, else `start` (an answer
        never waits long for a grid). A clock's jitter may put a 2-second bar a little over 2 s away:
        GRID_SLACK allows for it."""
        bound = min(GRID_WAIT, bar * self.beat_seconds) + GRID_SLACK
        for grid in (beats, 1.0):
            line = self.line(start, grid)
            if line - start <= bound:
                return line
        return start

    def describe(self) -> str:
        return f"{60 / self.beat_seconds:.1f} bpm ({self.source})" if self.known else "no tempo"
