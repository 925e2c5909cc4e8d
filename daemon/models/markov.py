"""A variable-order Markov model over symbols (melodic intervals), the Continuator's method.

Counts of what followed every context of 1..`order` symbols, blended from the longest context down
with Witten-Bell interpolation (each order keeps the weight its count of distinct followers earns
for the shorter ones), down to add-one counts of single symbols. Two uses:

- trained on a corpus, it is the baseline a melody network has to beat;
- with `window`, it is the session model: it learns the player's phrases as they are played and
  forgets what left the window, so its memory and its cost per event stay flat however long the
  session runs (each event adds `order` counts and removes as many).
"""
from __future__ import annotations

from collections import deque

import numpy as np

MAX_INTERVAL = 36  # semitones; a wider leap counts as this one
INTERVALS = 2 * MAX_INTERVAL + 1


def interval_symbol(step: int) -> int:
    """A melodic step in semitones as a symbol 0..INTERVALS-1 (clipped to +-MAX_INTERVAL)."""
    return int(max(-MAX_INTERVAL, min(MAX_INTERVAL, step))) + MAX_INTERVAL


class VariableOrderMarkov:
    """Counts per context (a tuple of the last 1..order symbols): {context: {symbol: count}}."""

    def __init__(self, symbols: int = INTERVALS, order: int = 5, window: int | None = None):
        if not 1 <= order <= 8:
            raise ValueError("order must be in range 1..8")
        if window is not None and window < order + 1:
            raise ValueError(f"window must hold more than {order} symbols")
        self.symbols, self.order, self.window = symbols, order, window
        self.counts: dict[tuple, dict[int, int]] = {}
        self.totals: dict[tuple, int] = {}
        self.unigram = np.ones(symbols)  # add-one
        self.history: deque[int] = deque(maxlen=order)  # the current context, newest last
        self._kept: deque[tuple[tuple, int]] = deque()  # (longest context, symbol) per event in the window

    def __len__(self) -> int:
        """Contexts held: bounded by `window * order` for a session model."""
        return len(self.counts)

    def observe(self, symbol: int, learn: bool = True) -> None:
        """The next symbol of the stream: counted after every context that ends before it (with
        `learn`; otherwise it only moves the context on, as the machine's own notes do)."""
        context = tuple(self.history)
        if learn:
            self._add(context, symbol, +1)
            if self.window is not None:
                self._kept.append((context, symbol))
                if len(self._kept) > self.window:
                    self._add(*self._kept.popleft(), -1)
        self.history.append(symbol)

    def reset_context(self) -> None:
        """A new piece or phrase: what came before is no context for what comes next (counts stay)."""
        self.history.clear()

    def _add(self, context: tuple, symbol: int, sign: int) -> None:
        self.unigram[symbol] += sign
        for k in range(1, len(context) + 1):
            ctx = context[-k:]
            followers = self.counts.setdefault(ctx, {})
            n = followers.get(symbol, 0) + sign
            if n > 0:
                followers[symbol] = n
                self.totals[ctx] = self.totals.get(ctx, 0) + sign
            else:
                followers.pop(symbol, None)
                if followers:
                    self.totals[ctx] -= 1
                else:
                    del self.counts[ctx], self.totals[ctx]

    def distribution(self, context: tuple | None = None) -> np.ndarray:
        """P(next symbol | context) (default: the stream's own), Witten-Bell from the unigram up."""
        context = tuple(self.history) if context is None else context
        p = self.unigram / self.unigram.sum()
        for k in range(1, len(context) + 1):
            followers = self.counts.get(context[-k:])
            if not followers:
                break  # a longer context that was never seen has no counts either
            total, distinct = self.totals[context[-k:]], len(followers)
            counts = np.zeros(self.symbols)
            counts[list(followers)] = list(followers.values())
            p = (counts + distinct * p) / (total + distinct)
        return p
