"""Scoring melody predictions on the corpus's held-out pieces, streamed from each piece's start as in a jam.

The figure is pitch NLL per note-on, in nats, and top-1 accuracy, per collection. A piece's first
note has no interval before it and is not scored, for any model.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..models.markov import MAX_INTERVAL, VariableOrderMarkov, interval_symbol


@dataclass
class Score:
    notes: int = 0
    nll: float = 0.0  # nats, summed
    top1: int = 0

    def add(self, p: np.ndarray, symbol: int) -> None:
        self.notes += 1
        self.nll -= float(np.log(max(p[symbol], 1e-12)))
        self.top1 += int(np.argmax(p) == symbol)

    def row(self) -> str:
        n = max(self.notes, 1)
        return f"{self.notes:>9,} {self.nll / n:>8.3f} {self.top1 / n:>7.3f}"


def symbols(piece: dict) -> list[int]:
    return [interval_symbol(step) for step in np.diff(piece["pitch"].astype(int))]


def train_markov(pieces: list[dict], order: int = 5) -> VariableOrderMarkov:
    """The interval model of a corpus's training pieces (each piece starts from no context)."""
    model = VariableOrderMarkov(order=order)
    for piece in pieces:
        model.reset_context()
        for symbol in symbols(piece):
            model.observe(symbol)
    return model


def score_markov(model: VariableOrderMarkov, pieces: list[dict], session_weight: float = 0.0,
                 session_order: int = 4, window: int = 2000) -> dict[str, Score]:
    """Per collection (and "all"): the corpus model's scores on `pieces`, mixed with a session model
    that learns each piece as it streams (weight 0: off)."""
    scores: dict[str, Score] = defaultdict(Score)
    for piece in pieces:
        session = VariableOrderMarkov(order=session_order, window=window) if session_weight else None
        context: list[int] = []
        for symbol in symbols(piece):
            p = model.distribution(tuple(context[-model.order:]))
            if session is not None:
                p = (1 - session_weight) * p + session_weight * session.distribution()
                session.observe(symbol)
            scores[piece["collection"]].add(p, symbol)
            scores["all"].add(p, symbol)
            context.append(symbol)
    return dict(scores)


def format_scores(columns: dict[str, dict[str, Score]]) -> str:
    """A table: a row per collection, a (notes, NLL, top-1) block per model."""
    names = list(columns)
    collections = sorted({c for scores in columns.values() for c in scores}, key=lambda c: (c == "all", c))
    head = f"{'collection':<12}" + "".join(f" | {name:^26}" for name in names)
    sub = f"{'':<12}" + " | {:>9} {:>8} {:>7}".format("note-ons", "NLL", "top-1") * len(names)
    lines = [head, sub]
    for c in collections:
        lines.append(f"{c:<12}" + "".join(f" | {columns[n].get(c, Score()).row()}" for n in names))
    return "\n".join(lines) + f"\n(pitch NLL in nats per note-on; leaps beyond {MAX_INTERVAL} semitones count as {MAX_INTERVAL})"
