"""Pieces rendered as a player plays them, with the beats they were played on: the data the beat
tracker is measured on (benchmarks/beats.py) and its onset salience is trained on (training/beats.py).

Human timing: a tempo of 60-180 bpm, onset jitter of 10-25 ms, a slow tempo drift, and in a third
of the pieces a change of tempo (x0.75 or x1.33) within a bar; a little more weight on downbeats
where the source marks them. Numpy and mido only.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from segue.daemon.formats.midifile import read_notes


def render(onsets_q, lengths_q, pitches, beats_q, downbeats_q, rng, accents=None, bpm=None):
    """Notes and truth at a random tempo (60-180 bpm, or `bpm`) with drift, jitter and (sometimes) a
    tempo change. Positions are in quarter notes; `beats_q` the beat positions (a beat may be a
    dotted quarter)."""
    beat_unit = float(np.median(np.diff(beats_q))) if len(beats_q) > 1 else 1.0
    bpm = rng.uniform(60, 180) if bpm is None else bpm
    quarter = 60.0 / bpm / beat_unit  # seconds a quarter note
    end = float(max(onsets_q[-1] + lengths_q[-1], beats_q[-1])) + 1
    grid = np.arange(0, end + 1, 0.25)
    drift = np.cumsum(rng.normal(0, 0.004, len(grid)))  # a slow random walk of the tempo
    factor = np.exp(drift - drift.mean())
    if rng.random() < 1 / 3:  # a deliberate change of tempo at a bar near the middle
        at = np.searchsorted(grid, downbeats_q[len(downbeats_q) // 2] if len(downbeats_q) else end / 2)
        factor[at:] *= rng.choice([0.75, 1.33]) ** -1  # (a slower tempo: longer quarters)
    seconds = np.concatenate([[0.0], np.cumsum(quarter * factor[:-1] * 0.25)])

    def warp(q):
        return np.interp(q, grid, seconds)

    jitter = rng.uniform(0.010, 0.025)
    times = warp(np.asarray(onsets_q)) + rng.normal(0, jitter, len(onsets_q))
    ends = warp(np.asarray(onsets_q) + np.asarray(lengths_q)) + rng.normal(0, jitter / 2, len(onsets_q))
    velocity = np.clip(rng.normal(72, 8, len(onsets_q)) + (accents if accents is not None else 0), 20, 127)
    notes = []
    for t, e, p, v in zip(times, ends, pitches, velocity):
        notes += [(float(t), int(p), int(v)), (float(max(e, t + 0.03)), int(p), 0)]
    notes.sort(key=lambda n: (n[0], n[2] > 0))
    shift = -min(0.0, notes[0][0])
    notes = [(t + shift, p, v) for t, p, v in notes]
    return notes, warp(np.asarray(beats_q)) + shift, warp(np.asarray(downbeats_q)) + shift


def near(times, marks, tolerance: float) -> np.ndarray:
    """Whether each of `times` is within `tolerance` of one of `marks` (False for all when none)."""
    times, marks = np.asarray(times, float), np.asarray(marks, float)
    if not len(marks) or not len(times):
        return np.zeros(len(times), bool)
    return np.min(np.abs(times[:, None] - marks[None, :]), axis=1) <= tolerance


def varied_accents(onsets_q, beats_q, downbeats_q, rng) -> np.ndarray:
    """Accents as players differ in them, for training: each piece its own, from none to a strong
    one, on the beats (0-20 velocity steps) and more on the downbeats (0-12)."""
    within = np.nextafter(0.05, 0.0)  # less than 0.05 of a quarter
    on_beat, on_downbeat = near(onsets_q, beats_q, within), near(onsets_q, downbeats_q, within)
    return rng.uniform(0, 20) * on_beat + rng.uniform(0, 12) * on_downbeat


def corpus_pieces(folder: str | Path, split: str, count: int, rng, varied: float = 0.0):
    """Tunes of a melody corpus (`segue data melodies FOLDER`) in the common meters, at least 24
    notes, `count` of them (0: all) in a random order, each rendered with human timing: (name,
    notes, beats, downbeats), the truth in seconds. The beat is a dotted quarter in 6/8, 9/8, 12/8.
    Accents: 12 velocity steps on the downbeats, or in a share `varied` of the tunes each its own
    (`varied_accents`)."""
    from segue.daemon.formats.corpus import load

    folder = Path(folder)
    if not (folder / "melodies.npz").exists():
        raise FileNotFoundError(f"no melody corpus in {folder}: segue data melodies {folder}")
    pieces = [p for p in load(folder, split) if p["meter"] in ("2/4", "3/4", "4/4", "6/8", "3/8", "9/8", "12/8")
              and p["notes"] >= 24]
    order = rng.permutation(len(pieces))
    for i in order[:count] if count else order:
        p = pieces[i]
        numerator, denominator = (int(x) for x in p["meter"].split("/"))
        unit = 1.5 if denominator == 8 and numerator % 3 == 0 else 4 / denominator
        onsets = np.asarray(p["onset"], float)
        first_bar = onsets[0] - p["bar_position"][0]
        bar = float(p["bar_length"][0])
        end = onsets[-1] + p["duration"][-1]
        beats = np.arange(first_bar, end + 1e-9, unit)
        beats = beats[beats >= onsets[0] - 1e-9]
        downbeats = np.arange(first_bar, end + 1e-9, bar)
        downbeats = downbeats[downbeats >= onsets[0] - 1e-9]
        accents = (varied_accents(onsets, beats, downbeats, rng) if varied and rng.random() < varied
                   else np.where(np.isclose(p["bar_position"], 0), 12.0, 0.0))
        notes, truth, down = render(onsets, p["duration"], p["pitch"], beats, downbeats, rng, accents)
        yield f"{p['collection']}:{p['source']}", notes, truth, down


def pop909_pieces(folder: str | Path, split: str, count: int, rng, varied: float = 0.0):
    """POP909 songs (`folder`: ../shared/data/pop909) with one tempo in the file, every track,
    rendered with human timing; split by song as training/pop909.py splits them (every tenth from
    the first test, from the second valid, the rest train); beats and downbeats from beat_midi.txt.
    No accents, or in a share `varied` of the songs each its own (`varied_accents`)."""
    import mido

    songs = sorted(p for p in Path(folder).iterdir() if p.is_dir())
    offset = {"test": 0, "valid": 1, "train": None}[split]
    chosen = [s for i, s in enumerate(songs) if i % 10 == offset or (offset is None and i % 10 > 1)]
    taken = 0
    for song in chosen:
        path = song / f"{song.name}.mid"
        mid = mido.MidiFile(path)
        tempos = {msg.tempo for t in mid.tracks for msg in t if msg.type == "set_tempo"}
        if len(tempos) != 1:
            continue  # a tempo map that follows the recording: not a fixed grid to render from
        quarter = next(iter(tempos)) / 1e6
        notes = read_notes(path)
        ons = [n for n in notes if n.velocity]
        onsets = np.array([n.time / quarter for n in ons])
        # each note's length: to its release
        open_at, lengths = {}, {}
        for i, n in enumerate(notes):
            key = (n.channel, n.pitch)
            if n.velocity:
                open_at[key] = i
            elif key in open_at:
                lengths[open_at.pop(key)] = n.time
        length = np.array([(lengths.get(i, n.time + 0.3) - n.time) / quarter for i, n in enumerate(notes)
                           if n.velocity])
        rows = np.loadtxt(song / "beat_midi.txt")
        beats = rows[:, 0] / quarter
        down = rows[rows[:, 2] > 0, 0] / quarter
        accents = varied_accents(onsets, beats, down, rng) if varied and rng.random() < varied else None
        rendered, truth, truth_down = render(onsets, np.maximum(length, 0.05), [n.pitch for n in ons], beats, down, rng,
                                             accents)
        yield song.name, rendered, truth, truth_down
        taken += 1
        if count and taken >= count:
            return


def notated_tempo(onsets_q, beat_unit: float, rng) -> float:
    """A tempo for a notated piece as a player would take it, from what the notes are: around 90
    beats a minute (log-normal), redrawn until the onsets come a typical 0.1-0.6 s apart (median): a
    slow movement in running sixteenths is played slowly, a chorale in quarters at a walking pace."""
    gaps = np.diff(np.unique(np.round(np.asarray(onsets_q, float), 4)))
    gap = float(np.median(gaps)) / beat_unit if len(gaps) else 0.5  # in beats
    bpm = 90.0
    for _ in range(100):
        bpm = float(np.clip(90.0 * math.exp(rng.normal(0, 0.4)), 30, 240))
        if 0.1 <= gap * 60 / bpm <= 0.6:
            break
    return bpm


def score_pieces(folder: str | Path, split: str, count: int, rng, varied: float = 0.0):
    """Notated classical scores (`segue data scores FOLDER`: music21's instrumental scores and the
    chorales), every part as one keyboard part, rendered with human timing at a tempo the notes
    suggest (`notated_tempo`), the notated beat as the truth. Accents: none, or in a share `varied`
    of the pieces each its own (`varied_accents`)."""
    from . import scores

    pieces = scores.load(folder, split)
    order = rng.permutation(len(pieces))
    for i in order[:count] if count else order:
        p = pieces[i]
        unit = float(np.median(np.diff(p["beats"])))
        accents = varied_accents(p["onset"], p["beats"], p["downbeats"], rng) if varied and rng.random() < varied else None
        bpm = notated_tempo(p["onset"], unit, rng)
        notes, truth, down = render(p["onset"], p["length"], p["pitch"], p["beats"], p["downbeats"], rng, accents, bpm)
        yield p["name"], notes, truth, down
