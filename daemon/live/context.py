"""The event model's state in a jam: stepped with every note heard, sampled by the voices.

Every note message the listener passes on is encoded and stepped at once, so when a voice starts
the context is already in the recurrent state and sampling starts immediately. After a barge-in,
a mode change or a new model the state is rebuilt from the listener's window of what was really
played (`reprime`). The session model and the key tracker outlive both: they are what this jam
taught.
"""
from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import replace

import numpy as np

from ..formats.midifile import NoteMessage
from ..models.cursor import Cursor
from ..models.event import EventModel
from ..models.key import KeyTracker
from ..models.markov import VariableOrderMarkov
from .clock import SNAP
from .listener import MACHINE

log = logging.getLogger(__name__)
SUBDIVISION_MEMORY, SUBDIVISION_NOTES = 0.95, 6.0  # see Subdivision
TIMING, PHASE_ERROR = 0.03, 0.03  # a player's timing (s) and the heard beat's phase error (beats): an onset's place in the beat is this sure
SESSION = 2000  # note-ons the session model remembers (its memory and cost stay flat after that)


class Subdivision:
    """The player's grid: which division of the beat (1, 2, 3 or 4 parts, or 12: sixteenths and
    triplets mixed) best explains their recent onsets, the recent ones counting most. An answer's
    notes fall on it (Cursor.grid): a player of eighths gets eighths and quarters back, not a
    model's sixteenths or triplets, and a beat heard at the wrong level (a player's eighths heard as
    beats) still answers on the player's eighths.

    Each grid is a likelihood of an onset's place in the beat: the grid's places equally likely, a
    player's timing about each of them (`width`, in beats), and a share anywhere (a grace note). A
    finer grid spreads its likelihood over more places, so it wins only where the onsets need it
    (Bayesian model choice, no threshold): a jig's thirds heard with 40 ms of jitter stay thirds,
    where counting each onset at its nearest sixteenth or third could not tell them apart.
    None before SUBDIVISION_NOTES onsets."""

    GRIDS = (1, 2, 3, 4, 12)
    PLACES = [np.array([0.0]), np.array([0, 1 / 2]), np.array([0, 1 / 3, 2 / 3]), np.arange(4) / 4, SNAP[:-1]]
    ANYWHERE = 0.05  # the share of onsets on no grid

    def __init__(self):
        self.scores = np.zeros(len(self.GRIDS))  # decayed log-likelihood of each grid
        self.heard = 0.0  # decayed count of onsets

    def hear(self, phase: float, width: float = 0.05) -> None:
        """An onset `phase` beats after a beat line, placed to within about `width` beats."""
        self.scores *= SUBDIVISION_MEMORY
        self.heard = self.heard * SUBDIVISION_MEMORY + 1.0
        for n, places in enumerate(self.PLACES):
            off = np.abs((phase - places + 0.5) % 1.0 - 0.5)
            density = np.mean(np.exp(-0.5 * (off / width) ** 2)) / (width * np.sqrt(2 * np.pi))
            self.scores[n] += np.log(self.ANYWHERE + (1 - self.ANYWHERE) * density)

    def parts(self) -> int | None:
        if self.heard < SUBDIVISION_NOTES * SUBDIVISION_MEMORY ** SUBDIVISION_NOTES:
            return None
        return self.GRIDS[int(np.argmax(self.scores))]


