"""Headless generation: prime a model with a MIDI file, sample a continuation, write a playable file."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..formats.midifile import Meter, MidiFileError, NoteMessage, read_meter, read_notes, write_notes
from ..formats.notes import GuardCounts
from ..formats.pianoroll import KEYS, from_midi, to_notes
from ..formats.smf import NoteFile
from ..formats.units import within
from ..models.beat import CONFIDENT, track
from ..models.continuation import PRIME_EVENTS, continue_events
from ..options import GenerateConfig
from ..models.cursor import Cursor
from ..models.event import EventModel
from ..models.key import KeyTracker
from ..models.markov import VariableOrderMarkov
from ..models.roll import RollModel, continue_roll

log = logging.getLogger(__name__)
GRID_FIT, FITS = 0.015, 0.6  # a file's grid fits its notes when this share of onsets is within this many seconds of it
MAX_FRAMES = 100_000  # piano-roll frames one generation samples (at a beat a frame, 14 hours at 120 bpm)

# The built-in prime when none is given: a two-bar C major motif at 120 bpm
# (pitch, onset in beats, length in beats); public-domain material of our own.
DEFAULT_PRIME = [(60, 0, 1), (64, 1, 1), (67, 2, 1), (72, 3, 1), (71, 4, 0.5), (67, 4.5, 0.5),
                 (65, 5, 0.5), (62, 5.5, 0.5), (64, 6, 1), (60, 7, 1)]


def heard_beats(notes, timed, meter: Meter):
    """A performance whose file has no useful tempo (its notes are off the file's sixteenth grid, as
    in a take recorded at a default tempo) gets its beat from the live beat tracker: the notes in
    tracked beats, bar lines on the tracked downbeats, and the tracked tempo at its end. None when
    the file's grid fits (the file's own beats are better) or the tracker is not sure of a beat."""
    onsets = np.array([n.time for n in timed if n.velocity])
    sixteenth = 15.0 / meter.bpm  # seconds
    if not len(onsets) or np.mean(np.abs(onsets * 4 - np.round(onsets * 4)) * sixteenth < GRID_FIT) >= FITS:
        return None
    beats = track([(n.time, n.pitch, n.velocity) for n in notes])
    if len(beats) < 8 or beats[-1].confidence < CONFIDENT:
        return None
    times = np.array([b.time for b in beats])
    index = np.arange(len(times), dtype=float)
    downbeats = [i for i, b in enumerate(beats) if b.downbeat]
    bar = meter.numerator * 4 / meter.denominator
    if downbeats:  # the last tracked downbeat on a bar line
        index += (-downbeats[-1]) % bar
    period = times[-1] - times[-2]

    def position(t: float) -> float:  # beats, extrapolated at the first and last beats' tempo
        if t < times[0]:
            return index[0] - (times[0] - t) / (times[1] - times[0])
        if t > times[-1]:
            return index[-1] + (t - times[-1]) / period
        return float(np.interp(t, times, index))

    log.info("the prime's notes are off its file's beat grid: its beat heard from its notes, %.1f bpm", 60 / period)
    return [replace(n, time=position(n.time)) for n in notes], 60.0 / period


def default_prime(bpm: float = 120.0) -> list[NoteMessage]:
    beat = 60.0 / bpm
    notes = []
    for pitch, onset, length in DEFAULT_PRIME:
        notes += [NoteMessage(onset * beat, pitch, 80), NoteMessage((onset + length) * beat, pitch, 0)]
    return sorted(notes, key=lambda n: (n.time, n.velocity > 0))


@dataclass
class GenerateReport:
    out: Path
    prime_events: int
    events: int
    notes: int
    seconds: float
    counts: GuardCounts


def generate_file(
    out: str | Path,
    config: GenerateConfig,
    *,
    model: str | Path | None = None,
    prime: str | Path | None = None,
    prime_channel: int | None = None,
    prime_track: int | None = None,
    bpm: float | None = None,
    with_prime: bool = False,
    plot: str | Path | None = None,
    lyricist=None,
) -> GenerateReport:
    """The `segue generate` job: model + prime file -> continuation file (and optional PNG).

    The file keeps the prime's tempo (the one in force at its end; `bpm` overrides it) and time
    signature. Its time 0 is the prime's last event, so the first note comes after the gap the model
    chose, and the file lines up when placed at the prime's end; `with_prime` writes the prime
    first and the continuation after it.
    """
    net = EventModel(model)
    if prime is None:
        notes, meter = default_prime(), Meter()
    else:
        # A model steps a prime's last PRIME_EVENTS events: only they are read (--with-prime writes it all).
        last = None if with_prime else 2 * PRIME_EVENTS
        notes = read_notes(prime, channel=prime_channel, track=prime_track, last=last)
        meter = read_meter(prime, channel=prime_channel, track=prime_track, last=last)
    cursor = None
    session = VariableOrderMarkov(order=4, window=2000) if config.session_weight else None
    key = KeyTracker() if config.key_weight else None
    if session is not None or key is not None or net.codec.time_unit == "beats" or net.codec.pitch_mode == "interval" or net.info.inputs:
        cursor = Cursor.for_model(net, 60.0 / (bpm or meter.bpm), bar_beats=meter.numerator * 4 / meter.denominator,
                                  session=session, key=key)
        timed = notes
        if net.codec.time_unit == "beats":  # the prime in beats (its own tempo map), bars from the file's start
            timed = default_prime(bpm=60.0) if prime is None else read_notes(prime, channel=prime_channel,
                                                                                track=prime_track, beats=True,
                                                                                last=last)
        if prime is not None and net.codec.time_unit == "beats" and bpm is None:
            heard = heard_beats(notes, timed, meter)
            if heard is not None:
                timed, tracked = heard
                cursor.beat_seconds = 60.0 / tracked
                meter = replace(meter, bpm=tracked)
        events, played = net.codec.encode_timed(timed)
        primed = cursor.rows(events, first=float(played[0]) if len(played) else 0.0)
    else:
        primed = net.codec.encode(notes)
    if not len(primed):
        raise MidiFileError(f"{prime}: no notes to continue (the selected channels hold only releases)")
    shift = notes[-1].time if with_prime else 0.0
    signature = (meter.numerator, meter.denominator)
    if lyricist is None and plot is None:  # written as it is sampled: memory stays flat in --events
        onsets = 0
        writer = NoteFile(out, bpm or meter.bpm, signature)
        if with_prime:
            writer.add(notes)

        def emit(batch):
            nonlocal onsets
            onsets += sum(1 for n in batch if n.velocity)
            writer.add([replace(n, time=n.time + shift) for n in batch])

        result = continue_events(net, primed, config, first_gap=True, cursor=cursor, emit=emit, keep=False)
        writer.close()
        _log_counts(config, result)
        return GenerateReport(Path(out), min(len(primed), PRIME_EVENTS), config.events, onsets, result.seconds,
                              result.counts)
    result = continue_events(net, primed, config, first_gap=True, cursor=cursor)
    written = (list(notes) if with_prime else []) + [replace(n, time=n.time + shift) for n in result.notes]
    sung_at = [n.time + shift for n in result.notes if n.velocity]
    lyrics = lyricist.song(sung_at) if lyricist is not None else ()
    write_notes(out, written, bpm=bpm or meter.bpm, lyrics=lyrics, time_signature=signature)
    if plot is not None:
        from .plot import piano_roll  # matplotlib is an optional extra

        piano_roll(written, plot, title=f"{Path(out).name}: {config.events} events")
    _log_counts(config, result)
    onsets = sum(1 for n in result.notes if n.velocity > 0)
    return GenerateReport(Path(out), min(len(primed), PRIME_EVENTS), config.events, onsets, result.seconds,
                          result.counts)


def _log_counts(config: GenerateConfig, result) -> None:
    c = result.counts
    log.info(
        "%d events in %.3f s; guard: %d releases of silent pitches dropped, %d retriggers, "
        "%d notes cut at %.1f s, %d released at the end",
        config.events, result.seconds, c.dropped_releases, c.retriggers, c.forced_releases,
        config.max_note, c.closing_releases,
    )


def generate_roll_file(out: str | Path, model: RollModel, frames: int, prime: str | Path | None = None,
                       seed: int | None = None, bpm: float = 120.0, plot: str | Path | None = None,
                       velocity: int = 80) -> tuple[int, int]:
    """`segue generate` with a piano-roll model: (prime frames, notes written)."""
    within("--frames", frames, 1, MAX_FRAMES)
    roll = from_midi(prime, beats=model.beats) if prime else np.zeros((0, KEYS), bool)
    sampled = continue_roll(model, roll, frames, seed)
    notes = to_notes(sampled, seconds_per_frame=model.beats * 60.0 / bpm, velocity=velocity)
    write_notes(out, notes, bpm=bpm)
    if plot is not None:
        from .plot import piano_roll

        piano_roll(notes, plot, title=f"{Path(out).name}: {frames} frames of {model.beats:g} beats")
    return len(roll), sum(1 for n in notes if n.velocity)
