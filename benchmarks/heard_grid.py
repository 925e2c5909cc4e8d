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
    python benchmarks/heard_grid.py --tunes 24 --split valid --simulate --engine-seeds 5   # steadier: 50 s
    python benchmarks/heard_grid.py --tunes 24 --ceiling    # what the player's timing allows
    python benchmarks/heard_grid.py --tunes 24 --simulate --guess 0.9   # with --bpm 10 % under the player's

A replay's share swings with what the model chooses to play as well as with the beat (an answer of
sixteenths is half off the eighth grid however well timed): the simulated figure over several
engine seeds (--engine-seeds) is the one to tune on; one run through JACK is one draw.

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


def guessed(bpm: float, notes, truth, share: float | None) -> list[str]:
    """The jam's --bpm for a first guess of the session's tempo `bpm` times `share` (None: no
    option). --bpm counts quarter notes: a jig's dotted-quarter beat at 66 is --bpm 99."""
    if not share:
        return []
    quarters = 1.5 if eighths_in_a_beat(notes, truth) == 3 else 1.0
    return ["--bpm", f"{bpm * quarters * share:.1f}"]


def simulated_answer(played, seed: int = 1, oracle: np.ndarray | None = None, heard: list | None = None,
                     bpm: tuple = ()) -> list[float]:
    """The machine's onsets when the jam engine (the CLI's defaults, the shipped model) hears
    `played` on a clock the benchmark moves, with no ports: each note sent exactly when due. For
    tuning in seconds what the replays through JACK measure in minutes; it is not the figure.
    `oracle`: the player's beats (seconds, as `played`), handed to the engine in place of what its
    tracker hears (the ceiling of everything after the tracker). `heard`: a list to which the tracker's
    beat (seconds), its division and whether the jam followed it are appended as the last answer
    begins. `bpm`: the jam's --bpm options (the tracker's first guess: `guessed`)."""
    import mido
    from clocks import FakeClock, drive
    from segue.daemon import cli
    from segue.daemon.cli_options import table
    from segue.daemon.live.engine import Engine
    from segue.daemon.live.scheduler import Scheduler
    from segue.daemon.models import kinds

    config, policy, _ = cli._jam_setup(table.check("jam", cli.jam.make_context("jam", ["--seed", str(seed), *bpm]).params))
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
    before, end, sent_before = engine.answers, clock.now + 60, len(sent)
    while clock.now < end and not (engine.answers > before and not engine.answering):
        drive(engine, until=clock.now + 0.005)
        if heard is not None and len(sent) > sent_before:
            tracker = engine.timeline.tempo.heard.tracker
            heard.append((tracker.beat_seconds, tracker.division, engine.timeline.tracked))
            heard, sent_before = None, float("inf")
    scheduler.close()
    return [t - start for t, m in sent if m.type == "note_on" and m.velocity]


def level(heard, played, truth) -> str:
    """The tracker's beat against the player's, as a musician would name it: 'the player's beat',
    '2x' (twice their tempo), '3:2', ...; 'in halves' where a dotted-quarter beat is heard in halves,
    'not followed' when the jam did not follow the tracker."""
    beat_seconds, division, followed = heard
    if not followed:
        return "not followed"
    _, beat = player_grid(played, truth, True)
    ratio = beat / beat_seconds
    named = next((name for r, name in ((1, "the player's beat"), (2, "2x"), (1.5, "3:2"), (3, "3x"), (0.5, "1:2"),
                                          (4, "4x"), (2 / 3, "2:3"), (0.75, "3:4"), (4 / 3, "4:3"))
                  if abs(math.log(ratio / r)) < 0.08), f"{ratio:.2f}x")
    parts = eighths_in_a_beat(played, truth)
    return named + (" in halves" if parts == 3 and division == 2 and named == "the player's beat" else "")


def told(tracker, beats: np.ndarray, clock) -> None:
    """Make `tracker` say `beats` (an oracle): sure of them, bars of 4, halves of the beat."""
    index = np.arange(len(beats), dtype=float)

    def at(t):
        return float(np.interp(t, beats, index))

    tracker.__class__ = type("Told", (tracker.__class__,), {
        "beat_seconds": property(lambda self: float(np.interp(clock(), beats[1:], np.diff(beats)))),
        "known": property(lambda self: True),
        "division": property(lambda self: 2),
        "confidence": lambda self, now=None, sounded=None: 1.0,
        "next_beat": lambda self, after, n=1.0: float(np.interp(math.ceil(at(after) / n - 1e-9) * n, index, beats)),
        "position": lambda self, t: (at(t) % 4, 4),
    })


def notated_places():
    """Record, for every piece the corpus renders from here on, each onset's notated place in beats
    (in the order of its rendered onsets): what `fitted_answer` is told. Returns the list it fills."""
    from segue.training import beat_data

    places, render = [], beat_data.render

    def recording(onsets_q, lengths_q, pitches, beats_q, *rest, **kw):
        places.append(np.sort(np.interp(np.asarray(onsets_q, float), np.asarray(beats_q, float),
                                        np.arange(len(beats_q), dtype=float))))
        return render(onsets_q, lengths_q, pitches, beats_q, *rest, **kw)

    beat_data.render = recording
    return places


