"""The live engine: hears the player event by event, answers through the scheduler.

The MIDI input callback only timestamps and enqueues. One engine thread owns the model: every
note message is encoded and stepped at once, so when the policy says "answer" the context is
already in the recurrent state and sampling starts immediately.

A rolling window of what was really played (the player's notes, and the machine's notes that
went out) is kept beside the state. After a barge-in, a mode change or a new model, the state
is rebuilt from it, so notes that were sampled but never played are not remembered.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import mido
import numpy as np

from ..formats.midifile import DRUM_CHANNEL, NoteMessage
from ..formats.notes import NoteGuard
from ..formats.units import within
from ..models.continuation import KEY_WEIGHT, MAX_KEY_WEIGHT, MAX_NOTE, GenerateConfig, NoteDraw, sample_events
from ..models.cursor import Cursor
from ..models.event import EventModel
from ..models.key import KeyTracker
from ..models.markov import VariableOrderMarkov
from ..models.sampling import GumbelNoise, Sampling
from . import controls as cc
from .clock import BPM_RANGE, TRANSPORT, Span, Tempo
from .flood import AFTER_FLOOD_HOLD, FloodWatch
from .inbox import Inbox
from .keys import HOLD_LIMIT, HeldKeys
from .policy import MODES, CallAndResponse, Continuous
from .scheduler import SUSTAIN, Scheduler

log = logging.getLogger(__name__)
QUEUE_LIMIT = 16384  # incoming messages waiting at most; beyond it the oldest are dropped and counted
SHED_AFTER = 0.1  # seconds: a note message that waited longer is not stepped (the engine is behind)
NOTES = ("note_on", "note_off")
WINDOW = 128  # note events kept to rebuild the state (the seed's window is 30)
LOOKAHEAD = 0.05  # seconds: how far ahead of time the continuous mode samples
MACHINE = -1  # the channel the window gives the machine's own notes
SLACK = 0.002  # seconds: a continuous-mode note is never due sooner than this after it is sampled
MAX_EVENTS = 512  # events per answer at most when its length is a duration
SESSION = 2000  # note-ons the session model remembers (its memory and cost stay flat after that)
DEFAULT_BEAT = 0.5  # seconds (120 bpm) when neither MIDI clock nor --bpm gives a tempo
PEDAL_LIFT, PEDAL_CATCH = 0.005, 0.04  # seconds before and after a bar line: the machine's pedal change
# An answer's length at most, per unit (a timed answer also stops at MAX_EVENTS events).
LENGTHS = {"events": (1, MAX_EVENTS), "seconds": (0.05, 600.0), "beats": (0.25, 1024.0), "bars": (0.25, 256.0),
           "phrases": (0.25, 8.0)}
PHRASE_SECONDS = (1.0, 60.0)  # --length phrase: the player's phrase as heard, within these bounds


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


@dataclass
class _Voice:
    """A machine part in progress (an answer, the continuous part, the harmony): the scheduler ids
    of its open notes, and what the continuous mode needs besides."""

    guard: NoteGuard | None = None  # the continuous mode's own (an answer's lives in sample_events)
    draw: NoteDraw | None = None  # the same: its note draws, following what the guard lets out
    open: dict[int, int] = field(default_factory=dict)  # pitch -> scheduler note id
    events: int = 0  # events played since the player's last note
    played: int = 0  # events played in all
    pending: tuple[int, float] | None = None  # (time class, due) of the next event, drawn but not committed
    pedal_line: float | None = None  # with --pedal: the next bar line the continuous part re-pedals at


class Engine:
    """Owns the model state; fed by `on_message`, driven by `run` on its own thread."""

    def __init__(self, model: EventModel, scheduler: Scheduler, policy, config: JamConfig,
                 clock=time.monotonic, trace=None, recorder=None, controls: dict[int, str] | None = None,
                 policies: dict | None = None, lyricist=None, link=None):
        self.scheduler, self.policy, self.config = scheduler, policy, config
        self.lyricist = lyricist  # a line of lyrics per answer, one syllable per note (daemon/models/lyric.py)
        self.clock, self._trace = clock, trace  # trace(due, start, end) per answer, for tests and benchmarks
        self.recorder = recorder  # gets every note message the player sends
        self.tempo = Tempo(config.bpm, clock(), DEFAULT_BEAT, clock=clock, link=link)  # link: a LinkClock
        self.controls = controls or {}  # MIDI CC number -> live control (see daemon/live/config.py)
        # The policies the mode control switches between; the one passed in is kept.
        self.policies = {CallAndResponse.name: CallAndResponse(), Continuous.name: Continuous(), **(policies or {})}
        self.policies[getattr(policy, "name", "call")] = policy
        self.enabled = True
        self.window: deque[NoteMessage] = deque(maxlen=WINDOW)
        self.noise = GumbelNoise(config.seed)
        self.inbox = Inbox(QUEUE_LIMIT)
        self.held = HeldKeys()
        self.hold_limit = HOLD_LIMIT
        self.flood = FloodWatch()
        self.flooded = 0  # note messages heard in floods (not stepped)
        self._voice: _Voice | None = None
        self.last_player = 0.0
        self.heard_since_answer = 0
        self.ignored = self.answers = self.heard = self.arrived = self.reprimes = self.errors = 0
        self.shed = self.forgotten = 0  # note messages heard too late to step; held keys forgotten
        self._shed_logged = (0.0, 0)  # (when, how many had been shed then)
        self.last_decision_ms = float("nan")
        self.steps = 0  # model steps and re-primings: what the turn rule's cached wait was computed from
        self._turn = (None, 0.0)
        self.phrase_start = 0.0  # the first player event since the last answer
        self._load(model)

    def _load(self, model: EventModel) -> None:
        self.model, self.codec = model, model.codec
        self.stream = model.stream()
        self.logits: np.ndarray | None = None
        self._decoded = None  # decoded time of the last stepped event (monotonic s)
        # The session model outlives a model reload or a re-priming: it is what this jam taught.
        before = getattr(self, "cursor", None)
        session = before.session if before is not None else VariableOrderMarkov(order=4, window=SESSION)
        key = before.key if before is not None else KeyTracker()
        self.cursor = Cursor(model.codec, heard=bool(model.info.inputs), session=session, key=key)

    def _place(self, at: float) -> float | None:
        """The cursor's tempo and bar position for an event at `at` (monotonic s); returns the beats
        into the bar (None when no tempo gives a bar)."""
        cursor, bar = self.cursor, float(self.config.beats_per_bar)
        cursor.beat_seconds = self.beat_seconds
        if not self.tempo.known:
            cursor.bar_beats = None
            return None
        cursor.bar_beats = bar
        line = self.tempo.line(at, bar)  # the next bar line at or after `at`
        cursor.beats = (bar - (line - at) / self.beat_seconds) % bar
        return cursor.beats

    # -- state the policy reads ------------------------------------------------------------
    @property
    def answering(self) -> bool:
        return self._voice is not None or self.scheduler.busy

    @property
    def player_held(self) -> int:
        """Held keys that keep segue waiting (see live/keys.py: not pedal tones or lost note-offs)."""
        return self.held.sustaining()

    @property
    def dropped(self) -> int:
        """Incoming messages dropped because the inbox was full (the oldest)."""
        return self.inbox.overflow

    @property
    def mode(self) -> str:
        return getattr(self.policy, "name", type(self.policy).__name__)

    @property
    def beat_seconds(self) -> float:
        """The tempo in force: incoming MIDI clock, else --bpm, else 120 bpm."""
        return self.tempo.beat_seconds

    def seconds(self, span: Span) -> float:
        if span.unit == "phrases":  # as long as what the player just played
            return span.value * float(np.clip(self.last_player - self.phrase_start, *PHRASE_SECONDS))
        return span.seconds(self.beat_seconds, self.config.beats_per_bar)

    def turn_wait(self, rule) -> float:
        """Seconds of silence after the player's last event before the model's rule answers (from
        the time head as that event left it; computed once per state)."""
        key = (self.steps, rule)
        if self._turn[0] != key:
            self.cursor.beat_seconds = self.beat_seconds
            seconds = self.codec.time_array * self.cursor.scale
            beat = self.beat_seconds
            self._turn = (key, rule.wait(self.model.heads(self.logits)[2], seconds, beat) if self.logits is not None
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
        return (f"{state:<9} | {self.mode} | {self.tempo.describe()} | heard {self.heard} | answers {self.answers} | "
                f"last {self.last_decision_ms:.2f} ms" + (f" | {late} late" if late else ""))

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
        self._guarded(self._expire_held, self.clock())
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
                            "(re-primed from the last %d events)", self.shed - before, len(self.window))
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
            self._voice = None
            self.heard_since_answer = 0

    def _expire_held(self, now: float) -> None:
        """Keys still "held" after HOLD_LIMIT seconds without any input lost their note-offs: forget
        them. A flood's end forgets the keys it left held; soon after a flood (which loses messages),
        AFTER_FLOOD_HOLD seconds without input are evidence enough."""
        if self.flood.ended(now):
            forgotten = self.held.clear()
            self.forgotten += forgotten
            self.heard_since_answer = 0  # what came in the flood is no phrase to answer
            log.warning("a flood of up to %.0f note messages a second is over: forgot the %d keys it left held",
                        self.flood.peak, forgotten)
            return
        limit = min(self.hold_limit, AFTER_FLOOD_HOLD) if self.flood.recent(now) else self.hold_limit
        if len(self.held) and now - self.last_player > limit:
            self.forgotten += self.held.clear()
            log.warning("forgot the player's held keys: no input for %.1f s (a lost note-off%s?)", limit,
                        ", after a flood" if limit < self.hold_limit else "")

    def _all_off(self, channel: int | None) -> None:
        """The player's CC 123 / CC 120 (a channel), a system reset or panic (all): nothing they hold sounds."""
        self.forgotten += self.held.clear(channel)

    def hear(self, stamp: float, msg: mido.Message, step: bool = True) -> None:
        """Step one incoming note message into the state; transport messages go to the tempo follower.
        `step` False: keep track of it (held keys, the window, the recording) without a model step."""
        if msg.type in TRANSPORT:
            self.tempo.feed(stamp, msg)
            return
        if msg.type == "control_change" and msg.control in self.controls:
            self.control(self.controls[msg.control], msg.value)
            return
        if msg.type == "control_change" and msg.control in (120, 123) or msg.type == "reset":
            self._all_off(None if msg.type == "reset" else msg.channel)
            return
        if msg.type == "control_change" and msg.control == SUSTAIN:
            self._sustain(stamp, msg, step)
            return
        if msg.type not in NOTES:
            self.ignored += 1
            return
        self.heard += 1
        flooding = self.flood.note(stamp)
        if not self._listened(stamp, msg):
            return
        pitch = self.codec.fold_pitch(msg.note)
        onset = msg.type == "note_on" and msg.velocity > 0
        if not (self.held.press if onset else self.held.release)(pitch, msg.channel):
            if not onset and pitch in self.held.ringing():
                self.last_player = stamp  # let go under the pedal: no event for the model, but the silence starts now
            return  # already sounding, or still held on another channel: nothing new for the model
        self.last_player = stamp
        velocity = msg.velocity if onset else 0
        if flooding:  # no phrase: held keys and the window follow it, nothing answers it
            self.flooded += 1
            self.heard_since_answer = 0
            if self._voice or self.scheduler.busy:
                self.stop_answer(stamp)
            self.window.append(NoteMessage(stamp, pitch, velocity, msg.channel))
            return
        if not self.heard_since_answer:
            self.phrase_start = stamp
        self.heard_since_answer += 1
        if self._voice:
            self._voice.events = 0
            self._voice.pending = None  # its gap was drawn before this note: draw again
        self.policy.on_player(self, stamp)
        self.window.append(NoteMessage(stamp, pitch, velocity, msg.channel))
        if step:
            self._step(stamp, pitch, velocity)

    def _listened(self, stamp: float, msg: mido.Message) -> bool:
        """Record a player's note or pedal message; True when its channel is listened to (then it
        is also passed through with --thru)."""
        if self.recorder:
            self.recorder.player(msg, at=stamp)
        listen = self.config.listen
        if (msg.channel not in listen) if listen else msg.channel == DRUM_CHANNEL:
            return False
        if self.config.thru:
            self.scheduler.thru(msg)
        return True

    def _sustain(self, stamp: float, msg: mido.Message, step: bool) -> None:
        """The player's sustain pedal: the keys it stops ringing when it lifts are releases for the
        model (a pedal change alone is not the player playing: no barge-in, no new answer)."""
        if not self._listened(stamp, msg):
            return
        for pitch in self.held.pedal(msg.channel, msg.value >= 64):
            self.window.append(NoteMessage(stamp, pitch, 0, msg.channel))
            if step:
                self._step(stamp, pitch, 0)

    def _step(self, stamp: float, pitch: int, velocity: int) -> None:
        """Step one event at `stamp` into the state."""
        self._place(stamp)
        gap = 0.0 if self._decoded is None else max(0.0, stamp - self._decoded)
        cls = self.cursor.time_class(gap)
        self._decoded = stamp if self._decoded is None else self._decoded + self.cursor.seconds(cls)
        if abs(self._decoded - stamp) > self.cursor.seconds(self.codec.time_classes - 1):
            self._decoded = stamp  # after a long silence, start the clock again
        self.logits = self.stream.advance(*self.cursor.event(pitch, self.codec.velocity_class(velocity), cls))
        self.steps += 1

    def reprime(self, now: float) -> None:
        """Rebuild the state from the window of what was really played up to `now`."""
        started = time.perf_counter()
        notes = [n for n in self.window if n.time <= now]
        sounding = set()
        for n in notes:
            if n.channel == MACHINE:
                (sounding.add if n.velocity else sounding.discard)(n.pitch)
        notes += [NoteMessage(now, p, 0, MACHINE) for p in sorted(sounding)]  # what a cancel released
        notes.sort(key=lambda n: n.time)
        self.window = deque(notes, maxlen=WINDOW)
        first = self._place(notes[0].time) if notes else None  # also sets the cursor's tempo
        scale = self.cursor.scale
        events, played = self.codec.encode_timed([replace(n, time=n.time / scale) for n in notes])
        self.stream = self.model.stream()
        # The session model and the key heard these notes already (and must not learn the machine's).
        (session, key), self.cursor.session, self.cursor.key = (self.cursor.session, self.cursor.key), None, None
        self.cursor.reference = None
        rows = self.cursor.rows(events, first=first or 0.0)
        self.cursor.session, self.cursor.key = session, key
        self.logits = self.stream.prime(rows)
        self.steps += 1
        # The decoded clock, as encode() keeps it: the first event's time plus every gap's class value.
        self._decoded = float(played[0]) * scale + self.cursor.decoded_seconds(events) if len(played) else None
        self.reprimes += 1
        log.debug("re-primed from %d events in %.2f ms", len(events), (time.perf_counter() - started) * 1000)

    def reload(self, model: EventModel) -> None:
        """Switch to another model (on the engine thread): stop playing, then re-prime it from the window."""
        now = self.clock()
        self.scheduler.cancel()
        self._voice = None
        self._load(model)
        self.reprime(now)
        log.info("model %s loaded, re-primed from %d events", model.path, len(self.window))

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
        if name in ("temperature", "length", "session"):
            self.config = cc.settings(self.config, name, value)
        elif name == "mode":
            modes = [m for m in MODES if m in self.policies] + [m for m in self.policies if m not in MODES]
            self.set_mode(cc.mode(modes, value))
        elif name == "enabled":
            self.enabled = cc.switched_on(value)
            if not self.enabled:
                self.stop_answer(self.clock())
        elif name == "panic" and cc.switched_on(value):
            self.scheduler.panic()
            self._voice = None
            self._all_off(None)
        log.info("control %s = %d", name, value)

    # -- answering ------------------------------------------------------------------------------
    def _grid(self, start: float, beats: float | None = None) -> float:
        """The first grid line (every `beats`, default --grid) at or after `start`, when there is a
        tempo to follow (MIDI clock, else --bpm); else `start` itself."""
        return self.tempo.next_grid(start, beats or self.config.grid, self.config.beats_per_bar)

    def _velocity(self, velocity: int) -> int:
        return int(np.clip(round(velocity * self.config.velocity_scale), 1, 127))

    def answer(self, now: float, due: float | None = None) -> None:
        """Sample an answer from the current state, each note to the scheduler as soon as it is drawn.

        `due`: when the policy's condition became true (e.g. the silence threshold expired).
        """
        if self.logits is None or not self.enabled:
            return
        cfg = self.config
        timed = cfg.length.unit != "events"
        gen = GenerateConfig(events=MAX_EVENTS if timed else int(cfg.length.value), sampling=cfg.sampling,
                             max_note=cfg.max_note, channel=cfg.channel, session_weight=cfg.session_weight,
                             key_weight=cfg.key_weight)
        due = now if due is None else due
        start = self._grid(self.clock() + SLACK)
        log.debug("answering: due %.3f, start %.3f, %s", due, start, self.tempo.describe())
        self._place(start)  # the answer's first note is at `start`
        voice = _Voice()

        def emit(notes):
            if not voice.played and any(n.velocity for n in notes):
                self.last_decision_ms = (self.clock() - due) * 1000
            voice.played += len(notes)
            self._emit(voice, [replace(n, time=start + n.time) for n in notes])
            time.sleep(0)  # let the scheduler thread have the GIL if a note is due while the rest is sampled

        if cfg.pedal:  # pushed before the notes: at `start` it goes out first
            self.scheduler.pedal(True, start, cfg.channel)
        barges_in = getattr(self.policy, "barge_in", False)
        result = sample_events(self.stream, self.logits, gen, self.noise, held=self.held.pitches(),
                               until=self.seconds(cfg.length) if timed else None, emit=emit, cursor=self.cursor,
                               stop=(lambda: self.inbox.urgent > 0) if barges_in else None)
        self.logits = result.logits
        self.steps += 1
        if cfg.pedal:
            self._repedal(start, start + max((n.time for n in result.notes), default=0.0))
        if self._trace:
            self._trace(due, start, start + max((n.time for n in result.notes), default=0.0))
        self._decoded = start + self.cursor.decoded_seconds(result.events)  # the first event is at `start`
        self.heard_since_answer = 0
        self.answers += 1
        log.info("answer %d: %d events, first note %.2f ms after the cue", self.answers, len(result.events),
                 self.last_decision_ms)
        if self.lyricist is not None:  # after every note is with the scheduler: words never delay notes
            try:
                struck = [n for n in result.notes if n.velocity]
                self.lyricist.line([start + n.time for n in struck], [n.pitch for n in struck])
            except Exception:  # words are a side show: never let them stop the music
                log.exception("could not write lyrics for answer %d", self.answers)

    def _bar_lines(self, after: float):
        """The bar lines after `after` (monotonic s): MIDI clock's or --bpm's, else every bar from it."""
        bar = self.beat_seconds * self.config.beats_per_bar
        line = self.tempo.line(after + 1e-6, float(self.config.beats_per_bar)) if self.tempo.known else after + bar
        while True:
            yield line
            line += bar

    def _repedal(self, start: float, end: float) -> None:
        """The machine's pedal through an answer from `start` to its last release at `end`: lifted
        just before each bar line and caught again just after it (legato pedalling, so one bar's
        harmony does not ring into the next), and lifted at the end."""
        channel = self.config.channel
        for line in self._bar_lines(start):
            if line >= end:
                break
            self.scheduler.pedal(False, line - PEDAL_LIFT, channel)
            self.scheduler.pedal(True, line + PEDAL_CATCH, channel)
        self.scheduler.pedal(False, end, channel)

    def stop_answer(self, now: float) -> None:
        """Barge-in: pending notes dropped, sounding ones released, the unplayed rest forgotten."""
        self.scheduler.cancel()
        self._voice = None
        if self.lyricist is not None and self.recorder is not None:
            self.recorder.drop_lyrics_after(now)
        self.reprime(now)
        log.info("barge-in: answer stopped")

    # -- continuous -----------------------------------------------------------------------------
    def accompany(self, now: float) -> float | None:
        """Play on, one event at a time; returns when to come back (None: resting).

        Each event's gap is drawn first and only committed (pitch and velocity drawn, the model
        stepped, the note scheduled) LOOKAHEAD before it is due. If the player plays in between,
        the pending gap is forgotten and drawn again from the new state, restricted to gaps that
        have not already passed: sequential sampling that lets the player steer every next note.
        """
        if self.logits is None or not self.enabled:
            return None
        cfg, codec = self.config, self.codec
        voice = self._voice
        if voice is None:
            if not self.heard_since_answer:
                return None  # resting until the player plays
            voice = self._voice = _Voice(NoteGuard(cfg.max_note), NoteDraw(self.model, cfg.sampling, self.noise))
            self.answers += 1
        while True:
            now = self.clock()  # a burst of events takes a while to sample
            base = now if self._decoded is None else self._decoded
            if voice.pending is None:
                self.cursor.beat_seconds = self.beat_seconds
                passed = base + codec.time_array * self.cursor.scale < now - 0.005  # gaps already over
                passed[-1] = False  # the longest gap stands for "or longer"
                gap = cfg.sampling.draw(self.model.heads(self.logits)[2], self.noise, banned=passed)
                voice.pending = (gap, max(now + SLACK, base + self.cursor.seconds(gap)))
            gap, at = voice.pending
            if self._tail_over(voice, at):
                self._close_voice(max(now, base))
                return None
            if at > now + LOOKAHEAD:
                return at - LOOKAHEAD
            voice.pending = None
            self._emit(voice, voice.guard.release_due(at))
            if cfg.pedal:
                self._pedal_along(voice, at)
            voice.draw.now(at)
            voice.draw.hold(self.held.pitches())
            self._place(at)
            base_pitch = self.cursor.base
            prior = self.cursor.prior(codec.pitch_classes) if cfg.session_weight else None
            key = self.cursor.key_prior(codec.pitch_classes, cfg.key_weight)
            pitch, vel = voice.draw.note(self.logits, base_pitch, prior, cfg.session_weight, key)
            if voice.events == 0 and voice.played == 0:
                self.last_decision_ms = (self.clock() - at) * 1000 if at <= self.clock() else 0.0
            struck = NoteMessage(at, pitch + base_pitch, codec.velocity_value(vel), cfg.channel)
            if vel and codec.pitch_mode == "interval":
                self._end_line(voice, at, struck.pitch)
            self._emit(voice, voice.guard.feed(struck))
            self.logits = self.stream.advance(*self.cursor.event(pitch + base_pitch, vel, gap, learn=False))
            self.steps += 1
            self._decoded = at
            voice.events += 1
            voice.played += 1
            time.sleep(0)  # as in answer(): the scheduler may need the GIL now

    def _end_line(self, voice: _Voice, at: float, keep: int) -> None:
        """An interval model learnt single lines. Playing along, its stream also holds the player's
        releases, which it takes for its own: its own go undrawn and its notes pile up to --max-note
        (a fifth of folk's did under a replayed tune). So the line's next note ends the last one."""
        channel = self.config.channel
        for pitch in sorted(voice.guard.sounding(channel) - {keep}):
            self._emit(voice, voice.guard.feed(NoteMessage(at, pitch, 0, channel)))

    def _tail_over(self, voice: _Voice, at: float) -> bool:
        span = self.config.length
        if span.unit == "events":
            return voice.events >= span.value and not self.player_held
        return at - self.last_player > self.seconds(span) and not self.player_held

    def _emit(self, voice: _Voice, notes: list[NoteMessage]) -> None:
        """Note messages to the scheduler as they are sampled: a note-on goes out with a
        provisional release at max-note, which its real release (when sampled) brings forward."""
        channel = self.config.channel
        if voice.draw is not None:
            voice.draw.follow(notes)
        for n in notes:
            self.window.append(NoteMessage(n.time, self.codec.fold_pitch(n.pitch), n.velocity, MACHINE))
            if n.velocity:
                voice.open[n.pitch] = self.scheduler.play(n.pitch, self._velocity(n.velocity), n.time,
                                                          self.config.max_note, channel)
            elif n.pitch in voice.open:
                self.scheduler.end(voice.open.pop(n.pitch), n.pitch, n.time, channel)

    def _pedal_along(self, voice: _Voice, at: float) -> None:
        """The continuous part's pedal: down at its first event, re-pedalled at each bar line passed."""
        channel = self.config.channel
        if voice.pedal_line is None:
            self.scheduler.pedal(True, at, channel)
            voice.pedal_line = next(self._bar_lines(at))
        while voice.pedal_line <= at + PEDAL_LIFT:
            self.scheduler.pedal(False, voice.pedal_line - PEDAL_LIFT, channel)
            self.scheduler.pedal(True, voice.pedal_line + PEDAL_CATCH, channel)
            voice.pedal_line += self.beat_seconds * self.config.beats_per_bar

    def _close_voice(self, at: float) -> None:
        self._emit(self._voice, self._voice.guard.close(at))
        if self._voice.pedal_line is not None:
            self.scheduler.pedal(False, at, self.config.channel)
        self._voice = None
        self.heard_since_answer = 0
