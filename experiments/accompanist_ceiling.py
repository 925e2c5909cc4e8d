"""How far a melody can name POP909's chords at all: a chord model that hears the whole melody (not causal).

    python experiments/accompanist_ceiling.py runs/pop909 [--songs 40] [--epochs 12]

The shipped chord model names each beat's chord from the melody before it (a live accompanist
cannot hear later). Here a bidirectional GRU hears every beat's melody, before, during and after
the beat, and is trained on the train split as training/chords.py trains the shipped one (windows
of 64 beats in random keys). Its chords, chosen as the accompanist chooses (the chord whose tones
are likeliest) and voiced as plain triads, are measured on valid songs as benchmarks/accompany.py
measures them, beside the shipped causal model's: an upper bound on the chord-tone share that any
accompanist hearing only the melody could reach with this data.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import accompany as bench  # noqa: E402
from accompanist_choices import valid_songs  # noqa: E402
from accompanist_lookin import report  # noqa: E402
from segue.daemon.formats.chords import CLASSES, MELODY_FEATURES, melody_features, transpose  # noqa: E402
from segue.daemon.models import accompanist as acc  # noqa: E402
from segue.training import chords as C  # noqa: E402


class WholeMelody(torch.nn.Module):
    def __init__(self, hidden: int = 160):
        super().__init__()
        self.slot = torch.nn.Embedding(C.SLOTS, 8)
        self.gru = torch.nn.GRU(MELODY_FEATURES + 8, hidden, num_layers=2, batch_first=True, bidirectional=True,
                                dropout=0.2)
        self.out = torch.nn.Linear(2 * hidden, CLASSES)

    def forward(self, melody, slot):
        h, _ = self.gru(torch.cat([melody, self.slot(slot)], dim=-1))
        return self.out(h)


def batches(songs, rng, window=64, batch=48):
    picks = [(i, s) for i, (_, classes, _) in enumerate(songs) if len(classes) >= window
             for s in range(0, len(classes) - window + 1, window // 2)]
    order = rng.permutation(len(picks))
    for b in range(0, len(order) - batch + 1, batch):
        rows = []
        for j in order[b:b + batch]:
            i, start = picks[j]
            features, classes, slots = songs[i]
            part = slice(start, start + window)
            c, f = transpose(classes[part], features[part], int(rng.integers(12)))
            rows.append((f, slots[part], c))
        yield tuple(torch.as_tensor(np.stack([r[n] for r in rows])) for n in range(3))


def evaluate(model, songs) -> tuple[float, float]:
    nll = hits = count = 0
    with torch.no_grad():
        for features, classes, slots in songs:
            logits = model(torch.as_tensor(features)[None], torch.as_tensor(slots)[None])[0]
            target = torch.as_tensor(classes)
            nll += float(torch.nn.functional.cross_entropy(logits, target, reduction="sum"))
            hits += int((logits.argmax(-1) == target).sum())
            count += len(classes)
    return nll / count, hits / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--model", default="pop")
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    train, valid = C.load_split(args.corpus, "train"), C.load_split(args.corpus, "valid")
    model = WholeMelody()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=args.epochs)
    started, best, kept = time.perf_counter(), None, None
    for epoch in range(1, args.epochs + 1):
        model.train()
        for melody, slot, target in batches(train, rng):
            loss = torch.nn.functional.cross_entropy(model(melody, slot).reshape(-1, CLASSES), target.reshape(-1))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
        schedule.step()
        model.eval()
        nll, accuracy = evaluate(model, valid)
        print(f"epoch {epoch}: valid nll {nll:.3f} per beat, accuracy {accuracy:.3f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        if best is None or nll < best:
            best, kept = nll, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(kept)
    model.eval()
    causal = acc.AccompanistModel(args.model)
    rows = {"causal (shipped)": [], "whole melody": []}
    for song, melody, start, end, slots, _ in valid_songs(args.corpus, args.songs):
        features = melody_features(melody[:, 0], melody[:, 1], melody[:, 2], end + 1)
        h, chords = causal.initial_state(), []
        for b in range(start, end):
            heard = features[b - 1] if b > start else np.zeros(MELODY_FEATURES, np.float32)
            logits, h = causal.step(heard, slots[b], h)
            chords.append(acc.Accompaniment.choose(logits))
        rows["causal (shipped)"].append(bench.measure(song, melody, bench.triad_part(chords, start, end), start, end))
        with torch.no_grad():
            logits = model(torch.as_tensor(features[:end])[None],
                           torch.as_tensor(np.asarray(slots[:end], np.int64))[None])[0].numpy()
        chords = [acc.Accompaniment.choose(logits[b]) for b in range(start, end)]
        rows["whole melody"].append(bench.measure(song, melody, bench.triad_part(chords, start, end), start, end))
    report(rows, args.songs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
