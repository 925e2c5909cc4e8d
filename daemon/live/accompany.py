"""The accompanist in a jam (`segue jam --mode accompany`): a bass and chords under the player's melody.

The context hears the player's notes as the chord model hears a melody: how much of each beat each
pitch class sounded (formats/chords.py). The policy wakes just before every beat line of the
timeline when something places the beat (MIDI clock, Link, or with no --bpm the heard beat, which
the part waits for); with --bpm (or --fixed-tempo and nothing: the default period) the beats are
counted from the player's first note, taken as a downbeat; the voice then steps the accompaniment (models/accompanist.py)
with the beat that just ended and hands the coming beat's notes to the scheduler: the bass on
--bass-channel, the chords on --channel, never a key the player holds. It starts on the first beat
line after the player's first note and rests once the player has rested for --length (in events,
two bars), every note released on the beat it stops. With --pedal the chords are pedalled, the
pedal changed with each chord.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..formats.chords import melody_features
from ..formats.midifile import NoteMessage
from ..models.accompanist import RECENT_BEATS, STEPS_PER_BEAT, AccompanistModel, ceiling_of
from .voices import PEDAL_CATCH, PEDAL_LIFT, Voice

log = logging.getLogger(__name__)
EARLY = 0.005  # seconds: a beat is decided this long before its line
HEARD_NOTES = 256  # the player's finished notes kept for the beat being heard (a flood keeps the last ones)
REST_BARS = 2  # with --length in events: the part rests after the player has rested this many bars


@dataclass
class Accompany:
    """Policy: from the player's first note, wake just before every beat line and let the accompanist
    decide the beat, and just before each of its notes to hand it to the scheduler."""

    name = "accompany"
    _next: float | None = field(default=None, repr=False)

    def on_player(self, engine, now: float) -> None:
        if self._next is None and engine.enabled:  # (None again while the beat is still being heard)
            self._next = engine.voice("accompany").first_line(now)

    def on_tick(self, engine, now: float) -> None:
        voice = engine.voice("accompany")
        if self._next is not None and now >= self._next - EARLY:
            line, self._next = self._next, None
            if voice.play_beat(line):
                self._next = voice.next_line(line)
        voice.flush(now + EARLY)

    def due(self, engine) -> float | None:
        due = [t - EARLY for t in (self._next, engine.voice("accompany").next_due()) if t is not None]
        return min(due) if due else None

    def reset(self) -> None:
        self._next = None


class AccompanyContext:
    """What the accompanist keeps of the jam: the player's notes of the beat being heard."""

    def __init__(self, model: AccompanistModel, timeline, seed: int | None = None):
        self.timeline, self.seed = timeline, seed
        self.steps = self.reprimes = 0
        self.logits = None  # no event logits: no --silence model
        self.load(model)

    def load(self, model: AccompanistModel) -> None:
        self.model = model
        self.stream = model.stream(self.seed)
        self.sounding: dict[int, float] = {}  # pitch -> when the player struck it
        self.done: deque[tuple[float, float, int]] = deque(maxlen=HEARD_NOTES)  # (start, end, pitch)
        self.struck: deque[tuple[float, int]] = deque(maxlen=HEARD_NOTES)  # (when, pitch) of the player's strikes

    @staticmethod
    def fold(pitch: int) -> int:
        return pitch

    def step(self, stamp: float, pitch: int, velocity: int) -> None:
        if velocity:
            self.struck.append((stamp, pitch))
            if pitch in self.sounding:
                self.done.append((self.sounding[pitch], stamp, pitch))
            self.sounding[pitch] = stamp
        elif pitch in self.sounding:
            self.done.append((self.sounding.pop(pitch), stamp, pitch))
        self.steps += 1

    def heard(self, start: float, end: float, held) -> np.ndarray:
        """The melody features (14) of the player's notes over [start, end), and forget what ended
        before `end`. `held`: the keys the listener says are down (a lost release ends a note here too)."""
        length = max(end - start, 1e-6)
        rows = [(s, e, p) for s, e, p in self.done if e > start]
        held = set(held)
        for pitch in [p for p in self.sounding if p not in held]:  # the listener forgot it (a lost note-off)
            rows.append((self.sounding.pop(pitch), end, pitch))
        rows += [(s, end, p) for p, s in self.sounding.items()]
        self.done.clear()
        if not rows:
            return melody_features(np.zeros(0), np.zeros(0), np.zeros(0), 1)[0]
        rows = np.array(rows, float)
        onsets, ends = (rows[:, 0] - start) / length, (np.minimum(rows[:, 1], end) - start) / length
        return melody_features(onsets, ends, rows[:, 2], 1)[0]

    def ceiling(self, since: float) -> int | None:
        """The highest key the chords may play: under the player's recent melody (models/accompanist.py)."""
        return ceiling_of(p for t, p in self.struck if t >= since)

    def reprime(self, window, now: float):
        """The accompanist keeps its chord model's state (the key it has heard): nothing to replay."""
        self.reprimes += 1
        return window

    def place(self, at: float) -> None:
        """The accompanist asks the timeline for the bar itself."""


