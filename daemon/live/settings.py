"""The settings of a jam session, built once from the options and validated on construction."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..formats.units import within
from ..models.continuation import KEY_WEIGHT, MAX_KEY_WEIGHT, MAX_NOTE
from ..models.sampling import Sampling
from .clock import BPM_RANGE, Span
from .voices import MAX_EVENTS

# An answer's length at most, per unit (a timed answer also stops at MAX_EVENTS events).
LENGTHS = {"events": (1, MAX_EVENTS), "seconds": (0.05, 600.0), "beats": (0.25, 1024.0), "bars": (0.25, 256.0),
           "phrases": (0.25, 8.0)}


@dataclass(frozen=True)
class JamConfig:
    """Options of a jam session; validated on construction."""

    length: Span | int | str = 16  # per answer (call) or after the player stops (continuous)
    sampling: Sampling = field(default_factory=Sampling)
    seed: int | None = None
    max_note: float = 4.0
    channel: int = 0  # output channel
    listen: tuple[int, ...] | None = None  # channels heard (None: all but drums)
    velocity_scale: float = 1.0
    grid: float | None = 1.0  # answers start on this grid (beats) when there is a tempo; None: off
    bpm: float | None = None  # internal tempo when no MIDI clock comes in
    beats_per_bar: int = 4
    thru: bool = False  # pass the player's notes to the output
    session_weight: float = 0.0  # the session model's share of each answer note's pitch (0: off)
    key_weight: float = KEY_WEIGHT  # the player's key's profile, to this power, on each answer note's pitch
    pedal: bool = False  # the machine plays with the sustain pedal, re-pedalled at each bar line

    def __post_init__(self):
        if not isinstance(self.length, Span):
            object.__setattr__(self, "length", Span.parse(self.length))
        if not 0 <= self.channel <= 15 or any(not 0 <= c <= 15 for c in self.listen or ()):
            raise ValueError("--channel must be from 0 to 15")
        within("--velocity-scale", self.velocity_scale, 0, 10, above=True)
        if self.seed is not None:
            within("--seed", self.seed, 0, 2**63 - 1)
        within("--max-note", self.max_note, 0, MAX_NOTE, above=True)
        low, high = LENGTHS[self.length.unit]
        within(f"--length in {self.length.unit}", self.length.value, low, high)
        if self.grid is not None:
            within("--grid", self.grid, 0, 32, above=True)
        if self.bpm is not None:
            within("--bpm", self.bpm, *BPM_RANGE)
        if not 1 <= self.beats_per_bar <= 32:
            raise ValueError("--beats-per-bar must be from 1 to 32")
        if not 0 <= self.session_weight < 1:
            raise ValueError("--session-weight must be from 0 to less than 1")
        within("--key-weight", self.key_weight, 0, MAX_KEY_WEIGHT)


