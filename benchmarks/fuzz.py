"""The fuzz properties of tests/test_fuzz.py (MIDI primes, model metadata, jam config files), run far
longer than the suite's fixed budget, with fresh random examples each time.

    python benchmarks/fuzz.py [--examples 2000]

Prints pytest's summary: a failure shows the smallest example hypothesis found.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per property")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "SEGUE_FUZZ_PROFILE": "long", "SEGUE_FUZZ_EXAMPLES": str(args.examples)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests" / "test_fuzz.py")],
                          cwd=root, env=env)
    print(f"{args.examples:,} examples per property in {time.monotonic() - started:.0f} s")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
