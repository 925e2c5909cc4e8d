"""Keeping a note stream playable: every note-on released, no release of a silent pitch."""
from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

from .midifile import NoteMessage


@dataclass
class GuardCounts:
    dropped_releases: int = 0  # releases of a pitch that was not sounding
    retriggers: int = 0  # note-ons of a sounding pitch (released first)
    forced_releases: int = 0  # notes cut at the maximum length
    closing_releases: int = 0  # notes still sounding at the end


@dataclass
class NoteGuard:
    """Filters note messages (in time order) so that the output never leaves a note hanging.

    Whatever a model emits: a release of a silent pitch is dropped, a note-on of a sounding
    pitch releases it first, a note longer than `max_length` seconds is released then, and
    `close()` releases whatever still sounds.
    """

    max_length: float = 4.0
    counts: GuardCounts = field(default_factory=GuardCounts)
    _sounding: dict = field(default_factory=dict)  # (channel, pitch) -> onset time
    _deadlines: list = field(default_factory=list)  # heap of (onset + max_length, channel, pitch, onset)

    def __post_init__(self):
        if self.max_length <= 0:
            raise ValueError("max_length must be positive")

    def sounding(self, channel: int = 0, before: float | None = None) -> set[int]:
        """Pitches sounding on `channel`; with `before`, only those struck before that time (a note
        struck at `before` and released at once would have no length)."""
        return {p for (c, p), onset in self._sounding.items() if c == channel and (before is None or onset < before)}

    def feed(self, note: NoteMessage) -> list[NoteMessage]:
        """Messages to emit for `note`, preceded by any releases that fall due before it."""
        out = self.release_due(note.time)
        key = (note.channel, note.pitch)
        if note.velocity == 0:
            if key in self._sounding:
                del self._sounding[key]
                out.append(note)
            else:
                self.counts.dropped_releases += 1
            return out
        if key in self._sounding:
            self.counts.retriggers += 1
            out.append(NoteMessage(note.time, note.pitch, 0, note.channel))
        self._sounding[key] = note.time
        heapq.heappush(self._deadlines, (note.time + self.max_length, note.channel, note.pitch, note.time))
        out.append(note)
        return out

    def close(self, time: float) -> list[NoteMessage]:
        """Release everything still sounding, at `time` at the latest."""
        out = self.release_due(time)
        for (channel, pitch) in sorted(self._sounding):
            out.append(NoteMessage(time, pitch, 0, channel))
            self.counts.closing_releases += 1
        self._sounding.clear()
        self._deadlines.clear()
        return out

    def release_due(self, time: float) -> list[NoteMessage]:
        """Releases of notes that reach the maximum length by `time`."""
        out = []
        while self._deadlines and self._deadlines[0][0] <= time:
            due, channel, pitch, onset = heapq.heappop(self._deadlines)
            if self._sounding.get((channel, pitch)) == onset:  # not already released or re-struck
                del self._sounding[(channel, pitch)]
                out.append(NoteMessage(due, pitch, 0, channel))
                self.counts.forced_releases += 1
        return out


def playable(notes, max_length: float = 4.0, end: float | None = None) -> tuple[list[NoteMessage], GuardCounts]:
    """Run a whole stream through a NoteGuard; everything is released by `end` (or the last event)."""
    guard = NoteGuard(max_length)
    out: list[NoteMessage] = []
    last = 0.0
    for note in notes:
        out.extend(guard.feed(note))
        last = note.time
    out.extend(guard.close(last if end is None else max(end, last)))
    return out, guard.counts


def note_spans(notes: Sequence[NoteMessage]) -> list[tuple[float, float, int, int]]:
    """(onset, end, pitch, velocity) of every released note, in onset order."""
    open_notes: dict[tuple[int, int], tuple[float, int]] = {}
    spans = []
    for n in notes:
        key = (n.channel, n.pitch)
        if key in open_notes:
            onset, vel = open_notes.pop(key)
            spans.append((onset, n.time, n.pitch, vel))
        if n.velocity > 0:
            open_notes[key] = (n.time, n.velocity)
    return sorted(spans)


def still_sounding(messages) -> set[tuple[int, int]]:
    """(channel, pitch) of the notes a sequence of mido messages leaves sounding."""
    held = set()
    for m in messages:
        if m.type == "note_on" and m.velocity:
            held.add((m.channel, m.note))
        elif m.type in ("note_on", "note_off"):
            held.discard((m.channel, m.note))
    return held
