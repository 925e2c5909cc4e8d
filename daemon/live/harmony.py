"""The live harmoniser: a piano-roll model completes the player's chord on every grid step.

On each step (a frame of the model's length in beats, on the MIDI clock's grid or --bpm's):
the keys the player holds (or struck during the last frame) are clamped as visible units, the
other keys are Gibbs-sampled from the conditional RBM, and the machine plays the sampled keys
the player is not playing, within a voicing range. The whole frame that sounded (player and
machine) then steps the RNN. A key the machine keeps from one frame to the next is held, not
struck again. When the player rests, the machine rests too.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..formats.pianoroll import KEYS, LOW
from ..models.roll import RollModel
from .engine import DEFAULT_BEAT, SLACK, Engine, _Voice

log = logging.getLogger(__name__)
EARLY = 0.003  # seconds: the frame is sampled this long before its grid line, and its notes are due on it


@dataclass
class Harmonize:
    """Policy: wake just before every grid line and let the engine harmonise the frame."""

    name = "harmonize"
    _next: float | None = field(default=None, repr=False)

    def on_player(self, engine, now: float) -> None:
        if self._next is None:
            self._next = engine.next_frame(now)

    def on_tick(self, engine, now: float) -> None:
        if self._next is not None and now >= self._next - EARLY:
            line, self._next = self._next, None
            if engine.harmonize(line):
                self._next = engine.next_frame(line, previous=line)

    def due(self, engine) -> float | None:
        return None if self._next is None else self._next - EARLY

    def reset(self) -> None:
        self._next = None


class RollEngine(Engine):
    """The jam engine for piano-roll models: the player's notes are heard, the state moves per frame."""

    MODES = ("call", "harmonize")

    def __init__(self, model: RollModel, scheduler, policy, config, voicing: tuple[int, int] = (36, 96),
                 policies: dict | None = None, **kwargs):
        self.voicing = voicing
        super().__init__(model, scheduler, policy, config, policies=policies, **kwargs)
        self.policies = {name: p for name, p in {**self.policies, "harmonize": Harmonize(), **(policies or {}),
                                                 self.mode: policy}.items() if name in self.MODES}

    def _load(self, model: RollModel) -> None:
        self.model, self.codec = model, _KeyCodec()
        self.stream = model.stream(self.config.seed)
        self.logits = None
        self._decoded = None
        self._previous: np.ndarray | None = None  # the last frame that sounded, fed at the next step
        self._struck = np.zeros(KEYS, bool)  # keys the player struck since the last frame
        self._machine = _Voice()
        self._velocity_heard = 80
        self.frames = 0

    def _step(self, stamp: float, pitch: int, velocity: int) -> None:
        if velocity:
            self._struck[pitch - LOW] = True
            self._velocity_heard = velocity

    def reprime(self, now: float) -> None:
        """A piano-roll model has no event window to replay; it starts a fresh piece."""
        self.stream = self.model.stream(self.config.seed)
        self._previous = None
        self.reprimes += 1

    @property
    def frame_seconds(self) -> float:
        return self.model.beats * (self.beat_seconds if self.tempo.known else DEFAULT_BEAT)

    @property
    def answering(self) -> bool:
        return bool(self._machine.open) or self.scheduler.busy

    def next_frame(self, now: float, previous: float | None = None) -> float:
        """The next frame's grid line after `previous` (or at/after `now`): the MIDI clock's or
        --bpm's grid; without either, frames follow each other from the player's first note."""
        if self.tempo.known:
            return self._grid(now if previous is None else previous + 1e-6, self.model.beats)
        return now if previous is None else previous + self.frame_seconds

    def harmonize(self, line: float) -> bool:
        """Sample and schedule the frame starting at `line`; False when the player rests (so does the machine)."""
        held = np.zeros(KEYS, bool)
        for pitch in self.held.pitches():
            held[pitch - LOW] = True
        player = held | self._struck
        self._struck[:] = False
        if not player.any() or not self.enabled:
            self._release(line)
            self._previous = None if not player.any() else self._previous
            return False
        sample = self.stream.advance(self._previous, held=player)
        low, high = self.voicing
        keys = np.arange(KEYS) + LOW
        machine = sample & ~player & (keys >= low) & (keys <= high)
        self._play(machine, line)
        self._previous = player | machine
        self.frames += 1
        self.answers += 1
        self.last_decision_ms = (self.clock() - (line - EARLY)) * 1000
        return True

    def _play(self, machine: np.ndarray, line: float) -> None:
        voice, channel = self._machine, self.config.channel
        keep = {int(k) + LOW for k in np.nonzero(machine)[0]}
        for pitch in [p for p in voice.open if p not in keep]:
            self.scheduler.end(voice.open.pop(pitch), pitch, line, channel)
        velocity = self._velocity(self._velocity_heard)
        for pitch in sorted(keep - set(voice.open)):
            voice.open[pitch] = self.scheduler.play(pitch, velocity, line, self.config.max_note, channel)

    def _release(self, at: float) -> None:
        voice, channel = self._machine, self.config.channel
        for pitch in list(voice.open):
            self.scheduler.end(voice.open.pop(pitch), pitch, at, channel)

    def stop_answer(self, now: float) -> None:
        self.scheduler.cancel()
        self._machine = _Voice()
        self.reprime(now)

    def answer(self, now: float, due: float | None = None) -> None:
        """Call and response in chords: the player's phrase, put on the frame grid from the rolling
        window, primes a fresh stream; then `--length` frames (events count as frames) are sampled
        and fed back, and played from the next grid line."""
        if not self.enabled:
            return
        fs = self.frame_seconds
        played = [n for n in self.window if n.channel >= 0]
        if not played:
            return
        origin = played[0].time
        frames = int((self.last_player - origin) / fs) + 1
        roll = np.zeros((frames, KEYS), bool)
        sounding: dict[int, float] = {}
        for n in played + [_Release(self.last_player + fs, p) for p in sorted(self.held.pitches())]:
            if n.velocity:
                sounding[n.pitch] = n.time
            elif n.pitch in sounding:
                first, last = int((sounding.pop(n.pitch) - origin) / fs), int((n.time - origin) / fs - 1e-9)
                roll[first:max(first, last) + 1, n.pitch - LOW] = True
        roll = roll[-64:]  # the last 64 frames are context enough
        stream = self.model.stream(self.config.seed if self.config.seed is None else self.config.seed + self.answers)
        previous = None
        for frame in roll:
            stream.advance(previous)
            previous = frame
        span = self.config.length
        count = int(span.value) if span.unit == "events" else max(1, round(self.seconds(span) / fs))
        start = self._grid(self.clock() + SLACK, self.model.beats)
        for i in range(count):
            previous = stream.advance(previous)
            keys = np.arange(KEYS) + LOW
            self._play(previous & (keys >= self.voicing[0]) & (keys <= self.voicing[1]), start + i * fs)
        self._release(start + count * fs)
        due = now if due is None else due
        self.last_decision_ms = (self.clock() - due) * 1000
        if self._trace:
            self._trace(due, start, start + count * fs)
        self.heard_since_answer = 0
        self.answers += 1
        log.info("answer %d: %d frames after %d heard, decided in %.2f ms", self.answers, count, len(roll),
                 self.last_decision_ms)

    def accompany(self, now: float):
        return None


class _Release:
    """A release at `time` (closing a note still held when an answer is primed)."""

    velocity = 0

    def __init__(self, time: float, pitch: int):
        self.time, self.pitch = time, pitch


class _KeyCodec:
    """What the engine's note handling needs from a codec: keys fold onto the piano's range."""

    low = LOW

    @staticmethod
    def fold_pitch(pitch: int) -> int:
        while pitch < LOW:
            pitch += 12
        while pitch > LOW + KEYS - 1:
            pitch -= 12
        return pitch
