"""Timed MIDI output: a heap of due messages, a thread that sends them, and no stuck notes.

Note-ons and their note-offs are always scheduled together. The scheduler knows what sounds, so
it can cancel an answer (pending notes dropped, sounding ones released), cut notes at a maximum
length, and panic (release everything, then CC 64 = 0 Sustain off, CC 123 All Notes Off and CC 120
All Sound Off). The machine's sustain pedal (`pedal`) belongs to the answer it was scheduled for:
a cancel lifts it at once and drops that answer's pedal messages still to come. A cancel may name
channels: several voices play at once on their own channels, and one of them stops alone.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import mido

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Item:
    due: float  # time.monotonic() seconds
    order: int
    message: mido.Message
    note: int  # id of the note this on/off belongs to
    generation: int  # its channel's generation when scheduled: a cancel bumps it, and older note-ons are dropped


SUSTAIN = 64  # the sustain pedal's CC: down at 64..127


def all_off(channels) -> list[mido.Message]:
    """On each channel: CC 64 = 0 (the sustain pedal lifted, or All Notes Off leaves pedalled notes
    ringing), CC 123 (All Notes Off) and CC 120 (All Sound Off)."""
    return [mido.Message("control_change", channel=c, control=control, value=0)
            for c in sorted(set(channels)) for control in (SUSTAIN, 123, 120)]


class Scheduler:
    """Sends scheduled messages at their due times from its own thread."""

    def __init__(self, send: Callable[[mido.Message], None], *, max_note: float = 4.0, late: float = 0.010,
                 clock: Callable[[], float] = time.monotonic, trace: Callable | None = None,
                 send_thru: Callable[[mido.Message], None] | None = None, thread: bool = True):
        """`thread` False: no sending thread; `run_until(t)` sends what is due (tests on a fake clock)."""
        if not max_note > 0:
            raise ValueError("max-note must be > 0 seconds")
        self._send, self.max_note, self.late, self.clock = send, max_note, late, clock
        self._send_thru = send_thru or send  # the player's notes passed through (not the machine's)
        self._thru: set[tuple[int, int]] = set()  # (channel, pitch) of passed-through notes sounding
        self._trace = trace  # trace(due, sent, message) after each timed send, for benchmarks
        self._heap: list[_Item] = []
        self._order = itertools.count()
        self._ids = itertools.count(1)
        self._generations: dict[int, int] = {}  # channel -> cancels so far
        self._sounding: dict[tuple[int, int], int] = {}  # (channel, pitch) -> note id
        self._pedalled: set[int] = set()  # channels where the machine's pedal is down
        self._channels: set[int] = set()
        self._wake = threading.Condition()
        self._running = True
        self.sent = self.dropped_late = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="segue-scheduler", daemon=True) if thread else None
        if self._thread:
            self._thread.start()

    # -- scheduling -------------------------------------------------------------------
    def play(self, pitch: int, velocity: int, start: float, duration: float, channel: int = 0) -> int:
        """A note-on at `start` and its note-off `duration` seconds later (at most max_note); returns its id."""
        if not (0 <= pitch <= 127 and 1 <= velocity <= 127 and 0 <= channel <= 15):
            raise ValueError("pitch, velocity or channel out of MIDI range")
        note = next(self._ids)
        end = start + min(max(duration, 0.0), self.max_note)
        with self._wake:
            self._channels.add(channel)
            self._push(start, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity), note)
            self._push(end, mido.Message("note_off", channel=channel, note=pitch, velocity=0), note)
            self._wake.notify()
        return note

    def end(self, note: int, pitch: int, at: float, channel: int = 0) -> None:
        """Bring the release of note `note` forward to `at` (its scheduled release stays as a backstop)."""
        with self._wake:
            self._push(at, mido.Message("note_off", channel=channel, note=pitch, velocity=0), note)
            self._wake.notify()

    def pedal(self, down: bool, at: float, channel: int = 0) -> None:
        """The machine's sustain pedal down (CC 64 = 127) or up (0) at `at`, with the notes scheduled
        now (a cancel drops it and lifts a pedal that is down)."""
        value = 127 if down else 0
        with self._wake:
            self._channels.add(channel)
            self._push(at, mido.Message("control_change", channel=channel, control=SUSTAIN, value=value), 0)
            self._wake.notify()

    def thru(self, msg: mido.Message) -> None:
        """Pass a player's note message or sustain pedal straight out; panic and close release what
        it leaves sounding (and lift the pedal)."""
        if msg.type == "control_change":
            with self._wake:
                self._channels.add(msg.channel)
                self._safe_send(msg, self._send_thru)
            return
        key = (msg.channel, msg.note)
        with self._wake:
            if msg.type == "note_on" and msg.velocity:
                self._thru.add(key)
                self._channels.add(msg.channel)
            elif key in self._thru:
                self._thru.discard(key)
            else:
                return  # a release of a note that was never passed through
            self._safe_send(msg, self._send_thru)

    def _push(self, due, message, note):
        generation = self._generations.get(message.channel, 0)
        heapq.heappush(self._heap, _Item(due, next(self._order), message, note, generation))

    def _current(self, item: _Item) -> bool:
        return item.generation == self._generations.get(item.message.channel, 0)

    def busy(self, channels=None) -> bool:
        """True while the machine (on `channels`; None: any) has notes pending or sounding."""
        def mine(channel):
            return channels is None or channel in channels

        with self._wake:
            return any(mine(c) for c, _ in self._sounding) or any(
                i.message.type == "note_on" and mine(i.message.channel) and self._current(i) for i in self._heap)

    def cancel(self, channels=None) -> None:
        """On `channels` (None: all): drop every pending note and pedal change, lift the machine's
        pedal, release what sounds."""
        with self._wake:
            self._bump(channels)
            self._lift(channels)
            self._release_all(channels)
            self._wake.notify()

    def _bump(self, channels) -> None:
        for channel in self._channels if channels is None else channels:
            self._generations[channel] = self._generations.get(channel, 0) + 1

    def panic(self) -> None:
        """cancel(), then CC 123 (All Notes Off) and CC 120 (All Sound Off) on every channel used."""
        with self._wake:
            self._bump(None)
            self._heap.clear()
            self._lift(None)
            self._release_all(None)
            for channel, pitch in sorted(self._thru):
                self._safe_send(mido.Message("note_off", channel=channel, note=pitch, velocity=0), self._send_thru)
            self._thru.clear()
            for msg in all_off(self._channels):
                self._safe_send(msg)

    def close(self) -> None:
        self.panic()
        with self._wake:
            self._running = False
            self._wake.notify()
        if self._thread:
            self._thread.join(timeout=1.0)

    def run_until(self, until: float) -> None:
        """Without the thread: send everything due by `until`, each exactly on time."""
        with self._wake:
            while self._heap and self._heap[0].due <= until:
                self._dispatch(heapq.heappop(self._heap), 0.0)

    # -- the sending thread ---------------------------------------------------------------
    def _run(self) -> None:
        with self._wake:
            while self._running:
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0].due - self.clock()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                self._dispatch(heapq.heappop(self._heap), -wait)

    def _dispatch(self, item: _Item, lateness: float) -> None:
        msg = item.message
        if msg.type == "control_change":  # the pedal: never dropped as late, only with its answer
            if self._current(item):
                (self._pedalled.add if msg.value >= 64 else self._pedalled.discard)(msg.channel)
                self._safe_send(msg)
            return
        key = (msg.channel, msg.note)
        if msg.type == "note_off":
            if self._sounding.get(key) == item.note:  # not already released or re-struck
                del self._sounding[key]
                self._safe_send(msg)
            return
        if not self._current(item):
            return  # cancelled
        if lateness > self.late:
            self.dropped_late += 1
            log.debug("dropped a note %.1f ms late", lateness * 1000)
            return
        if key in self._sounding:  # the same pitch is still sounding: end it first
            self._safe_send(mido.Message("note_off", channel=msg.channel, note=msg.note, velocity=0))
        self._sounding[key] = item.note
        self._safe_send(msg)
        if self._trace:
            self._trace(item.due, self.clock(), msg)

    def _lift(self, channels) -> None:
        for channel in sorted(self._pedalled):
            if channels is None or channel in channels:
                self._safe_send(mido.Message("control_change", channel=channel, control=SUSTAIN, value=0))
                self._pedalled.discard(channel)

    def _release_all(self, channels) -> None:
        for (channel, pitch) in list(self._sounding):
            if channels is None or channel in channels:
                self._safe_send(mido.Message("note_off", channel=channel, note=pitch, velocity=0))
                del self._sounding[(channel, pitch)]

    def sounding(self) -> set[tuple[int, int]]:
        """(channel, pitch) of the machine's notes sounding now."""
        with self._wake:
            return set(self._sounding)

    def _safe_send(self, msg: mido.Message, send=None) -> None:
        try:
            (send or self._send)(msg)
            self.sent += 1
        except Exception as err:  # a vanished port must not kill the thread that releases notes
            self.errors += 1
            log.warning("could not send %s: %s", msg.type, err)
