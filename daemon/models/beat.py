"""Hearing the player's beat: a causal beat and bar tracker on note onsets (numpy only).

The beat is a belief over (beat period, phase in the beat) on a small grid (TEMPI x BINS), filtered
onset by onset, as in the bar-pointer and Kalman tempo trackers (Whiteley, Cemgil and Godsill;
Cemgil et al.):
- between two onsets every phase moves on at its tempo, the tempo spreads a little, and a small
  share may jump to any tempo (a deliberate change); a beat that passes with no onset on it
  speaks against its tempo and phase (else twice the tempo always explains the onsets as well);
- an onset multiplies in how likely it is at each phase: salient onsets (louder, fuller, lower than
  the recent ones) on the beat, the others on a subdivision too; when the next onset comes, the
  note's length (longer than usual marks a beat) is heard at the phase it had. Each tempo's
  likelihood is a density over the phase, so no tempo wins by its window covering more of a cycle.
The beat is the most believed tempo and its phase; the confidence is the belief held near them.
The bar: the accents (salience, a long note) of the last 12 beats, placed on the beat grid as it is
believed now, counted per beat of the bar for 2, 3 and 4 beats; the most uneven count wins and its
most accented beat is the downbeat.

Cost per onset: a few operations on a 56 x 32 array, flat in the session's length. Causal:
nothing it says at time t depends on a note after t. benchmarks/beats.py measures it.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .salience import OnsetFeatures, SalienceModel

CHORD = 0.04  # seconds: notes struck this close are one onset
CHORD_SHARE = 0.5  # each further note of a chord adds this share of its loudness to the onset's weight
PERIODS = (60 / 220, 60 / 40)  # seconds: the beat periods the tracker considers (40-220 bpm)
PREFERRED, SPREAD = 0.55, 0.9  # the period prior: log-normal around 0.55 s (109 bpm), sigma in octaves... of e
GUESSED = (0.62, 1.45)  # with a first guess of the tempo (--bpm), the tempi heard: within these shares of it
TOLERANCE, TOLERANCE_SHARE = 0.04, 0.1  # an onset this close to a beat (seconds + share of the period) is on it
SUBDIVISIONS = np.array([1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4])
QUARTERS, THIRD_WEIGHT = 0.6, 0.6  # how likely an off-beat onset is on a quarter, a third of the beat (a half: 1)
SUBDIVISION_WEIGHTS = np.array([QUARTERS, THIRD_WEIGHT, 1.0, THIRD_WEIGHT, QUARTERS])  # for SUBDIVISIONS
METERS = (2, 3, 4)
DIVISION_WIDTH = 0.02  # seconds: an off-beat onset's reach when the beat's division is judged
HALVES, THIRDS_AT = np.array([0.25, 0.5, 0.75]), np.array([1 / 3, 2 / 3])  # off-beat places of a duple, a triple beat
THIRDS = 1.5  # the weight of off-beat onsets on thirds against halves from which the beat is heard in thirds
GRID_AGREE = 0.06  # a period within this share of a whole number of tatums, a phase within twice it: on the grid
CONFIDENT = 0.25  # the confidence from which a beat is used (free time stays below 0.15)
BAR_BEATS, BAR_MARKS = 12.0, 64  # the bar is counted on the accented beats of the last 12 beats (64 at most)
SILENCE = 4.0  # beats without an onset after which there is no beat (the player stopped)
FIT_ONSETS, FIT_BEATS, FIT_MEMORY = 24, 8.0, 4.0  # the fit of the grid to the recent onsets: how many, how far back, how fast older ones count less (beats)
FIT_NEAR, FIT_RANGE = 0.3, 0.06  # an onset within this share of a tatum of the grid is fitted; the fit moves the period this far at most


@dataclass(frozen=True)
class Beat:
    time: float  # seconds
    downbeat: bool
    bpm: float
    confidence: float  # 0..1
    division: int = 2  # the beat heard in halves (2) or thirds (3: a dotted quarter)


def track(notes, bpm: float | None = None, offline: bool = False, tracker=None) -> list[Beat]:
    """The beats a tracker says for note messages (time, pitch, velocity; note-ons with velocity > 0
    are onsets), in order: each beat as the live tracker predicted it before it came (causal), or
    `offline`, each placed by every note of the piece, before and after it (see `smooth`)."""
    tracker = (tracker or PointerTracker)(bpm)
    if offline:
        return smooth(tracker, notes)
    beats: list[Beat] = []
    done = None  # beats before this are said
    last = 0.0
    for time, pitch, velocity in notes:
        if not velocity:
            continue
        if tracker.pending is not None and time - tracker.pending[0] > CHORD:
            tracker.flush()
        done = time if done is None else done
        if time > done:
            for beat in tracker.beats_between(done, time):
                # a corrected phase may put a beat just after one already said: never two in a beat
                if not beats or beat.time - beats[-1].time >= 0.5 * tracker.beat_seconds:
                    beats.append(beat)
            done = time
        tracker.note(time, pitch, velocity)
        last = time
    tracker.flush()
    if done is not None:
        beats += [b for b in tracker.beats_between(done, last + tracker.beat_seconds)
                  if not beats or b.time - beats[-1].time >= 0.5 * tracker.beat_seconds]
    return [Beat(float(b.time), b.downbeat, float(b.bpm), b.confidence, b.division) for b in beats]


def _with(onset: tuple, pitch: int, velocity: int) -> tuple:
    """An onset (time, loudness, lowest key, highest key, notes) with one more note of its chord."""
    start, weight, low, high, notes = onset
    return start, weight + velocity / 127 * CHORD_SHARE, min(low, pitch), max(high, pitch), notes + 1


def onsets(notes) -> list[tuple[float, float, int, int, int]]:
    """Note messages (time, pitch, velocity) -> the onsets a tracker hears in them, as it gathers
    them: (time, loudness, lowest key, highest key, notes), the notes struck within CHORD of a first
    one being one onset."""
    out: list = []
    for time, pitch, velocity in notes:
        if not velocity:
            continue
        if out and time - out[-1][0] <= CHORD:
            out[-1] = _with(out[-1], pitch, velocity)
        else:
            out.append((time, velocity / 127, pitch, pitch, 1))
    return out


def phase_of(row: np.ndarray) -> float:
    """The circular mean of a belief over one beat's phase bins, in beats (0..1)."""
    return float(np.angle(np.sum(row * np.exp(2j * np.pi * np.arange(len(row)) / len(row)))) / (2 * np.pi) % 1.0)


