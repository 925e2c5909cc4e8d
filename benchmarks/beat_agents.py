"""A baseline for benchmarks/beats.py: a bank of BeatRoot-like beat agents (Dixon), causal.

Each agent carries a beat period, the time of its last beat and a score. Each onset is a hit for
an agent whose predicted beat is near it (phase and period move part of the way to it, as a
phase-locked loop), counts a little on a subdivision, and against it elsewhere; scores fade per
beat; the intervals back to the last onsets propose new agents; the best score times a tempo
prior wins, with a margin against flicker. Measured beside the live tracker (daemon/models/beat.py),
which replaced it: it locks to a faster metrical level and to the off-beat more often.
"""
from __future__ import annotations

import math

import numpy as np
from segue.daemon.models.beat import (CHORD, CHORD_SHARE, METERS, PERIODS, PREFERRED, SILENCE, SPREAD,
                                      SUBDIVISIONS, TOLERANCE, TOLERANCE_SHARE, Beat)

BASS, BASS_BELOW = 0.3, 55  # an onset with a note below this key weighs this much more
AGENTS = 32
BACK = 6  # onsets back whose intervals propose agents
FADE = 8.0  # beats: the time constant of an agent's score
PHASE_GAIN, PERIOD_GAIN = 0.35, 0.12  # how far a hit moves an agent's phase and period
HALF, MISS = 0.25, 0.3  # the credit of an onset on the half beat, the debit of one elsewhere (times its weight)
GAMMA = 1.0
SWITCH = 1.15  # a new winner must rank this much above the old one
LONG = 0.5  # the credit a note on the beat gets per beat it lasts


