"""MIDI files in and out: note messages with absolute times in seconds, tempo map honoured."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import mido

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
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


def load_midi(path: str | Path) -> mido.MidiFile:
    """Open a MIDI file, turning every parser failure into one MidiFileError sentence. The last file
    read is kept (readers of its notes, its meter, its beats each ask for it): a long file is
    parsed once. Callers do not change what they get."""
    path = Path(path)
    if not path.is_file():
        raise MidiFileError(f"{path}: no such file")
    stat = path.stat()
    return _load(path, path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1)
def _load(path: Path, resolved: Path, mtime_ns: int, size: int) -> mido.MidiFile:
    try:
        midi = mido.MidiFile(path)
    except Exception as err:  # mido raises a dozen classes (EOFError, KeySignatureError, ...) for bad bytes
        reason = str(err) or ("it ends early (truncated?)" if isinstance(err, EOFError) else type(err).__name__)
        raise MidiFileError(f"{path}: not a readable MIDI file ({reason})") from err
    if midi.type == 2:
        raise MidiFileError(f"{path}: type 2 MIDI files (independent sequences) are not supported")
    if midi.ticks_per_beat <= 0:
        raise MidiFileError(f"{path}: SMPTE time division is not supported")
    return midi


def read_notes(
    path: str | Path, *, channel: int | None = None, track: int | None = None, beats: bool = False
) -> list[NoteMessage]:
    """Note messages of one file, sorted by time.

    By default every channel but the drum channel is kept; `channel` or `track` narrows it.
    Times follow every set_tempo in the file, whichever track holds it; with `beats`, times
    are in beats (quarter notes) from the start instead of seconds.
    """
    midi = load_midi(path)
    if track is not None and not 0 <= track < len(midi.tracks):
        raise MidiFileError(f"{path}: track must be in range 0..{len(midi.tracks) - 1}")
    if channel is not None and not 0 <= channel <= 15:
        raise MidiFileError("--channel must be from 0 to 15")

    tempos: list[tuple[int, int]] = []  # (tick, microseconds per beat)
    notes: list[tuple[int, int, int, int, int]] = []  # (tick, order, pitch, velocity, channel)
    for index, trk in enumerate(midi.tracks):
        tick = 0
        for msg in trk:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, checked_tempo(path, msg.tempo)))
            elif msg.type in ("note_on", "note_off") and (track is None or index == track):
                if channel is not None and msg.channel != channel:
                    continue
                if channel is None and msg.channel == DRUM_CHANNEL:
                    continue
                velocity = msg.velocity if msg.type == "note_on" else 0
                # Releases sort before onsets at the same tick so a re-struck note is not cut.
                notes.append((tick, 0 if velocity == 0 else 1, msg.note, velocity, msg.channel))
    if not notes:
        raise MidiFileError(f"{path}: no notes on the selected channels")
    notes.sort()
    if beats:
        return [NoteMessage(tick / midi.ticks_per_beat, p, v, c) for tick, _, p, v, c in notes]
    return list(_ticks_to_seconds(notes, sorted(tempos), midi.ticks_per_beat))


@dataclass(frozen=True)
class Meter:
    """The tempo and time signature in force at a file's end, where a continuation starts."""

    bpm: float = 120.0
    numerator: int = 4
    denominator: int = 4


def read_meter(path: str | Path) -> Meter:
    """The last set_tempo and time_signature of a file (MIDI's defaults, 120 bpm in 4/4, without them)."""
    midi = load_midi(path)
    tempo, signature = (-1, DEFAULT_TEMPO), (-1, 4, 4)
    for trk in midi.tracks:
        tick = 0
        for msg in trk:
            tick += msg.time
            if msg.type == "set_tempo" and tick >= tempo[0]:
                tempo = (tick, checked_tempo(path, msg.tempo))
            elif msg.type == "time_signature" and tick >= signature[0]:
                signature = (tick, msg.numerator, msg.denominator)
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