def on_beat(phase, period):
    """Whether an onset at `phase` (in beats, 0..1; a number or an array) of a beat `period`
    seconds long is on the beat: within TOLERANCE seconds and TOLERANCE_SHARE of the period."""
    return np.minimum(phase, 1 - phase) * period <= TOLERANCE + TOLERANCE_SHARE * period


def meter_contrast(accents: np.ndarray) -> float:
    """How uneven accents counted per beat of a bar are (the bar of 4 a little favoured): the meter
    with the most uneven count is the bar, its most accented beat the downbeat."""
    mean = accents.mean()
    return float((accents.max() - mean) / (mean + 1e-9) * (1.15 if len(accents) == 4 else 1.0))


def smooth(tracker: "PointerTracker", notes) -> list[Beat]:
    """The offline pass: the live tracker's filter run forward over the piece, then its transpose run
    backward (forward-backward smoothing of the same model), so each onset's tempo and phase is
    believed from every note before and after it; the beats run from each onset on at its smoothed
    tempo and phase. The bar: one meter and downbeat for the piece, the one whose accents (salient
    onsets on the beat, long notes) are most uneven over the bar. Memory: about 14 KB an onset."""
    tracker.trace = []
    for time, pitch, velocity in notes:
        if velocity:
            tracker.note(time, pitch, velocity)
    tracker.flush()
    trace = tracker.trace
    if not trace:
        return []
    after = np.full((TEMPI, BINS), 1.0 / (TEMPI * BINS))  # what the onsets after this one say
    states = [None] * len(trace)
    for n in range(len(trace) - 1, -1, -1):
        t, _, _, likelihood, belief = trace[n]
        posterior = belief * after
        posterior /= posterior.sum()
        i = int(np.argmax(posterior.sum(axis=1)))
        angle = phase_of(posterior[i])
        tracker.belief = posterior
        states[n] = (t, angle, tracker._period(i), tracker._sure(i, angle))
        if n:
            after = tracker._move(after * likelihood, trace[n][1], backward=True)
    times = [s[0] for s in states] + [trace[-1][0] + states[-1][2]]
    beats: list[tuple[float, float, float]] = []  # (time, period, confidence)
    for (t, angle, period, sure), until in zip(states, times[1:]):
        beat = t - angle * period  # the beat at or before this onset
        while beat < until:
            if beat >= t - 0.5 * period and (not beats or beat - beats[-1][0] >= 0.5 * period):
                beats.append((beat, period, sure))
            beat += period
    # the bar: each beat's accent from the onsets on it (salience, and how long until the next onset)
    onsets = np.array([e[0] for e in trace])
    weights = np.array([e[2] for e in trace])
    lengths = np.append(np.diff(onsets), 1.0)
    accent = np.zeros(len(beats))
    for b, (time, period, _) in enumerate(beats):
        lo, hi = np.searchsorted(onsets, [time - TOLERANCE - TOLERANCE_SHARE * period,
                                          time + TOLERANCE + TOLERANCE_SHARE * period])
        if hi > lo:
            accent[b] = weights[lo:hi].max() + 0.5 * min(2.0, lengths[lo:hi].max() / period)
    best, down, pick = 4, 0, 0.0
    for m in METERS:
        if len(beats) < 2 * m:
            continue
        counts = np.array([accent[d::m].mean() for d in range(m)])
        contrast = meter_contrast(counts)
        if contrast > pick:
            best, down, pick = m, int(np.argmax(counts)), contrast
    division = tracker.division
    return [Beat(float(time), (b - down) % best == 0, 60.0 / period, sure, division)
            for b, (time, period, sure) in enumerate(beats)]


