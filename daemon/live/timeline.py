"""Where the beat and the bar are, for everything in the jam that plays in time.

One interface over the sources of a tempo: incoming MIDI clock when it runs, else an Ableton Link
session, else the player's beat as heard (when the tracker is sure of it), else a steady --bpm,
else none (a beat of DEFAULT_BEAT assumed, and no grid). The
voices ask it where an answer starts (`start`), where the bar lines fall (`bar_lines`), how far
into the bar a moment is (`position`, for models that hear the bar), and how long a span lasts.
"""
from __future__ import annotations

from ..formats.units import Span
from .clock import Tempo
from .heard import HeardBeat

DEFAULT_BEAT = 0.5  # seconds (120 bpm) when nothing gives a tempo


class Timeline:
    def __init__(self, clock, bpm: float | None = None, beats_per_bar: int = 4, grid: float | None = 1.0,
                 link=None, track: bool = True, player=None):
        """`grid`: answers start on this grid, in beats (None: wherever they are ready); `link`: a
        LinkClock; `track`: follow the beat heard in the player's notes (`bpm` its first guess);
        `player()`: when the player was last heard (the heard beat lapses SILENCE beats after it,
        or after segue's own part; live/heard.py)."""
        heard = HeardBeat(clock, bpm, player) if track else None
        self.tempo = Tempo(bpm, clock(), DEFAULT_BEAT, clock=clock, link=link, heard=heard)
        self._beats_per_bar, self.grid = beats_per_bar, grid

    def feed(self, stamp: float, msg) -> None:
        """A transport message (MIDI clock, start, stop, continue, song position)."""
        self.tempo.feed(stamp, msg)

    def hear(self, stamp: float, pitch: int, velocity: int) -> None:
        """A note the player struck (velocity 0: released): the beat tracker hears the strikes (with
        no tracker, nothing)."""
        if self.tempo.heard is not None:
            self.tempo.heard.hear(stamp, pitch, velocity)

    def keep(self, until: float) -> None:
        """A part plays until `until`: on the heard beat, its notes keep that beat in force (as the
        player's own do) to its end and SILENCE beats beyond; on any other beat, nothing."""
        if self.tempo.tracked:
            self.tempo.heard.keep(until)

    @property
    def beats_per_bar(self) -> float:
        """The bar: the heard one when the heard beat is in force, else --beats-per-bar."""
        if self.tempo.tracked:
            position = self.tempo.heard.position(0.0)
            if position is not None:
                return position[1]
        return self._beats_per_bar

    @property
    def tracked(self) -> bool:
        return self.tempo.tracked

    @property
    def known(self) -> bool:
        """A tempo to follow: MIDI clock, Link or --bpm."""
        return self.tempo.known

    @property
    def beat_seconds(self) -> float:
        return self.tempo.beat_seconds

    @property
    def bar_seconds(self) -> float:
        return self.beat_seconds * self.beats_per_bar

    def describe(self) -> str:
        return self.tempo.describe()

    def start(self, at: float, beats: float | None = None) -> float:
        """Where a part ready at `at` starts: the first line of a `beats` grid (default: the jam's
        grid) at or after it when there is a tempo to follow, else `at` itself (see Tempo.next_grid:
        never a long wait)."""
        return self.tempo.next_grid(at, beats or self.grid, self.beats_per_bar)

    @property
    def shared(self) -> bool:
        """The beat in force is one the player shares: MIDI clock, Link or their own as heard."""
        return self.tempo.shared is not None

    def snap(self, at: float) -> float:
        """`at` on the nearest sixteenth or triplet eighth of the beat (itself with no tempo)."""
        return self.tempo.snap(at)

    def line(self, at: float, beats: float) -> float:
        """The first line of a `beats` grid at or after `at` (`at` itself with no tempo)."""
        return self.tempo.line(at, beats)

    def position(self, at: float) -> float | None:
        """Beats into the bar at `at`, or None when no tempo gives a bar."""
        if not self.known:
            return None
        if self.tempo.tracked:
            return self.tempo.heard.position(at)[0]
        bar = float(self.beats_per_bar)
        line = self.tempo.line(at, bar)  # the next bar line at or after `at`
        return (bar - (line - at) / self.beat_seconds) % bar

    def bar_lines(self, after: float):
        """The bar lines after `after`: the tempo's, else every bar from `after`."""
        bar = self.bar_seconds
        line = self.tempo.line(after + 1e-6, float(self.beats_per_bar)) if self.known else after + bar
        while True:
            yield line
            line += bar

    def seconds(self, span: Span) -> float:
        """A span in seconds at the tempo in force (not events or phrases: they have no duration)."""
        return span.seconds(self.beat_seconds, self.beats_per_bar)
