"""The machine's parts: each voice plays on its own channel, through the scheduler, driven by a policy.

A voice owns the notes it has open (so it can end them, and stop alone: several voices may play
at once on their own channels) and tells the listener's window what went out (the state is
rebuilt from what was really played). The two voices of an event model share its context
(live/context.py) and one sampling step (models/continuation.py's Line): `Answer` plays a whole
answer when the player pauses; `PlayAlong` plays on event by event while the player plays. The
piano-roll model's voices are in live/harmony.py.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np

from ..formats.midifile import NoteMessage
from ..models.continuation import Line, sample_events
from ..options import MAX_EVENTS
from ..formats.units import Span
from .listener import MACHINE

log = logging.getLogger(__name__)
SLACK = 0.002  # seconds: a note is never due sooner than this after it is sampled
LOOKAHEAD = 0.05  # seconds: how far ahead of time the continuous part samples
PEDAL_LIFT, PEDAL_CATCH = 0.005, 0.04  # seconds before and after a bar line: the machine's pedal change
PHRASE_SECONDS = (1.0, 60.0)  # --length phrase: the player's phrase as heard, within these bounds


class Voice:
    """A part on one channel (`channel`; default: the jam's --channel). `house`: the engine, whose
    scheduler, listener, timeline and settings the voice plays with."""

    name = "voice"

    def __init__(self, house, channel: int | None = None):
        self.house, self._channel = house, channel
        self.open: dict[int, int] = {}  # pitch -> scheduler note id

    @property
    def channel(self) -> int:
        return self.house.config.channel if self._channel is None else self._channel

    @property
    def playing(self) -> bool:
        return bool(self.open) or self.house.scheduler.busy((self.channel,))

    def velocity(self, velocity: int) -> int:
        return int(np.clip(round(velocity * self.house.config.velocity_scale), 1, 127))

    def play(self, notes: list[NoteMessage]) -> None:
        """Note messages to the scheduler as they are drawn: a note-on goes out with a provisional
        release at --max-note, which its real release (when drawn) brings forward."""
        house, channel = self.house, self.channel
        house.listener.keep(NoteMessage(n.time, house.context.fold(n.pitch), n.velocity, MACHINE) for n in notes)
        if notes:  # a part in the player's heard beat carries it on after they stop
            house.timeline.keep(max(n.time for n in notes))
        for n in notes:
            if n.velocity:
                self.open[n.pitch] = house.scheduler.play(n.pitch, self.velocity(n.velocity), n.time,
                                                          house.config.max_note, channel)
            elif n.pitch in self.open:
                house.scheduler.end(self.open.pop(n.pitch), n.pitch, n.time, channel)

    def release(self, at: float) -> None:
        """End every open note at `at`."""
        self.play([NoteMessage(at, p, 0, self.channel) for p in sorted(self.open)])

    def stop(self) -> None:
        """Drop what is pending on the voice's channel, release what sounds, forget the rest."""
        self.house.scheduler.cancel((self.channel,))
        self.open.clear()

    def on_player(self, stamp: float) -> None:
        """The player struck or released a key (the state moved)."""

    def repedal(self, start: float, end: float) -> None:
        """The pedal through a part from `start` to its last release at `end`: lifted just before
        each bar line and caught again just after it (legato pedalling, so one bar's harmony does
        not ring into the next), and lifted at the end."""
        scheduler, channel = self.house.scheduler, self.channel
        for line in self.house.timeline.bar_lines(start):
            if line >= end:
                break
            scheduler.pedal(False, line - PEDAL_LIFT, channel)
            scheduler.pedal(True, line + PEDAL_CATCH, channel)
        scheduler.pedal(False, end, channel)


class Answer(Voice):
    """Call and response: when the player pauses, an answer of --length is sampled from the
    context and every note handed to the scheduler as soon as it is drawn."""

    name = "answer"

    def __init__(self, house, channel: int | None = None, lyricist=None):
        super().__init__(house, channel)
        self.lyricist = lyricist  # a line of lyrics per answer, one syllable per note (models/lyric.py)

    def answer(self, now: float, due: float | None = None) -> None:
        """`due`: when the policy's condition became true (e.g. the silence threshold expired)."""
        house = self.house
        context, cfg = house.context, house.config
        if context.logits is None or not house.enabled:
            return
        timed = cfg.length.unit != "events"
        due = now if due is None else due
        start = house.timeline.start(house.clock() + SLACK)
        log.debug("answering: due %.3f, start %.3f, %s", due, start, house.timeline.describe())
        context.place(start)  # the answer's first note is at `start`
        played = 0

        def emit(notes):
            nonlocal played
            if not played and any(n.velocity for n in notes):
                house.last_decision_ms = (house.clock() - due) * 1000
            played += len(notes)
            self.play([replace(n, time=start + n.time) for n in notes])
            time.sleep(0)  # let the scheduler thread have the GIL if a note is due while the rest is sampled

        if cfg.pedal:  # pushed before the notes: at `start` it goes out first
            house.scheduler.pedal(True, start, self.channel)
        barges_in = getattr(house.policy, "barge_in", False)
        result = sample_events(context.stream, context.logits, replace_channel(cfg, self.channel), house.noise,
                               events=MAX_EVENTS if timed else int(cfg.length.value), held=house.listener.held.pitches(),
                               until=house.seconds(cfg.length) if timed else None, emit=emit, cursor=context.cursor,
                               stop=(lambda: house.inbox.urgent > 0) if barges_in else None)
        end = start + max((n.time for n in result.notes), default=0.0)
        context.advance(result.logits, start + context.cursor.decoded_seconds(result.events))
        self.open.clear()  # every release is scheduled: what sounds is the scheduler's to end
        if cfg.pedal:
            self.repedal(start, end)
        if house.trace:
            house.trace(due, start, end)
        house.answered()
        log.info("answer %d: %d events, first note %.2f ms after the cue", house.answers, len(result.events),
                 house.last_decision_ms)
        if self.lyricist is not None:  # after every note is with the scheduler: words never delay notes
            try:
                struck = [n for n in result.notes if n.velocity]
                self.lyricist.line([start + n.time for n in struck], [n.pitch for n in struck])
            except Exception:  # words are a side show: never let them stop the music
                log.exception("could not write lyrics for answer %d", house.answers)

    def stop(self) -> None:
        super().stop()
        if self.lyricist is not None and self.house.recorder is not None:
            self.house.recorder.drop_lyrics_after(self.house.clock())  # words of notes that will not sound


def replace_channel(config, channel: int):
    return config if config.channel == channel else replace(config, channel=channel)


class PlayAlong(Voice):
    """The continuous part: plays on, one event at a time, while the player plays, and for --length
    after they stop.

    Each event's gap is drawn first and only committed (pitch and velocity drawn, the model stepped,
    the note scheduled) LOOKAHEAD before it is due. If the player plays in between, the pending gap
    is forgotten and drawn again from the new state, restricted to gaps that have not already
    passed: sequential sampling that lets the player steer every next note.
    """

    name = "along"

    def __init__(self, house, channel: int | None = None):
        super().__init__(house, channel)
        self.line: Line | None = None
        self.events = 0  # events played since the player's last note
        self.played = 0  # events played in all
        self.pending: tuple[int, float] | None = None  # (gap class, due) of the next event, drawn, not committed
        self.pedal_line: float | None = None  # with --pedal: the next bar line the part re-pedals at

    @property
    def playing(self) -> bool:
        return self.line is not None or super().playing

    def on_player(self, stamp: float) -> None:
        self.events = 0
        self.pending = None  # its gap was drawn before this note: draw again

    def stop(self) -> None:
        super().stop()
        self.line, self.pending, self.pedal_line = None, None, None

    def accompany(self, now: float) -> float | None:
        """Play what is due; returns when to come back (None: resting until the player plays)."""
        house = self.house
        context, cfg = house.context, house.config
        if context.logits is None or not house.enabled:
            if self.line is not None:  # nothing to draw from (or switched off): the part ends, it does not hang
                self._close(house.clock())
            return None
        if self.line is None:
            if not house.listener.heard_since_answer:
                return None
            # An interval model of single lines; playing along, its stream also holds the
            # player's releases, which it takes for its own, and its own notes would pile up to
            # --max-note: so each of its strikes ends its last note (a keyboard model ends its own).
            self.line = Line(context.model, replace_channel(cfg, self.channel), house.noise, self.play,
                             single=context.codec.pitch_mode == "interval" and not context.model.info.polyphonic)
            self.events = self.played = 0
            house.answers += 1
        while True:
            now = house.clock()  # a burst of events takes a while to sample
            base = now if context.decoded is None else context.decoded
            if self.pending is None:
                passed = base + context.gaps_seconds() < now - 0.005  # gaps already over
                passed[-1] = False  # the longest gap stands for "or longer"
                gap = context.cursor.snap_gap(cfg.sampling.draw(context.time_head(), house.noise, banned=passed),
                                              context.model.info.grid)
                self.pending = (gap, max(now + SLACK, base + context.cursor.seconds(gap)))
            gap, at = self.pending
            if self._over(at):
                self._close(max(now, base))
                return None
            if at > now + LOOKAHEAD:
                return at - LOOKAHEAD
            self.pending = None
            self.line.advance_to(at)  # releases due by then go out before the pedal changes at `at`
            if cfg.pedal:
                self._pedal_along(at)
            self.line.draw.hold(house.listener.held.pitches())
            context.place(at)
            if self.played == 0:
                house.last_decision_ms = (house.clock() - at) * 1000 if at <= house.clock() else 0.0
            logits, _ = self.line.step(context.stream, context.logits, context.cursor, at, gap)
            context.advance(logits, at)
            self.events += 1
            self.played += 1
            time.sleep(0)  # as in Answer: the scheduler may need the GIL now

    def _over(self, at: float) -> bool:
        house = self.house
        span, listener = house.config.length, house.listener
        if listener.sustaining:
            return False
        if span.unit == "events":
            return self.events >= span.value
        return at - listener.last_player > house.seconds(span)

    def _pedal_along(self, at: float) -> None:
        """Down at the part's first event, re-pedalled at each bar line passed."""
        scheduler, channel, timeline = self.house.scheduler, self.channel, self.house.timeline
        if self.pedal_line is None:
            scheduler.pedal(True, at, channel)
            self.pedal_line = next(timeline.bar_lines(at))
        while self.pedal_line <= at + PEDAL_LIFT:
            scheduler.pedal(False, self.pedal_line - PEDAL_LIFT, channel)
            scheduler.pedal(True, self.pedal_line + PEDAL_CATCH, channel)
            self.pedal_line += timeline.bar_seconds

    def _close(self, at: float) -> None:
        self.line.close(at)
        if self.pedal_line is not None:
            self.house.scheduler.pedal(False, at, self.channel)
        self.line, self.pending, self.pedal_line = None, None, None
        self.house.listener.heard_since_answer = 0


def phrase_span(span: Span, phrase_seconds: float) -> float:
    """--length phrase: as long as what the player just played (within PHRASE_SECONDS)."""
    return span.value * float(np.clip(phrase_seconds, *PHRASE_SECONDS))