class AgentTracker:
    def __init__(self, bpm: float | None = None):
        """`bpm`: a first guess (--bpm), which the tracker starts from and refines."""
        self.period = np.zeros(0)
        self.last = np.zeros(0)  # time of each agent's last beat
        self.score = np.zeros(0)
        self.count = np.zeros(0, np.int64)  # beats each agent has counted (its beat index at `last`)
        self.seen = np.zeros(0)  # time each agent's score was last faded to
        self.guess = 60.0 / bpm if bpm else None
        self.onsets: list[tuple[float, float]] = []  # (time, weight), the last BACK
        self.pending: tuple[float, float, int] | None = None  # an onset still gathering its chord
        self.winner = -1
        self.hits = 0.5  # moving share of onsets on the winner's beats or half beats
        self.accents = {m: np.zeros(m) for m in METERS}
        self.accented: tuple[int, float] | None = None  # (the winner's beat index, accent) of the last onset
        self.heard = 0.0  # time of the last onset
        if self.guess:
            self._spawn(0.0, [self.guess], start=1.0)

    # -- input -------------------------------------------------------------------------------
    def note(self, time: float, pitch: int, velocity: int) -> None:
        """A note struck at `time` (seconds, never earlier than the last one heard)."""
        if self.pending is not None and time - self.pending[0] <= CHORD:
            start, weight, low = self.pending
            self.pending = (start, weight + velocity / 127 * CHORD_SHARE, min(low, pitch))
            return
        self.flush()
        self.pending = (time, velocity / 127, pitch)

    def flush(self) -> None:
        """Hear the onset still gathering its chord (the next note, or time passing, closes it)."""
        if self.pending is None:
            return
        time, weight, low = self.pending
        self.pending = None
        self._onset(time, min(3.0, weight) * (1.0 + BASS * (low < BASS_BELOW)))

    def _onset(self, t: float, weight: float) -> None:
        if len(self.period):
            self._fade(t)
            self._hear(t, weight)
            self._merge(t)
        self._accent(t, weight)
        self._spawn(t, [t - u for u, _ in self.onsets[-BACK:]])
        self.onsets = (self.onsets + [(t, weight)])[-BACK:]
        self.heard = t
        self._choose()

    # -- the agents --------------------------------------------------------------------------
    def _fade(self, t: float) -> None:
        # In beats, not seconds: an agent at twice the tempo hits twice as many onsets and forgets
        # twice as fast, so no metrical level wins by counting more onsets; accents and the prior decide.
        self.score *= np.exp(-(t - self.seen) / (FADE * self.period))
        self.seen[:] = t

    def _hear(self, t: float, weight: float) -> None:
        p, last = self.period, self.last
        if self.onsets:  # the last onset's note lasted until now: a long note on an agent's beat marks it
            before, was = self.onsets[-1]
            offset = (before - last) / p
            on = np.abs(offset - np.round(offset)) * p <= TOLERANCE + TOLERANCE_SHARE * p
            self.score += np.where(on, LONG * was * np.minimum(2.0, (t - before) / p), 0.0)
        k = np.maximum(1, np.round((t - last) / p))
        error = t - (last + k * p)
        window = TOLERANCE + TOLERANCE_SHARE * p
        hit = np.abs(error) <= window
        within = (t - last) / p % 1.0  # where in the beat the onset falls
        parts = np.min(np.abs(within[:, None] - SUBDIVISIONS[None, :]), axis=1) * p
        half = ~hit & (parts <= window)  # on a half, third or quarter of the beat
        closeness = 1 - np.abs(error) / window
        strong = weight ** GAMMA  # a strong onset (loud, a chord, a bass note) says more about where beats are
        self.score += np.where(hit, strong * closeness, np.where(half, HALF * weight, -MISS * strong))
        # A hit corrects phase and period; a miss leaves the agent's beat where it predicted it.
        moved = last + k * p
        self.period = np.where(hit, np.clip(p + PERIOD_GAIN * error / k, *PERIODS), p)
        self.last = np.where(hit, moved + PHASE_GAIN * error, last)
        self.count = np.where(hit, self.count + k.astype(np.int64), self.count)
        if 0 <= self.winner < len(p):
            self.hits = 0.85 * self.hits + 0.15 * float(hit[self.winner] or half[self.winner])

    def _merge(self, t: float) -> None:
        """Agents that have come to the same tempo and phase are one: the best of them stays."""
        n = len(self.period)
        if n < 2:
            return
        order = np.argsort(-self.score)
        period, last = self.period[order], self.last[order]
        same_tempo = np.abs(np.log(period[:, None] / period[None, :])) < 0.02
        gap = (last[:, None] - last[None, :]) / period[None, :]
        same_phase = np.abs(gap - np.round(gap)) * period[None, :] < 0.03
        dup = np.triu(same_tempo & same_phase, 1).any(axis=0)  # a better agent (earlier in order) is the same
        if dup.any():
            keep = np.sort(order[~dup])
            winner = self.winner
            self.period, self.last, self.score = self.period[keep], self.last[keep], self.score[keep]
            self.count, self.seen = self.count[keep], self.seen[keep]
            self.winner = int(np.nonzero(keep == winner)[0][0]) if winner in keep else -1

    def _spawn(self, t: float, intervals, start: float = 0.0) -> None:
        low, high = PERIODS
        new = (np.asarray(intervals, float)[:, None] / np.arange(1, 5)).ravel()
        new = np.unique(new[(new >= low) & (new <= high)])
        if not len(new):
            return
        if len(self.period):  # not one an agent already is: the same tempo and the same phase
            offset = (t - self.last) / self.period
            on_beat = np.abs(offset - np.round(offset)) * self.period < 0.06
            same = np.abs(np.log(self.period[None, :] / new[:, None])) < 0.05
            new = new[~np.any(same & on_beat[None, :], axis=1)]
        if len(new):  # and not two alike among themselves
            new = new[np.concatenate([[True], np.diff(np.log(new)) > 0.05])]
            self.period = np.concatenate([self.period, new])
            self.last = np.concatenate([self.last, np.full(len(new), t)])
            self.score = np.concatenate([self.score, np.full(len(new), start + 0.1)])
            self.count = np.concatenate([self.count, np.zeros(len(new), np.int64)])
            self.seen = np.concatenate([self.seen, np.full(len(new), t)])
        if len(self.period) > AGENTS:
            keep = np.sort(np.argpartition(-self._rank(), AGENTS)[:AGENTS])
            winner = self.winner
            self.period, self.last, self.score = self.period[keep], self.last[keep], self.score[keep]
            self.count, self.seen = self.count[keep], self.seen[keep]
            self.winner = int(np.nonzero(keep == winner)[0][0]) if winner in keep else -1

    def _rank(self) -> np.ndarray:
        centre = self.guess or PREFERRED
        prior = np.exp(-0.5 * (np.log(self.period / centre) / (SPREAD * 0.5)) ** 2)
        return np.maximum(self.score, 0) * prior

    def _choose(self) -> None:
        if not len(self.period):
            return
        rank = self._rank()
        best = int(np.argmax(rank))
        if self.winner < 0 or self.winner >= len(rank) or rank[best] > SWITCH * rank[self.winner]:
            if best != self.winner:
                for m in METERS:
                    self.accents[m][:] = 0.0
            self.winner = best

    # -- the bar -----------------------------------------------------------------------------
    def _accent(self, t: float, weight: float) -> None:
        """Credit the last onset with the length of the note it began (known now), and this one with
        its weight, to the beat of the bar each falls on."""
        w = self.winner
        if not 0 <= w < len(self.period):
            return
        p = self.period[w]
        if self.accented is not None:
            index, before = self.accented
            length = min(2.0, (t - self.heard) / p)  # a long note marks its beat
            for m in METERS:
                self.accents[m] *= 0.97
                self.accents[m][index % m] += before + 0.5 * length
        k = (t - self.last[w]) / p
        if abs(k - round(k)) * p <= 0.04 + 0.1 * p:
            self.accented = (int(self.count[w] + round(k)), weight)
        else:
            self.accented = None

    def _meter(self) -> tuple[int, int]:
        """(beats per bar, the winner's beat index that is a downbeat, mod the bar)."""
        best, pick = 4, (0.0, 0)
        for m in METERS:
            a = self.accents[m]
            if a.sum() <= 0:
                continue
            contrast = (a.max() - a.mean()) / (a.mean() + 1e-9) * (1.15 if m == 4 else 1.0)
            if contrast > pick[0]:
                best, pick = m, (contrast, int(np.argmax(a)))
        return best, pick[1]

    # -- output ------------------------------------------------------------------------------
    @property
    def known(self) -> bool:
        return 0 <= self.winner < len(self.period)

    @property
    def beat_seconds(self) -> float:
        return float(self.period[self.winner]) if self.known else (self.guess or 0.5)

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_seconds

    def confidence(self, now: float | None = None) -> float:
        """0..1: how well the beat explains the recent onsets (0 when the player has stopped)."""
        if not self.known:
            return 0.0
        if now is not None and now - self.heard > SILENCE * self.beat_seconds:
            return 0.0
        return float(np.clip(self.hits, 0.0, 1.0))

    def beats_between(self, start: float, end: float) -> list[Beat]:
        """The beats the tracker now predicts in [start, end)."""
        if not self.known:
            return []
        w = self.winner
        p, last = float(self.period[w]), float(self.last[w])
        meter, down = self._meter()
        first = math.ceil((start - last) / p - 1e-9)
        out = []
        k = first
        while last + k * p < end:
            index = int(self.count[w]) + k
            out.append(Beat(last + k * p, (index - down) % meter == 0, 60.0 / p, self.confidence()))
            k += 1
        return out

    def next_beat(self, after: float, beats: float = 1.0) -> float | None:
        """The first line of a `beats` grid (1: beats; the bar's length: downbeats) at or after
        `after`; None without a beat."""
        if not self.known:
            return None
        w = self.winner
        p, last = float(self.period[w]), float(self.last[w])
        meter, down = self._meter()
        if beats >= meter:  # bar lines
            index = int(self.count[w])
            k = math.ceil((after - last) / p - 1e-9)
            while (index + k - down) % meter:
                k += 1
            return last + k * p
        step = beats * p
        return last + math.ceil((after - last) / step - 1e-9) * step

    def position(self, at: float) -> tuple[float, int] | None:
        """(beats into the bar at `at`, beats per bar), or None without a beat."""
        if not self.known:
            return None
        w = self.winner
        p, last = float(self.period[w]), float(self.last[w])
        meter, down = self._meter()
        beats = int(self.count[w]) - down + (at - last) / p
        return beats % meter, meter


