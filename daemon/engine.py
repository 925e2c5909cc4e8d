"""The live engine: hears the player event by event, answers through the scheduler.

The MIDI input callback only timestamps and enqueues. One engine thread owns the model: every
note message is encoded and stepped at once, so when the policy says "answer" the context is
already in the recurrent state and sampling starts immediately.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field, replace

import mido
import numpy as np

from .clock import TRANSPORT, ClockFollower
from .generate import GenerateConfig, sample_events
from .midifile import DRUM_CHANNEL
from .model import EventModel
from .notes import note_spans
from .sampling import GumbelNoise, Sampling
from .scheduler import Scheduler

log = logging.getLogger(__name__)
QUEUE_LIMIT = 4096  # incoming messages held at most; a flood beyond it is dropped and counted


@dataclass(frozen=True)
class JamConfig:
    """Options of a jam session; validated on construction."""

    length: int = 16  # events per answer
    sampling: Sampling = field(default_factory=Sampling)
    seed: int | None = None
    max_note: float = 4.0
    channel: int = 0  # output channel
    listen: tuple[int, ...] | None = None  # channels heard (None: all but drums)
    velocity_scale: float = 1.0
    grid: float | None = 1.0  # with incoming MIDI clock, answers start on this grid (beats); None: off

    def __post_init__(self):
        if self.length < 1:
            raise ValueError("length must be >= 1 event")
        if not 0 <= self.channel <= 15 or any(not 0 <= c <= 15 for c in self.listen or ()):
            raise ValueError("channel must be in range 0..15")
        if not self.velocity_scale > 0:
            raise ValueError("velocity scale must be > 0")
        if self.grid is not None and not self.grid > 0:
            raise ValueError("grid must be > 0 beats")


class Engine:
    """Owns the model state; fed by `on_message`, driven by `run` on its own thread."""

    def __init__(self, model: EventModel, scheduler: Scheduler, policy, config: JamConfig,
                 clock=time.monotonic, trace=None, recorder=None, controls: dict[int, str] | None = None):
        self.model, self.codec, self.scheduler, self.policy, self.config = model, model.codec, scheduler, policy, config
        self.clock, self._trace = clock, trace  # trace(due, start, end) per answer, for tests and benchmarks
        self.recorder = recorder  # gets every note message the player sends
        self.tempo = ClockFollower()
        self.controls = controls or {}  # MIDI CC number -> live control (see daemon/config.py)
        self.enabled = True
        self.stream = model.stream()
        self.logits: np.ndarray | None = None
        self.noise = GumbelNoise(config.seed)
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_LIMIT)
        self._held: dict[int, set[int]] = {}  # folded pitch -> channels holding it
        self._decoded = None  # decoded time of the last stepped event (monotonic s)
        self.last_player = 0.0
        self.heard_since_answer = 0
        self.dropped = self.ignored = self.answers = self.heard = self.arrived = 0
        self.last_decision_ms = float("nan")

    # -- state the policy reads ------------------------------------------------------------
    @property
    def answering(self) -> bool:
        return self.scheduler.busy

    @property
    def player_held(self) -> int:
        return sum(1 for chans in self._held.values() if chans)

    # -- input (the backend's thread) ---------------------------------------------------------
    def on_message(self, msg: mido.Message) -> None:
        """MIDI input callback: timestamp and enqueue, nothing else."""
        self.arrived += 1
        try:
            self._queue.put_nowait((self.clock(), msg))
        except queue.Full:
            self.dropped += 1

    # -- the engine thread ----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            due = self.policy.due(self)
            timeout = 0.1 if due is None else min(0.1, max(0.0, due - self.clock()))
            try:
                stamp, msg = self._queue.get(timeout=timeout)
            except queue.Empty:
                stamp, msg = None, None
            try:
                if msg is not None:
                    self.hear(stamp, msg)
                self.policy.on_tick(self, self.clock())
            except Exception:  # nothing may kill the live loop; the note guard lives in the scheduler
                log.exception("engine error; the message was dropped")

    def hear(self, stamp: float, msg: mido.Message) -> None:
        """Step one incoming note message into the state; transport messages go to the tempo follower."""
        if msg.type in TRANSPORT:
            self.tempo.feed(stamp, msg)
            return
        if msg.type == "control_change" and msg.control in self.controls:
            self.control(self.controls[msg.control], msg.value)
            return
        if msg.type not in ("note_on", "note_off"):
            self.ignored += 1
            return
        self.heard += 1
        if self.recorder:
            self.recorder.player(msg, at=stamp)
        listen = self.config.listen
        if (msg.channel not in listen) if listen else msg.channel == DRUM_CHANNEL:
            return
        pitch = self.codec.fold_pitch(msg.note)
        held = self._held.setdefault(pitch, set())
        onset = msg.type == "note_on" and msg.velocity > 0
        if onset:
            if held:  # already sounding (another channel, or a repeat): nothing new for the model
                held.add(msg.channel)
                return
            held.add(msg.channel)
        else:
            if msg.channel not in held:
                return  # a release of a note we never heard
            held.discard(msg.channel)
            if held:
                return
        self.last_player = stamp
        self.heard_since_answer += 1
        self.policy.on_player(self, stamp)
        self._step(stamp, pitch, msg.velocity if onset else 0)

    def _step(self, stamp: float, pitch: int, velocity: int) -> None:
        gap = 0.0 if self._decoded is None else max(0.0, stamp - self._decoded)
        cls = self.codec.time_class(gap)
        self._decoded = stamp if self._decoded is None else self._decoded + self.codec.time_values[cls]
        if abs(self._decoded - stamp) > self.codec.time_values[-1]:
            self._decoded = stamp  # after a long silence, start the clock again
        self.logits = self.stream.advance(pitch - self.codec.low, self.codec.velocity_class(velocity), cls)

    def control(self, name: str, value: int) -> None:
        """A live control from a MIDI CC value 0..127."""
        cfg = self.config
        if name == "temperature":
            sampling = replace(cfg.sampling, temperature=round(0.1 + 1.9 * value / 127, 3))
            self.config = replace(cfg, sampling=sampling)
        elif name == "length":
            self.config = replace(cfg, length=max(1, round(64 * value / 127)))
        elif name == "enabled":
            self.enabled = value >= 64
            if not self.enabled:
                self.scheduler.cancel()
        elif name == "panic" and value >= 64:
            self.scheduler.panic()
        log.info("control %s = %d", name, value)

    # -- answering ------------------------------------------------------------------------------
    def answer(self, now: float, due: float | None = None) -> None:
        """Sample an answer from the current state and hand it to the scheduler.

        `due`: when the policy's condition became true (e.g. the silence threshold expired).
        """
        if self.logits is None or not self.enabled:
            return
        cfg = self.config
        gen = GenerateConfig(events=cfg.length, sampling=cfg.sampling, max_note=cfg.max_note, channel=cfg.channel)
        result = sample_events(self.stream, self.logits, gen, self.noise)
        self.logits = result.logits
        start = self.clock()
        if cfg.grid and self.tempo.synced:  # following the DAW: begin on its next beat (or bar)
            start = self.tempo.next_grid(start, cfg.grid)
        finish = start
        for onset, end, pitch, velocity in note_spans(result.notes):
            vel = int(np.clip(round(velocity * cfg.velocity_scale), 1, 127))
            duration = end - onset  # sample_events' NoteGuard already cut it at max_note
            self.scheduler.play(pitch, vel, start + onset, duration, cfg.channel)
            finish = max(finish, start + onset + duration)
        due = now if due is None else due
        self.last_decision_ms = (self.clock() - due) * 1000
        if self._trace:
            self._trace(due, start, finish)
        self._decoded = start + max((n.time for n in result.notes), default=0.0)
        self.heard_since_answer = 0
        self.answers += 1
        log.info("answer %d: %d events, decided in %.2f ms", self.answers, cfg.length, self.last_decision_ms)

    def stop_answer(self) -> None:
        self.scheduler.cancel()
        log.info("barge-in: answer stopped")
