"""A standard MIDI file's notes, tempo map and time signature, read from its bytes in one pass.

mido builds a Message object for every event: a prime of a million notes cost 1.5 GB and 36 s
before segue looked at its last 2,048 events. This reader walks the bytes once (time linear in
the file's size), keeps every tempo and the last time signature, and of the notes only the last
`keep` a track when asked (memory bounded by `keep`, not by the file). It is as strict as mido
where segue's notes depend on it (running status, data bytes, the chunk layout, truncation) and
reads past what it does not need (sysex, other meta events).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
# Data bytes after the status byte of each channel message kind (the high nibble).
CHANNEL_DATA = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
SYSTEM_DATA = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}


class ScanError(ValueError):
    """Why a file's bytes are not a readable MIDI file (the reader names the file)."""


class Unsupported(ScanError):
    """A readable MIDI file of a kind segue does not read (type 2, SMPTE time)."""


@dataclass
class Scanned:
    kind: int  # 0 or 1
    ticks_per_beat: int
    tempos: list[tuple[int, int]] = field(default_factory=list)  # (tick, microseconds a beat), file order
    signature: tuple[int, int, int] = (-1, 4, 4)  # (tick, numerator, denominator) of the last one
    # (tick, 0 for a release / 1 for a strike, pitch, velocity, channel), sorted; the last `keep` a track
    notes: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    tracks: int = 0


def scan(data: bytes, *, channel: int | None = None, track: int | None = None, keep: int | None = None) -> Scanned:
    """The notes of `channel` (None: every channel but drums) on `track` (None: all), with every
    tempo and the last time signature. `keep`: the last this many notes of each track at most."""
    if len(data) < 14 or data[:4] != b"MThd":
        raise ScanError("MThd not found. Probably not a MIDI file")
    size = _u32(data, 4)
    if size < 6 or 8 + size > len(data):
        raise ScanError("it ends early (truncated?)")
    kind, count, division = (int.from_bytes(data[8 + 2 * i:10 + 2 * i], "big", signed=True) for i in range(3))
    if kind == 2:
        raise Unsupported("type 2 MIDI files (independent sequences) are not supported")
    if division <= 0:
        raise Unsupported("SMPTE time division is not supported")
    out = Scanned(kind, division)
    pos = 8 + size
    for index in range(max(count, 0)):
        if pos + 8 > len(data):
            raise ScanError("it ends early (truncated?)")
        if data[pos:pos + 4] != b"MTrk":
            raise ScanError("no MTrk header at start of track")
        length = _u32(data, pos + 4)
        start, end = pos + 8, pos + 8 + length
        if end > len(data):
            raise ScanError("it ends early (truncated?)")
        wanted = track is None or track == index
        kept = _track(data, start, end, out, channel if wanted else -1, keep)
        out.notes.extend(kept)
        out.tracks += 1
        pos = end
    out.notes.sort()
    if keep is not None and len(out.notes) > keep:
        del out.notes[:len(out.notes) - keep]
    return out


def _track(data: bytes, pos: int, end: int, out: Scanned, channel: int | None, keep: int | None):
    """One MTrk body: tempos and signatures into `out`; returns its selected notes (channel -1: none)."""
    notes: deque = deque(maxlen=keep)
    tick, running = 0, None
    while pos < end:
        delta, pos = _varlen(data, pos, end)
        tick += delta
        if pos >= end:
            raise ScanError("a track's last event is cut off")
        status = data[pos]
        if status < 0x80:
            if running is None:
                raise ScanError("running status without last_status")
            status = running  # the byte at pos is the first data byte
        else:
            pos += 1
            if status != 0xFF:
                running = status  # as mido: meta events do not set running status
        if status == 0xFF:
            if pos >= end:
                raise ScanError("a track's last event is cut off")
            kind = data[pos]
            length, pos = _varlen(data, pos + 1, end)
            payload = data[pos:pos + length]
            pos += length
            if pos > end:
                raise ScanError("a meta event runs past its track's end")
            if kind == 0x51:
                if length != 3:
                    raise ScanError(f"a set_tempo of {length} bytes (3 expected)")
                out.tempos.append((tick, int.from_bytes(payload, "big")))
            elif kind == 0x58:
                if length != 4:
                    raise ScanError(f"a time_signature of {length} bytes (4 expected)")
                if tick >= out.signature[0]:
                    out.signature = (tick, payload[0], 2 ** payload[1] if payload[1] < 32 else 0)
            continue
        if status in (0xF0, 0xF7):
            length, pos = _varlen(data, pos, end)
            pos += length
            if pos > end:
                raise ScanError("a sysex runs past its track's end")
            continue
        high = status & 0xF0
        need = CHANNEL_DATA.get(high) if high != 0xF0 else SYSTEM_DATA.get(status)
        if need is None:
            raise ScanError(f"undefined status byte 0x{status:02x}")
        if pos + need > end:
            raise ScanError("a track's last event is cut off")
        first = data[pos] if need else 0
        second = data[pos + 1] if need == 2 else 0
        pos += need
        if (first | second) & 0x80:
            raise ScanError("data byte must be in range 0..127")
        if channel != -1 and (high == 0x90 or high == 0x80):
            ch = status & 0x0F
            if channel is None and ch == DRUM_CHANNEL or channel is not None and ch != channel:
                continue
            velocity = second if high == 0x90 else 0
            notes.append((tick, 1 if velocity else 0, first, velocity, ch))
    return notes


def _varlen(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    while True:
        if pos >= end:
            raise ScanError("a track's last event is cut off")
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 4], "big")
