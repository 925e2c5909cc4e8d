"""Where an event stream is, for the classes that depend on it.

A seconds-timed, absolute-pitch model (the shipped melody model) needs nothing: class = pitch - low,
gaps in seconds. The metrical model (EventCodec.beats) needs its place: the last struck pitch (its
pitch classes are intervals from it), the clock in beats and the bar (its time classes are beats,
and it hears the position in the bar and the bar's length), and the absolute pitch it hears.

A cursor can also keep the key of what it heard (models/key.py), and a session model: a variable-order Markov model of the intervals struck in
this stream (the prime, the player, the continuation so far), whose distribution `prior` gives in the
model's pitch classes, to mix with the network's (the Continuator's idea; models/markov.py).
"""
from __future__ import annotations

import numpy as np

from ..formats.codec import EventCodec, meter_class, position_class, sounding_class
from .key import KeyTracker
from .markov import MAX_INTERVAL, VariableOrderMarkov, interval_symbol


class Cursor:
    """Turns pitches into classes and back, and gap classes into seconds, for one stream."""

    def __init__(self, codec: EventCodec, beat_seconds: float = 0.5, bar_beats: float | None = None,
                 heard: bool = False, reference: int | None = None, beats: float = 0.0,
                 session: VariableOrderMarkov | None = None, key: KeyTracker | None = None, sounding: bool = False):
        self.codec, self.beat_seconds, self.bar_beats, self.heard = codec, beat_seconds, bar_beats, heard
        self.reference = reference  # the last struck pitch (interval models; the session model's too)
        self.beats = beats  # the clock, in beats from the first bar line (beat-timed models)
        self.session = session
        self.key = key  # the key of what was heard (models/key.py)
        self.grid: int | None = None  # events fall on 1/grid of a beat (the player's subdivision); None: anywhere
        self.counts_sounding = sounding  # the model hears how many notes sound (a keyboard model)
        self.sounding: set[int] = set()  # the pitches struck and not released in this stream

    @classmethod
    def for_model(cls, model, beat_seconds: float = 0.5, **kwargs) -> "Cursor":
        """A cursor for an event model (models/event.py): it hears the model's input-only features
        (the register, the bar; how many notes sound) as the model's file says."""
        return cls(model.codec, beat_seconds, heard=bool(model.info.inputs), sounding=model.info.sounding, **kwargs)

    @property
    def base(self) -> int:
        """The pitch that class 0 stands for now."""
        if self.codec.pitch_mode == "absolute":
            return self.codec.low
        reference = 60 if self.reference is None else self.reference
        return reference - self.codec.pitch_classes // 2

    @property
    def scale(self) -> float:
        """Seconds per unit of the model's time classes."""
        return self.beat_seconds if self.codec.time_unit == "beats" else 1.0

    def decoded_seconds(self, events: np.ndarray) -> float:
        """Seconds from the first to the last of (N, >= 3) events as decoded: every gap after the first."""
        return self.codec.decoded_seconds(np.asarray(events)[:, :3]) * self.scale

    def seconds(self, gap: int) -> float:
        value = self.codec.time_values[gap]
        return value * self.beat_seconds if self.codec.time_unit == "beats" else value

    def time_class(self, seconds: float) -> int:
        return self.codec.time_class(seconds / self.beat_seconds if self.codec.time_unit == "beats" else seconds)

    def pitch_class(self, pitch: int) -> int:
        if self.codec.pitch_mode == "absolute":
            return pitch - self.codec.low
        return self.codec.interval_class(pitch, self.reference)

    def features(self, pitch: int) -> tuple[int, ...]:
        """What the model hears besides the event's classes, for an event of `pitch` now."""
        if not self.heard:
            return ()
        at = self.beats % self.bar_beats if self.bar_beats else None
        heard = pitch - self.codec.low, position_class(at), meter_class(self.bar_beats)
        return (*heard, sounding_class(len(self.sounding))) if self.counts_sounding else heard

    def event(self, pitch: int, velocity: int, gap: int, learn: bool = True) -> tuple[int, ...]:
        """The model's input row for an event (`velocity` a class; `move(gap)` already done), after
        which its pitch is the reference if it was struck. `learn`: the session model learns the
        step (the player's notes and a prime's; not the machine's own, which would teach it itself)."""
        row = (self.pitch_class(pitch), velocity, gap, *self.features(pitch))
        (self.sounding.add if velocity else self.sounding.discard)(pitch)
        if velocity:
            if self.session is not None and self.reference is not None:
                self.session.observe(interval_symbol(pitch - self.reference), learn=learn)
            if learn and self.key is not None:
                self.key.hear(pitch)
            self.reference = pitch
        return row

    def prior(self, size: int) -> np.ndarray | None:
        """The session model's distribution over the `size` pitch classes from `base` (None without
        one, or before a first note): each class's interval from the last struck pitch."""
        if self.session is None or self.reference is None:
            return None
        steps = self.base + np.arange(size) - self.reference + MAX_INTERVAL
        ok = (steps >= 0) & (steps < self.session.symbols)
        p = np.zeros(size)
        p[ok] = self.session.distribution()[steps[ok]]
        return p / p.sum() if p.sum() > 0 else None

    def key_prior(self, size: int, weight: float) -> np.ndarray | None:
        """Log-weights of the heard key over the `size` pitch classes from `base` (None without a key)."""
        return None if self.key is None else self.key.log_prior(self.base, size, weight)

    def rows(self, events: np.ndarray, first: float = 0.0) -> np.ndarray:
        """(N, 3) events of the absolute codec's classes (EventCodec.encode_timed, times in this
        model's unit) as the model's input rows; `first`: the first event's time (beats from a bar line)."""
        self.beats = first
        self.sounding = set()
        out = []
        for i, (pitch, velocity, gap) in enumerate(np.asarray(events, np.int64).reshape(-1, 3)):
            if i:
                self.move(int(gap))
            out.append(self.event(int(pitch) + self.codec.low, int(velocity), int(gap)))
        return np.asarray(out, np.int64).reshape(len(out), (7 if self.counts_sounding else 6) if self.heard else 3)

    def on_grid(self, model_grid: int | None = None) -> np.ndarray | None:
        """Which gap classes put the next event on the `grid`, else, where the bar is known, on
        `model_grid` (the grid the model learnt on); None with neither, no beat, or no way back to
        the grid from here (a grid reachable only by a gap of 0 would be a chord without end)."""
        grid = self.grid or (model_grid if self.bar_beats is not None else None)
        if grid is None or self.codec.time_unit != "beats":
            return None
        at = (self.beats + self.codec.time_array) * grid
        on = np.abs(at - np.round(at)) < 1e-3
        return on if on[1:].any() else None

    def snap_gap(self, gap: int, model_grid: int | None = None) -> int:
        """The drawn gap class moved to the nearest one that lands on the grid (see `on_grid`): the
        model's timing kept as near as the grid allows, a gap never made 0 (a chord) or made 0 from
        one (a note after a chord). Redrawing among the classes on the grid instead favours a gap of
        0, and a keyboard model then piles chords up."""
        on = self.on_grid(model_grid)
        if on is None or on[gap]:
            return gap
        values = self.codec.time_array
        if gap == 0:
            return 0
        candidates = np.flatnonzero(on[1:]) + 1
        return int(candidates[np.argmin(np.abs(values[candidates] - values[gap]) + 1e-9 * (values[candidates] < values[gap]))])

    def move(self, gap: int) -> None:
        if self.codec.time_unit == "beats":
            self.beats += self.codec.time_values[gap]
