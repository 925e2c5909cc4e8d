"""The student report's six-way comparison of character models, done with a held-out split.

    python experiments/lyrics_compare.py ../shared/data/lyrics/jaychou_lyrics.txt

trains {RNN, GRU, LSTM} x {embedding, one-hot} with the report's settings (2 layers of 512,
dropout 0.5, sequences of 20, batch 128, Adam 1e-3, 300 epochs, line breaks as spaces) on the
same contiguous-block split, then prints the report's table (training perplexity at epochs 100,
200, 300, measured as the report did: the mean over each epoch's batches, dropout on) beside
what it lacked: validation perplexity and bits per character, the best epoch, and n-gram
baselines on the same split. Every option can be scaled down (--hidden, --epochs, --at) to fit a
machine; the printed table says which settings produced it. Checkpoints and a JSON record go to
--out (default runs/lyrics_compare/).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

VARIANTS = [(cell, inp) for cell in ("rnn", "lstm", "gru") for inp in ("embedding", "onehot")]
REPORT = {  # SEEDS.md section 5: training perplexity at epochs 100, 200, 300
    ("rnn", "embedding"): (1.221, 1.195, 1.189), ("rnn", "onehot"): (1.193, 1.172, 1.165),
    ("lstm", "embedding"): (1.439, 1.278, 1.247), ("lstm", "onehot"): (15.876, 2.235, 1.299),
    ("gru", "embedding"): (1.381, 1.312, 1.296), ("gru", "onehot"): (1.416, 1.188, 1.164),
}


def run(job: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from segue.training.lyrics import LyricsTrainConfig, train_lyrics

    config = LyricsTrainConfig(**job["config"])
    started = time.perf_counter()
    result = train_lyrics(job["corpus"], job["out"], config, progress=False, command=job["command"])
    return {"cell": config.cell, "input": config.input, "history": result["history"], "best": result["best"],
            "data": result["data"], "seconds": time.perf_counter() - started}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embed", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--at", default="100,200,300", help="Epochs whose training perplexity is tabled.")
    ap.add_argument("--valid-every", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="Variants trained side by side.")
    ap.add_argument("--only", help="Train only these variants, e.g. rnn-embedding,gru-onehot.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/lyrics_compare")
    args = ap.parse_args(argv)
    at = [int(x) for x in args.at.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join(sys.argv)
    jobs = [{"corpus": args.corpus, "out": str(out / f"{cell}_{inp}.pt"), "command": command,
             "config": dict(cell=cell, input=inp, hidden=args.hidden, layers=args.layers, embed=args.embed,
                            epochs=args.epochs, valid_every=args.valid_every, newlines="space", seed=args.seed)}
            for cell, inp in VARIANTS if not args.only or f"{cell}-{inp}" in args.only.split(",")]
    if not jobs:
        ap.error(f"--only names none of {', '.join(f'{c}-{i}' for c, i in VARIANTS)}")
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, jobs))
    (out / "results.json").write_text(json.dumps(results, indent=1))

    from segue.training.lyrics import LyricsTrainConfig, load_corpus
    from segue.training.ngram import baselines

    corpus = load_corpus(args.corpus, LyricsTrainConfig(newlines="space"))
    train = [corpus.ids[a:b] for a, b in corpus.train]
    valid = [corpus.ids[a:b] for a, b in corpus.valid]
    base = baselines(train, valid, len(corpus.codec))

    print(f"# {args.corpus}: {corpus.train_chars} training / {corpus.valid_chars} validation characters "
          f"(every {LyricsTrainConfig.every}th block of {LyricsTrainConfig.block}), vocabulary {len(corpus.codec)}")
    print(f"# {args.layers} x {args.hidden} units, embedding {args.embed}, {args.epochs} epochs, seed {args.seed}; "
          f"command: {command}\n")
    head = " | ".join(f"train ppl @{e}" for e in at)
    report = " | ".join(f"report @{e}" for e in (100, 200, 300))
    print(f"| model | {head} | {report} | best valid ppl (epoch) | best valid bits/char | valid ppl @{args.epochs} | minutes |")
    print("|---|" + "---|" * (len(at) + 3 + 3))
    for r in results:
        hist = {h["epoch"]: h for h in r["history"]}
        cells = " | ".join(f"{hist[e]['train_perplexity']:.3f}" if e in hist else "-" for e in at)
        last = r["history"][-1]
        rep = " | ".join(f"{v:.3f}" for v in REPORT[(r["cell"], r["input"])])
        print(f"| {r['cell'].upper()}, {r['input']} | {cells} | {rep} | {r['best']['valid_perplexity']:.2f} "
              f"({r['best']['epoch']}) | {r['best']['valid_bpc']:.3f} | {last.get('valid_perplexity', math.nan):.2f} "
              f"| {r['seconds'] / 60:.1f} |")
    print()
    for name, bpc in base.items():
        print(f"| {name} baseline | bits/char {bpc:.3f} | perplexity {2 ** bpc:.2f} |")
    best = min(results, key=lambda r: r["best"]["valid_bpc"])
    print(f"\nbest on held-out text: {best['cell'].upper()}, {best['input']} "
          f"({best['best']['valid_bpc']:.3f} bits/char at epoch {best['best']['epoch']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
