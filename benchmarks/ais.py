"""How many AIS runs and temperatures the RNN-RBM's log-likelihood needs: estimates against the paper's 100 x 1000.

    python benchmarks/ais.py CHECKPOINT [DATA.json] [--frames 200] [--settings 100x1000,10x100,...]

Each frame's log p(v_t | past) = -F_t(v_t) - log Z_t, with log Z_t estimated by annealed
importance sampling (training/rnnrbm.py). The estimator is checked against exact partition
functions in tests/test_rnnrbm.py; this prints, on real test frames, how far cheaper settings
land from the first setting (by default the paper's 100 runs x 1000 temperatures), and what
each costs on one thread. AIS over-estimates log-likelihood when its chain has not converged, so
an estimate that keeps falling as temperatures are added is not yet to be trusted.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from segue.daemon.formats import pianoroll
from segue.training import polyphony
from segue.training.rnnrbm import log_partition_ais

JSB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "polyphonic" / "jsb_chorales.json"
SETTINGS = ((100, 1000), (10, 100), (10, 300), (20, 300), (50, 500), (10, 1000))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data", nargs="?", default=str(JSB))
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--settings", default=",".join(f"{r}x{b}" for r, b in SETTINGS),
                        help="RUNSxTEMPERATURES,...; the first is the reference")
    args = parser.parse_args(argv)
    settings = [tuple(int(x) for x in item.split("x")) for item in args.settings.split(",")]
    torch.set_num_threads(1)
    model, _ = polyphony.load(args.checkpoint)
    rolls = pianoroll.load_json(args.data, splits=("test",))["test"]
    with torch.no_grad():
        vs, us, total = [], [], 0
        for roll in rolls:
            v = torch.from_numpy(roll.astype(np.float32))
            vs.append(v), us.append(model.run(v[None])[0])
            total += len(roll)
            if total >= args.frames:
                break
        v, u = torch.cat(vs)[:args.frames], torch.cat(us)[:args.frames]
        bv, bh = model.biases(u)
        neg_free = -model.free_energy(v, bv, bh)
        reference = None
        print(f"{args.checkpoint}: {len(v)} test frames of {Path(args.data).name}, one thread")
        for runs, betas in settings:
            started = time.perf_counter()
            log_z = log_partition_ais(model.W, bv, bh, runs, betas, generator=torch.Generator().manual_seed(1))
            seconds = time.perf_counter() - started
            ll = float((neg_free - log_z).mean())
            reference = ll if reference is None else reference
            print(f"  {runs:4d} runs x {betas:5d} temperatures: LL {ll:8.4f} nats/frame "
                  f"(vs {settings[0][0]} x {settings[0][1]}: {ll - reference:+.4f}), {seconds / len(v) * 1000:6.2f} ms per frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
