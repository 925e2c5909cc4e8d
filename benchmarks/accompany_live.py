"""The accompanist live: POP909 test melodies replayed into `segue jam --mode accompany` through JACK.

    python benchmarks/accompany_live.py runs/pop909 [--songs 8] [--beats 64] [--bpm-given | --no-bpm]

As a producer would try it: each held-out song's melody (BEATS beats from its first note, at the
song's own tempo) is played into `segue jam --mode accompany --replay ... --record take.mid` on a
private JACK server (dummy driver), with `--bpm` set to the song's tempo (the heard beat refines
it; `--no-bpm`: nothing given, the beat heard from the melody alone). The take's segue track is
put back on the song's beats (the replay's first note is the melody's first onset) and measured
as benchmarks/accompany.py measures a part (chord tones, melody harmony, follows, at once, above
the melody, lowest and mean, coverage), plus the share of segue's onsets within 40 ms of the song's
eighth-note grid. Medians over the songs. About a minute a song.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from accompany import measure  # noqa: E402
from segue.daemon.formats.midifile import read_notes  # noqa: E402
from segue.daemon.formats.notes import note_spans  # noqa: E402
from jackprobe import jack_server  # noqa: E402


def melody_file(path: Path, melody: np.ndarray, start: float, period: float) -> None:
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=round(period * 1e6))])
    events = []
    for onset, end, pitch in melody:
        events += [(onset - start, 1, int(pitch)), (end - start, 0, int(pitch))]
    last = 0
    for at, on, pitch in sorted(events, key=lambda e: (e[0], e[1])):
        tick = max(last, round(at * 480))
        track.append(mido.Message("note_on", note=pitch, velocity=90 if on else 0, time=tick - last))
        last = tick
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(path)


def take_rows(path: Path) -> tuple[list[tuple[float, float, int]], list[tuple[float, float, int]]]:
    """(player notes, segue notes) of a take (its tracks 0 and 1) as (onset, end, pitch) in seconds."""
    return tuple([(onset, end, pitch) for onset, end, pitch, _ in note_spans(read_notes(path, track=track))]
                 for track in (0, 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--beats", type=int, default=64)
    parser.add_argument("--no-bpm", action="store_true", help="give segue no tempo: the beat it hears alone")
    args = parser.parse_args()
    from segue.training import pop909

    results, grids = [], []
    with tempfile.TemporaryDirectory() as tmp, jack_server() as env:
        for song, notes in pop909.load(args.corpus, "test")[: args.songs]:
            melody = pop909.part_rows(notes, "MELODY")
            start = float(np.floor(melody[:, 0].min()))
            end = start + args.beats
            melody = melody[(melody[:, 0] >= start) & (melody[:, 0] < end)]
            period = float(np.median(np.diff(song.beats)))
            replay, take = Path(tmp) / f"{song.name}.mid", Path(tmp) / f"{song.name}-take.mid"
            melody_file(replay, melody, start, period)
            cmd = [sys.executable, "-m", "segue.daemon.cli", "jam", "--backend", "jack", "--mode", "accompany",
                   "--replay", str(replay), "--record", str(take), "--seed", "1", "--no-status",
                   *([] if args.no_bpm else ["--bpm", f"{60 / period:.2f}"])]
            subprocess.run(cmd, env=env, timeout=args.beats * period + 60, capture_output=True, text=True)
            player, ours = take_rows(take)
            first = min(t for t, _, _ in player)
            to_beats = lambda t: melody[:, 0].min() + (t - first) / period  # noqa: E731
            part = np.array([(to_beats(a), to_beats(b), p) for a, b, p in ours], float).reshape(-1, 3)
            results.append(measure(song, melody, part, start, end))
            eighth = period / 2
            onsets = (part[:, 0] - start) * period
            grids.append(float(np.mean(np.abs(onsets / eighth - np.round(onsets / eighth)) * eighth < 0.04))
                         if len(part) else 0.0)
            print(f"song {song.name}: {60 / period:.1f} bpm, {len(part)} notes, chord tones "
                  f"{results[-1]['chord tones']:.2f}, on the eighth grid {grids[-1]:.2f}", flush=True)
    print(f"{len(results)} test songs, {args.beats} beats each, replayed live"
          f"{' with no tempo given' if args.no_bpm else ' with --bpm at the song tempo'}; medians")
    for figure in results[0]:
        values = [r[figure] for r in results if r[figure] == r[figure]]
        print(f"  {figure:<18} {statistics.median(values):.2f}" if values else f"  {figure:<18} -")
    print(f"  {'on the eighth grid':<18} {statistics.median(grids):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