class EventContext:
    def __init__(self, model: EventModel, timeline, seed: int | None = None):
        self.timeline = timeline
        self.steps = 0  # model steps and re-primings: what a cached reading of the state is keyed on
        self.reprimes = 0
        self.cursor: Cursor | None = None
        self.subdivision = Subdivision()
        self.load(model)

    def load(self, model: EventModel) -> None:
        self.model, self.codec = model, model.codec
        self.stream = model.stream()
        self.logits: np.ndarray | None = None
        self.decoded: float | None = None  # decoded time of the last stepped event (monotonic s)
        before = self.cursor
        session = before.session if before is not None else VariableOrderMarkov(order=4, window=SESSION)
        key = before.key if before is not None else KeyTracker()
        self.cursor = Cursor.for_model(model, session=session, key=key)

    def fold(self, pitch: int) -> int:
        return self.codec.fold_pitch(pitch)

    def place(self, at: float) -> float | None:
        """The cursor's tempo and bar position for an event at `at` (monotonic s); returns the beats
        into the bar (None when no tempo gives a bar)."""
        cursor, timeline = self.cursor, self.timeline
        cursor.beat_seconds = timeline.beat_seconds
        position = timeline.position(at)
        cursor.bar_beats = None if position is None else float(timeline.beats_per_bar)
        if position is not None:
            cursor.beats = position
        cursor.grid = self.subdivision.parts() if position is not None and timeline.shared else None
        return position

    def step(self, stamp: float, pitch: int, velocity: int) -> None:
        """Step one event heard at `stamp` into the state (placed on the beat's nearest sixteenth or
        triplet eighth: the model learnt from scores, and a player's few milliseconds early or
        late would otherwise reach it as rhythms no score has)."""
        heard = self.timeline.position(stamp) if velocity and self.timeline.shared else None
        if heard is not None:
            width = math.hypot(TIMING / self.timeline.beat_seconds, PHASE_ERROR)
            self.subdivision.hear(heard, width)
        stamp = self.timeline.snap(stamp)
        self.place(stamp)  # the cursor's tempo, bar position and grid for this event
        gap = 0.0 if self.decoded is None else max(0.0, stamp - self.decoded)
        cls = self.cursor.time_class(gap)
        self.decoded = stamp if self.decoded is None else self.decoded + self.cursor.seconds(cls)
        if abs(self.decoded - stamp) > self.cursor.seconds(self.codec.time_classes - 1):
            self.decoded = stamp  # after a long silence, start the clock again
        self.logits = self.stream.advance(*self.cursor.event(pitch, self.codec.velocity_class(velocity), cls))
        self.steps += 1

    def advance(self, logits: np.ndarray, decoded: float) -> None:
        """A voice stepped the stream itself (its own notes): its prediction, and the decoded clock."""
        self.logits, self.decoded = logits, decoded
        self.steps += 1

    def reprime(self, window: deque, now: float) -> deque:
        """Rebuild the state from `window` up to `now`; returns the window as it now stands (later
        notes dropped, and releases added for the machine's notes a cancel silenced)."""
        started = time.perf_counter()
        notes = [n for n in window if n.time <= now]
        notes = [replace(n, time=self.timeline.snap(n.time)) for n in notes]
        sounding = set()
        for n in notes:
            if n.channel == MACHINE:
                (sounding.add if n.velocity else sounding.discard)(n.pitch)
        notes += [NoteMessage(now, p, 0, MACHINE) for p in sorted(sounding)]
        notes.sort(key=lambda n: n.time)
        first = self.place(notes[0].time) if notes else None  # also sets the cursor's tempo
        scale = self.cursor.scale
        events, played = self.codec.encode_timed([replace(n, time=n.time / scale) for n in notes])
        self.stream = self.model.stream()
        # The session model and the key heard these notes already (and must not learn the machine's).
        cursor = self.cursor
        (session, key), cursor.session, cursor.key = (cursor.session, cursor.key), None, None
        cursor.reference = None
        rows = cursor.rows(events, first=first or 0.0)
        cursor.session, cursor.key = session, key
        self.logits = self.stream.prime(rows)
        self.steps += 1
        # The decoded clock, as encode() keeps it: the first event's time plus every gap's class value.
        self.decoded = float(played[0]) * scale + cursor.decoded_seconds(events) if len(played) else None
        self.reprimes += 1
        log.debug("re-primed from %d events in %.2f ms", len(events), (time.perf_counter() - started) * 1000)
        return deque(notes, maxlen=window.maxlen)

    def gaps_seconds(self) -> np.ndarray:
        """Every time class's gap in seconds at the tempo in force."""
        self.cursor.beat_seconds = self.timeline.beat_seconds
        return self.codec.time_array * self.cursor.scale

    def time_head(self) -> np.ndarray | None:
        return None if self.logits is None else self.model.heads(self.logits)[2]
