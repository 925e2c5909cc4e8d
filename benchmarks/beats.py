"""How well segue hears the beat: the live tracker (daemon/models/beat.py) against baselines, with mir_eval.

    python benchmarks/beats.py                         # (a) corpus tunes, (b) ASAP, (c) POP909; test splits
    python benchmarks/beats.py --sets corpus --split valid --pieces 40     # tuning: the valid split
    python benchmarks/beats.py --sets asap --pieces 0                      # all 257 performances

Sets:
(a) corpus: held-out tunes of the melody corpus (`segue data melodies`), rendered with human
    timing: a tempo of 60-180 bpm, onset jitter of 10-25 ms, a slow tempo drift, and in a third of
    them a change of tempo (x0.75 or x1.33) within a bar; a little more weight on downbeats.
(b) asap: ../shared/data/asap, 257 expressive piano performances with annotated beats (real
    rubato; non-commercial licence: measured with, nothing trained on); valid: every 10th piece
    (all its performances), test: the rest.
(c) pop909: songs of ../shared/data/pop909 with one tempo in the file, every track, rendered with
    human timing as in (a); the songs of this project's test split (every 10th song; valid: the
    next), beats and downbeats from beat_midi.txt.

Trackers: `fixed` (today's behaviour without a clock: 120 bpm from the first note), `global` (one
tempo for the whole piece from its inter-onset intervals, the phase that fits most onsets: a
simple offline baseline), `agents` (causal: a bank of BeatRoot-like agents, benchmarks/beat_agents.py),
`causal` (segue's live tracker, PointerTracker, each beat as predicted before it came), `offline`
(the same model smoothed forward and backward over the whole piece, one meter for it: the ceiling
the live one is held to).
Measures (mir_eval, its default 5 s trim): beat F-measure (+-70 ms), Cemgil accuracy, P-score,
downbeat F-measure, and the annotated beats before the tracker locks (the first of 4 annotated
beats in a row each matched within 70 ms). Medians over the pieces. Beside them, what is wrong
when a tracker is wrong: `any level`, mir_eval's AMLt (the share of beats in the longest run that
is right at the annotated level, twice or half it, or on the off-beat: a tracker that hears the
pulse but not its level scores high there and low on F); and how many pieces it hears at twice the
annotated tempo, at 3:2 of it, at it, or slower (its median beat period against the annotations').
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from segue.daemon.formats.midifile import read_notes
from beat_agents import AgentTracker
from segue.daemon.models.beat import PointerTracker, track

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
WINDOW = 0.07


# -- rendering with human timing ------------------------------------------------------------------
def render(onsets_q, lengths_q, pitches, beats_q, downbeats_q, rng, accents=None):
    """Notes and truth at a random tempo with drift, jitter and (sometimes) a tempo change.
    Positions are in quarter notes; `beats_q` the beat positions (a beat may be a dotted quarter)."""
    beat_unit = float(np.median(np.diff(beats_q))) if len(beats_q) > 1 else 1.0
    bpm = rng.uniform(60, 180)
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


def corpus_pieces(split: str, count: int, rng):
    from segue.daemon.formats.corpus import load

    folder = ROOT / "runs" / "melodies"
    if not (folder / "melodies.npz").exists():
        sys.exit(f"no melody corpus in {folder}: segue data melodies {folder}")
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
        accents = np.where(np.isclose(p["bar_position"], 0), 12.0, 0.0)
        notes, truth, down = render(onsets, p["duration"], p["pitch"], beats, downbeats, rng, accents)
        yield f"{p['collection']}:{p['source']}", notes, truth, down


def asap_pieces(split: str, count: int, rng):
    files = sorted((SHARED / "asap").rglob("*_annotations.txt"))
    pieces = sorted({f.parent for f in files})  # valid: every 10th piece (all its performances); test: the rest
    valid = {piece for i, piece in enumerate(pieces) if i % 10 == 0}
    files = [f for f in files if (f.parent in valid) == (split == "valid")]
    if count:
        files = [files[i] for i in sorted(rng.permutation(len(files))[:count])]
    for marks in files:
        midi = marks.with_name(marks.name.replace("_annotations.txt", ".mid"))
        rows = [line.split("\t") for line in marks.read_text().splitlines() if line.strip()]
        beats = np.array([float(r[0]) for r in rows])
        down = np.array([float(r[0]) for r in rows if r[2].startswith("db")])
        notes = [(n.time, n.pitch, n.velocity) for n in read_notes(midi)]
        yield str(marks.relative_to(SHARED / "asap")).replace("_annotations.txt", ""), notes, beats, down


def pop909_pieces(split: str, count: int, rng):
    import mido

    songs = sorted(p for p in (SHARED / "pop909").iterdir() if p.is_dir())
    offset = {"test": 0, "valid": 1}[split]
    chosen = [s for i, s in enumerate(songs) if i % 10 == offset]
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
        rendered, truth, truth_down = render(onsets, np.maximum(length, 0.05), [n.pitch for n in ons], beats, down, rng)
        yield song.name, rendered, truth, truth_down
        taken += 1
        if count and taken >= count:
            return


SETS = {"corpus": corpus_pieces, "asap": asap_pieces, "pop909": pop909_pieces}


# -- trackers ------------------------------------------------------------------------------------
def fixed(notes):
    first = next(t for t, _, v in notes if v)
    end = notes[-1][0]
    beats = np.arange(first, end, 0.5)
    return beats, beats[::4]


def global_tempo(notes):
    onsets = np.array(sorted({round(t, 2) for t, _, v in notes if v}))
    candidates = np.exp(np.linspace(np.log(60 / 200), np.log(60 / 50), 300))
    best, best_score = None, -1.0
    for period in candidates:
        phase = (onsets % period) / period
        hist, edges = np.histogram(phase, bins=20, range=(0, 1))
        # onsets within 70 ms of a beat, for the best phase; a mild preference for 0.4-0.8 s
        score = hist.max() / len(onsets) * math.exp(-0.5 * (math.log(period / 0.55) / 0.7) ** 2)
        if score > best_score:
            best_score, best = score, (period, edges[np.argmax(hist)] * period + period / 40)
    period, offset = best
    start = onsets[0] + ((offset - onsets[0]) % period)
    beats = np.arange(start - period * math.floor((start - onsets[0]) / period), onsets[-1] + period, period)
    return beats, beats[::4]


def segue_tracker(offline, kind=None):
    def run(notes):
        beats = track(notes, offline=offline, tracker=kind)
        return (np.array([b.time for b in beats]), np.array([b.time for b in beats if b.downbeat]))
    return run


TRACKERS = {"fixed": fixed, "global": global_tempo, "agents": segue_tracker(False, AgentTracker),
            "causal": segue_tracker(False, PointerTracker), "offline": segue_tracker(True, PointerTracker)}


def lock(truth: np.ndarray, estimate: np.ndarray) -> int:
    """Annotated beats before the first run of 4 each matched within WINDOW (len(truth) when never)."""
    if not len(estimate):
        return len(truth)
    matched = [np.min(np.abs(estimate - t)) <= WINDOW for t in truth]
    for i in range(len(truth) - 3):
        if all(matched[i:i + 4]):
            return i
    return len(truth)


def measure(truth, down, beats, downbeats):
    import mir_eval

    ref, est = mir_eval.beat.trim_beats(np.asarray(truth)), mir_eval.beat.trim_beats(np.sort(beats))
    ref_down, est_down = mir_eval.beat.trim_beats(np.asarray(down)), mir_eval.beat.trim_beats(np.sort(downbeats))
    level = float(np.median(np.diff(est)) / np.median(np.diff(ref))) if len(est) > 2 and len(ref) > 2 else float("nan")
    return {"F": mir_eval.beat.f_measure(ref, est), "Cemgil": mir_eval.beat.cemgil(ref, est)[0],
            "P": mir_eval.beat.p_score(ref, est), "downbeat F": mir_eval.beat.f_measure(ref_down, est_down),
            "lock": lock(np.asarray(truth), np.asarray(beats)), "AMLt": mir_eval.beat.continuity(ref, est)[3],
            "level": level}


LEVELS = (("twice", 0.0, 0.58), ("3:2", 0.58, 0.8), ("right", 0.8, 1.2), ("slower", 1.2, float("inf")))


def levels(ratios) -> str:
    """How many pieces the tracker hears at twice the annotated tempo, at 3:2 of it, at it, or slower
    (the median of its beat periods over the median of the annotated ones)."""
    ratios = list(ratios)
    return ", ".join(f"{name} {sum(lo <= r < hi for r in ratios)}" for name, lo, hi in LEVELS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=["corpus", "asap", "pop909"])
    parser.add_argument("--split", choices=["test", "valid"], default="test")
    parser.add_argument("--pieces", type=int, default=60, help="Pieces per set (0: all).")
    parser.add_argument("--trackers", nargs="+", choices=list(TRACKERS), default=list(TRACKERS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore", module="mir_eval")
    for name in args.sets:
        rng = np.random.default_rng(args.seed)
        rows = {t: [] for t in args.trackers}
        seconds = {t: 0.0 for t in args.trackers}
        onsets = 0
        for _, notes, truth, down in SETS[name](args.split, args.pieces, rng):
            onsets += sum(1 for n in notes if n[2])
            for t in args.trackers:
                started = time.perf_counter()
                beats, downbeats = TRACKERS[t](notes)
                seconds[t] += time.perf_counter() - started
                rows[t].append(measure(truth, down, beats, downbeats))
        count = len(next(iter(rows.values())))
        print(f"{name} ({args.split}, {count} pieces, {onsets} note-ons): medians")
        print(f"  {'tracker':<8} {'beat F':>7} {'Cemgil':>7} {'P':>6} {'downbeat F':>11} {'beats to lock':>14}"
              f" {'us/note':>8} {'any level':>10}   the tempo heard (pieces)")
        for t in args.trackers:
            med = {k: statistics.median(r[k] for r in rows[t]) for k in rows[t][0]}
            print(f"  {t:<8} {med['F']:7.3f} {med['Cemgil']:7.3f} {med['P']:6.3f} {med['downbeat F']:11.3f} "
                  f"{med['lock']:14.0f} {seconds[t] / max(onsets, 1) * 1e6:8.1f} {med['AMLt']:10.3f}   "
                  f"{levels(r['level'] for r in rows[t])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
