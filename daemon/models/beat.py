"""Hearing the player's beat: a causal beat and bar tracker on note onsets (numpy only).

A bank of beat hypotheses ("agents", as in Dixon's BeatRoot) each carries a beat period, the time
of its last beat and a score. Every onset (notes struck within CHORD seconds of each other are one
onset, weighted by how loud, how many and how low they are) is heard once, in time order:

- each agent predicts its beat nearest the onset; an onset close to it is a hit: the agent's phase
  moves part of the way to the onset and its period part of the way to the interval it implies
  (a phase-locked loop), and its score grows by the onset's weight; an onset on the half beat
  counts a little; a miss counts against it. Scores fade with time (FADE seconds), so a new tempo
  takes over within a bar or two;
- the intervals from the onset back to the last few onsets propose new agents (at 1/n of each
  interval, in the tempo range), so the bank always holds what the music now suggests;
- the agent with the best score, times a prior on the beat period (people tap near 100-120 bpm),
  is the beat; a new winner must beat the old one by a margin (no flicker).

The bar: onsets on the winner's beats add their accent (weight, a long note after them, a low
note) to a count per beat of the bar, for bars of 2, 3 and 4 beats; the bar whose accents are
most uneven wins, and its most accented beat is the downbeat.

Cost per onset: a few vector operations over at most AGENTS agents: flat in the session's length.
Causal: nothing it says at time t depends on a note after t.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CHORD = 0.04  # seconds: notes struck this close are one onset
CHORD_SHARE = 0.5  # each further note of a chord adds this share of its loudness to the onset's weight
BASS, BASS_BELOW = 0.3, 55  # an onset with a note below this key weighs this much more
PERIODS = (60 / 220, 60 / 40)  # seconds: the beat periods the tracker considers (40-220 bpm)
PREFERRED, SPREAD = 0.55, 0.9  # the period prior: log-normal around 0.55 s (109 bpm), sigma in octaves... of e
AGENTS = 32
BACK = 6  # onsets back whose intervals propose agents
FADE = 8.0  # beats: the time constant of an agent's score
PHASE_GAIN, PERIOD_GAIN = 0.35, 0.12  # how far a hit moves an agent's phase and period
TOLERANCE, TOLERANCE_SHARE = 0.04, 0.1  # an onset this close to a beat (seconds + share of the period) is on it
HALF, MISS = 0.25, 0.3  # the credit of an onset on the half beat, the debit of one elsewhere (times its weight)
SUBDIVISIONS = np.array([1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4])
GAMMA = 1.0
SWITCH = 1.15  # a new winner must rank this much above the old one
LONG = 0.5  # the credit a note on the beat gets per beat it lasts
METERS = (2, 3, 4)
SILENCE = 4.0  # beats without an onset after which there is no beat (the player stopped)


@dataclass(frozen=True)
class Beat:
    time: float  # seconds
    downbeat: bool
    bpm: float
    confidence: float  # 0..1


class BeatTracker:
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


def track(notes, bpm: float | None = None, lookahead: float = 0.0, tracker=None) -> list[Beat]:
    """The beats a tracker says for note messages (time, pitch, velocity; note-ons with velocity > 0
    are onsets), in order. `lookahead` 0: each beat as the live tracker predicted it before it came
    (causal); more: each beat as the tracker saw it `lookahead` seconds later (an offline pass)."""
    tracker = (tracker or PointerTracker)(bpm)
    beats: list[Beat] = []
    done = None  # beats before this are said
    last = 0.0
    for time, pitch, velocity in notes:
        if not velocity:
            continue
        if tracker.pending is not None and time - tracker.pending[0] > CHORD:
            tracker.flush()
        done = time if done is None else done
        until = time - lookahead
        if until > done:
            for beat in tracker.beats_between(done, until):
                # a corrected phase may put a beat just after one already said: never two in a beat
                if not beats or beat.time - beats[-1].time >= 0.5 * tracker.beat_seconds:
                    beats.append(beat)
            done = until
        tracker.note(time, pitch, velocity)
        last = time
    tracker.flush()
    if done is not None:
        beats += [b for b in tracker.beats_between(done, last + tracker.beat_seconds)
                  if not beats or b.time - beats[-1].time >= 0.5 * tracker.beat_seconds]
    return [Beat(float(b.time), b.downbeat, float(b.bpm), b.confidence) for b in beats]


# -- a beat pointer: a grid of tempo and phase, filtered onset by onset ---------------------------
TEMPI, BINS = 56, 32  # beat periods on a log grid over PERIODS; phase bins per beat
DRIFT = 0.02  # the tempo's spread per second of elapsed time (log units)
EMPTY = 0.5  # the likelihood of a beat passing with no onset on it (relative to one with an onset)
JUMP = 0.06  # the share of belief that may jump to any tempo between two onsets (a change of tempo)
FLOOR = 0.15  # an onset's likelihood anywhere in the beat
STATS, SALIENCE, BASS_SALIENCE = 0.1, 1.5, 1.0  # how fast the salience's norms follow; its slope; a low note's share
LONG_SALIENCE, LONG_WEIGHT = 3.0, 0.5  # a long note's salience slope; the weight of that evidence
NORMALISE = True
ON, SUB = 1.0, 0.5  # the likelihood of an onset on the beat, on a half/third/quarter of it (times the floor)


class PointerTracker:
    """The beat as a filtered belief over (tempo, phase in the beat): between onsets every phase moves
    on at its tempo and the tempo spreads a little; an onset multiplies in how likely it is at each
    phase: strong onsets (loud, chords, bass) are likely on the beat, weak ones on a subdivision
    too. The beat is the most believed tempo and its phase (Cemgil et al.'s and Whiteley et al.'s
    idea on a small grid). Cost per onset: a few operations on a 56 x 32 array."""

    def __init__(self, bpm: float | None = None):
        self.periods = np.exp(np.linspace(np.log(PERIODS[0]), np.log(PERIODS[1]), TEMPI))
        centre = 60.0 / bpm if bpm else PREFERRED
        self.prior = np.exp(-0.5 * (np.log(self.periods / centre) / (SPREAD * 0.5)) ** 2)
        self.prior /= self.prior.sum()
        self.belief = np.repeat(self.prior[:, None] / BINS, BINS, axis=1)
        phase = np.arange(BINS) / BINS
        self.width = (TOLERANCE + TOLERANCE_SHARE * self.periods)[:, None] / self.periods[:, None] / 2
        self.on, self.sub = self._places(np.broadcast_to(phase[None, :], (TEMPI, BINS)))
        self.time = None  # the last onset heard
        self.pending: tuple[float, float, int] | None = None
        self.heard = 0.0
        self.hits = 0.5
        self.count = 0  # beats counted up to the last onset's beat
        self.accents = {m: np.zeros(m) for m in METERS}
        self.accented = None
        self._best = None  # (tempo index, phase in beats at the last onset)
        self.ioi = 0.3  # running geometric mean of the time between onsets
        self.loudness = self.spread = self.low = None  # running mean and variance of onset weight; mean lowest key

    note = BeatTracker.note

    def _places(self, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How near each phase (in beats, 0..1) is to the beat, and to a subdivision of it (0..1 each)."""
        near = np.minimum(phase, 1 - phase)
        sub = np.min(np.abs(phase[..., None] - SUBDIVISIONS), axis=-1)
        return np.exp(-0.5 * (near / self.width) ** 2), np.exp(-0.5 * (sub / self.width) ** 2)

    def _lasted(self, dt: float) -> None:
        """The onset before this one began a note that lasted `dt` (to this onset): longer than
        usual marks a beat. Heard now, at the phase that onset had under each hypothesis."""
        z = math.log(max(dt, 0.02) / self.ioi)
        self.ioi = math.exp(math.log(self.ioi) + STATS * math.log(max(dt, 0.02) / self.ioi))
        strength = 1.0 / (1.0 + math.exp(-LONG_SALIENCE * z))
        then = (np.arange(BINS)[None, :] / BINS - dt / self.periods[:, None]) % 1.0
        on, sub = self._places(then)
        self.belief = self.belief * self._density(FLOOR + ON * strength * on + SUB * (1.0 - strength) * sub) ** LONG_WEIGHT

    @staticmethod
    def _density(likelihood: np.ndarray) -> np.ndarray:
        """Each tempo's likelihood as a density over the phase: a fast tempo's beat window covers
        more of its cycle, and would otherwise explain any onset better than a slow one."""
        if NORMALISE:
            return likelihood / likelihood.mean(axis=1, keepdims=True)
        return likelihood

    def flush(self) -> None:
        """Hear the onset still gathering its chord, with its salience relative to the recent onsets:
        louder, fuller and lower than usual marks a beat; what a piece's loudness is does not matter."""
        if self.pending is None:
            return
        time, weight, low = self.pending
        self.pending = None
        if self.loudness is None:
            self.loudness, self.spread, self.low = weight, 0.04, float(low)
        z = (weight - self.loudness) / math.sqrt(self.spread) + BASS_SALIENCE * (self.low - low) / 12
        self.loudness += STATS * (weight - self.loudness)
        self.spread += STATS * ((weight - self.loudness) ** 2 - self.spread)
        self.spread = max(self.spread, 0.0025)
        self.low += STATS * (low - self.low)
        self._onset(time, 1.0 / (1.0 + math.exp(-SALIENCE * z)))
    _meter = BeatTracker._meter

    def _onset(self, t: float, weight: float) -> None:
        if self.time is not None:
            self._move(t - self.time)
            if LONG_WEIGHT:
                self._lasted(t - self.time)
        before = self._best
        self._observe(weight)
        self.time = t
        i = int(np.argmax(self.belief.sum(axis=1)))
        row = self.belief[i]
        angle = np.angle(np.sum(row * np.exp(2j * np.pi * np.arange(BINS) / BINS))) / (2 * np.pi) % 1.0
        if before is not None and self.heard:
            passed = before[1] + (t - self.heard) / self.periods[before[0]]
            self.count += int(np.floor(passed + 0.5)) - int(np.floor(angle + 0.5 - 1e-9) if angle > 0.5 else 0)
        near = min(angle, 1 - angle) * self.periods[i] <= TOLERANCE + TOLERANCE_SHARE * self.periods[i]
        # How sure: the belief near the chosen tempo (and its octaves, the same beat counted in
        # halves or doubles) and phase, against what a belief spread evenly would hold there.
        rows = np.abs(np.log(self.periods / self.periods[i]))
        rows = np.min(np.abs(rows[:, None] - np.log([1.0, 2.0])[None, :]), axis=1) < 0.06
        j = int(round(angle * BINS)) % BINS
        cols = np.minimum((np.arange(BINS) - j) % BINS, (j - np.arange(BINS)) % BINS) <= 2
        held = float(self.belief[np.ix_(rows, cols)].sum())
        even = rows.mean() * cols.mean()
        self.hits = float(np.clip((held - even) / (1.0 - even), 0.0, 1.0))
        self._accent_pointer(t, weight, i, angle, near)
        self._best = (i, angle)
        self.heard = t

    def _move(self, dt: float) -> None:
        # A beat that passed with no onset on it speaks against its tempo and phase: without this,
        # twice the tempo explains every onset as well and always wins.
        if EMPTY < 1.0:
            start = np.arange(BINS)[None, :] / BINS
            window = ((TOLERANCE + TOLERANCE_SHARE * self.periods) / self.periods)[:, None]
            end = start + (dt / self.periods)[:, None]
            empty = np.maximum(0, np.floor(end - window) - np.floor(start + window))
            self.belief = self.belief * EMPTY ** np.minimum(empty, 8)
        shift = dt / self.periods * BINS
        k, f = np.floor(shift).astype(np.int64), (shift % 1.0)[:, None]
        j = np.arange(BINS)[None, :]
        b = self.belief
        rows = np.arange(TEMPI)[:, None]
        moved = (1 - f) * b[rows, (j - k[:, None]) % BINS] + f * b[rows, (j - k[:, None] - 1) % BINS]
        spread = min(3, max(1, int(dt * DRIFT * TEMPI / np.log(PERIODS[1] / PERIODS[0]) * 4)))
        for _ in range(spread):
            moved = 0.5 * moved + 0.25 * (np.roll(moved, 1, axis=0) + np.roll(moved, -1, axis=0))
        blur = min(0.4, 0.1 + 0.05 * dt)
        moved = (1 - blur) * moved + blur / 2 * (np.roll(moved, 1, axis=1) + np.roll(moved, -1, axis=1))
        total = moved.sum()
        self.belief = (1 - JUMP) * moved / total + JUMP * (self.prior[:, None] * moved.sum(axis=0)[None, :] / total)

    def _observe(self, weight: float) -> None:
        likelihood = self._density(FLOOR + ON * weight * self.on + SUB * (1.0 - weight) * self.sub)
        b = self.belief * likelihood
        self.belief = b / b.sum()

    def _accent_pointer(self, t, weight, i, angle, near) -> None:
        if self.accented is not None:
            index, before, then = self.accented
            length = min(2.0, (t - then) / self.periods[i])
            for m in METERS:
                self.accents[m] *= 0.97
                self.accents[m][index % m] += before + 0.5 * length
        self.accented = (self.count, weight, t) if near else None

    @property
    def known(self) -> bool:
        return self._best is not None

    @property
    def beat_seconds(self) -> float:
        return float(self.periods[self._best[0]]) if self.known else PREFERRED

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_seconds

    confidence = BeatTracker.confidence

    def _grid(self):
        i, angle = self._best
        p = float(self.periods[i])
        last = self.heard - angle * p  # the beat at or before the last onset
        index = self.count - (1 if angle > 0.5 else 0)
        return p, last, index

    def beats_between(self, start: float, end: float) -> list[Beat]:
        if not self.known:
            return []
        p, last, index = self._grid()
        meter, down = self._meter()
        k = math.ceil((start - last) / p - 1e-9)
        out = []
        while last + k * p < end:
            out.append(Beat(last + k * p, (index + k - down) % meter == 0, 60.0 / p, self.confidence()))
            k += 1
        return out

    def next_beat(self, after: float, beats: float = 1.0) -> float | None:
        if not self.known:
            return None
        p, last, index = self._grid()
        meter, down = self._meter()
        if beats >= meter:
            k = math.ceil((after - last) / p - 1e-9)
            while (index + k - down) % meter:
                k += 1
            return last + k * p
        step = beats * p
        return last + math.ceil((after - last) / step - 1e-9) * step

    def position(self, at: float) -> tuple[float, int] | None:
        if not self.known:
            return None
        p, last, index = self._grid()
        meter, down = self._meter()
        return (index - down + (at - last) / p) % meter, meter
