"""Drawing one class from logits: temperature, top-k, top-p (nucleus), masks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sampling:
    """How a head's distribution is turned into one class; validated on construction."""

    temperature: float = 1.0
    top_k: int = 0  # 0 = all classes
    top_p: float = 1.0  # 1.0 = no nucleus cut

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError("temperature must be > 0")
        if self.top_k < 0:
            raise ValueError("top-k must be >= 0 (0 keeps every class)")
        if not 0 < self.top_p <= 1:
            raise ValueError("top-p must be in range (0, 1]")

    def draw(self, logits: np.ndarray, rng: np.random.Generator, banned: int | None = None) -> int:
        """One class from 1-D `logits`; `banned` (a class index) is never drawn unless it is all there is."""
        z = logits.astype(np.float64) / self.temperature
        if banned is not None and len(z) > 1:
            z[banned] = -np.inf
        if self.top_k and self.top_k < len(z):
            kth = np.partition(z, -self.top_k)[-self.top_k]
            z = np.where(z >= kth, z, -np.inf)
        p = np.exp(z - z.max())
        if self.top_p < 1.0:
            order = np.argsort(-p)
            cum = np.cumsum(p[order])
            keep = order[: int(np.searchsorted(cum, self.top_p * cum[-1])) + 1]
            mask = np.zeros_like(p)
            mask[keep] = p[keep]
            p = mask
        cum = np.cumsum(p)
        return int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
