"""How well segue hears the beat: the live tracker (daemon/models/beat.py) against baselines, with mir_eval.

    python benchmarks/beats.py                         # (a) corpus tunes, (b) ASAP, (c) POP909; test splits
    python benchmarks/beats.py --sets corpus --split valid --pieces 40     # tuning: the valid split
    python benchmarks/beats.py --sets asap --pieces 0                      # all 257 performances

Needs mir_eval: `pip install -e ".[eval]"`.

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
`--sets scores` (not by default): notated classical scores (`segue data scores runs/scores`), every
    part as one keyboard part, rendered as in (a) at a tempo their notes suggest, the notated beat.

Trackers: `fixed` (today's behaviour without a clock: 120 bpm from the first note), `global` (one
tempo for the whole piece from its inter-onset intervals, the phase that fits most onsets: a
simple offline baseline), `agents` (causal: a bank of BeatRoot-like agents, benchmarks/beat_agents.py),
`causal` (segue's live tracker, PointerTracker, each beat as predicted before it came, hearing with
the learned onset salience, `--salience FILE` or the shipped beat.onnx), `offline` (the same model
smoothed forward and backward over the whole piece, one meter for it: the ceiling the live one is
held to); `unlearned` and `unlearned-offline`: the same with the tracker's own salience alone.
Measures (mir_eval, its default 5 s trim): beat F-measure (+-70 ms), Cemgil accuracy, P-score,
downbeat F-measure, and the annotated beats before the tracker locks (the first of 4 annotated
beats in a row each matched within 70 ms). Medians over the pieces. Beside them, what is wrong
when a tracker is wrong: `any level`, mir_eval's AMLt (the share of beats in the longest run that
is right at the annotated level, twice or half it, or on the off-beat: a tracker that hears the
pulse but not its level scores high there and low on F); and how many pieces it hears at twice the
annotated tempo, at 3:2 of it, at it, or slower (its median beat period against the annotations').
`--guess G`: segue's trackers are given a first guess of the tempo, the piece's annotated tempo
times G (a player's `--bpm`), which sets the level they hear the beat at.
`--changes`: the pieces whose tempo changes by a quarter or more from one beat to the next (a third
of the renderings), their beat F and the annotated beats after the change before the tracker locks
again. `--ear`: the ear's mean chance of a beat for onsets on an annotated beat, on the half between two,
and elsewhere: how well it tells the annotated level from twice it.
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
from segue.training import beat_data

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
WINDOW = 0.07


def corpus_pieces(split: str, count: int, rng):
    try:
        yield from beat_data.corpus_pieces(ROOT / "runs" / "melodies", split, count, rng)
    except FileNotFoundError as err:
        sys.exit(str(err))


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
    yield from beat_data.pop909_pieces(SHARED / "pop909", split, count, rng)


def score_pieces(split: str, count: int, rng):
    try:
        yield from beat_data.score_pieces(ROOT / "runs" / "scores", split, count, rng)
    except FileNotFoundError as err:
        sys.exit(str(err))


SETS = {"corpus": corpus_pieces, "asap": asap_pieces, "pop909": pop909_pieces, "scores": score_pieces}


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


GUESS: list = [None]  # --guess: the first guess segue's trackers are given, as a share of the annotated tempo
PIECE_BPM: list = [None]  # the piece's annotated tempo (the median of its beats), set per piece


def segue_tracker(offline, kind=None):
    def run(notes):
        bpm = PIECE_BPM[0] * GUESS[0] if GUESS[0] else None
        beats = track(notes, bpm, offline=offline, tracker=kind)
        return (np.array([b.time for b in beats]), np.array([b.time for b in beats if b.downbeat]))
    return run


def unlearned(bpm=None):
    """segue's tracker with its own salience alone (loud, full, low onsets mark beats), not the learned one."""
    return PointerTracker(bpm, salience=False)


EAR = [True]  # the onset salience file `causal` and `offline` hear with (--salience; True: the shipped one)


def learned(bpm=None):
    return PointerTracker(bpm, salience=EAR[0])


TRACKERS = {"fixed": fixed, "global": global_tempo, "agents": segue_tracker(False, AgentTracker),
            "unlearned": segue_tracker(False, unlearned), "unlearned-offline": segue_tracker(True, unlearned),
            "causal": segue_tracker(False, learned), "offline": segue_tracker(True, learned)}


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
    try:
        import mir_eval
    except ImportError:
        sys.exit('benchmarks/beats.py: needs mir_eval: pip install -e ".[eval]"')

    ref, est = mir_eval.beat.trim_beats(np.asarray(truth)), mir_eval.beat.trim_beats(np.sort(beats))
    ref_down, est_down = mir_eval.beat.trim_beats(np.asarray(down)), mir_eval.beat.trim_beats(np.sort(downbeats))
    level = float(np.median(np.diff(est)) / np.median(np.diff(ref))) if len(est) > 2 and len(ref) > 2 else float("nan")
    return {"F": mir_eval.beat.f_measure(ref, est), "Cemgil": mir_eval.beat.cemgil(ref, est)[0],
            "P": mir_eval.beat.p_score(ref, est), "downbeat F": mir_eval.beat.f_measure(ref_down, est_down),
            "lock": lock(np.asarray(truth), np.asarray(beats)), "AMLt": mir_eval.beat.continuity(ref, est)[3],
            "level": level, "relock": relock(np.asarray(truth), np.asarray(beats))}


