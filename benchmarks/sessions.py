"""Start, replay, stop: many short `segue jam` sessions in a row, each recording, each checked.

    python benchmarks/sessions.py --runs 200                   # the four modes in turn
    python benchmarks/sessions.py --runs 20 --only harmonize

Each session replays a short phrase of chords (harmonize: chorale-nade) or a melody (call and
continuous: folk) through its own JACK server's ports, records, and ends by itself after the
answer (accompany: pop under the melody, the part resting a bar after it). A session holds when it exits 0 within its time, its recording holds the player's notes
and the machine's, and every machine note it recorded is released. Prints one line per failure
and a summary; the exit code is the number of sessions that did not hold.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from segue.daemon.formats.midifile import NoteMessage, read_notes, write_notes
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the JACK test harness
from jackprobe import jack_server  # noqa: E402

MODES = {"harmonize": ["--mode", "harmonize", "--model", "chorale-nade", "--bpm", "120"],
         "call": ["--mode", "call", "--model", "folk", "--length", "8"],
         "continuous": ["--mode", "continuous", "--model", "folk", "--length", "1s"],
         "accompany": ["--mode", "accompany", "--model", "pop", "--bpm", "120", "--length", "1bar"]}
CHORDS = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)]
MELODY = [67, 69, 71, 72, 74, 72, 71, 69]


def phrase(mode: str) -> list[NoteMessage]:
    notes = []
    if mode == "harmonize":
        for i, chord in enumerate(CHORDS):
            notes += [NoteMessage(i * 0.5 + d, p, 0 if d else 80, 0) for p in chord for d in (0.0, 0.45)]
    else:
        notes = [NoteMessage(i * 0.25 + d, p, 0 if d else 80, 0) for i, p in enumerate(MELODY) for d in (0.0, 0.2)]
    return sorted(notes, key=lambda n: (n.time, n.velocity > 0))


def held(take: Path) -> str | None:
    """Why a take is not whole (None: it is)."""
    try:
        notes = read_notes(take)
    except Exception as err:
        return f"unreadable ({err})"
    channels = {n.channel for n in notes}
    if len(channels) < 2:
        return f"one part only (channels {sorted(channels)})"
    open_notes: dict = {}
    for n in notes:
        key = (n.channel, n.pitch)
        open_notes[key] = open_notes.get(key, 0) + (1 if n.velocity else -1)
    stuck = [k for k, v in open_notes.items() if v > 0 and k[0] != 0]
    return f"machine notes never released: {stuck}" if stuck else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--only", choices=sorted(MODES))
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    modes = [args.only] if args.only else list(MODES)
    failed, exits, started = 0, {}, time.monotonic()
    with tempfile.TemporaryDirectory() as folder, jack_server() as env:
        folder = Path(folder)
        replays = {m: folder / f"{m}.mid" for m in modes}
        for m in modes:
            write_notes(replays[m], phrase(m))
        for run in range(args.runs):
            mode = modes[run % len(modes)]
            take = folder / f"take-{run}.mid"
            command = [sys.executable, "-m", "segue.daemon.cli", "jam", "--backend", "jack", "--channel", "1",
                       "--replay", str(replays[mode]), "--record", str(take), "--no-status", *MODES[mode]]
            try:
                done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout)
                code, log = done.returncode, done.stderr
            except subprocess.TimeoutExpired as err:
                code, log = "timeout", (err.stderr or b"").decode(errors="replace")
            exits[code] = exits.get(code, 0) + 1
            why = f"exit {code}" if code != 0 else held(take)
            if why:
                failed += 1
                last = log.strip().splitlines()[-1] if log.strip() else ""
                print(f"session {run} ({mode}): {why}; {last}", flush=True)
    took = time.monotonic() - started
    print(f"{args.runs} sessions ({', '.join(modes)}) in {took:.0f} s: {args.runs - failed} held, {failed} did not; "
          f"exit codes {dict(sorted(exits.items(), key=str))}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
