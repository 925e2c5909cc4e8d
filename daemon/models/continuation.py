"""Sampling a continuation from a primed event stream: the notes it plays, kept playable."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..formats.midifile import NoteMessage
from ..formats.notes import GuardCounts, NoteGuard
from .cursor import Cursor
from .event import EventModel, EventStream
from .sampling import GumbelNoise, Sampling


@dataclass(frozen=True)
class GenerateConfig:
    """Options of one generation; validated on construction."""

    events: int = 500
    sampling: Sampling = field(default_factory=Sampling)
    seed: int | None = None
    max_note: float = 4.0  # seconds; longer notes are released
    constrain: bool = True  # releases name sounding pitches, strikes silent ones (the codec's invariant)
    channel: int = 0  # output channel
    session_weight: float = 0.0  # the session model's share of each strike's pitch distribution (0: off)

    def __post_init__(self):
        if self.events < 1:
            raise ValueError("events must be >= 1")
        if not self.max_note > 0:
            raise ValueError("max-note must be > 0 seconds")
        if not 0 <= self.channel <= 15:
            raise ValueError("channel must be in range 0..15")
        if not 0 <= self.session_weight < 1:
            raise ValueError("session weight must be in range 0..1 (1 excluded: the network always has a say)")


@dataclass
class Continuation:
    events: np.ndarray  # (N, 3) sampled class triples
    notes: list[NoteMessage]  # playable note messages, times from 0
    counts: GuardCounts
    seconds: float  # wall time of the sampling loop
    logits: np.ndarray  # the stream's prediction after the last sampled event


def continue_events(model: EventModel, prime: np.ndarray, config: GenerateConfig,
                    first_gap: bool = False, cursor: Cursor | None = None) -> Continuation:
    """Step `prime` (N, 3 + what the model hears) into a fresh stream, then sample `config.events` events."""
    stream = model.stream()
    logits = stream.prime(prime)
    if logits is None:
        raise ValueError("the prime holds no events")
    return sample_events(stream, logits, config, GumbelNoise(config.seed), first_gap=first_gap, cursor=cursor)


def sample_events(stream: EventStream, logits: np.ndarray, config: GenerateConfig, noise: GumbelNoise, *,
                  until: float | None = None, held: frozenset[int] = frozenset(),
                  emit: Callable[[list[NoteMessage]], None] | None = None,
                  first_gap: bool = False, cursor: Cursor | None = None) -> Continuation:
    """Sample `config.events` events from a primed stream (which then holds them as context).

    `logits` are the stream's predictions for the next event; note times count from 0.
    `until`: also stop before the first event at or after this many seconds (everything is
    released then). `held`: pitches someone else holds (the player), never struck.
    `emit`: gets the playable note messages as soon as each event is sampled (the live engine
    schedules the first note while the rest is still being sampled).
    `first_gap`: time 0 is the last event heard, and the first note comes after its sampled gap (a
    file that follows its prime); otherwise the first note is at 0 (a live answer on its grid line).
    `cursor`: where the stream is, for a model whose classes depend on it (intervals, beats); its
    place after the prime. Note times are in seconds either way.
    """
    model = stream.model
    codec, channel = model.codec, config.channel
    cursor = cursor or Cursor(codec)
    guard = NoteGuard(config.max_note)
    events: list[tuple[int, int, int]] = []
    notes: list[NoteMessage] = []
    out = notes.extend if emit is None else lambda batch: (notes.extend(batch), emit(batch))
    clock = 0.0
    started = time.perf_counter()
    for i in range(config.events):
        gap = config.sampling.draw(model.heads(logits)[2], noise)
        # The first sampled gap is measured from the last event heard.
        if i or first_gap:
            clock += cursor.seconds(gap)
            cursor.move(gap)
        if until is not None and clock >= until:
            break
        out(guard.release_due(clock))  # so the draw below sees what still sounds then
        struck_before = guard.sounding(channel, before=clock)
        base = cursor.base
        prior = cursor.prior(codec.pitch_classes) if config.session_weight else None
        pitch, vel = draw_note(model, logits, config.sampling, noise, struck_before, held, constrain=config.constrain,
                               struck_now=guard.sounding(channel) - struck_before, base=base,
                               prior=prior, prior_weight=config.session_weight)
        events.append((pitch, vel, gap))
        out(guard.feed(NoteMessage(clock, pitch + base, codec.velocity_value(vel), channel)))
        logits = stream.advance(*cursor.event(pitch + base, vel, gap, learn=False))
    seconds = time.perf_counter() - started
    out(guard.close(clock + min(config.max_note, 0.5) if until is None else until))
    return Continuation(np.array(events, np.int64).reshape(-1, 3), notes, guard.counts, seconds, logits)


def draw_note(model: EventModel, logits: np.ndarray, sampling: Sampling, noise: GumbelNoise, sounding: set[int],
              held: frozenset[int] = frozenset(), constrain: bool = True,
              struck_now: set[int] = frozenset(), base: int | None = None, prior: np.ndarray | None = None,
              prior_weight: float = 0.0) -> tuple[int, int]:
    """(pitch class, velocity class) of the next event, its time class already drawn.

    Constrained: release or strike first (the velocity head), then a pitch that fits it. In
    every encoded piece a release names a sounding pitch and a strike a silent one; drawing in
    this order keeps that invariant and lets the velocity head set how often notes end (drawn
    pitch-first, releases happen only when the pitch head happens to name a sounding pitch, and
    notes pile up). `sounding`: this voice's notes that may end now; `struck_now`: its notes struck
    at this very time (not released, which would leave a note of no length, nor struck again);
    `held`: other voices' (never struck). `base`: the pitch class 0 stands for (an interval
    model's moves with its last note; the codec's `low` by default); classes off the keyboard are
    never drawn. `prior`: a distribution over the pitch classes (the session model's) that takes
    `prior_weight` of a strike's pitch distribution.
    Unconstrained (the textbook's way): the two heads are drawn independently.
    """
    pitch_logits, vel_logits, _ = model.heads(logits)
    codec, size = model.codec, len(pitch_logits)
    base = codec.low if base is None else base
    silent = np.ones(size, bool)  # classes of a pitch on the keyboard that this voice may strike
    if base != codec.low:  # an interval model's classes reach past the keyboard
        silent[:max(0, codec.low - base)] = False
        silent[max(0, codec.high + 1 - base):] = False

    def classes(pitches):
        return [p - base for p in pitches if 0 <= p - base < size]

    if not constrain:
        off_keys = None if base == codec.low else ~silent
        return sampling.draw(pitch_logits, noise, banned=off_keys), sampling.draw(vel_logits, noise)
    endable = classes(sounding)
    vel = sampling.draw(vel_logits, noise, banned=None if endable else 0)
    silent[classes(sounding | set(struck_now))] = False
    if vel == 0:  # a release: only this voice's sounding pitches that were struck before now
        releasable = np.zeros(size, bool)
        releasable[endable] = True
        return sampling.draw(pitch_logits, noise, banned=~releasable), vel
    free = silent.copy()
    free[classes(held)] = False
    if prior is not None and prior_weight:
        p = np.exp(pitch_logits - pitch_logits.max())
        mixed = (1 - prior_weight) * p / p.sum() + prior_weight * prior
        pitch_logits = np.log(np.maximum(mixed, 1e-30)).astype(np.float32)
    return sampling.draw(pitch_logits, noise, banned=~free if free.any() else ~silent), vel
