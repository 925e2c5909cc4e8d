"""When has the player finished their phrase? The model's answer, from its time head.

After each of the player's events the event model's time head gives the distribution of the gap
to their next event, in its time classes (beats for a metrical model, which also hears where in
the bar the event fell; seconds otherwise). A silence of `phrase_break` beats or more is a phrase
end (as the melody corpus marks them: benchmarks/turn_taking.py). So after s seconds of silence,
the probability that the phrase goes on is the chance that the next event still comes before the
break, given that it has not come yet:

    P(s < gap <= break) / P(gap > s)

segue answers at the first of the model's gaps where that falls below `threshold` (plus a margin
for the player's timing), and in any case after `answer_by` beats of silence: a rest the model
expects inside the phrase is waited out, and where it expects a break (a cadence, the end of a
line) segue answers at once instead of sitting through the silence a fixed rule needs.

Why not P(gap > s), the chance that the player plays again at all? In a tune one phrase is
followed by the next, so that probability stays high exactly where an answer belongs: the first
version of this rule waited longest at real phrase ends and cut in at 40-50 % of the rests inside
phrases (benchmarks/turn_taking.py, measured before it was replaced).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats.units import within


@dataclass(frozen=True)
class TurnRule:
    threshold: float = 0.3  # answer when P(the phrase goes on) falls below this
    phrase_break: float = 1.0  # beats of silence that end a phrase (as the corpus marks them)
    answer_by: float = 0.75  # beats: a silence this long is answered whatever the model says
    shortest: float = 0.15  # seconds: never sooner (a player's quickest re-attack after a lift)
    margin: float = 0.1  # a gap of v seconds is waited for as v * (1 + margin) + slack ...
    slack: float = 0.05  # ... seconds: the player's timing around the grid

    def __post_init__(self):
        within("--turn-threshold", self.threshold, 0, 1, above=True)
        within("phrase break in beats", self.phrase_break, 0, 16, above=True)
        within("answer-by in beats", self.answer_by, 0, 16, above=True)
        within("shortest turn wait", self.shortest, 0, 10)

    def longest(self, beat: float) -> float:
        """Seconds: the wait when the model does not say sooner that the phrase has ended."""
        return max(self.shortest, self.answer_by * beat)

    def wait(self, time_logits: np.ndarray, seconds: np.ndarray, beat: float) -> float:
        """Seconds of silence after the last event before answering. `seconds`: each time class's
        gap in seconds (a beat-timed codec's values times `beat`); `beat`: seconds per beat."""
        brk = self.phrase_break * beat
        going = phrase_goes_on(time_logits, seconds, brk)
        order = np.argsort(seconds, kind="stable")
        longest = self.longest(beat)
        for k in order:
            if seconds[k] >= brk:
                break
            if going[k] < self.threshold:
                return float(min(longest, max(self.shortest, seconds[k] * (1 + self.margin) + self.slack)))
        return longest


def phrase_goes_on(time_logits: np.ndarray, seconds: np.ndarray, brk: float) -> np.ndarray:
    """For each time class: once that long has passed with no event, P(the next one comes before
    `brk` seconds | it has not come yet) = P(v < gap <= brk) / P(gap > v). 0 where nothing longer
    is left."""
    x = np.asarray(time_logits, np.float64)
    p = np.exp(x - x.max())
    p /= p.sum()
    order = np.argsort(seconds, kind="stable")  # a codec's gaps are distinct
    later = np.empty_like(p)
    later[order] = p[order][::-1].cumsum()[::-1] - p[order]  # the mass of the longer gaps
    beyond = p[seconds > brk + 1e-9].sum()
    inside = np.where(seconds <= brk + 1e-9, later - beyond, 0.0).clip(0.0)
    return np.divide(inside, later, out=np.zeros_like(later), where=later > 1e-12)
