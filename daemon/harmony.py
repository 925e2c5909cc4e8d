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

from .engine import DEFAULT_BEAT, Engine, _Voice
from .pianoroll import KEYS, LOW
from .rollmodel import RollModel

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

    def __init__(self, model: RollModel, scheduler, policy, config, voicing: tuple[int, int] = (36, 96), **kwargs):
        self.voicing = voicing
        super().__init__(model, scheduler, policy, config, policies={"harmonize": policy}, **kwargs)
        self.policies = {"harmonize": policy}

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

    def _step(self, stamp: float, pitch: int, velocity: int) -> int:
        if velocity:
            self._struck[pitch - LOW] = True
            self._velocity_heard = velocity
        return 0

    def reprime(self, now: float) -> None:
        """A piano-roll model has no event window to replay; it starts a fresh piece."""
        self.stream = self.model.stream(self.config.seed)
        self._previous = None
        self.reprimes += 1

    @property
    def frame_seconds(self) -> float:
        return self.model.beats * (self.beat_seconds if (self.tempo.synced or self.internal) else DEFAULT_BEAT)

    @property
    def answering(self) -> bool:
        return bool(self._machine.open) or self.scheduler.busy

    def next_frame(self, now: float, previous: float | None = None) -> float:
        """The next frame's grid line after `previous` (or at/after `now`): the MIDI clock's or
        --bpm's grid; without either, frames follow each other from the player's first note."""
        after = now if previous is None else previous + 1e-6
        if self.tempo.synced:
            return self.tempo.next_grid(after, self.model.beats)
        if self.internal:
            return self.internal.next_grid(after, self.model.beats)
        return now if previous is None else previous + self.frame_seconds

    def harmonize(self, line: float) -> bool:
        """Sample and schedule the frame starting at `line`; False when the player rests (so does the machine)."""
        held = np.zeros(KEYS, bool)
        for pitch, chans in self._held.items():
            if chans:
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

    def answer(self, now: float, due: float | None = None) -> None:  # not a call-and-response model
        return None

    def accompany(self, now: float):
        return None


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