def fitted_line(played, places) -> tuple[float, float, float]:
    """The best line a listener could fit to the player's onsets: each onset's notated place known
    (`places`, in beats: the level and the rhythm, sixteenths and triplets, given), weighted least
    squares through those of the last 8 beats, the last 4 counting most (the tracker's FIT
    constants). (time of beat 0, beat period, the place of the last onset)."""
    from segue.daemon.models.beat import FIT_BEATS, FIT_MEMORY

    onsets = np.array([t for t, _, v in played if v])
    place = places[:len(onsets)]  # the rendered onsets are in notated order (a melody: one at a time)
    now = place[-1]
    near = place > now - FIT_BEATS
    weight = np.sqrt(np.exp(-(now - place[near]) / FIT_MEMORY))
    rows = np.vstack([np.ones(near.sum()), place[near]]).T * weight[:, None]
    (start, beat), *_ = np.linalg.lstsq(rows, onsets[near] * weight, rcond=None)
    return float(start), float(beat), float(now)


def fitted_answer(played, truth, places) -> list[float]:
    """An answer of eighths on `fitted_line`, from the second beat after the last note, 8 beats long."""
    start, beat, now = fitted_line(played, places)
    parts = eighths_in_a_beat(played, truth)
    return list(start + beat * np.arange(math.ceil(now) + 1, math.ceil(now) + 9, 1 / parts))


def fitted_beats(played, truth, places) -> np.ndarray:
    """The player's beats up to their last note, then on along `fitted_line` (for --oracle fit)."""
    start, beat, now = fitted_line(played, places)
    last = max(t for t, _, v in played if v)
    k = np.arange(math.ceil(now) + 200)
    return np.where(start + beat * k <= last, np.interp(k, np.arange(len(truth)), truth, right=np.nan), start + beat * k)


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
                        help="No engine: the player's own onsets on their grid, and an answer of eighths on a "
                             "line fitted to them with each onset's notated place known (the level and the "
                             "rhythm given: what a tracker could reach).")
    parser.add_argument("--engine-seeds", type=int, default=1,
                        help="With --simulate: the engine's sampling seeds 1..N, every replay under each.")
    parser.add_argument("--oracle", choices=["beats", "fit"],
                        help="With --simulate: the engine is handed the player's beats instead of what it hears "
                             "(beats: their grid as measured; fit: their beats to their last note, then on "
                             "along the --ceiling line, the best a listener could carry on).")
    parser.add_argument("--guess", type=float, help="Give the jam --bpm: the session's tempo in quarter notes times "
                        "this (1: right, 0.9: 10 %% slow); the tracker's first guess, which sets the level it hears "
                        "the beat at.")
    parser.add_argument("--no-ear", action="store_true",
                        help="With --simulate: the tracker without its learned ear (its own salience alone).")
    args = parser.parse_args()
    if args.no_ear:
        if not args.simulate:
            parser.error("--no-ear is for --simulate (the replays run the installed segue)")
        from segue.daemon.models import beat

        beat.PointerTracker.__init__ = partialmethod(beat.PointerTracker.__init__, salience=False)
    rng = np.random.default_rng(args.seed)
    places = notated_places() if args.ceiling or args.oracle == "fit" else None
    pieces = list(B.corpus_pieces(args.split, args.tunes, rng))
    sessions = [(bpm, *tune_at(piece, bpm, rng)) for piece in pieces for bpm in TEMPI]  # (bpm, name, notes, truth)
    notated = [p for p in places for _ in TEMPI] if places is not None else [None] * len(sessions)  # as sessions
    results = {"heard": [], "fixed": [], "heard, rendered beats": [], "fixed, rendered beats": []}
    if args.ceiling:
        results = {"the player's own onsets": [], "an answer on the best fit to them": []}
        for (_, _, notes, truth), place in zip(sessions, notated):
            results["the player's own onsets"].append(measure([t for t, _, v in notes if v], notes, truth))
            results["an answer on the best fit to them"].append(measure(fitted_answer(notes, truth, place), notes, truth))
        report(results)
        return 0
    if args.simulate:
        levels: dict[str, list] = {}
        for seed, ((session_bpm, _, notes, truth), place) in ((s, pair) for s in range(1, args.engine_seeds + 1)
                                                    for pair in zip(sessions, notated)):
            oracle = (player_grid(notes, truth, True)[0] if args.oracle == "beats" else
                      fitted_beats(notes, truth, place) if args.oracle == "fit" else None)
            heard: list = []
            machine = simulated_answer(notes, seed, oracle=oracle, heard=heard,
                                       bpm=guessed(session_bpm, notes, truth, args.guess))
            results["heard"].append(measure(machine, notes, truth))
            results["heard, rendered beats"].append(measure(machine, notes, truth, continued=False))
            if heard and results["heard"][-1] is not None:
                levels.setdefault(level(heard[0], notes, truth), []).append(results["heard"][-1][0])
        report(results)
        print("by the beat the tracker heard as the last answer began, against the player's ('2x': twice their "
              "tempo; 'in halves': a jig's dotted quarter heard in halves): replays, their mean share on the grid")
        for name, shares in sorted(levels.items(), key=lambda kv: -len(kv[1])):
            print(f"  {name}: {len(shares)}, {statistics.mean(shares):.2f}")
        return 0
    with tempfile.TemporaryDirectory() as tmp, jack_server() as env:
        for bpm, name, notes, truth in sessions:
            played = Path(tmp) / "played.mid"
            write_notes(played, [NoteMessage(t, p, v) for t, p, v in notes])
            for way, extra in (("heard", []), ("fixed", ["--fixed-tempo"])):
                recorded = Path(tmp) / f"{way}.mid"
                recorded.unlink(missing_ok=True)  # (segue never records over a take)
                done = subprocess.run([sys.executable, "-m", "segue.daemon.cli", "jam", "--backend", "jack",
                                       "--seed", "1", "--replay", str(played), "--record", str(recorded), *extra,
                                       *guessed(bpm, notes, truth, args.guess)],
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