class AccompanyVoice(Voice):
    """The bass (on --bass-channel) and the chords (on --channel), one beat at a time."""

    name = "accompany"

    def __init__(self, house, channel: int | None = None):
        super().__init__(house, channel)
        self.parts = {"bass": Voice(house, house.config.bass_channel), "chords": Voice(house, channel)}
        self.previous: float | None = None  # the last beat line played
        self.beats = 0
        self.origin: float | None = None  # unphased: the player's first note, a downbeat, where the beats are counted from
        # The beat's notes, decided at its line, go to the scheduler just before each is due: a key
        # the player strikes meanwhile is not struck by the machine (nor released by it).
        self.pending: deque[tuple[float, str, int, int]] = deque()  # (time, part, pitch, velocity), in time order
        self.skipped: set[tuple[str, int]] = set()  # (part, pitch) whose strike was dropped: its release too

    @property
    def playing(self) -> bool:
        return self.previous is not None or bool(self.pending) or any(p.playing for p in self.parts.values())

    def describe(self) -> str:
        stream = self.house.context.stream
        return f"chord {stream.name}" + (" (a passage come back)" if stream.repeating else "")

    def phased(self) -> bool:
        """Whether the part follows the timeline's beat lines: MIDI clock, Link, or with no --bpm
        the heard beat when sure. Given --bpm, the player has said the tempo: the part counts it
        from their first note (a melody's beat heard alone wanders: docs/notes/accompanist.md)."""
        tempo = self.house.timeline.tempo
        return tempo.follower.synced or tempo.link is not None or (tempo.tracked and not self.house.config.bpm)

    def beat_seconds(self) -> float:
        bpm = self.house.config.bpm
        return self.house.timeline.beat_seconds if self.phased() or not bpm else 60.0 / bpm

    def first_line(self, now: float) -> float | None:
        """The first beat line after the player's first note (the accompanist has heard it): the
        timeline's, or with no phase to follow one beat after that note, which is then a downbeat.
        None while the beat is still being heard (no clock, Link or --bpm): the part waits for it
        rather than play at a tempo nobody gave."""
        timeline = self.house.timeline
        phased = self.phased()
        if not phased and not self.house.config.bpm and timeline.tempo.heard is not None:
            return None
        if not phased:  # the grid the session's first note began; a later part comes in on it
            beat = self.beat_seconds()
            if self.origin is None:
                self.origin = now
            return self.origin + (np.floor((now - self.origin) / beat + 1e-6) + 1) * beat
        line = timeline.line(now + 1e-3, 1.0)
        return line if line > now else now + timeline.beat_seconds

    def next_line(self, line: float) -> float:
        timeline = self.house.timeline
        if not self.phased():
            return line + self.beat_seconds()
        after = timeline.line(line + timeline.beat_seconds / 2, 1.0)
        return after if after > line + timeline.beat_seconds / 2 else line + timeline.beat_seconds

    def play_beat(self, line: float) -> bool:
        """The beat from `line`: step the chord model with the beat before, schedule this beat's
        notes. False when the part rests (the player has rested long enough, or segue is off)."""
        house = self.house
        context, listener, timeline = house.context, house.listener, house.timeline
        beat = self.beat_seconds()
        if not house.enabled or self._rested(line):
            self._close(line)
            return False
        held = listener.held.pitches()
        heard = context.heard(self.previous if self.previous is not None else line - beat, line, held)
        bar = max(1, int(round(timeline.beats_per_bar)))
        if self.phased():
            position = timeline.position(line)
            slot = None if position is None else int(round(position)) % bar
        else:  # counted from the player's first note, a downbeat
            slot = int(round((line - (self.origin if self.origin is not None else line)) / beat)) % bar
        stream = context.stream
        base = stream.beats * STEPS_PER_BEAT
        before = stream.chord
        notes = stream.beat(heard, slot, held=held, ceiling=context.ceiling(line - RECENT_BEATS * beat),
                            next_slot=None if slot is None else (slot + 1) % bar)
        if house.config.pedal:  # --pedal: the chords' pedal down from the first beat, changed with the chord
            chords = self.parts["chords"]
            if self.previous is None:
                house.scheduler.pedal(True, line, chords.channel)
            elif stream.chord != before:
                house.scheduler.pedal(False, line - PEDAL_LIFT, chords.channel)
                house.scheduler.pedal(True, line + PEDAL_CATCH, chords.channel)
        self.pending.extend((line + (n.step - base) * beat / STEPS_PER_BEAT, n.part, n.pitch, n.velocity)
                            for n in notes)
        if self.previous is None:
            log.info("accompanying from %.3f: %s", line, stream.name)
        self.previous = line
        self.beats += 1
        house.last_decision_ms = (house.clock() - (line - EARLY)) * 1000
        return True

    def next_due(self) -> float | None:
        return self.pending[0][0] if self.pending else None

    def flush(self, until: float) -> None:
        """Hand the notes due by `until` to the scheduler; a strike of a key the player holds now is dropped."""
        if not self.pending or self.pending[0][0] > until:
            return
        held = set(self.house.listener.held.pitches())
        while self.pending and self.pending[0][0] <= until:
            at, name, pitch, velocity = self.pending.popleft()
            part = self.parts[name]
            if velocity and pitch in held:
                self.skipped.add((name, pitch))
                continue
            if not velocity and (name, pitch) in self.skipped:
                self.skipped.discard((name, pitch))
                continue
            self.skipped.discard((name, pitch))
            part.play([NoteMessage(at, pitch, velocity, part.channel)])

    def _rested(self, line: float) -> bool:
        house = self.house
        listener, span = house.listener, house.config.length
        if listener.sustaining:
            return False
        rest = REST_BARS * house.timeline.bar_seconds if span.unit == "events" else house.seconds(span)
        return line - listener.last_player > rest

    def _close(self, at: float) -> None:
        """The part ends at `at`: every note it holds is released then."""
        self.flush(at)
        self.pending.clear()
        self.skipped.clear()
        self.house.context.stream.close()
        for part in self.parts.values():
            part.release(at)
        if self.house.config.pedal and self.previous is not None:
            self.house.scheduler.pedal(False, at, self.parts["chords"].channel)
        if self.previous is not None:  # a part played: it counts as an answer
            log.info("accompaniment rests after %d beats", self.beats)
            self.house.answered()
        self.previous, self.beats = None, 0

    def stop(self) -> None:
        self.pending.clear()
        self.skipped.clear()
        for part in self.parts.values():
            part.stop()
        self.house.context.stream.sounding.clear()
        self.previous, self.beats = None, 0
        policy = self.house.policy
        if hasattr(policy, "reset") and getattr(policy, "name", "") == "accompany":
            policy.reset()
