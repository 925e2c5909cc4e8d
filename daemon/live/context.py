"""The event model's state in a jam: stepped with every note heard, sampled by the voices.

Every note message the listener passes on is encoded and stepped at once, so when a voice starts
the context is already in the recurrent state and sampling starts immediately. After a barge-in,
a mode change or a new model the state is rebuilt from the listener's window of what was really
played (`reprime`). The session model and the key tracker outlive both: they are what this jam
taught.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import replace

import numpy as np

from ..formats.midifile import NoteMessage
from ..models.cursor import Cursor
from ..models.event import EventModel
from ..models.key import KeyTracker
from ..models.markov import VariableOrderMarkov
from .listener import MACHINE

log = logging.getLogger(__name__)
SESSION = 2000  # note-ons the session model remembers (its memory and cost stay flat after that)


class EventContext:
    def __init__(self, model: EventModel, timeline, seed: int | None = None):
        self.timeline = timeline
        self.steps = 0  # model steps and re-primings: what a cached reading of the state is keyed on
        self.reprimes = 0
        self.cursor: Cursor | None = None
        self.load(model)

    def load(self, model: EventModel) -> None:
        self.model, self.codec = model, model.codec
        self.stream = model.stream()
        self.logits: np.ndarray | None = None
        self.decoded: float | None = None  # decoded time of the last stepped event (monotonic s)
        before = self.cursor
        session = before.session if before is not None else VariableOrderMarkov(order=4, window=SESSION)
        key = before.key if before is not None else KeyTracker()
        self.cursor = Cursor(model.codec, heard=bool(model.info.inputs), session=session, key=key)

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
        return position

    def step(self, stamp: float, pitch: int, velocity: int) -> None:
        """Step one event heard at `stamp` into the state."""
        self.place(stamp)
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
