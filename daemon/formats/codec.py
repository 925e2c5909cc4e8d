"""The event codec: note messages <-> (pitch, velocity, time) class triples.

An event is one note-on or release. Its three classes are:
  pitch    MIDI pitch - low, for pitches low..high (others are folded in by octaves);
  velocity 0 = release, 1..V-1 = loudness bands over MIDI velocity 1..127;
  time     the class of the time since the previous event (class 0 = simultaneous), in seconds,
           or in beats (quarter notes) for a model that knows the beat (`time_unit = "beats"`).
A beat-timed model also takes, as input only, where each event falls in the bar (`position_class`)
and how long the bar is (`meter_class`); both have an "unknown" class for playing with no tempo.
The codec is saved inside every model file, so a model always decodes what it was trained on.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Iterable, Sequence

import numpy as np

from .midifile import NoteMessage


@dataclass(frozen=True)
class EventCodec:
    """Vocabulary of the event models; validated on construction, stored with the model."""

    low: int = 24
    high: int = 112
    velocity_classes: int = 32
    time_values: tuple[float, ...] = field(default_factory=lambda: log_time_values())
    carry_error: bool = True  # quantise onsets against the decoded clock, so errors never drift
    time_unit: str = "seconds"  # or "beats": time_values are quarter notes, and events carry the metre
    pitch_mode: str = "absolute"  # or "interval": the pitch class is the step from the last struck pitch

    def __post_init__(self):
        object.__setattr__(self, "time_values", tuple(float(v) for v in self.time_values))
        if not 0 <= self.low < self.high <= 127:
            raise ValueError("pitch range must satisfy 0 <= low < high <= 127")
        if not 2 <= self.velocity_classes <= 128:
            raise ValueError("velocity_classes must be in range 2..128")
        values = self.time_values
        if len(values) < 2 or values[0] != 0.0 or any(b <= a for a, b in zip(values, values[1:])):
            raise ValueError("time_values must start at 0.0 and increase strictly")
        if self.time_unit not in ("seconds", "beats"):
            raise ValueError("time_unit must be seconds or beats")
        if self.pitch_mode not in ("absolute", "interval"):
            raise ValueError("pitch_mode must be absolute or interval")

    def interval_class(self, pitch: int, reference: int | None) -> int:
        """Interval mode: the step from `reference` (the last struck pitch) as a class, clipped to the
        classes there are; class `pitch_classes // 2` is the unison (and a first note's class)."""
        middle = self.pitch_classes // 2
        step = 0 if reference is None else pitch - reference
        return int(min(max(step, -middle), self.pitch_classes - 1 - middle)) + middle

    @classmethod
    def beats(cls, **overrides) -> "EventCodec":
        """The metrical codec: gaps on a grid of fractions of a beat (BEAT_TIME_VALUES), pitch as intervals."""
        return cls(**{"time_values": BEAT_TIME_VALUES, "time_unit": "beats", "pitch_mode": "interval", **overrides})

    # -- sizes ------------------------------------------------------------------------
    @property
    def pitch_classes(self) -> int:
        return self.high - self.low + 1

    @property
    def time_classes(self) -> int:
        return len(self.time_values)

    @property
    def sizes(self) -> tuple[int, int, int]:
        return self.pitch_classes, self.velocity_classes, self.time_classes

    # -- single fields ------------------------------------------------------------------
    def fold_pitch(self, pitch: int) -> int:
        """Move a pitch by octaves into low..high."""
        while pitch < self.low:
            pitch += 12
        while pitch > self.high:
            pitch -= 12
        return pitch

    def velocity_class(self, velocity: int) -> int:
        if velocity <= 0:
            return 0
        return 1 + (min(velocity, 127) - 1) * (self.velocity_classes - 1) // 127

    def velocity_value(self, cls: int) -> int:
        if cls <= 0:
            return 0
        return min(127, 1 + int((cls - 0.5) * 127 / (self.velocity_classes - 1)))

    def time_class(self, seconds: float) -> int:
        """Nearest time class (boundaries halfway between class values)."""
        return int(np.searchsorted(self._time_bounds, seconds))

    @cached_property
    def _time_bounds(self) -> np.ndarray:
        v = self.time_array
        return (v[1:] + v[:-1]) / 2

    @cached_property
    def time_array(self) -> np.ndarray:
        """`time_values` as a numpy array (seconds per time class)."""
        return np.asarray(self.time_values)

    def decoded_seconds(self, events: np.ndarray) -> float:
        """Seconds from the first to the last of (N, 3) events as decoded: every gap after the first."""
        return float(self.time_array[np.asarray(events, np.int64).reshape(-1, 3)[1:, 2]].sum())

    def bin_width(self, cls: int) -> float:
        """Width of the interval of seconds that encodes to `cls` (the top class: its lower half)."""
        v = self.time_values
        lower = (v[cls] + v[cls - 1]) / 2 if cls > 0 else 0.0
        upper = (v[cls] + v[cls + 1]) / 2 if cls + 1 < len(v) else v[cls]
        return upper - lower

    # -- whole streams ------------------------------------------------------------------
    def encode(self, notes: Iterable[NoteMessage]) -> np.ndarray:
        """Note messages -> int64 array (N, 3) of (pitch, velocity, time) classes.

        Channels are merged by pitch: a pitch sounds while any channel holds it, so doubled
        parts (the same line on several channels) become one line.
        """
        return self.encode_timed(notes)[0]

    def encode_timed(self, notes: Iterable[NoteMessage]) -> tuple[np.ndarray, np.ndarray]:
        """`encode`, plus the time (s) at which each encoded event was actually played."""
        holders: dict[int, set[int]] = {}
        events: list[tuple[int, int, int]] = []
        played: list[float] = []
        clock = None  # decoded time of the previous event, seconds
        for note in notes:
            pitch = self.fold_pitch(note.pitch)
            held = holders.setdefault(pitch, set())
            if note.velocity > 0:
                retrigger = bool(held) and note.channel in held
                held.add(note.channel)
                if len(held) > 1 and not retrigger:
                    continue  # another channel doubles a sounding note
                if retrigger:
                    clock = self._append(events, played, clock, note.time, pitch, 0)
                clock = self._append(events, played, clock, note.time, pitch, note.velocity)
            elif note.channel in held:
                held.discard(note.channel)
                if not held:
                    clock = self._append(events, played, clock, note.time, pitch, 0)
        return np.asarray(events, dtype=np.int64).reshape(-1, 3), np.asarray(played)

    def _append(self, events, played, clock, time, pitch, velocity):
        if clock is None:  # the first event starts the piece
            clock, gap = time, 0.0
        else:
            gap = time - clock
        cls = self.time_class(gap)
        events.append((pitch - self.low, self.velocity_class(velocity), cls))
        played.append(time)
        # With carry_error the next gap is measured from the decoded clock, so the rounding
        # error of one event is paid back by the next instead of accumulating.
        return clock + self.time_values[cls] if self.carry_error else time

    def decode(self, events: np.ndarray, start: float = 0.0, channel: int = 0) -> list[NoteMessage]:
        """(N, 3) class triples -> note messages with absolute times (not yet made playable)."""
        out, clock = [], start
        for pitch, vel, cls in np.asarray(events, dtype=np.int64).reshape(-1, 3):
            clock += self.time_values[cls]
            out.append(NoteMessage(clock, int(pitch) + self.low, self.velocity_value(int(vel)), channel))
        return out

    # -- storage -------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "EventCodec":
        data = json.loads(text)  # files written before time_unit existed are in seconds
        data["time_values"] = tuple(data["time_values"])
        return cls(**data)

    # -- the seed's encoding -----------------------------------------------------------------
    @classmethod
    def seed(cls, *pieces: Sequence[NoteMessage]) -> "EventCodec":
        """The seed's codec: 128 velocities; time = 0 or 11 steps over the [min, max] gap of its files.

        Its time classes depend on the file it was built from, and each gap is rounded on
        its own, so errors accumulate along the piece (what `carry_error` fixes).
        """
        gaps = np.concatenate([np.diff([n.time for n in notes]) for notes in pieces] or [[]])
        gaps = gaps[gaps > 0]
        lo, hi = (float(gaps.min()), float(gaps.max())) if len(gaps) else (0.1, 1.0)
        grid = np.linspace(lo, hi, 11)
        return cls(velocity_classes=128, time_values=(0.0, *grid), carry_error=False)


# Gaps in beats: every 24th of a beat up to one (demisemiquavers, triplets, dotted semiquavers), every
# twelfth up to two, then longer notes and rests.
BEAT_TIME_VALUES = (0.0, *(round(k / 24, 6) for k in range(1, 25)), *(round(1 + k / 12, 6) for k in range(1, 13)),
                    2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0)
POSITION_STEPS = 24  # position classes per beat
POSITION_BEATS = 8  # beats of a bar told apart (a longer bar's later beats fold onto these)
POSITIONS = POSITION_STEPS * POSITION_BEATS + 1  # the last class: no tempo, position unknown
METERS = (2.0, 3.0, 4.0, 6.0)  # bar lengths in beats with a class of their own; then other, unknown


SOUNDING = 16  # sounding_class's classes: 0..14 notes sounding, 15 for 15 or more


def sounding_class(count: int) -> int:
    """How many notes sound before an event, as a class (a keyboard model hears it: its pitches are
    intervals, and without it cannot tell how many notes it holds)."""
    return min(max(int(count), 0), SOUNDING - 1)


def position_class(beats_into_bar: float | None) -> int:
    """Where in the bar an event falls (beats since the bar line), or the unknown class."""
    if beats_into_bar is None or not np.isfinite(beats_into_bar) or beats_into_bar < 0:
        return POSITIONS - 1
    step = int(round(beats_into_bar * POSITION_STEPS))
    return step % (POSITION_STEPS * POSITION_BEATS)


def meter_class(bar_beats: float | None) -> int:
    """The bar's length in beats: one of METERS, other (len(METERS)), or unknown (len(METERS) + 1)."""
    if bar_beats is None or not np.isfinite(bar_beats) or bar_beats <= 0:
        return len(METERS) + 1
    hits = [i for i, m in enumerate(METERS) if abs(m - bar_beats) < 1e-6]
    return hits[0] if hits else len(METERS)


def log_time_values(shortest: float = 0.010, longest: float = 4.0, classes: int = 48) -> tuple[float, ...]:
    """Class 0 = simultaneous, then `classes - 1` log-spaced gaps in seconds.

    Fixed for every file: a gap means the same thing whatever the model was trained on.
    Log spacing gives every gap the same relative resolution (about 13 % between neighbours).
    """
    return (0.0, *np.geomspace(shortest, longest, classes - 1).round(6).tolist())
