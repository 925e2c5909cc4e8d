"""Frame accuracy of an RNN-RBM under different predictions of each frame (no likelihood; seconds).

    python benchmarks/accuracy.py CHECKPOINT DATA.json [--split test]

The paper does not say how it predicts a frame for its accuracy column. Given the true past,
this scores TP / (TP + FP + FN) for Gibbs chains (25 steps) started from zeros (how `segue
generate` samples) or from the previous true frame. Each start is scored three ways: one
sample, the mean-field fixed point thresholded at 0.5, and a per-key majority of 9 samples.
Last, the expected-accuracy decoding of `segue eval`: each key's probability from 20 chains
started at the previous frame, above the threshold that scores best on the valid split. Its
chains can be longer (--steps, --keep) or replica exchanges over several temperatures
(--temperatures, --lowest; `RNNRBM.marginals`), for models whose chains do not mix in 25 steps.
--reconstruct also starts chains at the frame being predicted: not a prediction (the chain
starts at the answer; it is the CD-k chain of training), but one way a published RBM accuracy
could have been measured, so it is here to compare with. The chains are random: --draws N
repeats the decoding with N seeds (--seed, --seed + 1, ...) and prints their mean and spread,
so that a claim at the 0.1-point level can be checked against the noise.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from segue.daemon.formats import pianoroll
from segue.training import polyphony


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data")
    parser.add_argument("--split", default="test")
    parser.add_argument("--steps", type=int, default=25, help="Gibbs steps of every chain.")
    parser.add_argument("--keep", type=int, default=10,
                        help="Expected-accuracy decoding: average the last this many steps of each chain.")
    parser.add_argument("--temperatures", type=int, default=1,
                        help="Expected-accuracy decoding: replica exchange over this many temperatures (1: plain chains).")
    parser.add_argument("--lowest", type=float, default=0.5, help="The hottest copy's inverse temperature.")
    parser.add_argument("--draws", type=int, default=1,
                        help="Expected-accuracy decoding: repeat it with this many seeds and print mean and spread.")
    parser.add_argument("--seed", type=int, default=0, help="The first draw's seed.")
    parser.add_argument("--expected-only", action="store_true", help="Skip the six single-frame predictions.")
    parser.add_argument("--reconstruct", action="store_true",
                        help="Also score chains started at the true frame itself (a reconstruction, not a prediction).")
    args = parser.parse_args(argv)
    model, _ = polyphony.load(args.checkpoint)
    rolls = pianoroll.load_json(args.data, splits=(args.split,))[args.split]
    generator = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        v, bv, bh, prev = polyphony.rbm_frames(model, rolls)
        print(f"{args.checkpoint} on {args.data} {args.split} ({len(v)} frames), {args.steps} Gibbs steps")
        starts = () if args.expected_only else (("zeros", torch.zeros_like(v)), ("previous frame", prev))
        if args.reconstruct:
            starts += (("the frame itself", v),)
        for name, start in starts:
            sample = model.gibbs(start, bv, bh, args.steps, generator=generator)
            mean = start
            for _ in range(args.steps):
                mean = torch.sigmoid(torch.sigmoid(mean @ model.W + bh) @ model.W.T + bv)
            votes = torch.stack([model.gibbs(start, bv, bh, args.steps, generator=generator) for _ in range(9)])
            scores = [pianoroll.frame_accuracy(x.numpy() > 0.5, v.numpy()) * 100
                      for x in (sample, mean, votes.mean(0))]
            print(f"  from {name:<16} sample {scores[0]:6.2f} %   mean-field {scores[1]:6.2f} %   "
                  f"majority of 9 {scores[2]:6.2f} %")
        if args.split != "valid":
            tune = pianoroll.load_json(args.data, splits=("valid",))["valid"]
            _, tune_bv, tune_bh, tune_prev = polyphony.rbm_frames(model, tune)
            chain = dict(steps=args.steps, keep=args.keep, temperatures=args.temperatures, lowest=args.lowest)
            figures = []
            for draw in range(args.draws):
                started = time.perf_counter()
                if draw:  # the first draw goes on with the generator above, as before --draws existed
                    generator = torch.Generator().manual_seed(args.seed + draw)
                marginals = model.marginals(tune_prev, tune_bv, tune_bh, generator=generator, **chain).numpy()
                scores = pianoroll.expected_accuracy(model.marginals(prev, bv, bh, generator=generator, **chain).numpy(),
                                                     v.numpy(), (tune, marginals))
                figures.append(scores["accuracy_expected"] * 100)
                print(f"  expected-accuracy decoding ({args.steps} steps, the last {args.keep} averaged, "
                      f"{args.temperatures} temperature(s) down to {args.lowest if args.temperatures > 1 else 1}"
                      f"{f', seed {args.seed + draw}' if args.draws > 1 or args.seed else ''}): "
                      f"{figures[-1]:6.2f} % (keys above p = {scores['threshold']:.2f}, "
                      f"chosen on the valid split) [{time.perf_counter() - started:.0f} s]", flush=True)
            if len(figures) > 1:
                print(f"  {len(figures)} draws: mean {statistics.mean(figures):.2f} %, standard deviation "
                      f"{statistics.stdev(figures):.2f}, range {min(figures):.2f} to {max(figures):.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
