"""The piano-roll model in a jam: its context, the harmoniser voice, and answers in chords.

Harmonise: on each step (a frame of the model's length in beats, on the timeline's grid), the keys
the player holds (or struck during the last frame) are clamped as visible units, the other keys
are sampled from the model, and the machine plays the sampled keys the player is not playing,
within a voicing range. The whole frame that sounded (player and machine) then steps the RNN. A
key the machine keeps from one frame to the next is held, not struck again. When the player rests,
the machine rests too.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..formats.midifile import NoteMessage
from ..formats.pianoroll import KEYS, LOW
from ..models.roll import RollModel
from .timeline import DEFAULT_BEAT
from .voices import SLACK, Voice

log = logging.getLogger(__name__)
EARLY = 0.003  # seconds: the frame is sampled this long before its grid line, and its notes are due on it
CONTEXT_FRAMES = 64  # frames of the player's phrase an answer is primed with


@dataclass
class Harmonize:
    """Policy: wake just before every grid line and let the harmoniser play the frame."""

    name = "harmonize"
    _next: float | None = field(default=None, repr=False)

    def on_player(self, engine, now: float) -> None:
        if self._next is None:
            self._next = engine.voice("harmony").next_frame(now)

    def on_tick(self, engine, now: float) -> None:
        if self._next is not None and now >= self._next - EARLY:
            line, self._next = self._next, None
            voice = engine.voice("harmony")
            if voice.harmonize(line):
                self._next = voice.next_frame(line, previous=line)

    def due(self, engine) -> float | None:
        return None if self._next is None else self._next - EARLY

    def reset(self) -> None:
        self._next = None


def fold(pitch: int) -> int:
    """A key onto the piano's range, by octaves."""
    while pitch < LOW:
        pitch += 12
    while pitch > LOW + KEYS - 1:
        pitch -= 12
    return pitch


class RollContext:
    """What a piano-roll model keeps of the jam: its stream, the last frame that sounded, the keys
    struck since the last frame and how hard."""

    def __init__(self, model: RollModel, timeline, seed: int | None = None):
        self.timeline, self.seed = timeline, seed
        self.steps = self.reprimes = 0
        self.logits = None  # a piano-roll model has no event logits (no time head: no --silence model)
        self.load(model)

    def load(self, model: RollModel) -> None:
        self.model = model
        self.stream = model.stream(self.seed)
        self.previous: np.ndarray | None = None  # the last frame that sounded, fed at the next step
        self.struck = np.zeros(KEYS, bool)  # keys the player struck since the last frame
        self.velocity_heard = 80

    fold = staticmethod(fold)

    @property
    def frame_seconds(self) -> float:
        timeline = self.timeline
        return self.model.beats * (timeline.beat_seconds if timeline.known else DEFAULT_BEAT)

    def step(self, stamp: float, pitch: int, velocity: int) -> None:
        if velocity:
            self.struck[pitch - LOW] = True
            self.velocity_heard = velocity

    def reprime(self, window, now: float):
        """A piano-roll model has no event window to replay; it starts a fresh piece."""
        self.stream = self.model.stream(self.seed)
        self.previous = None
        self.reprimes += 1
        return window

    def place(self, at: float) -> None:
        """A piano-roll model hears no bar position."""


class RollVoice(Voice):
    def voicing(self, keys: np.ndarray) -> np.ndarray:
        """The keys in the voicing range (--voicing)."""
        low, high = self.house.voicing
        pitches = np.arange(KEYS) + LOW
        return keys & (pitches >= low) & (pitches <= high)

    def sound(self, keys: np.ndarray, at: float, velocity: int) -> None:
        """From `at` the voice sounds `keys`: keys it already holds are held on, others struck, the rest ended."""
        keep = {int(k) + LOW for k in np.nonzero(keys)[0]}
        channel = self.channel
        self.play([NoteMessage(at, p, 0, channel) for p in sorted(set(self.open) - keep)] +
                  [NoteMessage(at, p, velocity, channel) for p in sorted(keep - set(self.open))])


class Harmonizer(RollVoice):
    name = "harmony"

    def __init__(self, house, channel: int | None = None):
        super().__init__(house, channel)
        self.frames = 0

    def next_frame(self, now: float, previous: float | None = None) -> float:
        """The next frame's grid line after `previous` (or at/after `now`): the timeline's grid;
        without a tempo, frames follow each other from the player's first note."""
        house = self.house
        if house.timeline.known:
            return house.timeline.start(now if previous is None else previous + 1e-6, house.context.model.beats)
        return now if previous is None else previous + house.context.frame_seconds

    def harmonize(self, line: float) -> bool:
        """Sample and schedule the frame starting at `line`; False when the player rests (so does the machine)."""
        house = self.house
        context = house.context
        held = np.zeros(KEYS, bool)
        for pitch in house.listener.held.pitches():
            held[pitch - LOW] = True
        player = held | context.struck
        context.struck[:] = False
        if not player.any() or not house.enabled:
            self.release(line)
            context.previous = None if not player.any() else context.previous
            return False
        sample = context.stream.advance(context.previous, held=player)
        machine = self.voicing(sample & ~player)
        self.sound(machine, line, context.velocity_heard)
        context.previous = player | machine
        context.steps += 1
        self.frames += 1
        house.answers += 1
        house.last_decision_ms = (house.clock() - (line - EARLY)) * 1000
        return True


class ChordAnswer(RollVoice):
    """Call and response in chords: the player's phrase, put on the frame grid from the listener's
    window, primes a fresh stream; then --length frames (events count as frames) are sampled and
    fed back, and played from the next grid line."""

    name = "answer"

    def answer(self, now: float, due: float | None = None) -> None:
        house = self.house
        context, listener, cfg = house.context, house.listener, house.config
        if not house.enabled:
            return
        fs = context.frame_seconds
        played = [n for n in listener.window if n.channel >= 0]
        if not played:
            return
        roll = _roll(played, listener.held.pitches(), listener.last_player, fs)[-CONTEXT_FRAMES:]
        stream = context.model.stream(cfg.seed if cfg.seed is None else cfg.seed + house.answers)
        previous = None
        for frame in roll:
            stream.advance(previous)
            previous = frame
        span = cfg.length
        count = int(span.value) if span.unit == "events" else max(1, round(house.seconds(span) / fs))
        start = house.timeline.start(house.clock() + SLACK, context.model.beats)
        for i in range(count):
            previous = stream.advance(previous)
            self.sound(self.voicing(previous), start + i * fs, context.velocity_heard)
        self.release(start + count * fs)
        self.open.clear()  # every release is scheduled
        due = now if due is None else due
        house.last_decision_ms = (house.clock() - due) * 1000
        if house.trace:
            house.trace(due, start, start + count * fs)
        house.answered()
        log.info("answer %d: %d frames after %d heard, decided in %.2f ms", house.answers, count, len(roll),
                 house.last_decision_ms)


def _roll(played: list[NoteMessage], held, last: float, fs: float) -> np.ndarray:
    """The player's notes from the first of `played` to `last` as frames of `fs` seconds; keys
    still `held` run to the frame after `last`."""
    origin = played[0].time
    roll = np.zeros((int((last - origin) / fs) + 1, KEYS), bool)
    sounding: dict[int, float] = {}
    for n in played + [NoteMessage(last + fs, p, 0, 0) for p in sorted(held)]:
        if n.velocity:
            sounding[n.pitch] = n.time
        elif n.pitch in sounding:
            first, end = int((sounding.pop(n.pitch) - origin) / fs), int((n.time - origin) / fs - 1e-9)
            roll[first:max(first, end) + 1, n.pitch - LOW] = True
    return roll
