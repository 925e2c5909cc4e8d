"""Sampling a continuation from a primed event stream: the notes it plays, kept playable."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..formats.midifile import NoteMessage
from ..formats.notes import GuardCounts, NoteGuard
from .cursor import Cursor
from .event import EventModel, EventStream
from .sampling import GumbelNoise, Sampling

MAX_NOTE = 60.0  # seconds: the longest note a model may hold
MAX_EVENTS = 10_000_000  # events one generation samples at most (the file is written as it goes)
KEY_WEIGHT = 0.5  # the heard key's weight on each strike (measured: docs/models/folk.md)
MAX_KEY_WEIGHT = 4.0


@dataclass
class Continuation:
    events: np.ndarray  # (N, 3) sampled class triples
    notes: list[NoteMessage]  # playable note messages, times from 0
    counts: GuardCounts
    seconds: float  # wall time of the sampling loop
    logits: np.ndarray  # the stream's prediction after the last sampled event


PRIME_EVENTS = 2048  # a prime's last events stepped at most: the state has forgotten what came before


def continue_events(model: EventModel, prime: np.ndarray, config,
                    first_gap: bool = False, cursor: Cursor | None = None,
                    emit: Callable[[list[NoteMessage]], None] | None = None, keep: bool = True) -> Continuation:
    """Step `prime` (N, 3 + what the model hears; its last PRIME_EVENTS rows) into a fresh stream, then
    sample `config.events` events (see sample_events for `emit` and `keep`)."""
    stream = model.stream()
    logits = stream.prime(prime[-PRIME_EVENTS:])
    if logits is None:
        raise ValueError("the prime holds no events")
    return sample_events(stream, logits, config, GumbelNoise(config.seed), first_gap=first_gap, cursor=cursor,
                         emit=emit, keep=keep)


def sample_events(stream: EventStream, logits: np.ndarray, config, noise: GumbelNoise, *,
                  events: int | None = None, until: float | None = None, held: frozenset[int] = frozenset(),
                  emit: Callable[[list[NoteMessage]], None] | None = None,
                  first_gap: bool = False, cursor: Cursor | None = None,
                  stop: Callable[[], bool] | None = None, keep: bool = True) -> Continuation:
    """Sample `events` (default `config.events`) events from a primed stream (which then holds them as context).

    `config`: how notes are drawn (sampling, max_note, channel, session_weight, key_weight; the
    Drawing of daemon/options.py: a GenerateConfig or a live JamConfig). `logits` are the stream's predictions for the next event;
    note times count from 0.
    `until`: also stop before the first event at or after this many seconds (everything is
    released then). `held`: pitches someone else holds (the player), never struck.
    `emit`: gets the playable note messages as soon as each event is sampled (the live engine
    schedules the first note while the rest is still being sampled).
    `first_gap`: time 0 is the last event heard, and the first note comes after its sampled gap (a
    file that follows its prime); otherwise the first note is at 0 (a live answer on its grid line).
    `cursor`: where the stream is, for a model whose classes depend on it (intervals, beats); its
    place after the prime. Note times are in seconds either way.
    `stop`: asked before every event; True ends the sampling there (the live engine: the player
    came back, so the rest of the answer would be cancelled anyway).
    `keep` False: the result holds no events or notes (they went to `emit`): memory stays flat in
    `config.events`.
    """
    cursor = cursor or Cursor(stream.model.codec)
    drawn: list[tuple[int, int, int]] = []
    notes: list[NoteMessage] = []

    def out(batch: list[NoteMessage]) -> None:
        if keep:
            notes.extend(batch)
        if emit is not None:
            emit(batch)

    line = Line(stream.model, config, noise, out, held=held)
    clock = 0.0
    started = time.perf_counter()
    for i in range(config.events if events is None else events):
        gap = cursor.snap_gap(line.gap(logits), stream.model.info.grid)
        # The first sampled gap is measured from the last event heard.
        if i or first_gap:
            clock += cursor.seconds(gap)
            cursor.move(gap)
        if until is not None and clock >= until or stop is not None and stop():
            break
        logits, event = line.step(stream, logits, cursor, clock, gap)
        if keep:
            drawn.append(event)
    seconds = time.perf_counter() - started
    line.close(clock + min(config.max_note, 0.5) if until is None else until)
    return Continuation(np.array(drawn, np.int64).reshape(-1, 3), notes, line.guard.counts, seconds, logits)


class Line:
    """One voice's notes as they are drawn, and the one sampling step every continuation takes (a
    file's, a live answer's, the continuous part's): what may be struck and released (NoteDraw),
    what sounds and for how long (NoteGuard), the session model's and the key's say on each pitch.

    `emit` gets the playable note messages as they are let out. `single`: each strike ends the
    line's other notes (an interval model playing along; see live/voices.py)."""

    def __init__(self, model: EventModel, config, noise: GumbelNoise,
                 emit: Callable[[list[NoteMessage]], None] | None = None, held: frozenset[int] = frozenset(),
                 single: bool = False):
        self.codec, self.config, self.emit, self.single = model.codec, config, emit, single
        self.guard = NoteGuard(config.max_note)
        self.draw = NoteDraw(model, config.sampling, noise, getattr(config, "constrain", True))
        self.draw.hold(held)

    def out(self, batch: list[NoteMessage]) -> None:
        self.draw.follow(batch)
        if self.emit is not None:
            self.emit(batch)

    def gap(self, logits: np.ndarray) -> int:
        return self.draw.time(logits)

    def step(self, stream: EventStream, logits: np.ndarray, cursor: Cursor, at: float,
             gap: int) -> tuple[np.ndarray, tuple[int, int, int]]:
        """Draw the event at `at` (its gap class `gap` already drawn, the cursor moved), let its
        notes out and step it into `stream`; returns the stream's next logits and the event's classes."""
        cfg, codec = self.config, self.codec
        self.advance_to(at)
        base = cursor.base
        prior = cursor.prior(codec.pitch_classes) if cfg.session_weight else None
        key = cursor.key_prior(codec.pitch_classes, cfg.key_weight)
        pitch, vel = self.draw.note(logits, base, prior, cfg.session_weight, key)
        struck = NoteMessage(at, pitch + base, codec.velocity_value(vel), cfg.channel)
        if vel and self.single:
            for other in sorted(self.guard.sounding(cfg.channel) - {struck.pitch}):
                self.out(self.guard.feed(NoteMessage(at, other, 0, cfg.channel)))
        self.out(self.guard.feed(struck))
        return stream.advance(*cursor.event(pitch + base, vel, gap, learn=False)), (pitch, vel, gap)

    def advance_to(self, at: float) -> None:
        """Time moves to `at`: notes due to end by then are let out, so the next draw sees what sounds."""
        self.out(self.guard.release_due(at))
        self.draw.now(at)

    def close(self, at: float) -> None:
        """Release everything at `at`."""
        self.out(self.guard.close(at))


