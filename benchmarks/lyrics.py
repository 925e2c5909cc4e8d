"""Lyric model speed on one thread: characters per second, and the cost of a sung line in a jam.

    python benchmarks/lyrics.py [--model M] [--chars 2000] [--lines 200] [--titles CORPUS --runs 50]

`segue lyrics` throughput (prime, then top-k 5 sampling, every character stepped through
onnxruntime with intra-op threads = 1), and the time `segue jam --lyrics` spends writing a line
of 12 syllables after an answer's notes are scheduled. With `--titles`, also how many of the lines
`segue lyrics` prints (no prime, 4 lines, `--runs` seeds) are a tune's name from the corpus (each
block's first line) rather than a line of lyrics. Prints one table; docs quote it.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from segue.daemon.models.lyric import LyricModel, LyricsConfig, sung_line, write
from segue.daemon.models.sampling import GumbelNoise, Sampling


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="Lyric model (default: the shipped one).")
    ap.add_argument("--chars", type=int, default=2000)
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--syllables", type=int, default=12)
    ap.add_argument("--titles", help="a ci corpus (blocks opening with a tune's name): count printed titles")
    ap.add_argument("--runs", type=int, default=50, help="seeds of `segue lyrics` for --titles")
    args = ap.parse_args()
    net = LyricModel(args.model)
    print(f"# {net.path.name} ({os.path.getsize(net.path) / 1e6:.1f} MB), {platform.machine()}, "
          f"{os.cpu_count()} cores, onnxruntime intra-op threads 1")
    rates = []
    for seed in range(3):
        text, seconds = write(net, "明月", LyricsConfig(seed=seed), chars=args.chars)
        rates.append(len(text) / seconds)
    print(f"segue lyrics: {np.median(rates):.0f} characters/s (median of 3 runs of {args.chars}; "
          f"min {min(rates):.0f}, max {max(rates):.0f})")
    stream, noise, cost = net.stream(), GumbelNoise(0), []
    stream.feed("明月")
    for _ in range(args.lines):
        start = time.perf_counter()
        sung_line(stream, args.syllables, Sampling(top_k=5), noise)
        cost.append((time.perf_counter() - start) * 1000)
    print(f"a sung line of {args.syllables} syllables (jam --lyrics): p50 {np.percentile(cost, 50):.2f} ms, "
          f"p99 {np.percentile(cost, 99):.2f} ms over {args.lines} lines")

    if args.titles:
        from segue.daemon.formats.text import read_corpus

        names = {b.strip().split("\n", 1)[0].strip() for b in read_corpus(args.titles).split("\n\n") if b.strip()}
        printed = [line.strip() for seed in range(args.runs)
                   for line in write(net, None, LyricsConfig(seed=seed), lines=4)[0].split("\n") if line.strip()]
        titles = [line for line in printed if line in names]
        print(f"segue lyrics, {args.runs} runs of 4 lines: {len(titles)} of {len(printed)} printed lines are tune names"
              + (f" (e.g. {', '.join(sorted(set(titles))[:5])})" if titles else ""))


if __name__ == "__main__":
    main()
