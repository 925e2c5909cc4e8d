"""Character n-gram baselines for the lyric models: add-one unigram and interpolated Kneser-Ney.

Both see exactly what the RNN sees (the same vocabulary with its unknown symbol, the same
training and validation spans) so that bits per character compare like with like. Plain Python
dictionaries: the corpora are at most a few million characters, and counting them takes seconds.
Kneser-Ney with one absolute discount per order, D = n1 / (n1 + 2 n2) (Ney, Essen & Kneser 1994),
interpolated down to a uniform distribution over the vocabulary (Chen & Goodman 1999, eq. 19).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

BOS = -1  # the start of a span: a context symbol, never predicted


def unigram_bpc(train: list[np.ndarray], valid: list[np.ndarray], vocab: int) -> float:
    """Add-one unigram: bits per character of every validation character after each span's first
    (the characters the RNN is scored on)."""
    counts = Counter()
    for span in train:
        counts.update(span.tolist())
    total = sum(counts.values()) + vocab
    bits, n = 0.0, 0
    for span in valid:
        for w in span[1:].tolist():
            bits -= math.log2((counts[w] + 1) / total)
            n += 1
    return bits / max(n, 1)


class KneserNey:
    """An interpolated Kneser-Ney character model of order `order` (contexts of order - 1)."""

    def __init__(self, train: list[np.ndarray], vocab: int, order: int):
        if order < 1:
            raise ValueError("order must be >= 1")
        self.order, self.vocab = order, vocab
        top = Counter()
        for span in train:
            seq = (BOS, *span.tolist())
            for i in range(1, len(seq)):
                for m in range(min(order - 1, i) + 1):  # every n-gram ending at i, up to the span's start
                    top[seq[i - m: i + 1]] += 1
        # counts[m][(*ctx, w)] with len(ctx) = m: raw counts for the longest n-grams and for those
        # that start at BOS (they have no left neighbour), continuation counts N1+(. ctx w) for the
        # rest, as KenLM does.
        self.counts = [defaultdict(int) for _ in range(order)]
        for gram, c in top.items():
            m = len(gram) - 1
            if m == order - 1 or gram[0] == BOS:
                self.counts[m][gram] += c
            if m >= 1:
                self.counts[m - 1][gram[1:]] += 1
        self.totals = [defaultdict(int) for _ in range(order)]
        self.types = [defaultdict(int) for _ in range(order)]
        self.discount = []
        for m in range(order):
            hist = Counter()
            for gram, c in self.counts[m].items():
                self.totals[m][gram[:-1]] += c
                self.types[m][gram[:-1]] += 1
                if c <= 2:
                    hist[c] += 1
            n1, n2 = hist[1], hist[2]
            self.discount.append(n1 / (n1 + 2 * n2) if n1 + n2 else 0.5)

    def prob(self, context: tuple, w: int) -> float:
        p = 1.0 / self.vocab
        for m in range(0, min(len(context), self.order - 1) + 1):  # from the unigram up
            ctx = context[len(context) - m:] if m else ()
            total = self.totals[m].get(ctx)
            if not total:
                break  # an unseen context: longer ones are unseen too
            d = self.discount[m]
            c = self.counts[m].get((*ctx, w), 0)
            p = (max(c - d, 0.0) + d * self.types[m][ctx] * p) / total
        return p

    def bpc(self, valid: list[np.ndarray]) -> float:
        bits, n = 0.0, 0
        k = self.order - 1
        for span in valid:
            seq = (BOS, *span.tolist())
            for i in range(2, len(seq)):  # the span's first character is not scored, as for the RNN
                bits -= math.log2(self.prob(seq[max(0, i - k): i], seq[i]))
                n += 1
        return bits / max(n, 1)


def baselines(train: list[np.ndarray], valid: list[np.ndarray], vocab: int, orders=range(2, 7)) -> dict:
    """{"unigram": bpc, "kn2": bpc, ...} on the validation spans."""
    out = {"unigram": unigram_bpc(train, valid, vocab)}
    for order in orders:
        out[f"kn{order}"] = KneserNey(train, vocab, order).bpc(valid)
    return out