def relock(truth: np.ndarray, estimate: np.ndarray) -> int | None:
    """Where the annotated beats change tempo by a quarter or more from one beat to the next (the
    renderings' deliberate change), the annotated beats after it before the tracker locks again
    (4 in a row each matched within WINDOW); None where there is no such change."""
    gaps = np.diff(truth)
    ratio = gaps[1:] / gaps[:-1]
    changes = np.flatnonzero((ratio > 1.2) | (ratio < 1 / 1.2))
    if not len(changes):
        return None
    return lock(truth[changes[0] + 1:], estimate)


LEVELS = (("twice", 0.0, 0.58), ("3:2", 0.58, 0.8), ("right", 0.8, 1.2), ("slower", 1.2, float("inf")))


def levels(ratios) -> str:
    """How many pieces the tracker hears at twice the annotated tempo, at 3:2 of it, at it, or slower
    (the median of its beat periods over the median of the annotated ones)."""
    ratios = list(ratios)
    return ", ".join(f"{name} {sum(lo <= r < hi for r in ratios)}" for name, lo, hi in LEVELS)


def ear_chances(notes, truth, ears: dict) -> None:
    """Add the ear's chance for each onset to `ears` by where it falls among the annotated beats: on a
    beat, on the half between two, elsewhere (within 50 ms)."""
    from segue.daemon.models.beat import onsets as gather
    from segue.daemon.models.salience import OnsetFeatures, SalienceModel

    model = SalienceModel.shared(None if EAR[0] is True else EAR[0])
    stream, features, truth = model.stream(), OnsetFeatures(), np.asarray(truth)
    for onset in gather(notes):
        chance, t = stream(features(*onset)), onset[0]
        k = int(np.searchsorted(truth, t))
        if 0 < k < len(truth):
            a, b = truth[k - 1], truth[k]
            phase = (t - a) / (b - a)
            where = ("beat" if min(phase, 1 - phase) * (b - a) < 0.05 else
                     "half" if abs(phase - 0.5) * (b - a) < 0.05 else "elsewhere")
            ears[where].append(chance)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=["corpus", "asap", "pop909"])
    parser.add_argument("--split", choices=["test", "valid"], default="test")
    parser.add_argument("--pieces", type=int, default=60, help="Pieces per set (0: all).")
    parser.add_argument("--trackers", nargs="+", choices=list(TRACKERS), default=list(TRACKERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--salience", help="an onset salience file for causal and offline (default: the shipped beat.onnx)")
    parser.add_argument("--guess", type=float,
                        help="Give segue's trackers a first guess of the tempo (as `segue jam --bpm` does): the "
                             "piece's annotated tempo times this (1: right, 0.9: 10 %% slow).")
    parser.add_argument("--changes", action="store_true",
                        help="Also the pieces with a change of tempo (a third of the renderings): their beat F, and "
                             "the beats each tracker takes to lock again after the change.")
    parser.add_argument("--ear", action="store_true",
                        help="Also what the ear says: its mean chance for onsets on an annotated beat, on the half "
                             "between two, and elsewhere (how well it tells the annotated level from the next).")
    args = parser.parse_args()
    if args.salience:
        EAR[0] = args.salience
    GUESS[0] = args.guess
    import warnings

    warnings.filterwarnings("ignore", module="mir_eval")
    for name in args.sets:
        rng = np.random.default_rng(args.seed)
        rows = {t: [] for t in args.trackers}
        seconds = {t: 0.0 for t in args.trackers}
        onsets = 0
        ears = {"beat": [], "half": [], "elsewhere": []}
        for _, notes, truth, down in SETS[name](args.split, args.pieces, rng):
            onsets += sum(1 for n in notes if n[2])
            if args.ear:
                ear_chances(notes, truth, ears)
            PIECE_BPM[0] = 60.0 / float(np.median(np.diff(truth)))
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
            med = {k: statistics.median(r[k] for r in rows[t]) for k in rows[t][0] if k != "relock"}
            print(f"  {t:<8} {med['F']:7.3f} {med['Cemgil']:7.3f} {med['P']:6.3f} {med['downbeat F']:11.3f} "
                  f"{med['lock']:14.0f} {seconds[t] / max(onsets, 1) * 1e6:8.1f} {med['AMLt']:10.3f}   "
                  f"{levels(r['level'] for r in rows[t])}")
        changed = [i for i, r in enumerate(rows[args.trackers[0]]) if r["relock"] is not None]
        if changed and args.changes:
            print(f"  the {len(changed)} pieces with a change of tempo: beat F, and annotated beats after the change "
                  "before the tracker locks again, medians")
            for t in args.trackers:
                print(f"  {t:<8} {statistics.median(rows[t][i]['F'] for i in changed):7.3f} "
                      f"{statistics.median(rows[t][i]['relock'] for i in changed):7.1f}")
        if args.ear:
            print("  the ear's mean chance of a beat: " + ", ".join(
                f"{where} {np.mean(c):.3f} ({len(c)} onsets)" for where, c in ears.items() if c))
    return 0


if __name__ == "__main__":
    sys.exit(main())
