"""Answers in the player's time with no clock: held-out tunes replayed through JACK at 66, 96 and
132 bpm with human timing, no MIDI clock, no Link, no --bpm; the share of segue's answer onsets
within 40 ms of the player's eighth-note grid (halves of the beat; thirds where the beat is a
dotted quarter, as in a jig), and how far the answer's median note spacing is from a musical ratio
(1/2, 1, 3/2, 2, 3) of the player's eighth. Beside it, --fixed-tempo (no
beat tracking: the behaviour before the tracker).

The player's grid: their beats up to their last note, then on at the tempo of their last four
(what anyone listening heard when they stopped). The rendering's own beats drift on at random after
the last note, which no listener can hear; the share on them is printed beside (the first runs of
this benchmark used them alone).

    python benchmarks/heard_grid.py --tunes 8        # 8 tunes x 3 tempi x (heard, fixed): about 45 min
    python benchmarks/heard_grid.py --tunes 24 --split valid --simulate    # tuning: no JACK, 10 s
    python benchmarks/heard_grid.py --tunes 24 --ceiling    # what the player's timing allows

Needs jackd (apt-get install jackd2) and the melody corpus (segue data melodies runs/melodies).
"""
from __future__ import annotations

import argparse
from functools import partialmethod
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import beats as B  # noqa: E402
from jackprobe import jack_server  # noqa: E402
from segue.daemon.formats.midifile import NoteMessage, read_notes, write_notes  # noqa: E402

TEMPI, NEAR, RATIOS, SECONDS = (66, 96, 132), 0.04, np.array([0.5, 1, 1.5, 2, 3]), 24.0


def tune_at(piece, bpm, rng):
    """The piece's first SECONDS rendered at `bpm` with human timing (no change of tempo)."""
    name, notes, truth, _ = piece
    scale = (np.median(np.diff(truth)) * bpm / 60.0)  # rendered beat / wanted beat
    kept, open_keys = [], set()
    for t, p, v in notes:  # the onsets before SECONDS, each with its release
        if v and t / scale < SECONDS:
            kept.append((t / scale, p, v))
            open_keys.add(p)
        elif not v and p in open_keys:
            kept.append((t / scale, p, v))
            open_keys.discard(p)
    notes = kept
    truth = np.asarray(truth) / scale
    return name, notes, truth[truth < SECONDS + 4]


def eighths_in_a_beat(played, truth) -> int:
    """The player's eighth notes: halves of the beat, or thirds where the beat is a dotted quarter
    (a jig in 6/8): whichever grid holds more of the onsets the player struck."""
    onsets = np.array([t for t, _, v in played if v])
    onsets = onsets[(onsets >= truth[0]) & (onsets < truth[-1])]
    index = np.searchsorted(truth, onsets, side="right") - 1
    phase = (onsets - truth[index]) / (truth[index + 1] - truth[index])
    fit = {parts: np.mean(np.abs(phase * parts - np.round(phase * parts)) < 0.12) for parts in (2, 3)}
    return 3 if fit[3] > fit[2] else 2


def player_grid(played, truth, continued: bool) -> tuple[np.ndarray, float]:
    """The player's beats and the beat after them. `continued`: the beats up to the player's last
    note, then on at the tempo of their last four (what a listener heard when the player stopped);
    else the rendering's own beats, whose random drift goes on after the last note (as in the first
    runs of this benchmark)."""
    if continued:
        last = max(t for t, _, v in played if v)
        kept = truth[truth <= last + 0.1]
        beat = float(np.mean(np.diff(kept[-5:])))
    else:
        kept, beat = truth, float(np.median(np.diff(truth[-8:])))
    return np.concatenate([kept, kept[-1] + beat * np.arange(1, 200)]), beat


def recorded_answer(recorded: Path, played) -> list[float]:
    """The machine's onsets in a take, in the played file's seconds."""
    midi_player = read_notes(recorded, track=0)
    machine = [n.time for n in read_notes(recorded, track=1) if n.velocity]
    first_played = next(t for t, _, v in played if v)
    first_heard = next(n.time for n in midi_player if n.velocity)
    return [t - (first_heard - first_played) for t in machine]  # the recording's clock against the file's


