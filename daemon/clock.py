"""Following incoming MIDI clock: tempo from 24-ppqn ticks, position from start/continue/song position."""
from __future__ import annotations

import math
from collections import deque

PPQN = 24  # MIDI clock ticks per quarter note
TRANSPORT = ("clock", "start", "stop", "continue", "songpos")


class ClockFollower:
    """Tempo is the mean tick interval over the last `window` ticks (one beat by default)."""

    def __init__(self, window: int = PPQN):
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
        return self.running and len(self._stamps) >= 2

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