# -- a beat pointer: a grid of tempo and phase, filtered onset by onset ---------------------------
TEMPI, BINS = 56, 32  # beat periods on a log grid over PERIODS; phase bins per beat
DRIFT = 0.02  # the tempo's spread per square root of a second (log units)
EMPTY = 0.5  # the likelihood of a beat passing with no onset on it (relative to one with an onset)
JUMP = 0.06  # the share of belief that may jump to any tempo in half a second (a change of tempo)
FLOOR = 0.15  # an onset's likelihood anywhere in the beat
STATS, SALIENCE, BASS_SALIENCE = 0.1, 1.5, 1.0  # how fast the norm of the gaps follows; the salience's slope; a low note's share
LONG_SALIENCE, LONG_WEIGHT = 3.0, 0.5  # a long note's salience slope; the weight of that evidence
NORMALISE = True
WEAK_ON = 0.5  # a weak onset's likelihood on the beat, as a share of its likelihood on a subdivision
ON, SUB = 1.0, 0.5  # the likelihood of an onset on the beat, on a half/third/quarter of it (times the floor)


class PointerTracker:
    """The beat as a filtered belief over (tempo, phase in the beat): between onsets every phase moves
    on at its tempo and the tempo spreads a little; an onset multiplies in how likely it is at each
    phase: strong onsets (loud, chords, bass) are likely on the beat, weak ones on a subdivision
    too. The beat is the most believed tempo and its phase (Cemgil et al.'s and Whiteley et al.'s
    idea on a small grid). Cost per onset: a few operations on a 56 x 32 array."""

    def __init__(self, bpm: float | None = None, salience: str | Path | None | bool = True):
        """`bpm`: a first guess (--bpm), which is the level the beat is heard at: the tempo is found
        within GUESSED of it (a change of x0.75 or x1.33 followed, a dotted quarter of a guessed
        quarter heard), never at twice or half of it, where the eighths of a slow tune would
        otherwise be heard as its beat; a guess outside PERIODS, which the tracker cannot hear, only
        centres its prior. `salience`: the learned onset salience where the beat is placed
        (True: the shipped one, a path: that file, False: the tracker's own salience alone)."""
        self.salience = None
        if salience is not False:
            self.salience = SalienceModel.shared(None if salience is True else salience).stream()
        self.periods = np.exp(np.linspace(np.log(PERIODS[0]), np.log(PERIODS[1]), TEMPI))
        self.step = math.log(PERIODS[1] / PERIODS[0]) / (TEMPI - 1)  # log units between two tempi
        centre = 60.0 / bpm if bpm else PREFERRED
        self.prior = np.exp(-0.5 * (np.log(self.periods / centre) / (SPREAD * 0.5)) ** 2)
        # a first guess is the level of the beat: a change of tempo (x0.75, x1.33) is followed, and a
        # dotted quarter of a guessed quarter (x2/3), but never twice or half the guess
        self.allowed = None  # the tempi heard, given a first guess it can hear (True where heard)
        if bpm and PERIODS[0] <= 60.0 / bpm <= PERIODS[1]:
            self.allowed = (60.0 / self.periods >= GUESSED[0] * bpm) & (60.0 / self.periods <= GUESSED[1] * bpm)
            self.prior *= self.allowed
        self.prior /= self.prior.sum()
        self._heard_rows = TEMPI if self.allowed is None else int(self.allowed.sum())
        self.belief = np.repeat(self.prior[:, None] / BINS, BINS, axis=1)
        phase = np.arange(BINS) / BINS
        self._phases = phase[None, :]
        self._phase_seconds = self._phases * self.periods[:, None]  # each bin's time into the beat
        self._grid_rows: dict = {}  # _sure's rows for a (tempo, parts): the same for every onset
        self._window = ((TOLERANCE + TOLERANCE_SHARE * self.periods) / self.periods)[:, None]  # in beats
        self.width = (TOLERANCE + TOLERANCE_SHARE * self.periods)[:, None] / self.periods[:, None] / 2
        self.on, self.sub = self._places(np.broadcast_to(phase[None, :], (TEMPI, BINS)))
        self.time = None  # the last onset heard
        self.pending: tuple[float, float, int, int, int] | None = None  # (time, loudness, lowest, highest key, notes)
        self.heard = 0.0
        self.hits = 0.5
        self.count = 0  # the index of the beat at or before the last onset (bars are counted on it)
        self.marks: deque = deque(maxlen=BAR_MARKS)  # the recent accented beats: (time, accent)
        self._bar = (4, 0)  # (beats per bar, the index of a downbeat mod the bar): _count_bar
        self.thirds = False
        self.accented = None
        self._best = None  # (tempo index, phase in beats at the last onset, beat period in seconds)
        self.trace: list | None = None  # a list: every onset's time, gap, weight, likelihood, belief
        self.recent: deque = deque(maxlen=FIT_ONSETS)  # the times of the last onsets heard
        self.ioi = 0.3  # running geometric mean of the time between onsets
        self.features = OnsetFeatures()  # each onset against the running norms of the recent ones

    def note(self, time: float, pitch: int, velocity: int) -> None:
        """A note struck at `time` (seconds, never earlier than the last one heard)."""
        if self.pending is not None and time - self.pending[0] <= CHORD:
            self.pending = _with(self.pending, pitch, velocity)
            return
        self.flush()
        self.pending = (time, velocity / 127, pitch, pitch, 1)

    def _places(self, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How near each phase (in beats, 0..1) is to the beat, and to a subdivision of it (0..1 each)."""
        near = np.minimum(phase, 1 - phase)
        sub = np.max(SUBDIVISION_WEIGHTS * np.exp(-0.5 * ((phase[..., None] - SUBDIVISIONS) / self.width[..., None]) ** 2), axis=-1)
        return np.exp(-0.5 * (near / self.width) ** 2), sub

    def _lasted(self, dt: float) -> np.ndarray:
        """The onset before this one began a note that lasted `dt` (to this onset): longer than
        usual marks a beat. Heard now, at the phase that onset had under each hypothesis: the
        likelihood of each (tempo, phase) now."""
        z = math.log(max(dt, 0.02) / self.ioi)
        self.ioi = math.exp(math.log(self.ioi) + STATS * math.log(max(dt, 0.02) / self.ioi))
        strength = 1.0 / (1.0 + math.exp(-LONG_SALIENCE * z))
        then = (np.arange(BINS)[None, :] / BINS - dt / self.periods[:, None]) % 1.0
        on, sub = self._places(then)
        return self._density(FLOOR + ON * strength * on + SUB * (1.0 - strength) * (sub + WEAK_ON * on)) ** LONG_WEIGHT

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
        time, weight, low, high, notes = self.pending
        self.pending = None
        features = self.features(time, weight, low, high, notes)  # against the recent onsets' norms
        beat = None if self.salience is None else self.salience(features)
        z = self.features.louder + BASS_SALIENCE * self.features.lower
        self._onset(time, 1.0 / (1.0 + math.exp(-SALIENCE * z)), beat)
    def _count_bar(self) -> None:
        """The bar from the accents of the last BAR_BEATS beats, each placed on the beat grid as it is
        believed now (not by a running count, which a phase that wavered once would have moved for
        good): per meter, the accents summed per beat of the bar; the most uneven count wins and its
        most accented beat is the downbeat. O(BAR_MARKS)."""
        if not self.marks:
            return
        p, last, index = self._grid()
        marks = np.array([m for m in self.marks if last - m[0] <= BAR_BEATS * p])
        if not len(marks):
            return
        at = index - np.round((last - marks[:, 0]) / p).astype(int)
        best, pick = 4, (0.0, 0)
        for m in METERS:
            accents = np.bincount(at % m, weights=marks[:, 1], minlength=m)
            if accents.sum() <= 0:
                continue
            contrast = meter_contrast(accents)
            if contrast > pick[0]:
                best, pick = m, (contrast, int(np.argmax(accents)))
        self._bar = (best, pick[1])

    # -- output ------------------------------------------------------------------------------


    def _onset(self, t: float, weight: float, beat: float | None = None) -> None:
        """An onset at `t`: `weight` its salience (the bar's accents, the fit), `beat` the learned
        chance that it is on a beat (where the beat is placed; None: its salience)."""
        likelihood = self._likelihood(weight if beat is None else beat)
        dt = None
        if self.time is not None:
            dt = t - self.time
            self.belief = self._move(self.belief, dt)
            if LONG_WEIGHT:
                likelihood = likelihood * self._lasted(dt)
        before = self._best
        b = self.belief * likelihood
        self.belief = b / b.sum()
        if self.trace is not None:  # for the offline pass: what this onset said, and the belief after it
            self.trace.append((t, dt, weight, likelihood.astype(np.float32), self.belief.astype(np.float32)))
        self.time = t
        i = int(np.argmax(self.belief.sum(axis=1)))
        row = self.belief[i]
        angle = phase_of(row)
        near = on_beat(angle, self.periods[i])
        self.hits = self._sure(i, angle)
        self.recent.append(t)
        self._best = (i, *self._fit(t, angle, self._period(i)))
        fitted, period = self._best[1], self._best[2]
        self._divide(t, fitted, period)
        if before is not None:
            # the beats from the last onset's beat line to this one's, on the new period: a beat
            # line is counted once whatever the phase (an onset on the off-beat included)
            self.count += round(((t - fitted * period) - (self.heard - before[1] * before[2])) / period)
        self._accent_pointer(t, weight, i, fitted, near)
        self.heard = t
        self._count_bar()

    def _divide(self, t: float, angle: float, period: float) -> None:
        """Halves or thirds of the beat (a dotted quarter: 6/8, 9/8, 12/8), from where the off-beat
        onsets of the last FIT_BEATS fall on the grid as it is fitted now: near a quarter or a half
        of the beat against near a third. Thirds once they outweigh the halves by THIRDS (a duple
        tune heard in thirds plays its answers off the grid), halves again once they no longer
        outweigh them or nothing is off the beat. Judged afresh at every onset, not tallied onset
        by onset on the belief of the moment: that belief is pulled towards the half by the
        onset's own likelihood, and a jig's eighths played with 10-25 ms of jitter were heard in
        halves in two of three sessions at the player's beat (benchmarks/heard_grid.py). Only the
        span the grid is fitted on: on a drifting tempo older onsets fall anywhere on today's grid
        (a duple tune heard at twice its tempo was heard in thirds). O(FIT_ONSETS)."""
        recent = np.fromiter(self.recent, float, len(self.recent))
        recent = recent[t - recent <= FIT_BEATS * period]
        phase = ((recent - (t - angle * period)) / period) % 1.0
        off = phase[~on_beat(phase, period)]
        if not len(off):
            self.thirds = False
            return
        halves = np.min(np.abs(off[:, None] - HALVES), axis=1)
        thirds = np.min(np.abs(off[:, None] - THIRDS_AT), axis=1)
        near = np.exp(-0.5 * (np.vstack([halves, thirds]) / (DIVISION_WIDTH / period)) ** 2).sum(axis=1)
        ratio = near[1] / (near[0] + 1e-9)
        self.thirds = ratio > 1.0 if self.thirds else ratio > THIRDS

    def _fit(self, t: float, angle: float, period: float) -> tuple[float, float]:
        """The believed beat (its phase at `t`, in beats, and its period) refined by a weighted
        least-squares line through the recent onsets that fall near its grid (halves, or thirds,
        of the beat): the belief's grid places the beat to a bin and a tempo step (3 %), the line to
        what the onsets say, the recent ones most (a drifting tempo). Every onset counts alike
        whatever its salience: a loud or low note is no more exactly timed than a soft one (weighing
        them by salience cost 0.035 beat F on the valid corpus tunes, docs/benchmarks.md). Cemgil's
        Kalman tracker in its simplest form. O(FIT_ONSETS)."""
        tatum = period / (3 if self.thirds else 2)
        beat = t - angle * period  # a beat of the believed grid
        rows = [(round((s - beat) / tatum), s, math.exp(-(t - s) / (FIT_MEMORY * period)))
                for s in self.recent if t - s <= FIT_BEATS * period]
        rows = [r for r in rows if abs((r[1] - beat) / tatum - r[0]) <= FIT_NEAR]
        if len({r[0] for r in rows}) < 3:
            return angle, period
        k, s, w = (np.array(c, float) for c in zip(*rows))
        km, sm = np.average(k, weights=w), np.average(s, weights=w)
        slope = np.sum(w * (k - km) * (s - sm)) / np.sum(w * (k - km) ** 2)
        slope = float(np.clip(slope, tatum * (1 - FIT_RANGE), tatum * (1 + FIT_RANGE)))
        start = sm - slope * km  # the fitted time of the believed beat
        fitted = slope * period / tatum
        return float((t - start) / fitted % 1.0), float(fitted)

    def _period(self, i: int) -> float:
        """The beat period between the grid's tempi: the belief-weighted mean (in log) of the tempi
        next to the most believed one (the grid's steps are 3 %: an answer of 16 beats would drift
        a third of a beat on them)."""
        rows = slice(max(0, i - 2), i + 3)
        weight = self.belief[rows].sum(axis=1)
        return float(np.exp(np.sum(weight * np.log(self.periods[rows])) / weight.sum()))

    def _sure(self, i: int, angle: float) -> float:
        """How sure of the grid the beat is on: the belief in hypotheses whose beats fall on the chosen
        beat's halves (or thirds), at a period of a whole number of them, against what a belief spread
        evenly would hold there (0: no better than chance). Which eighth of a jig is the beat may stay
        open while its eighths are sure: an answer on any of them is on the player's grid."""
        period = self.periods[i]
        best = 0.0
        for parts in (2, 3):
            tatum = period / parts
            rows = self._grid_rows.get((i, parts))
            if rows is None:  # the tempi a whole number of this tempo's tatums (at most two beats) long
                n = self.periods / tatum
                rows = (np.abs(n / np.maximum(np.round(n), 1) - 1) < GRID_AGREE) & (np.round(n) <= 2 * parts)
                if self.allowed is not None:  # a belief spread evenly over the tempi heard
                    rows &= self.allowed
                self._grid_rows[(i, parts)] = rows
            offset = (self._phase_seconds - angle * period) % tatum
            cols = np.minimum(offset, tatum - offset) <= GRID_AGREE * tatum * 2
            mask = rows[:, None] & cols
            even = mask.sum() / (self._heard_rows * BINS)
            if even >= 1.0:
                continue
            held = float(self.belief[mask].sum())
            best = max(best, (held - even) / (1.0 - even))
        return float(np.clip(best, 0.0, 1.0))

    def _move(self, b: np.ndarray, dt: float, backward: bool = False) -> np.ndarray:
        """The belief `b` `dt` seconds on: every phase moves on at its tempo, the tempo spreads, the
        phase blurs, a share jumps to any tempo. `backward`: the transpose of that step, which
        carries what the later onsets say back to an earlier one (the offline pass)."""
        # A beat that passed with no onset on it speaks against its tempo and phase: without this,
        # twice the tempo explains every onset as well and always wins.
        empty = None
        if EMPTY < 1.0:
            start, window = self._phases, self._window
            end = start + (dt / self.periods)[:, None]
            empty = EMPTY ** np.minimum(np.maximum(0, np.floor(end - window) - np.floor(start + window)), 8)
        shift = dt / self.periods * BINS
        k, f = np.floor(shift).astype(np.int64)[:, None], (shift % 1.0)[:, None]
        j = np.arange(BINS)[None, :]
        rows = np.arange(TEMPI)[:, None]
        # the tempo spreads by DRIFT (log units) per square root of a second: a variance in rows of
        # the grid in proportion to the time elapsed, in passes of a [a, 1 - 2a, a] kernel
        variance = dt * (DRIFT / self.step) ** 2
        passes = min(4, max(1, math.ceil(variance / 0.5)))
        a = min(0.25, variance / passes / 2)
        blur = min(0.4, 0.1 + 0.05 * dt)
        jump = 1.0 - (1.0 - JUMP) ** min(dt / 0.5, 8.0)  # JUMP per half second

        def spread(m):  # symmetric: its own transpose
            for _ in range(passes):
                # the neighbouring tempi, reflected at the ends of the range (the slowest tempo is no
                # neighbour of the fastest)
                slower, faster = np.empty_like(m), np.empty_like(m)
                slower[1:], slower[0] = m[:-1], m[0]
                faster[:-1], faster[-1] = m[1:], m[-1]
                m = (1 - 2 * a) * m + a * (slower + faster)
            return (1 - blur) * m + blur / 2 * (np.roll(m, 1, axis=1) + np.roll(m, -1, axis=1))

        if not backward:
            if empty is not None:
                b = b * empty
            moved = spread((1 - f) * b[rows, (j - k) % BINS] + f * b[rows, (j - k - 1) % BINS])
            if self.allowed is not None:
                moved = moved * self.allowed[:, None]
            total = moved.sum()
            return (1 - jump) * moved / total + jump * (self.prior[:, None] * moved.sum(axis=0)[None, :] / total)
        b = (1 - jump) * b + jump * (self.prior[:, None] * b).sum(axis=0)[None, :]
        if self.allowed is not None:
            b = b * self.allowed[:, None]
        b = spread(b)
        b = (1 - f) * b[rows, (j + k) % BINS] + f * b[rows, (j + k + 1) % BINS]
        if empty is not None:
            b = b * empty
        return b / b.sum()

    def _likelihood(self, weight: float) -> np.ndarray:
        """An onset of salience `weight` (0..1), at each (tempo, phase)."""
        return self._density(FLOOR + ON * weight * self.on + SUB * (1.0 - weight) * (self.sub + WEAK_ON * self.on))

    def _accent_pointer(self, t, weight, i, angle, near) -> None:
        """The onset before this one, if it was on a beat, marks that beat with its accent: its
        salience and how long it lasted (to this onset)."""
        if self.accented is not None:
            beat, before, then = self.accented
            self.marks.append((beat, before + 0.5 * min(2.0, (t - then) / self.periods[i])))
        period = self._best[2]
        self.accented = (t - angle * period + (period if angle > 0.5 else 0.0), weight, t) if near else None

    @property
    def known(self) -> bool:
        return self._best is not None

    @property
    def beat_seconds(self) -> float:
        return self._best[2] if self.known else PREFERRED

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_seconds

    @property
    def division(self) -> int:
        """3 when the beat is heard in thirds (a dotted quarter: 6/8, 9/8, 12/8), else 2."""
        return 3 if self.thirds else 2

    def confidence(self, now: float | None = None, sounded: float | None = None) -> float:
        """0..1: how well the beat explains the recent onsets (0 when the player has stopped: nothing
        struck, nor sounding since `sounded` when that is later, for SILENCE beats before `now`)."""
        if not self.known:
            return 0.0
        last = self.heard if sounded is None else max(self.heard, sounded)
        if now is not None and now - last > SILENCE * self.beat_seconds:
            return 0.0
        return float(np.clip(self.hits, 0.0, 1.0))

    def _grid(self):
        i, angle, p = self._best
        last = self.heard - angle * p  # the beat at or before the last onset
        index = self.count
        return p, last, index

    def beats_between(self, start: float, end: float) -> list[Beat]:
        if not self.known:
            return []
        p, last, index = self._grid()
        meter, down = self._bar
        k = math.ceil((start - last) / p - 1e-9)
        out = []
        while last + k * p < end:
            out.append(Beat(last + k * p, (index + k - down) % meter == 0, 60.0 / p, self.confidence(),
                            self.division))
            k += 1
        return out

    def next_beat(self, after: float, beats: float = 1.0) -> float | None:
        if not self.known:
            return None
        p, last, index = self._grid()
        meter, down = self._bar
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
        meter, down = self._bar
        return (index - down + (at - last) / p) % meter, meter