def simulated_answer(played, seed: int = 1, oracle: np.ndarray | None = None) -> list[float]:
    """The machine's onsets when the jam engine (the CLI's defaults, the shipped model) hears
    `played` on a clock the benchmark moves, with no ports: each note sent exactly when due. For
    tuning in seconds what the replays through JACK measure in minutes; it is not the figure.
    `oracle`: the player's beats (seconds, as `played`), handed to the engine in place of what its
    tracker hears (the ceiling of everything after the tracker)."""
    import mido
    from clocks import FakeClock, drive
    from segue.daemon import cli
    from segue.daemon.cli_options import table
    from segue.daemon.live.engine import Engine
    from segue.daemon.live.scheduler import Scheduler
    from segue.daemon.models import kinds

    config, policy, _ = cli._jam_setup(table.check("jam", cli.jam.make_context("jam", ["--seed", str(seed)]).params))
    clock = FakeClock(100.0)
    sent = []
    scheduler = Scheduler(lambda m: sent.append((clock.now, m)), max_note=config.max_note, clock=clock, thread=False)
    engine = Engine(kinds.KINDS[kinds.check_plays(None, "jam")].runtime(None), scheduler, policy, config, clock=clock)
    start = clock.now + 0.5 - played[0][0]
    if oracle is not None:
        told(engine.timeline.tempo.heard.tracker, oracle + start, clock)

    for t, p, v in played:
        drive(engine, until=start + t)
        engine.take([(clock.now, mido.Message("note_on", note=p, velocity=v))])
    before, end = engine.answers, clock.now + 60
    while clock.now < end and not (engine.answers > before and not engine.answering):
        drive(engine, until=clock.now + 0.005)
    scheduler.close()
    return [t - start for t, m in sent if m.type == "note_on" and m.velocity]


def told(tracker, beats: np.ndarray, clock) -> None:
    """Make `tracker` say `beats` (an oracle): sure of them, bars of 4, halves of the beat."""
    index = np.arange(len(beats), dtype=float)

    def at(t):
        return float(np.interp(t, beats, index))

    tracker.__class__ = type("Told", (tracker.__class__,), {
        "beat_seconds": property(lambda self: float(np.interp(clock(), beats[1:], np.diff(beats)))),
        "known": property(lambda self: True),
        "division": property(lambda self: 2),
        "confidence": lambda self, now=None: 1.0,
        "next_beat": lambda self, after, n=1.0: float(np.interp(math.ceil(at(after) / n - 1e-9) * n, index, beats)),
        "position": lambda self, t: (at(t) % 4, 4),
    })


def fitted_answer(played, truth) -> list[float]:
    """What the best a listener could do from the player's onsets alone: each onset's place on the
    player's eighth grid known (no tracker's level to get wrong), a weighted least-squares line
    through those of the last 8 beats (the last 4 counting most: the tracker's FIT constants), and
    an answer of eighths on it from the second beat after the last note, 8 beats long."""
    from segue.daemon.models.beat import FIT_BEATS, FIT_MEMORY

    parts = eighths_in_a_beat(played, truth)
    onsets = np.array([t for t, _, v in played if v])
    index = np.interp(onsets, truth, np.arange(len(truth)))
    place = np.round(index * parts) / parts
    now = index[-1]
    near = index > now - FIT_BEATS
    weight = np.sqrt(np.exp(-(now - index[near]) / FIT_MEMORY))
    rows = np.vstack([np.ones(near.sum()), place[near]]).T * weight[:, None]
    (start, beat), *_ = np.linalg.lstsq(rows, onsets[near] * weight, rcond=None)
    return list(start + beat * np.arange(math.ceil(now) + 1, math.ceil(now) + 9, 1 / parts))


