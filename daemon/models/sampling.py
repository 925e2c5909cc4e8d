"""Drawing one class from logits: temperature, top-k, top-p (nucleus), masks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats.units import within

MAX_TEMPERATURE = 10.0  # beyond it every class is as likely as any other, to float precision
MAX_TOP_K = 100_000  # more classes than any head has: the same as 0


@dataclass(frozen=True)
class Sampling:
    """How a head's distribution is turned into one class; validated on construction."""

    temperature: float = 1.0
    top_k: int = 0  # 0 = all classes
    top_p: float = 1.0  # 1.0 = no nucleus cut

    def __post_init__(self):
        within("--temperature", self.temperature, 0, MAX_TEMPERATURE, above=True)
        if not isinstance(self.top_k, int) or not 0 <= self.top_k <= MAX_TOP_K:
            raise ValueError(f"--top-k must be from 0 to {MAX_TOP_K:,} (0 keeps every class), not {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError("--top-p must be more than 0 and at most 1")

    @property
    def plain(self) -> bool:
        return self.temperature == 1.0 and not self.top_k and self.top_p == 1.0

    def draw(self, logits: np.ndarray, noise: "GumbelNoise", banned=None) -> int:
        """One class from 1-D `logits`; never a `banned` one (an index, indices or a boolean mask).

        Gumbel-max: argmax(z + Gumbel noise) is an exact sample of softmax(z), in two numpy
        calls instead of exp, cumsum and a search.
        """
        z = logits if self.plain and banned is None else self.restrict(logits, banned)
        return int((z + noise.take(len(z))).argmax())

    def pick(self, logits: np.ndarray, noise: "GumbelNoise", penalty: np.ndarray | None = None) -> int:
        """`draw` with the banned classes given as an additive `penalty` (0 allowed, -inf banned).

        The same draw as `draw(logits, noise, banned=penalty == -inf)`, noise for noise; with only a
        temperature it costs three array operations and no mask (a voice keeps its penalties up
        to date as notes start and end: NoteDraw).
        """
        if self.top_k or self.top_p < 1.0:
            return self.draw(logits, noise, banned=None if penalty is None else np.isneginf(penalty))
        z = logits / np.float32(self.temperature)  # x / 1 is x: the plain draw is unchanged
        if penalty is not None:
            z += penalty  # x + 0 is x, x - inf is -inf: the restricted draw is unchanged
        z += noise.take(len(z))
        return int(z.argmax())

    def restrict(self, logits: np.ndarray, banned=None) -> np.ndarray:
        """Tempered logits with everything outside top-k / top-p (and `banned`) set to -inf."""
        z = logits / np.float32(self.temperature)  # a new array: the caller's logits stay intact
        if banned is not None:
            z[banned] = -np.inf
        if self.top_k and self.top_k < len(z):
            kth = np.partition(z, -self.top_k)[-self.top_k]
            z[z < kth] = -np.inf
        if self.top_p < 1.0:
            order = np.argsort(-z)
            p = np.exp(z[order] - z[order[0]])
            cum = np.cumsum(p)
            z[order[int(np.searchsorted(cum, self.top_p * cum[-1])) + 1 :]] = -np.inf
        return z

    def probabilities(self, logits: np.ndarray, banned=None) -> np.ndarray:
        """The distribution `draw` samples from (for tests and inspection)."""
        z = self.restrict(logits.astype(np.float64), banned)
        p = np.exp(z - z.max())
        return p / p.sum()


class GumbelNoise:
    """Standard Gumbel noise drawn in blocks from a seeded generator.

    One draw per block instead of one per head: a head then costs a slice, an add and an argmax.
    The block is -log(E) for standard exponential E (-log(E) <= x exactly when E >= e^-x, of
    probability exp(-e^-x): the Gumbel CDF), in float32 from numpy's ziggurat: a quarter of the cost
    of Generator.gumbel in float64, which was most of a draw's cost (20 ns per number, 165 numbers
    per event).
    """

    BLOCK = 1 << 16

    def __init__(self, seed: int | None = None):
        self._rng = np.random.default_rng(seed)
        self._buffer = np.empty(0, np.float32)
        self._at = 0

    def take(self, n: int) -> np.ndarray:
        if self._at + n > len(self._buffer):
            self._buffer = self._block(max(self.BLOCK, n))
            self._at = 0
        self._at += n
        return self._buffer[self._at - n : self._at]

    def _block(self, n: int) -> np.ndarray:
        e = self._rng.standard_exponential(n, dtype=np.float32)
        np.maximum(e, np.float32(1e-30), out=e)  # the ziggurat can return 0: noise stays finite (69 at most)
        np.log(e, out=e)
        return np.negative(e, out=e)
