"""SIGKILL at random points of recorded jams: does every recovered take hold the player's notes?

Each take: `segue jam --record` on a private JACK server, a player playing phrases (8 notes a
second, a pause after each so segue answers), SIGKILL at a random moment 1.5-8 s in, then
`segue recover`. Every player note-on sent more than 1 s before the kill must be in the recovered
take, in order (the journal is flushed every second: a kill may lose the last second, no more).

    python benchmarks/kill_takes.py [--takes 50] [--seed 0] [--dir /tmp]

Prints one line per take that lost more, and a summary line.
"""
from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido

sys.path.insert(0, str(Path(__file__).parent))
from reliability import Jam  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the JACK test harness
from jackprobe import jack_server  # noqa: E402  # noqa: E402

FLUSHED = 1.0  # seconds: what a kill may lose


def take(env, path: Path, rng: random.Random) -> tuple[int, int, list[int]]:
    """(player note-ons sent before kill - FLUSHED, how many of them were recovered, the lost ones' indices)."""
    jam = Jam(env, "--record", str(path))
    out = jam.probe.outport
    kill_at = time.monotonic() + rng.uniform(1.5, 8.0)
    sent: list[tuple[float, int]] = []
    i = 0
    while time.monotonic() < kill_at:
        for _ in range(rng.randint(3, 9)):  # a phrase
            pitch = 55 + rng.randrange(20)
            out.send(mido.Message("note_on", note=pitch, velocity=80))
            sent.append((time.monotonic(), pitch))
            time.sleep(0.1)
            out.send(mido.Message("note_on", note=pitch, velocity=0))
            time.sleep(0.025)
            i += 1
            if time.monotonic() >= kill_at:
                break
        pause = time.monotonic() + rng.uniform(0.2, 1.2)  # segue answers the longer pauses
        while time.monotonic() < min(pause, kill_at):
            time.sleep(0.01)
    killed = time.monotonic()
    jam.stop(signal.SIGKILL)
    done = subprocess.run([sys.executable, "-m", "segue.daemon.cli", "recover", str(path)], capture_output=True,
                          text=True, timeout=60)
    if done.returncode != 0:
        return len(sent), 0, list(range(len(sent)))
    player = [m.note for m in mido.MidiFile(path).tracks[0] if m.type == "note_on" and m.velocity]
    due = [p for t, p in sent if t < killed - FLUSHED]
    # every due note, in order, at the start of what was recovered
    lost = [k for k, p in enumerate(due) if k >= len(player) or player[k] != p]
    return len(due), len(due) - len(lost), lost


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=None, help="where the takes go (default: a temporary folder)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    bad, due_all, kept_all = 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp, jack_server() as env:
        folder = Path(args.dir or tmp)
        for n in range(args.takes):
            due, kept, lost = take(env, folder / f"kill-{args.seed}-{n}.mid", rng)
            due_all, kept_all = due_all + due, kept_all + kept
            if lost:
                bad += 1
                print(f"take {n}: {kept} of {due} player notes recovered; lost from note {lost[0]}", flush=True)
    print(f"{args.takes} takes killed: {args.takes - bad} whole up to the last second; "
          f"{kept_all:,} of {due_all:,} player notes sent more than {FLUSHED:g} s before the kill recovered")
    return bad


if __name__ == "__main__":
    sys.exit(main())