class NoteDraw:
    """One voice's note draws, with what it may strike and release kept up to date as notes start
    and end (the messages its NoteGuard lets out, via `follow`) instead of rebuilt for every draw.

    Constrained (the default): release or strike first (the velocity head), then a pitch that fits
    it. In every encoded piece a release names a sounding pitch and a strike a silent one; drawing
    in this order keeps that invariant and lets the velocity head set how often notes end (drawn
    pitch-first, releases happen only when the pitch head happens to name a sounding pitch, and
    notes pile up). A note may end once time has moved past its onset (`now`; released at once
    it would have no length) and is never struck again while it sounds; pitches someone else holds
    (the player: `hold`) are not struck while any other key is free; classes off the keyboard (an
    interval model's classes move with its last note) are never drawn.
    Unconstrained (as the seed draws them): the pitch and velocity heads are drawn independently.

    Each class set is an additive penalty over absolute pitches (0 allowed, -inf not), padded by
    the head's size on both sides so that any window `base .. base + size` is a slice: a draw is
    then a few array operations on the head (Sampling.pick), whatever sounds.
    """

    def __init__(self, model: EventModel, sampling: Sampling, noise: GumbelNoise, constrain: bool = True):
        codec = model.codec
        self.model, self.sampling, self.noise, self.constrain = model, sampling, noise, constrain
        self.size = codec.pitch_classes
        self._pad = self.size - min(0, codec.low)
        span = 128 + 2 * self._pad
        self._keys = np.full(span, -np.inf, np.float32)  # on the keyboard
        self._keys[self._pad + codec.low : self._pad + codec.high + 1] = 0.0
        self._strike = self._keys.copy()  # on the keyboard and silent
        self._release = np.full(span, -np.inf, np.float32)  # sounding since before now
        self._held = np.zeros(span, np.float32)  # not held by someone else
        self._holding: frozenset[int] = frozenset()
        self._endable: set[int] = set()
        self._fresh: dict[int, float] = {}  # struck, not yet endable: pitch -> onset
        self._no_release = np.zeros(codec.velocity_classes, np.float32)
        self._no_release[0] = -np.inf

    def follow(self, notes: list[NoteMessage]) -> None:
        """The voice's own note messages as they go out: strikes and releases."""
        for n in notes:
            at = self._pad + n.pitch
            if n.velocity:
                self._strike[at] = -np.inf
                self._fresh[n.pitch] = n.time
            else:
                self._strike[at] = self._keys[at]
                self._release[at] = -np.inf
                self._endable.discard(n.pitch)
                self._fresh.pop(n.pitch, None)

    def now(self, time: float) -> None:
        """The next draw is at `time`: notes struck before it may end."""
        for pitch in [p for p, onset in self._fresh.items() if onset < time]:
            del self._fresh[pitch]
            self._endable.add(pitch)
            self._release[self._pad + pitch] = 0.0

    def hold(self, pitches: frozenset[int]) -> None:
        """The pitches someone else holds now (the player's keys)."""
        if pitches == self._holding:
            return
        for p in self._holding:
            self._held[self._pad + p] = 0.0
        for p in pitches:
            self._held[self._pad + p] = -np.inf
        self._holding = pitches

    def time(self, logits: np.ndarray) -> int:
        """The next event's gap class from the stream's logits."""
        return self.sampling.pick(self.model.heads(logits)[2], self.noise)

    def note(self, logits: np.ndarray, base: int, prior: np.ndarray | None = None,
             prior_weight: float = 0.0, key: np.ndarray | None = None) -> tuple[int, int]:
        """(pitch class, velocity class) of the next event, its gap already drawn and `now` told;
        class 0 stands for pitch `base`. `prior`: a distribution over the pitch classes (the session
        model's) that takes `prior_weight` of a strike's pitch distribution. `key`: log-weights over
        the pitch classes (the heard key's) added to a strike's logits."""
        pitch_logits, vel_logits, _ = self.model.heads(logits)
        pick, at = self.sampling.pick, slice(self._pad + base, self._pad + base + self.size)
        if not self.constrain:
            return pick(pitch_logits, self.noise, self._keys[at]), pick(vel_logits, self.noise)
        endable = any(base <= p < base + self.size for p in self._endable)
        vel = pick(vel_logits, self.noise, None if endable else self._no_release)
        if vel == 0:
            return pick(pitch_logits, self.noise, self._release[at]), vel
        if prior is not None and prior_weight:
            p = np.exp(pitch_logits - pitch_logits.max())
            mixed = (1 - prior_weight) * p / p.sum() + prior_weight * prior
            pitch_logits = np.log(np.maximum(mixed, 1e-30)).astype(np.float32)
        if key is not None:
            pitch_logits = pitch_logits + key
        silent = self._strike[at]
        if not np.isfinite(silent).any():  # every key in reach sounds: one of them ends instead
            if endable:
                return pick(pitch_logits, self.noise, self._release[at]), 0
            silent = self._keys[at]
        if not self._holding:
            return pick(pitch_logits, self.noise, silent), vel
        free = silent + self._held[at]
        return pick(pitch_logits, self.noise, free if np.isfinite(free).any() else silent), vel
