"""The live engine: the jam path from the player's messages to the machine's notes.

    MIDI input -> inbox -> listener -> context (the model's state)
                                    \\-> policy -> voices -> scheduler -> MIDI output
                       timeline (clock, Link, heard beat, --bpm) places every part in time

The MIDI input callback only timestamps and enqueues (live/inbox.py). One engine thread owns the
model: it hears everything queued (live/listener.py says what is new for the model; the context
steps it at once), then asks the policy whether a voice should play (live/policy.py), and the
voices (live/voices.py, live/harmony.py) sample from the context and hand notes to the scheduler.
A model kind (KINDS) brings its context, its voices and the modes it plays.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import mido

from ..models.accompanist import AccompanistModel
from ..models.roll import RollModel
from ..options import JamConfig
from ..models.sampling import GumbelNoise
from . import controls as cc
from ..formats.units import Span
from .clock import TRANSPORT
from .accompany import Accompany, AccompanyContext, AccompanyVoice
from .context import EventContext
from .harmony import ChordAnswer, Harmonize, Harmonizer, RollContext
from .inbox import Inbox
from .listener import Listener
from .policy import CallAndResponse, Continuous
from .timeline import Timeline
from .voices import Answer, PlayAlong, phrase_span

log = logging.getLogger(__name__)
QUEUE_LIMIT = 16384  # incoming messages waiting at most; beyond it the oldest are dropped and counted
SHED_AFTER = 0.1  # seconds: a note message that waited longer is not stepped (the engine is behind)
NOTES = ("note_on", "note_off")


@dataclass(frozen=True)
class Kind:
    """What a kind of model brings to a jam: its context, its voices, the modes (policies) it plays."""

    context: type
    voices: tuple[type, ...]
    modes: dict  # mode name -> policy class


KINDS = {
    "events": Kind(EventContext, (Answer, PlayAlong), {"call": CallAndResponse, "continuous": Continuous}),
    "piano-roll": Kind(RollContext, (ChordAnswer, Harmonizer), {"call": CallAndResponse, "harmonize": Harmonize}),
    "accompaniment": Kind(AccompanyContext, (AccompanyVoice,), {"accompany": Accompany}),
}


def kind_of(model) -> str:
    if isinstance(model, AccompanistModel):
        return "accompaniment"
    return "piano-roll" if isinstance(model, RollModel) else "events"


class Engine:
    """Owns the jam's state; fed by `on_message`, driven by `run` on its own thread."""

    def __init__(self, model, scheduler, policy, config: JamConfig, clock=time.monotonic, trace=None,
                 recorder=None, controls: dict[int, str] | None = None, policies: dict | None = None,
                 lyricist=None, link=None, voicing: tuple[int, int] = (36, 96)):
        self.scheduler, self.policy, self.config, self.clock = scheduler, policy, config, clock
        self.trace = trace  # trace(due, start, end) per answer, for tests and benchmarks
        self.recorder = recorder  # gets every note message the player sends
        self.controls = controls or {}  # MIDI CC number -> live control (see daemon/live/config.py)
        self.voicing = voicing  # the keys a piano-roll voice may play
        self.kind = KINDS[kind_of(model)]
        self.timeline = Timeline(clock, config.bpm, config.beats_per_bar, config.grid, link=link,
                                 track=not config.fixed_tempo, player=self._player_heard)
        self.context = self.kind.context(model, self.timeline, config.seed)
        self.listener = Listener(self.context.fold, config.listen, scheduler.thru if config.thru else None, recorder)
        self.voices = {v.name: v for v in (cls(self, lyricist=lyricist) if cls is Answer else cls(self)
                                           for cls in self.kind.voices)}
        # The policies the mode control switches between; the ones passed in are kept.
        self.policies = {name: made() for name, made in self.kind.modes.items()}
        self.policies.update({k: p for k, p in (policies or {}).items() if k in self.kind.modes})
        self.policies[self.mode] = policy
        self.enabled = True
        self.noise = GumbelNoise(config.seed)
        self.inbox = Inbox(QUEUE_LIMIT)
        self.answers = self.arrived = self.errors = 0
        self.shed = 0  # note messages heard too late to step
        self._shed_logged = (0.0, 0)  # (when, how many had been shed then)
        self.last_decision_ms = float("nan")
        self._turn = (None, 0.0)

    def voice(self, name: str):
        return self.voices[name]

    # -- state the policy reads ------------------------------------------------------------
    @property
    def answering(self) -> bool:
        return any(v.playing for v in self.voices.values()) or self.scheduler.busy()

    @property
    def player_held(self) -> int:
        return self.listener.sustaining

    @property
    def last_player(self) -> float:
        return self.listener.last_player

    def _player_heard(self) -> float:
        """When the player was last heard, for the heard beat: now while they hold a key that keeps
        segue waiting or a phrase of theirs awaits its answer (however long the silence before it),
        else their last note message. A lost note-off holds it no longer than the listener's keys
        do (live/keys.py)."""
        listener = self.listener
        if listener.heard_since_answer or listener.sustaining:
            return self.clock()
        return listener.last_player

    @property
    def heard_since_answer(self) -> int:
        return self.listener.heard_since_answer

    @property
    def dropped(self) -> int:
        """Incoming messages dropped because the inbox was full (the oldest)."""
        return self.inbox.overflow

    @property
    def mode(self) -> str:
        return getattr(self.policy, "name", type(self.policy).__name__)

    def seconds(self, span: Span) -> float:
        if span.unit == "phrases":
            return phrase_span(span, self.listener.phrase_seconds())
        return self.timeline.seconds(span)

    def turn_wait(self, rule) -> float:
        """Seconds of silence after the player's last event before the model's rule answers (from
        the time head as that event left it; computed once per state)."""
        key = (self.context.steps, rule)
        if self._turn[0] != key:
            head, beat = self.context.time_head(), self.timeline.beat_seconds
            self._turn = (key, rule.wait(head, self.context.gaps_seconds(), beat) if head is not None
                          else rule.longest(beat))
        return self._turn[1]

    def status(self) -> str:
        """One line for the live status display."""
        if not self.enabled:
            state = "off"
        elif self.answering:
            state = "answering" if self.mode == "call" else "playing"
        else:
            state = "listening"
        late = self.scheduler.dropped_late
        said = "".join(f" | {v.describe()}" for v in self.voices.values() if hasattr(v, "describe"))
        return (f"{state:<9} | {self.mode} | {self.timeline.describe()}{said} | heard {self.listener.heard} | "
                f"answers {self.answers} | last {self.last_decision_ms:.2f} ms" + (f" | {late} late" if late else ""))

    # -- input (the backend's thread) ---------------------------------------------------------
    def on_message(self, msg: mido.Message) -> None:
        """MIDI input callback: timestamp and enqueue, nothing else."""
        self.arrived += 1
        self.inbox.put(self.clock(), msg)

    def request(self, job) -> None:
        """Run `job(engine)` on the engine thread (model reloads, mode changes from elsewhere)."""
        self.inbox.job(job)

    # -- the engine thread ----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Hear everything that waits, then decide: never answer while messages are still queued."""
        while not stop.is_set():
            due = self.policy.due(self)
            timeout = 0.1 if due is None else min(0.1, max(0.0, due - self.clock()))
            self.inbox.wait(timeout)
            self.turn()

    def turn(self) -> None:
        """One round of the engine thread, without waiting: jobs, everything queued, then the policy."""
        for job in self.inbox.jobs():
            self._guarded(job, self)
        self.take(self.inbox.messages())
        if len(self.inbox):
            return  # more came in meanwhile: hear it before deciding anything
        self._guarded(self.listener.expire, self.clock())
        self._guarded(self.policy.on_tick, self, self.clock())

    def take(self, batch: list) -> None:
        """Hear a batch of (arrival stamp, message). When the engine is behind (a message waited more
        than SHED_AFTER), note messages update what is held and the window but are not stepped; the
        state is re-primed from the window once for the batch: a backlog costs a few microseconds a
        message, not a model step, and is never replayed as if it were now."""
        if not batch:
            return
        now, shed = self.clock(), 0
        for stamp, msg in batch:
            late = now - stamp > SHED_AFTER
            shed += late and msg.type in NOTES
            self._guarded(self.hear, stamp, msg, not late)
        if shed:
            self.shed += shed
            self._guarded(self.reprime, now)
            when, before = self._shed_logged
            if now - when >= 1.0:  # at most one line a second, whatever the flood
                log.warning("behind: %d note messages heard too late to step since the last report "
                            "(re-primed from the last %d events)", self.shed - before, len(self.listener.window))
                self._shed_logged = (now, self.shed)

    def _guarded(self, job, *args) -> None:
        try:
            job(*args)
        except Exception:  # nothing may kill the live loop
            self.errors += 1
            if self.errors <= 10 or self.errors % 1000 == 0:  # bounded log, whatever repeats
                log.exception("engine error %d; the message was dropped and playing stops", self.errors)
            # Stop what plays and wait for the player: a failing answer is not retried in a loop.
            self.scheduler.cancel()
            for voice in self.voices.values():
                voice.stop()
            self.listener.heard_since_answer = 0

    def hear(self, stamp: float, msg: mido.Message, step: bool = True) -> None:
        """One incoming message: transport to the timeline, a mapped controller to its control, the
        rest to the listener; what is new for the model is stepped into the context (`step` False:
        kept in the window without a model step)."""
        if msg.type in TRANSPORT:
            self.timeline.feed(stamp, msg)
            return
        if msg.type == "control_change" and msg.control in self.controls:
            self.control(self.controls[msg.control], msg.value)
            return
        heard = self.listener.hear(stamp, msg)
        if heard is None:
            return
        if heard.flooding:  # no phrase: held keys and the window follow it, nothing answers it
            if self.answering:
                self.stop_answer(stamp)
            self.listener.keep(heard.notes)
            return
        if heard.played:
            for voice in self.voices.values():
                voice.on_player(stamp)
            self.policy.on_player(self, stamp)
        self.listener.keep(heard.notes)
        for n in heard.notes:
            self.timeline.hear(n.time, n.pitch, n.velocity)
        if step:
            for n in heard.notes:
                self.context.step(n.time, n.pitch, n.velocity)

    def reprime(self, now: float) -> None:
        """Rebuild the model's state from the window of what was really played up to `now`."""
        self.listener.window = self.context.reprime(self.listener.window, now)

    def reload(self, model) -> None:
        """Switch to another model of the same kind (on the engine thread): stop playing, then
        re-prime it from the window."""
        now = self.clock()
        self.scheduler.cancel()
        for voice in self.voices.values():
            voice.stop()
        self.context.load(model)
        self.reprime(now)
        log.info("model %s loaded, re-primed from %d events", model.path, len(self.listener.window))

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        if mode not in self.policies:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(self.policies)})")
        self.stop_answer(self.clock())
        self.policy = self.policies[mode]
        if hasattr(self.policy, "reset"):
            self.policy.reset()
        log.info("mode: %s", mode)

    def control(self, name: str, value: int) -> None:
        """A live control from a MIDI CC value 0..127."""
        if name not in cc.ENGINE_CONTROLS:
            self.config = cc.settings(self.config, name, value)
        elif name == "mode":
            self.set_mode(cc.mode(list(self.policies), value))
        elif name == "enabled":
            self.enabled = cc.switched_on(value)
            if not self.enabled:
                self.stop_answer(self.clock())
        elif name == "panic" and cc.switched_on(value):
            self.scheduler.panic()
            for voice in self.voices.values():
                voice.stop()
            self.listener.forget_all()
        log.info("control %s = %d", name, value)

    def stop_answer(self, now: float) -> None:
        """Barge-in: every voice stops (pending notes dropped, sounding ones released) and the state
        forgets what was sampled but never played."""
        for voice in self.voices.values():
            voice.stop()
        self.reprime(now)
        log.info("barge-in: answer stopped")

    def answered(self) -> None:
        """A voice finished an answer: the next phrase starts with the player's next note."""
        self.listener.heard_since_answer = 0
        self.answers += 1
