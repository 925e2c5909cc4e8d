"""When has the player finished? The model's own answer: how likely it is that they go on.

After each of the player's events the event model's time head gives the distribution of the gap
to their next event, in its time classes (beats for a metrical model, which also hears where in
the bar the event fell; seconds otherwise). After s seconds of silence, the probability that the
next event is still to come is the survival S(s) = P(gap > s), the sum of the classes longer than
s. segue answers at the first class value where S falls below `threshold`, plus a margin for the
player's timing: a phrase that ends on a long note or a rest the model expects is waited for,
and a breath it does not expect inside a phrase is not (benchmarks/turn_taking.py measures both).

The longest class stands for "that long or longer", so S never falls below its probability: if
it would only fall after it, segue waits `longest` seconds. The wait never drops under `shortest`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats.units import within


@dataclass(frozen=True)
class TurnRule:
    threshold: float = 0.2  # answer when P(the player goes on) falls below this
    shortest: float = 0.15  # seconds: never sooner (a player's fastest re-attack)
    longest: float = 3.0  # seconds: never later
    margin: float = 0.1  # a class value v is waited for as v * (1 + margin) + slack ...
    slack: float = 0.05  # ... seconds: the player's timing around the grid

    def __post_init__(self):
        within("turn threshold", self.threshold, 0, 1, above=True)
        within("shortest turn wait", self.shortest, 0, 60)
        within("longest turn wait", self.longest, self.shortest, 60)

    def wait(self, time_logits: np.ndarray, seconds: np.ndarray) -> float:
        """Seconds of silence after the last event before answering; `seconds`: each time class's
        gap in seconds (the codec's values times the beat, for a beat-timed model)."""
        survival = going_on(time_logits, seconds)
        order = np.argsort(seconds, kind="stable")
        below = np.flatnonzero(survival[order] < self.threshold)
        # the last class is "or longer": falling below only there is not an end the model heard
        if not len(below) or order[below[0]] == int(np.argmax(seconds)):
            return self.longest
        value = float(seconds[order[below[0]]])
        return float(np.clip(value * (1 + self.margin) + self.slack, self.shortest, self.longest))


def going_on(time_logits: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """For each time class, P(gap > its value): the probability that the player's next event is
    still to come once that long has passed."""
    x = np.asarray(time_logits, np.float64)
    p = np.exp(x - x.max())
    p /= p.sum()
    order = np.argsort(seconds, kind="stable")
    later = np.empty_like(p)
    later[order] = p[order][::-1].cumsum()[::-1] - p[order]  # the mass of strictly longer classes
    return np.clip(later, 0.0, 1.0)
