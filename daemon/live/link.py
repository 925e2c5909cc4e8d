"""Ableton Link: a tempo and beat phase shared with other apps and devices on the network.

`segue jam --link` joins (or starts) a Link session through LinkPython-extern, the maintained
Python binding of Ableton's Link library (wheels for Linux x86_64 and aarch64, macOS and
Windows; an optional extra, `pip install 'segue[link]'`). The session's tempo and beat phase
then place the answers' grid and tell a metrical model where the bar is; bars are Link's
quantum (--beats-per-bar), so segue's bar lines fall on every peer's. MIDI clock, when it runs,
still wins (`Tempo`): a DAW that sends clock is the one segue follows.

Link counts time in microseconds on its own clock (CLOCK_MONOTONIC_RAW on Linux); segue's is
time.monotonic(). They are bridged at every query by reading both, a microsecond apart.
"""
from __future__ import annotations

import math
import time

LINK_EXTRA = "pip install 'segue[link]' (in a clone: pip install -e '.[link]'), which installs LinkPython-extern"


class LinkClock:
    """A Link session as a tempo source: `beat_seconds`, `next_grid` and `peers`, like the others."""

    def __init__(self, bpm: float = 120.0, quantum: float = 4.0):
        try:
            import link
        except ImportError:
            raise RuntimeError(f"--link needs Ableton Link's Python binding: {LINK_EXTRA}") from None
        self._link = link.Link(float(bpm))
        self._link.enabled = True
        self.quantum = float(quantum)

    def _offset(self) -> float:
        """Link's clock minus time.monotonic(), in seconds."""
        return self._link.clock().micros() * 1e-6 - time.monotonic()

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self._link.captureAppSessionState().tempo()

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_seconds

    @property
    def peers(self) -> int:
        return self._link.numPeers()

    def beat(self, at: float) -> float:
        """The session's beat at time.monotonic() `at` (bars start at multiples of the quantum)."""
        return self._link.captureAppSessionState().beatAtTime(int((at + self._offset()) * 1e6), self.quantum)

    def next_grid(self, now: float, beats: float) -> float:
        """The first line of a `beats` grid at or after `now`, on the session's beat."""
        state = self._link.captureAppSessionState()
        offset = self._offset()
        beat = state.beatAtTime(int((now + offset) * 1e6), self.quantum)
        target = math.ceil(beat / beats - 1e-9) * beats
        return state.timeAtBeat(target, self.quantum) * 1e-6 - offset

    def close(self) -> None:
        self._link.enabled = False
