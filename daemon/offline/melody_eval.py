"""Scoring melody predictions on the corpus's held-out pieces, streamed from each piece's start as in a jam.

The figure is pitch NLL per note-on, in nats, and top-1 accuracy, per collection. A piece's first
note has no interval before it and is not scored, for any model.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..models.key import KeyTracker
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


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


def model_events(net, piece: dict) -> np.ndarray:
    """A corpus piece as the model's input rows: a metrical model's own encoding, or, for a seconds
    model (the shipped melody model), the notes at 120 bpm through its codec."""
    from ..formats.corpus import VELOCITY, metrical_events
    from ..formats.midifile import NoteMessage

    codec = net.codec
    if codec.time_unit == "beats":
        return metrical_events(piece, codec)
    notes = []
    for p, onset, length in zip(piece["pitch"], piece["onset"], piece["duration"]):
        notes += [NoteMessage(float(onset) * 0.5, int(p), VELOCITY), NoteMessage(float(onset + length) * 0.5, int(p), 0)]
    return codec.encode(sorted(notes, key=lambda n: (n.time, n.velocity > 0)))


def score_model(net, pieces: list[dict], session_weight: float = 0.0, session_order: int = 4,
                window: int = 2000, key_weight: float = 0.0) -> dict[str, dict[str, Score]]:
    """A model file through onnxruntime on `pieces`, each streamed from its start: per collection,
    pitch on note-ons (as the Markov baseline is scored), and time per event. With `session_weight`,
    the pitch head is mixed with a session model that learns the piece's intervals as it streams;
    with `key_weight`, it is weighted by the profile of the key of the notes heard so far (as
    `segue generate` and `segue jam` draw), and renormalised."""
    codec = net.codec
    middle = codec.pitch_classes // 2
    pitch_scores: dict[str, Score] = defaultdict(Score)
    time_scores: dict[str, Score] = defaultdict(Score)
    for piece in pieces:
        rows = model_events(net, piece)
        stream = net.stream()
        session = VariableOrderMarkov(order=session_order, window=window) if session_weight else None
        tonality = KeyTracker() if key_weight else None
        reference = None
        logits = None
        for i, row in enumerate(rows):
            # An interval model hears the absolute pitch as its fourth input.
            pitch = int(row[3 if codec.pitch_mode == "interval" else 0]) + codec.low
            if logits is not None:
                p_logits, _, t_logits = net.heads(logits)
                for key in (piece["collection"], "all"):
                    time_scores[key].add(np.exp(_log_softmax(t_logits)), int(row[2]))
                if row[1] > 0 and reference is not None:  # a note-on after the first
                    p = np.exp(_log_softmax(p_logits))
                    if session is not None:
                        q = np.zeros_like(p)
                        steps = np.arange(-MAX_INTERVAL, MAX_INTERVAL + 1)
                        where = steps + (middle if codec.pitch_mode == "interval" else reference - codec.low)
                        ok = (where >= 0) & (where < len(q))
                        q[where[ok]] = session.distribution()[ok]
                        p = (1 - session_weight) * p + session_weight * q / max(q.sum(), 1e-12)
                    prior = None if tonality is None else tonality.log_prior(
                        reference - middle if codec.pitch_mode == "interval" else codec.low, len(p), key_weight)
                    if prior is not None:
                        p = p * np.exp(prior)
                        p = p / p.sum()
                    for key in (piece["collection"], "all"):
                        pitch_scores[key].add(p, int(row[0]))
            if row[1] > 0:
                if session is not None and reference is not None:
                    session.observe(interval_symbol(pitch - reference))
                if tonality is not None:
                    tonality.hear(pitch)
                reference = pitch
            logits = stream.advance(*(int(x) for x in row))
    return {"pitch": dict(pitch_scores), "time": dict(time_scores)}
