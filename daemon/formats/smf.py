"""Standard MIDI file tracks written as they grow: O(1) per message, whatever the length.

mido builds a whole MidiFile in memory and encodes it at save, which costs the whole session every
time (17 us a message). Here a track is its MTrk body, encoded message by message as it comes
(delta time + bytes, no running status); a file is a header and the bodies, copied in at the end.
A body cut anywhere (a process killed mid-write) is read back up to its last whole event.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO, Iterator

import mido

from .midifile import BPM_RANGE, DENOMINATORS

END_OF_TRACK = b"\x00\xff\x2f\x00"


def varlen(value: int) -> bytes:
    """MIDI's variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def meta(kind: int, data: bytes) -> bytes:
    return bytes((0xFF, kind)) + varlen(len(data)) + data


class TrackBody:
    """Encodes one track's events at absolute ticks into MTrk bytes; keeps what is still sounding."""

    def __init__(self):
        self.tick = 0
        self.sounding: set[tuple[int, int]] = set()  # (channel, note)

    def event(self, tick: int, data: bytes) -> bytes:
        """An event's bytes at `tick` (never before the previous one)."""
        tick = max(self.tick, tick)
        delta, self.tick = tick - self.tick, tick
        return varlen(delta) + data

    def message(self, tick: int, msg: mido.Message) -> bytes:
        if msg.type == "note_on" and msg.velocity:
            self.sounding.add((msg.channel, msg.note))
        elif msg.type in ("note_on", "note_off"):
            self.sounding.discard((msg.channel, msg.note))
        return self.event(tick, bytes(msg.bytes()))

    def close(self, tick: int) -> bytes:
        """Releases of what still sounds at `tick`, then the end of the track."""
        out = b"".join(self.message(tick, mido.Message("note_off", channel=c, note=n)) for c, n in sorted(self.sounding))
        return out + self.event(tick, b"\xff\x2f\x00")


def header(tracks: int, ticks_per_beat: int, kind: int = 1) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, kind, tracks, ticks_per_beat)


def assemble(path: str | Path, ticks_per_beat: int, bodies: list[tuple[BinaryIO, int, bytes]], kind: int = 1) -> None:
    """Write a file (type `kind`) from track bodies: (open body file, its length, closing bytes) each;
    written beside `path` and moved into place, so a reader never sees half a file."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as out:
        out.write(header(len(bodies), ticks_per_beat, kind))
        for body, length, closing in bodies:
            out.write(b"MTrk" + struct.pack(">I", length + len(closing)))
            body.seek(0)
            left = length
            while left:  # exactly `length` bytes: the body file may hold a cut event after them
                chunk = body.read(min(left, 1 << 20))
                if not chunk:
                    raise OSError(f"{path}: a track body ended early")
                out.write(chunk)
                left -= len(chunk)
            out.write(closing)
    os.replace(part, path)


def whole_events(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(end offset, delta, event bytes) of each whole event of an MTrk body, stopping at a cut one."""
    at, size = 0, len(data)
    while at < size:
        delta, at = _read_varlen(data, at)
        if at is None or at >= size:
            return
        status = data[at]
        if status == 0xFF:
            if at + 2 > size:
                return
            length, start = _read_varlen(data, at + 2)
            end = None if start is None else start + length
        elif status == 0xF0:  # never written here; a body holding one is read no further
            return
        elif status >= 0x80:
            end = at + (2 if 0xC0 <= status < 0xE0 else 3)
        else:
            return  # running status is never written: a cut or foreign body
        if end is None or end > size:
            return
        yield end, delta, data[at:end]
        at = end


def _read_varlen(data: bytes, at: int) -> tuple[int, int | None]:
    value = 0
    for _ in range(4):
        if at >= len(data):
            return 0, None
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at
    return 0, None


def recover_body(data: bytes) -> tuple[int, int, set[tuple[int, int]]]:
    """(length of its whole events, their last tick, what they leave sounding) of a possibly cut body."""
    length, tick, sounding = 0, 0, set()
    for end, delta, event in whole_events(data):
        length, tick = end, tick + delta
        kind = event[0] & 0xF0
        if kind == 0x90 and event[2]:
            sounding.add((event[0] & 0x0F, event[1]))
        elif kind in (0x80, 0x90):
            sounding.discard((event[0] & 0x0F, event[1]))
    return length, tick, sounding


class NoteFile:
    """A type-0 file of note messages (absolute seconds, in time order) written as they come, at
    one tempo and time signature: memory stays flat however many notes (segue generate's output)."""

    def __init__(self, path: str | Path, bpm: float, time_signature: tuple[int, int] = (4, 4),
                 ticks_per_beat: int = 480):
        import tempfile

        self.path, self.ticks_per_beat = Path(path), ticks_per_beat
        if not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:  # three bytes of microseconds a beat hold 3.6 bpm at the slowest
            raise ValueError(f"{path}: a tempo of {bpm:g} bpm cannot be written ({BPM_RANGE[0]:g}..{BPM_RANGE[1]:g})")
        if not 1 <= time_signature[0] <= 255 or time_signature[1] not in DENOMINATORS:
            raise ValueError(f"{path}: a time signature of {time_signature[0]}/{time_signature[1]} cannot be written")
        self._tempo = mido.bpm2tempo(bpm)
        self._scale = self._tempo * 1e-6 / ticks_per_beat  # seconds a tick, as mido.second2tick has it
        self._track = TrackBody()
        self._body = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        numerator, denominator = time_signature
        self._length = 0
        self._write(b"\x00" + meta(0x51, self._tempo.to_bytes(3, "big")) +
                    b"\x00" + meta(0x58, bytes((numerator, denominator.bit_length() - 1, 24, 8))))

    def _write(self, data: bytes) -> None:
        self._body.write(data)
        self._length += len(data)

    def add(self, notes) -> None:
        for n in notes:
            msg = mido.Message("note_on", channel=n.channel, note=n.pitch, velocity=n.velocity)
            self._write(self._track.message(round(n.time / self._scale), msg))

    def close(self) -> Path:
        """Release what still sounds, end the track, move the file into place."""
        try:
            self._body.flush()
            assemble(self.path, self.ticks_per_beat, [(self._body, self._length, self._track.close(self._track.tick))],
                     kind=0)
        finally:
            self._body.close()
        return self.path