def measure(machine: list[float], played, truth, continued: bool = True):
    grid, beat = player_grid(played, truth, continued)
    parts = eighths_in_a_beat(played, truth)
    eighths = np.sort(np.concatenate([grid] + [grid[:-1] + k / parts * np.diff(grid) for k in range(1, parts)]))
    if not machine:
        return None
    on = np.mean([np.min(np.abs(eighths - t)) <= NEAR for t in machine])
    spacing = np.diff(machine)
    spacing = spacing[spacing > 0.03]
    ratio = float(np.median(spacing)) / (beat / parts) if len(spacing) else float("nan")
    off = float(np.min(np.abs(ratio / RATIOS - 1))) if len(spacing) else float("nan")
    return on, off


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=["test", "valid"], default="test", help="valid: for tuning")
    parser.add_argument("--simulate", action="store_true",
                        help="The engine on a moved clock, no JACK (seconds, for tuning; not the figure).")
    parser.add_argument("--ceiling", action="store_true",
                        help="No engine: the player's own onsets on their grid, and an answer on a line "
                             "fitted to them with the level known (what any tracker could reach).")
    parser.add_argument("--oracle", action="store_true",
                        help="With --simulate: the engine is handed the player's beats instead of what it hears.")
    parser.add_argument("--no-ear", action="store_true",
                        help="With --simulate: the tracker without its learned ear (its own salience alone).")
    args = parser.parse_args()
    if args.no_ear:
        if not args.simulate:
            parser.error("--no-ear is for --simulate (the replays run the installed segue)")
        from segue.daemon.models import beat

        beat.PointerTracker.__init__ = partialmethod(beat.PointerTracker.__init__, salience=False)
    rng = np.random.default_rng(args.seed)
    pieces = list(B.corpus_pieces(args.split, args.tunes, rng))
    sessions = [(bpm, *tune_at(piece, bpm, rng)) for piece in pieces for bpm in TEMPI]  # (bpm, name, notes, truth)
    results = {"heard": [], "fixed": [], "heard, rendered beats": [], "fixed, rendered beats": []}
    if args.ceiling:
        results = {"the player's own onsets": [], "an answer on the best fit to them": []}
        for _, _, notes, truth in sessions:
            results["the player's own onsets"].append(measure([t for t, _, v in notes if v], notes, truth))
            results["an answer on the best fit to them"].append(measure(fitted_answer(notes, truth), notes, truth))
        report(results)
        return 0
    if args.simulate:
        for _, _, notes, truth in sessions:
            machine = simulated_answer(notes, oracle=player_grid(notes, truth, True)[0] if args.oracle else None)
            results["heard"].append(measure(machine, notes, truth))
            results["heard, rendered beats"].append(measure(machine, notes, truth, continued=False))
        report(results)
        return 0
    with tempfile.TemporaryDirectory() as tmp, jack_server() as env:
        for bpm, name, notes, truth in sessions:
            played = Path(tmp) / "played.mid"
            write_notes(played, [NoteMessage(t, p, v) for t, p, v in notes])
            for way, extra in (("heard", []), ("fixed", ["--fixed-tempo"])):
                recorded = Path(tmp) / f"{way}.mid"
                recorded.unlink(missing_ok=True)  # (segue never records over a take)
                done = subprocess.run([sys.executable, "-m", "segue.daemon.cli", "jam", "--backend", "jack",
                                       "--seed", "1", "--replay", str(played), "--record", str(recorded), *extra],
                                      env=env, capture_output=True, text=True, timeout=180)
                if done.returncode:
                    print(f"{name} {bpm} {way}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
                    continue
                machine = recorded_answer(recorded, notes)
                got = measure(machine, notes, truth)
                rendered = measure(machine, notes, truth, continued=False)
                results[way].append(got)
                results[way + ", rendered beats"].append(rendered)
                print(f"{name[:40]:40s} {bpm:4d} bpm {way:6s} " +
                      ("no answer" if got is None else f"on the eighth grid {got[0]:.2f} (the rendering's "
                                                        f"beats {rendered[0]:.2f}), spacing {got[1]:.1%} "
                                                        f"from a ratio"), flush=True)
    report(results)
    return 0


def report(results) -> None:
    for way, rows in results.items():
        answered = [r for r in rows if r is not None]
        if not answered:
            continue
        print(f"{way}: {len(rows)} replays, {len(rows) - len(answered)} without an answer; median share on the "
              f"player's eighth grid {statistics.median(r[0] for r in answered):.2f} (mean "
              f"{statistics.mean(r[0] for r in answered):.2f}); median spacing "
              f"{statistics.median(r[1] for r in answered if r[1] == r[1]):.1%} from a musical ratio")


if __name__ == "__main__":
    sys.exit(main())
