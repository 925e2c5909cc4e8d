"""Headless accompaniment: a melody file in, the melody with a bass and chords under it out.

    segue generate --accompany melody.mid --out band.mid

The melody is read in beats (its file's tempo map; a performance whose notes are off its file's
grid gets its beat from the beat tracker, as `--prime` does), bars from the file's time signature.
The accompanist (models/accompanist.py) goes through it beat by beat exactly as it does live: at
each beat it has heard the melody up to that beat, not the beat's own notes. The file written is
type 1: the melody, the bass and the chords on tracks and channels of their own (a DAW opens them
as three tracks), at the melody file's tempo (the tempo in force at its end).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from ..formats.chords import chord_name, melody_features
from ..formats.midifile import MidiFileError, NoteMessage, read_meter, read_notes
from ..models.accompanist import RECENT_BEATS, STEPS_PER_BEAT, AccompanistModel, Note, ceiling_of
from .generate import heard_beats

log = logging.getLogger(__name__)
MAX_BEATS = 20_000  # beats one file is accompanied for (over two hours at 150 bpm)
TICKS = 480
PARTS = {"melody": 0, "bass": 1, "chords": 2}  # default channel of each track


@dataclass
class AccompanyReport:
    out: Path
    beats: int
    notes: dict[str, int]  # per part
    chords: list[str]  # the chord at each bar line
    seconds: float  # the model's time


def melody_in_beats(path, channel=None, track=None) -> tuple[np.ndarray, object]:
    """(onset, end, pitch) rows in beats from the file's start, and its meter (the heard tempo when
    the file's own grid does not fit its notes)."""
    meter = read_meter(path, channel=channel, track=track)
    in_beats = read_notes(path, channel=channel, track=track, beats=True)
    heard = heard_beats(read_notes(path, channel=channel, track=track), in_beats, meter)
    if heard is not None:
        in_beats, bpm = heard
        meter = type(meter)(bpm=round(bpm, 3), numerator=meter.numerator, denominator=meter.denominator)
    rows, sounding = [], {}
    for n in sorted(in_beats, key=lambda n: (n.time, n.velocity > 0)):
        if n.velocity:
            if n.pitch in sounding:
                rows.append((sounding.pop(n.pitch), n.time, n.pitch))
            sounding[n.pitch] = n.time
        elif n.pitch in sounding:
            rows.append((sounding.pop(n.pitch), n.time, n.pitch))
    end = max((n.time for n in in_beats), default=0.0)
    rows += [(t, max(end, t + 0.25), p) for p, t in sounding.items()]
    if not rows:
        raise MidiFileError(f"{path}: no notes to accompany (the selected channels hold only releases)")
    rows = np.array(sorted(rows), float)
    rows[:, 0] -= min(0.0, rows[:, 0].min())  # nothing before the file's start
    rows[:, 1] = np.maximum(rows[:, 1], rows[:, 0])
    return rows, meter


def accompany_file(melody: str | Path, out: str | Path, *, model: str | Path | None = None, channel: int | None = None,
                   track: int | None = None, seed: int | None = None, bpm: float | None = None,
                   plot: str | Path | None = None, channels: dict[str, int] | None = None) -> AccompanyReport:
    """The accompaniment of the melody file `melody`, written with it to `out`."""
    import time

    channels = {**PARTS, **(channels or {})}
    net = AccompanistModel(model)
    rows, meter = melody_in_beats(melody, channel, track)
    bar = meter.numerator * 4 / meter.denominator
    first = int(np.floor(rows[:, 0].min()))
    last = int(np.ceil(rows[:, 1].max()))
    if last - first > MAX_BEATS:
        raise MidiFileError(f"{melody}: {last - first} beats of melody; segue accompanies at most {MAX_BEATS}")
    started = time.perf_counter()
    slots = [int(round(b % bar)) if bar == int(bar) else None for b in range(last + 1)]
    notes, played = accompaniment(net, rows, first, last + 1, slots, seed)
    chords = [chord_name(c) for b, c in enumerate(played, first) if b % bar == 0]
    seconds = time.perf_counter() - started
    tempo = bpm or meter.bpm
    parts = {"melody": [], "bass": [], "chords": []}
    for o, e, p in rows:
        parts["melody"] += [(o, NoteMessage(o, int(p), 90, channels["melody"])), (e, NoteMessage(e, int(p), 0, channels["melody"]))]
    for at, n in notes:
        parts[n.part].append((at, NoteMessage(at, n.pitch, n.velocity, channels[n.part])))
    write_parts(out, parts, tempo, (meter.numerator, meter.denominator))
    if plot is not None:
        from .plot import piano_roll

        beat = 60.0 / tempo
        every = [NoteMessage(at * beat, m.pitch, m.velocity, m.channel) for part in parts.values() for at, m in part]
        piano_roll(sorted(every, key=lambda m: (m.time, m.velocity > 0)), plot,
                   title=f"{Path(out).name}: melody, bass and chords")
    counts = {k: sum(1 for _, m in v if m.velocity) for k, v in parts.items()}
    log.info("accompanied %d beats in %.1f ms of model time", last + 1 - first, seconds * 1000)
    return AccompanyReport(Path(out), last + 1 - first, counts, chords, seconds)


def accompaniment(net: AccompanistModel, rows: np.ndarray, first: int, end: int, slots,
                  seed: int | None = None, ceiling: bool = True) -> tuple[list[tuple[float, Note]], list[int]]:
    """The accompaniment of the melody `rows` ((onset, end, pitch) in beats) from beat `first` to
    `end`, beat by beat as it is played live: each beat's chord from the melody before it. `slots`:
    each beat's place in its bar (by beat index; None: not known). Returns the notes with their
    times in beats, and the chord class of each beat."""
    features = melody_features(rows[:, 0], rows[:, 1], rows[:, 2], end)
    stream = net.stream(seed)
    notes: list[tuple[float, Note]] = []
    chords: list[int] = []
    for b in range(first, end):
        heard = features[b - 1] if b > first else np.zeros_like(features[0])
        held = {int(p) for p in rows[(rows[:, 0] <= b) & (rows[:, 1] > b), 2]}
        recent = rows[(rows[:, 0] >= b - RECENT_BEATS) & (rows[:, 0] < b), 2]
        for n in stream.beat(heard, slots[b], held=held, ceiling=ceiling_of(recent) if ceiling else None,
                             next_slot=slots[b + 1] if b + 1 < len(slots) else None):
            notes.append((first + n.step / STEPS_PER_BEAT, n))
        chords.append(stream.chord)
    notes += [(first + n.step / STEPS_PER_BEAT, n) for n in stream.close()]
    return notes, chords


def write_parts(path, parts: dict[str, list[tuple[float, NoteMessage]]], bpm: float, signature: tuple[int, int]) -> None:
    """A type 1 file: a tempo track, then one named track per part; times in beats."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    midi.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
        mido.MetaMessage("time_signature", numerator=signature[0], denominator=signature[1], time=0),
        mido.MetaMessage("end_of_track", time=0)]))
    for name, events in parts.items():
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        last = 0
        for at, m in sorted(events, key=lambda e: (e[0], e[1].velocity > 0)):
            tick = max(last, round(at * TICKS))
            track.append(mido.Message("note_on", channel=m.channel, note=m.pitch, velocity=m.velocity, time=tick - last))
            last = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(track)
    midi.save(path)
