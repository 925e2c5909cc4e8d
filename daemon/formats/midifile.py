"""MIDI files in and out: note messages with absolute times in seconds, tempo map honoured."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import mido

from .scan import DRUM_CHANNEL, Scanned, ScanError, Unsupported, scan

log = logging.getLogger(__name__)

DEFAULT_TEMPO = 500_000  # microseconds per beat (120 bpm), the MIDI file default
BPM_RANGE = (20.0, 400.0)  # the tempi segue plays (--bpm); a file's are clamped to them
FASTEST, SLOWEST = round(60e6 / BPM_RANGE[1]), round(60e6 / BPM_RANGE[0])  # microseconds per beat
DENOMINATORS = (1, 2, 4, 8, 16, 32, 64)


class MidiFileError(ValueError):
    """A MIDI file that cannot be read or holds nothing segue can use."""


@dataclass(frozen=True)
class NoteMessage:
    """One note-on (velocity > 0) or release (velocity 0) at an absolute time in seconds."""

    time: float
    pitch: int
    velocity: int
    channel: int = 0


def _scanned(path: str | Path, channel: int | None = None, track: int | None = None,
             keep: int | None = None) -> Scanned:
    """The file's bytes read once (formats/scan.py), every failure one MidiFileError sentence. The
    last files read are kept (a prime's notes, then its meter): a long file is read once."""
    path = Path(path)
    if not path.is_file():
        raise MidiFileError(f"{path}: no such file")
    stat = path.stat()
    return _scan(path, path.resolve(), stat.st_mtime_ns, stat.st_size, channel, track, keep)


@functools.lru_cache(maxsize=4)
def _scan(path: Path, resolved: Path, mtime_ns: int, size: int, channel, track, keep) -> Scanned:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MidiFileError(f"{path}: cannot read ({err.strerror})") from None
    try:
        return scan(data, channel=channel, track=track, keep=keep)
    except Unsupported as err:
        raise MidiFileError(f"{path}: {err}") from None
    except ScanError as err:
        raise MidiFileError(f"{path}: not a readable MIDI file ({err})") from None


def read_notes(
    path: str | Path, *, channel: int | None = None, track: int | None = None, beats: bool = False,
    last: int | None = None,
) -> list[NoteMessage]:
    """Note messages of one file, sorted by time.

    By default every channel but the drum channel is kept; `channel` or `track` narrows it.
    Times follow every set_tempo in the file, whichever track holds it; with `beats`, times
    are in beats (quarter notes) from the start instead of seconds. `last`: only the last this
    many note messages (read in memory bounded by it: a prime's tail is all a model steps).
    """
    if channel is not None and not 0 <= channel <= 15:
        raise MidiFileError("--channel must be from 0 to 15")
    if track is not None and track < 0:
        raise MidiFileError(f"{path}: track must be 0 or more")
    scanned = _scanned(path, channel, track, last)
    if track is not None and track >= scanned.tracks:
        raise MidiFileError(f"{path}: track must be in range 0..{scanned.tracks - 1}")
    notes = scanned.notes
    if not notes:
        raise MidiFileError(f"{path}: no notes on the selected channels")
    if beats:
        return [NoteMessage(tick / scanned.ticks_per_beat, p, v, c) for tick, _, p, v, c in notes]
    tempos = sorted((tick, checked_tempo(path, tempo)) for tick, tempo in scanned.tempos)
    return list(_ticks_to_seconds(notes, tempos, scanned.ticks_per_beat))


@dataclass(frozen=True)
class Meter:
    """The tempo and time signature in force at a file's end, where a continuation starts."""

    bpm: float = 120.0
    numerator: int = 4
    denominator: int = 4


def read_meter(path: str | Path, *, channel: int | None = None, track: int | None = None,
               last: int | None = None) -> Meter:
    """The last set_tempo and time_signature of a file (MIDI's defaults, 120 bpm in 4/4, without them).
    The other arguments as read_notes was given them: the file is then read once for both."""
    scanned = _scanned(path, channel, track, last)
    tempo = (-1, DEFAULT_TEMPO)
    for tick, value in scanned.tempos:
        if tick >= tempo[0]:
            tempo = (tick, value)
    tempo = (tempo[0], checked_tempo(path, tempo[1]))
    signature = scanned.signature
    numerator, denominator = signature[1:]
    if not (1 <= numerator <= 32 and denominator in DENOMINATORS):
        _warn(path, f"a time signature of {numerator}/{denominator} (not 1-32 beats of a whole to a 64th "
                    f"note) is read as 4/4")
        numerator, denominator = 4, 4
    return Meter(round(mido.tempo2bpm(tempo[1]), 3), numerator, denominator)


def checked_tempo(path, tempo: int) -> int:
    """A set_tempo's microseconds per beat, clamped to the tempi segue plays (20..400 bpm, as --bpm),
    with one warning naming the file and the value (0 would stop time; 0xFFFFFF is 3.6 bpm)."""
    if FASTEST <= tempo <= SLOWEST:
        return tempo
    clamped = min(max(tempo, FASTEST), SLOWEST)
    bpm = f"{60e6 / tempo:.3g} bpm" if tempo else "no time at all"
    _warn(path, f"a tempo of {tempo:,} microseconds a beat ({bpm}) is read as {60e6 / clamped:g} bpm "
                f"(segue plays {BPM_RANGE[0]:g}..{BPM_RANGE[1]:g})")
    return clamped


@functools.lru_cache(maxsize=64)
def _warn(path, message: str) -> None:
    """One log line a file and problem (the readers of one file each meet it)."""
    log.warning("%s: %s", path, message)


def _ticks_to_seconds(notes, tempos, ticks_per_beat) -> Iterable[NoteMessage]:
    tempo, seconds, last_tick, t = DEFAULT_TEMPO, 0.0, 0, 0
    for tick, _, pitch, velocity, channel in notes:
        while t < len(tempos) and tempos[t][0] <= tick:
            seconds += mido.tick2second(tempos[t][0] - last_tick, ticks_per_beat, tempo)
            last_tick, tempo = tempos[t][0], tempos[t][1]
            t += 1
        yield NoteMessage(
            seconds + mido.tick2second(tick - last_tick, ticks_per_beat, tempo), pitch, velocity, channel
        )


def write_notes(
    path: str | Path,
    notes: Sequence[NoteMessage],
    *,
    bpm: float = 120.0,
    ticks_per_beat: int = 480,
    program: int | None = None,
    lyrics: Sequence[tuple[float, str]] = (),
    time_signature: tuple[int, int] = (4, 4),
) -> None:
    """Write note messages (absolute seconds) as a type 0 file at a constant tempo and time signature.

    `lyrics`: (seconds, text) lyric meta events, each placed before the note it is sung on; text
    is stored as UTF-8 (what DAWs and karaoke players read for non-Latin scripts).
    """
    tempo = mido.bpm2tempo(bpm)
    numerator, denominator = time_signature
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0),
                            mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0)])
    if program is not None:
        channels = sorted({n.channel for n in notes}) or [0]
        track.extend(mido.Message("program_change", channel=c, program=program) for c in channels)
    timed = [(n.time, 1, mido.Message("note_on", channel=n.channel, note=n.pitch, velocity=n.velocity))
             for n in notes]
    timed += [(t, 0, mido.MetaMessage("lyrics", text=text)) for t, text in lyrics]
    last = 0
    for at, _, msg in sorted(timed, key=lambda e: (e[0], e[1])):  # stable: same-time notes keep their order
        tick = max(last, round(mido.second2tick(at, ticks_per_beat, tempo)))
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat, charset="utf-8")
    midi.tracks.append(track)
    midi.save(path)
