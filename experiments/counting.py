"""The counting experiment of the seeds (SEEDS.md section 3): does a tiny RNN/GRU/LSTM learn 0^n 1^n?

    python experiments/counting.py --cell rnn --hidden 2 --train-max-n 10 --seeds 10
    python experiments/counting.py --cell lstm --hidden 1 --train-max-n 10 --seeds 10 --eval-max-n 100

Trains one model per seed on n = 1 .. --train-max-n (full batch, summed per-step cross-entropy),
then prints the seeds' table for the median seed (target after the first 1, the greedy
prediction, wrong positions) and, over all seeds, the largest n up to which every string is
right: the spread, not the best run. --plot DIR writes the hidden-state trajectory and, for an
LSTM, the gate activations of the median seed's model.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def run(job: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    import counting_model as counting

    config = counting.CountingConfig(**job["config"])
    started = time.perf_counter()
    model, losses = counting.train(config)
    upto, wrong = counting.correct_up_to(model, job["eval_max_n"])
    rows = [counting.after_first_one(model, n) for n in job["show"]]
    return {"seed": config.seed, "loss": losses[-1], "upto": upto, "wrong": wrong, "rows": rows,
            "seconds": time.perf_counter() - started, "state": model.state_dict()}


def plot(result: dict, config: dict, n: int, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import counting_model as counting

    model = counting.Counter(config["cell"], config["hidden"])
    model.load_state_dict(result["state"])
    trace = counting.trajectory(model, n)
    name = f"counting-{config['cell']}{config['hidden']}"
    written = []
    h = trace["h"]
    steps = np.arange(len(h))
    zeros = trace["input"] != counting.ONE  # START and the zeros: the count goes up
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    if h.shape[1] >= 2:  # the seeds' picture: one dynamical system per input symbol
        ax.plot(h[:, 0], h[:, 1], color="0.8", zorder=1)
        ax.scatter(h[zeros, 0], h[zeros, 1], c="tab:blue", label="after START / a 0 (counting up)", zorder=2)
        ax.scatter(h[~zeros, 0], h[~zeros, 1], c="tab:red", label="after a 1 (counting down)", zorder=2)
        for t in (0, n, len(h) - 1):
            ax.annotate(str(t), (h[t, 0], h[t, 1]), textcoords="offset points", xytext=(4, 4))
        ax.set_xlabel("h1"); ax.set_ylabel("h2")
    else:
        ax.plot(steps, h[:, 0], "o-")
        ax.set_xlabel("step"); ax.set_ylabel("h")
    ax.set_title(f"{config['cell'].upper()}-{config['hidden']} hidden state over 0^{n} 1^{n} (seed {result['seed']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / f"{name}-trajectory.png"
    fig.savefig(path); plt.close(fig)
    written.append(path)
    if config["cell"] == "lstm":
        fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
        labels = {"i": "input gate", "f": "forget gate", "o": "output gate", "g": "cell input g", "c": "cell state c",
                  "h": "output h"}
        for key, label in labels.items():
            ax.plot(steps, trace[key][:, 0], "o-" if key in "ch" else ".-", label=label, lw=2 if key in "ch" else 1)
        ax.axvline(n + 0.5, color="0.6", ls=":")
        ax.set_xticks(steps, ["S"] + ["0"] * n + ["1"] * n)
        ax.set_xlabel("input"); ax.set_title(f"LSTM-{config['hidden']} gates over 0^{n} 1^{n} (seed {result['seed']})")
        ax.legend(fontsize=7, ncol=3)
        fig.tight_layout()
        path = out / f"{name}-gates.png"
        fig.savefig(path); plt.close(fig)
        written.append(path)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", choices=["rnn", "gru", "lstm"], default="rnn")
    ap.add_argument("--hidden", type=int, default=2)
    ap.add_argument("--train-max-n", type=int, default=10)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--forget-bias", type=float, default=0.0, help="Added to the LSTM forget gate bias at the start.")
    ap.add_argument("--seeds", type=int, default=10, help="Seeds 0 .. N-1, one model each.")
    ap.add_argument("--eval-max-n", type=int, default=40)
    ap.add_argument("--show", default="1,5,10,13,15,20,30", help="n values in the printed table.")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--plot", type=Path, help="Folder for the trajectory (and gate) plots.")
    ap.add_argument("--plot-n", type=int, default=8)
    args = ap.parse_args(argv)
    show = [int(x) for x in args.show.split(",") if int(x) <= args.eval_max_n]
    config = dict(cell=args.cell, hidden=args.hidden, train_max_n=args.train_max_n, steps=args.steps, lr=args.lr,
                  forget_bias=args.forget_bias)
    jobs = [{"config": dict(config, seed=s), "eval_max_n": args.eval_max_n, "show": show} for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, jobs))
    ranked = sorted(results, key=lambda r: (r["upto"], -r["loss"]))
    median = ranked[(len(ranked) - 1) // 2]
    print(f"# {args.cell.upper()}-{args.hidden}, trained on n = 1..{args.train_max_n}, {args.steps} full-batch Adam "
          f"steps (lr {args.lr}, cosine to 0), {args.seeds} seeds; command: python {' '.join(sys.argv)}\n")
    print(f"Median seed ({median['seed']}): the n symbols after the first 1 (n - 1 ones, then E = end)\n")
    print("| n | target | greedy prediction | wrong |")
    print("|---|---|---|---|")
    for n, (target, guess, wrong) in zip(show, median["rows"]):
        print(f"| {n} | {target} | {guess} | {wrong} |")
    print(f"\n| seed | final loss (nats/string) | correct for every n up to | wrong positions at n = 1..{min(args.eval_max_n, 30)} |")
    print("|---|---|---|---|")
    for r in sorted(results, key=lambda r: r["seed"]):
        print(f"| {r['seed']} | {r['loss']:.3f} | {r['upto']} | {' '.join(map(str, r['wrong'][:30]))} |")
    uptos = [r["upto"] for r in results]
    beyond = sum(u > args.train_max_n for u in uptos)
    print(f"\ncorrect up to: median {statistics.median(uptos):g}, min {min(uptos)}, max {max(uptos)} "
          f"(of {len(uptos)} seeds; {sum(u >= args.train_max_n for u in uptos)} cover the training range, "
          f"{beyond} go beyond it); the loss floor is ln({args.train_max_n}) = "
          f"{__import__('math').log(args.train_max_n):.3f} nats/string (which n it is cannot be known from the zeros "
          f"alone); {statistics.mean(r['seconds'] for r in results):.0f} s per seed")
    if args.plot:
        args.plot.mkdir(parents=True, exist_ok=True)
        for path in plot(median, config, args.plot_n, args.plot):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
