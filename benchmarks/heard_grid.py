"""Answers in the player's time with no clock: held-out tunes replayed through JACK at 66, 96 and
132 bpm with human timing, no MIDI clock, no Link, no --bpm; the share of segue's answer onsets
within 40 ms of the player's eighth-note grid (halves of the beat; thirds where the beat is a
dotted quarter, as in a jig), and how far the answer's median note spacing is from a musical ratio
(1/2, 1, 3/2, 2, 3) of the player's eighth. Beside it, --fixed-tempo (no
beat tracking: the behaviour before the tracker).

    python benchmarks/heard_grid.py --tunes 8        # 8 tunes x 3 tempi x (heard, fixed): about 12 min

Needs jackd (apt-get install jackd2) and the melody corpus (segue data melodies runs/melodies).
"""
from __future__ import annotations

import argparse
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


def measure(recorded: Path, played, truth):
    midi_player = read_notes(recorded, track=0)
    machine = [n.time for n in read_notes(recorded, track=1) if n.velocity]
    first_played = next(t for t, _, v in played if v)
    first_heard = next(n.time for n in midi_player if n.velocity)
    shift = first_heard - first_played  # the recording's clock against the file's
    beat = float(np.median(np.diff(truth[-8:])))
    grid = np.concatenate([truth, truth[-1] + beat * np.arange(1, 200)])
    parts = eighths_in_a_beat(played, truth)
    eighths = np.sort(np.concatenate([grid] + [grid[:-1] + k / parts * np.diff(grid) for k in range(1, parts)]))
    eighths = eighths + shift
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
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    pieces = list(B.corpus_pieces("test", args.tunes, rng))
    results = {"heard": [], "fixed": []}
    with tempfile.TemporaryDirectory() as tmp, jack_server() as env:
        for piece in pieces:
            for bpm in TEMPI:
                name, notes, truth = tune_at(piece, bpm, rng)
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
                    got = measure(recorded, notes, truth)
                    results[way].append(got)
                    print(f"{name[:40]:40s} {bpm:4d} bpm {way:6s} " +
                          ("no answer" if got is None else f"on the eighth grid {got[0]:.2f}, spacing {got[1]:.1%} "
                                                            f"from a ratio"), flush=True)
    for way, rows in results.items():
        answered = [r for r in rows if r is not None]
        print(f"{way}: {len(rows)} replays, {len(rows) - len(answered)} without an answer; median share on the "
              f"player's eighth grid {statistics.median(r[0] for r in answered):.2f}; median spacing "
              f"{statistics.median(r[1] for r in answered if r[1] == r[1]):.1%} from a musical ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
