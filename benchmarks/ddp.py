"""Training throughput in 1 and in N processes on this machine (torchrun, gloo), per trainer.

    python benchmarks/ddp.py                       # melody, rnnnade, lyrics; 1 and 2 processes
    python benchmarks/ddp.py --trainers metrical --corpus runs/melodies --seconds 120

Each run is a real `segue train KIND ... --nproc N --time-limit S`, timed by the trainer itself:
the rate is examples (training windows, chunks or lines of characters; their size is printed)
over the seconds spent in optimiser steps, validation and start-up left out, in examples per
second. One process uses torch's default threads (every core) unless the column says one thread;
under torchrun each process gets one (OMP_NUM_THREADS=1).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# trainer: (arguments after `segue train KIND`, what one example is)
RUNS = {
    "melody": ([DATA / "midi" / "allegroconspirito.mid", DATA / "midi" / "krebs.mid", "--epochs", "1000"],
               "a window of 64 events"),
    "rnnnade": ([DATA / "polyphonic" / "nottingham.json", "--epochs", "1000"], "a chunk of 100 frames"),
    "lyrics": ([DATA / "lyrics" / "songci.txt", "--epochs", "1000", "--hidden", "256"], "a line of 20 characters"),
    "metrical": (["CORPUS", "--epochs", "1000"], "a window of 128 events"),
}


def measure(kind: str, nproc: int, seconds: float, corpus: str | None, one_thread: bool = False) -> dict:
    args, _ = RUNS[kind]
    args = [corpus if a == "CORPUS" else str(a) for a in args]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"{kind}.pt"
        command = [sys.executable, "-m", "segue.daemon.cli", "train", kind, *args, "--out", str(out), "-q",
                   "--nproc", str(nproc), "--time-limit", f"{seconds}s"]
        started = time.perf_counter()
        env = {**os.environ, **({"OMP_NUM_THREADS": "1"} if one_thread else {})}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        record = torch.load(out, weights_only=True)["resume"]
    import json

    history = json.loads(record["extra"])["history"]
    row = history[-1]
    return {"rate": row["examples_per_s"], "steps": row["steps"], "wall": wall}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainers", nargs="+", default=["melody", "rnnnade", "lyrics"], choices=list(RUNS))
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=60.0, help="Time limit of each run.")
    parser.add_argument("--corpus", help="The melody corpus (segue data melodies) for the metrical trainer.")
    args = parser.parse_args(argv)
    if "metrical" in args.trainers and not args.corpus:
        parser.error("the metrical trainer needs --corpus")
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, torch {torch.__version__}, "
          f"{args.seconds:g} s per run")
    print("| trainer | one example | 1 process, 1 thread | " + " | ".join(f"{n} process(es)" for n in args.nproc)
          + f" | {args.nproc[-1]} processes against 1 thread | against {args.nproc[0]} |")
    print("|---" * (5 + len(args.nproc)) + "|")
    for kind in args.trainers:
        single = measure(kind, 1, args.seconds, args.corpus, one_thread=True)["rate"]
        rates = [measure(kind, n, args.seconds, args.corpus)["rate"] for n in args.nproc]
        print(f"| {kind} | {RUNS[kind][1]} | {single:.1f} | " + " | ".join(f"{r:.1f}" for r in rates)
              + f" | {rates[-1] / single:.2f}x | {rates[-1] / rates[0]:.2f}x |", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
