"""The accompanist (model kind "accompaniment") on onnxruntime: a chord model under a texture.

The file holds one streaming step of the chord model (export/accompanist.py): at each beat, the
melody heard over the beat before (14 numbers, formats/chords.py) and where the coming beat falls
in the bar -> logits over 181 chord classes for the coming beat, and the next state. Its metadata
holds the texture patterns (models/texture.py: bars of POP909's piano parts) the chords are played
with. An `Accompaniment` is one part as it goes, beat by beat, the same live (live/accompany.py)
and from a file (offline/accompany.py):

- the chord: of the model's distribution over chords, the chord whose tones are likeliest to be
  tones of the chord the song has there (each pitch class's chance of being a tone, summed over
  the chords; the chord's mean over its tones): the part's notes are then as often as can be in
  the right chord, where the single likeliest chord may be a guess between two unlike ones. Never
  "no chord". (Keeping the chord in force until another was clearly likelier scored worse on the
  valid songs: docs/notes/accompanist.md);
- the form: where the melody's last beats repeat a passage it played before (a verse, a chorus come
  back), the chord is named as if the coming beat were heard already, from what the passage played
  next (`Form`): the chord model's chord after hearing a beat holds the melody far better than its
  chord before it (docs/notes/accompanist.md);
- the texture: a pattern drawn by how common it is, kept for HOLD bars, each beat's notes of it on
  the beat's chord; a note still sounding when the chord changes under it ends there unless it is
  a tone of the new chord; a key the player holds is never struck; a chord note whose pitch class
  is less than THIN likely to be a tone of the chord there is left out (the bass always plays);
- two parts: the bass (notes below BASS_BELOW) and the chords, each to its own channel; the chords
  kept under the melody (at most the median of its last RECENT_BEATS beats, an octave down at a time).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats.chords import CLASSES, MELODY_FEATURES, chord_name, chord_of, pitch_classes
from .file import ModelFileError, kind_name, open_session, resolve_model, trained_in, trial_run
from .texture import STEPS, Pattern

KIND = "accompaniment"
INPUTS, OUTPUTS = ("melody", "slot", "h"), ("logits", "h_next")
DEFAULT_ACCOMPANIST = "pop.onnx"  # the shipped accompanist (docs/models/pop.md)
SLOTS = 6  # bar positions the model tells apart (training/chords.py)
STEPS_PER_BEAT = 4
TONES = np.array([[pc in pitch_classes(c) for pc in range(12)] for c in range(CLASSES)], np.float64)  # (181, 12)
BASS_BELOW = 53  # MIDI key: a pattern's notes below F3 are the bass part
HOLD = 4  # bars a texture pattern is kept
THIN = 0.4  # a chord-part note whose pitch class is less likely than this to be a chord tone is left out
CEILING_BELOW = 0  # semitones: the chords stay this far under the median of the melody's recent pitches
RECENT_BEATS = 8  # the melody's recent pitches: its notes struck over this many beats
FORM_BEATS = 512  # beats of melody remembered to hear a passage come back (a whole song at pop tempos)
REPEAT_BEATS = 8  # the melody's last beats matched against the passages before them
REPEAT_DIFFER = 0.15  # the share of a beat's melody that may differ, on average over those beats, in a repeat


class AccompanistModel:
    """A loaded accompanist file: the chord model's session and the texture patterns."""

    def __init__(self, path: str | Path | None = None, threads: int = 1):
        self.path = resolve_model(path, DEFAULT_ACCOMPANIST)
        self.session, meta = open_session(self.path, threads)
        kind = meta.get("segue.kind")
        if kind != KIND:
            raise ModelFileError(f"{self.path}: {kind_name(kind)}, but this needs an accompanist (segue.kind {KIND})")
        try:
            codec = json.loads(meta["segue.codec"])
            if (int(codec["classes"]), int(codec["melody"]), int(codec["slots"])) != (CLASSES, MELODY_FEATURES, SLOTS):
                raise ValueError(f"a codec of {codec['classes']} chords, {codec['melody']} melody features and "
                                 f"{codec['slots']} bar slots (this segue reads {CLASSES}, {MELODY_FEATURES}, {SLOTS})")
            self.hidden = int(json.loads(meta["segue.state"])["h"][-1])
            rows = json.loads(meta["segue.patterns"])
            self.patterns = [Pattern.from_dict(r) for r in rows]
            counts = np.array([float(r.get("count", 1)) for r in rows])
            if not self.patterns or not (counts > 0).all():
                raise ValueError("no texture patterns, or a pattern with no count")
            self.weights = counts / counts.sum()
            self.training = json.loads(meta.get("segue.training", "{}"))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise ModelFileError(f"{self.path}: broken segue metadata ({type(err).__name__}: {err})") from None
        names = {i.name for i in self.session.get_inputs()}, {o.name for o in self.session.get_outputs()}
        if names != (set(INPUTS), set(OUTPUTS)):
            raise ModelFileError(f"{self.path}: graph inputs/outputs do not match an accompanist")
        trial_run(self.path, lambda: dict(zip(OUTPUTS, self._run(np.zeros(MELODY_FEATURES, np.float32), 0,
                                                                   self.initial_state()))),
                  {"logits": (1, CLASSES), "h_next": (1, 1, self.hidden)})

    def initial_state(self) -> np.ndarray:
        return np.zeros((1, 1, self.hidden), np.float32)

    def _run(self, melody: np.ndarray, slot: int, h: np.ndarray):
        return self.session.run(list(OUTPUTS), {"melody": melody.reshape(1, MELODY_FEATURES).astype(np.float32),
                                                "slot": np.array([slot], np.int64), "h": h})

    def step(self, melody: np.ndarray, slot: int, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the melody of the beat before, the coming beat's bar slot, state) -> (logits (181,), next state)."""
        logits, h_next = self._run(melody, min(max(int(slot), 0), SLOTS - 1), h)
        return logits[0], h_next

    def stream(self, seed: int | None = None) -> "Accompaniment":
        return Accompaniment(self, seed)

    def about(self) -> list[str]:
        metrics = self.training.get("metrics", {})
        lines = [str(self.path), f"  kind: accompanist: a chord model (GRU, hidden {self.hidden}, {CLASSES} chord "
                 f"classes, one step a beat) under {len(self.patterns)} texture patterns"]
        if metrics:
            lines.append(f"  valid: {metrics.get('nll', float('nan')):.3f} nats/beat, chord accuracy "
                         f"{metrics.get('accuracy', float('nan')):.3f}")
        if self.training.get("train_command"):
            lines.append(f"  trained by: {self.training['train_command']}")
        return lines + trained_in(self.training.get("run"))


def ceiling_of(pitches) -> int | None:
    """The highest key the chords may play under a melody whose recent pitches are `pitches`: its
    median less CEILING_BELOW (None: no melody heard yet)."""
    pitches = list(pitches)
    return int(np.median(pitches)) - CEILING_BELOW if pitches else None


class Form:
    """The melody's last FORM_BEATS beats (the chord model's 14 numbers each), to hear a passage come
    back: where the last REPEAT_BEATS beats differ from an earlier stretch by at most REPEAT_DIFFER
    of a beat on average (half the summed difference of the pitch-class and silent shares), the
    beat that followed that stretch is what the coming beat will likely play; the nearest of the
    closest stretches wins. Each beat's difference from the beat every lag before it is kept for
    the last REPEAT_BEATS beats, so a beat costs one pass over the memory, flat in the session."""

    def __init__(self):
        self.beats = np.zeros((FORM_BEATS, MELODY_FEATURES), np.float32)  # oldest first
        self.differ = np.zeros((REPEAT_BEATS, FORM_BEATS - 1), np.float32)  # [a recent beat, lag - 1]
        self.count = 0

    def add(self, heard: np.ndarray) -> None:
        self.beats[:-1] = self.beats[1:]
        self.beats[-1] = heard
        self.differ[:-1] = self.differ[1:]
        self.differ[-1] = np.abs(self.beats[-2::-1, :13] - self.beats[-1, :13]).sum(axis=1) / 2
        self.count = min(self.count + 1, FORM_BEATS)

    def coming(self) -> np.ndarray | None:
        """The coming beat's melody as an earlier passage like the last beats played it next, or None."""
        n = self.count
        if n < 2 * REPEAT_BEATS or self.beats[-REPEAT_BEATS:, 12].mean() >= 0.9:  # little heard, or the player rests
            return None
        # lags from REPEAT_BEATS to n - REPEAT_BEATS: earlier stretches wholly heard, not overlapping the last
        differ = self.differ[:, REPEAT_BEATS - 1:n - REPEAT_BEATS].sum(axis=0)
        best = int(np.argmin(differ))  # the nearest of the closest
        if differ[best] > REPEAT_DIFFER * REPEAT_BEATS:
            return None
        return self.beats[FORM_BEATS - REPEAT_BEATS - best].copy()


@dataclass(frozen=True)
class Note:
    """A note message of the accompaniment: `step` sixteenths from the part's first beat; velocity 0 ends it."""

    step: int
    pitch: int
    velocity: int
    part: str  # "bass" or "chords"


@dataclass
class Accompaniment:
    """One accompaniment as it goes: call `beat` at every beat, in order."""

    model: AccompanistModel
    seed: int | None = None
    chord: int = 0  # the chord class in force (0: none yet)
    beats: int = 0  # beats played
    pattern: Pattern | None = None
    bars: int = 0  # bars with the current pattern
    sounding: dict[int, tuple[int, str]] = field(default_factory=dict)  # pitch -> (the step it ends, its part)

    def __post_init__(self):
        self.h = self.model.initial_state()
        self.tone = np.ones(12)  # each pitch class's chance of being a tone of the chord in force
        self.rng = np.random.default_rng(self.seed)
        self.form = Form()
        self.repeating = False  # the chord in force was named from a passage heard before

    @property
    def name(self) -> str:
        return chord_name(self.chord) if self.chord else "-"

    @staticmethod
    def tones(logits: np.ndarray) -> np.ndarray:
        """Each pitch class's chance of being a tone of the coming beat's chord (no chord left out)."""
        logits = np.asarray(logits, np.float64)
        p = np.exp(logits - logits.max())
        p[0] = 0.0  # an accompanist plays: never "no chord"
        return (p @ TONES) / p.sum()

    @staticmethod
    def choose(logits: np.ndarray) -> int:
        """The chord for the coming beat whose tones are, on average, likeliest to be the true chord's."""
        tone = Accompaniment.tones(logits)
        return 1 + int(np.argmax(TONES[1:] @ tone / TONES[1:].sum(axis=1)))

    def beat(self, heard: np.ndarray, slot: int, held=(), ceiling: int | None = None,
             next_slot: int | None = None) -> list[Note]:
        """The notes of the coming beat (and the ends of earlier notes that fall in it), from the
        melody heard over the beat before and the coming beat's place in the bar (`slot`, 0 on a
        downbeat; None: not known). `held`: the player's held keys, never struck. `ceiling`: the
        chords stay at or under it (the melody's register: `ceiling_of`), an octave down at a time.
        Where the melody's last beats repeat a passage heard before (`Form`), the chord model is
        stepped once more, its step discarded, with the beat that passage played next, as if it
        were heard already: the chord it names then is played. `next_slot`: the slot of the beat
        after the coming one (None: the bar taken as 4 beats)."""
        slot = 0 if slot is None else int(slot)
        logits, self.h = self.model.step(heard, slot, self.h)
        self.form.add(heard)
        coming = self.form.coming()
        self.repeating = coming is not None
        if coming is not None:  # a passage come back: the chord after hearing the beat it played then
            logits, _ = self.model.step(coming, (slot + 1) % 4 if next_slot is None else int(next_slot), self.h)
        chord = self.choose(logits)
        self.tone = self.tones(logits)
        start = self.beats * STEPS_PER_BEAT
        out: list[Note] = []
        if chord != self.chord:  # what sounds on and is not a tone of the new chord ends at the change
            tones = pitch_classes(chord)
            for pitch, (end, part) in sorted(self.sounding.items()):
                if pitch % 12 not in tones:
                    out.append(Note(start, pitch, 0, part))
                    del self.sounding[pitch]
        self.chord = chord
        if slot == 0 or self.pattern is None:
            if self.pattern is None or self.bars >= HOLD:
                self.pattern = self.model.patterns[int(self.rng.choice(len(self.model.patterns), p=self.model.weights))]
                self.bars = 0
            self.bars += 1
        out += self._notes(start, slot % (STEPS // STEPS_PER_BEAT), set(held), ceiling)
        self.beats += 1
        return out

    def _notes(self, start: int, beat_in_pattern: int, held: set[int], ceiling: int | None) -> list[Note]:
        root, quality = chord_of(self.chord)
        pattern = self.pattern
        pitches = pattern.on(root, quality)
        lo, hi = beat_in_pattern * STEPS_PER_BEAT, (beat_in_pattern + 1) * STEPS_PER_BEAT
        events: list[Note] = []
        for i in np.argsort(pattern.steps, kind="stable"):
            s = int(pattern.steps[i])
            if not lo <= s < hi:
                continue
            pitch = int(np.clip(pitches[i], 0, 127))
            if ceiling is not None and pitch >= BASS_BELOW and pitch > ceiling:
                pitch -= 12 * -(-(pitch - ceiling) // 12)
                if pitch < BASS_BELOW:
                    continue  # no room under the melody for this one
            if pitch in held:
                continue
            if pitch >= BASS_BELOW and self.tone[pitch % 12] < THIN:
                continue  # a chord note the model is not sure of: left out (the bass always plays)
            at = start + s - lo
            if pitch in self.sounding:  # struck again: the old one ends first
                events.append(Note(at, pitch, 0, self.sounding.pop(pitch)[1]))
            part = "bass" if pitch < BASS_BELOW else "chords"
            self.sounding[pitch] = (at + int(pattern.lengths[i]), part)
            events.append(Note(at, pitch, int(np.clip(pattern.velocities[i], 1, 127)), part))
        end = start + STEPS_PER_BEAT  # notes that end within this beat (before the next is drawn)
        for pitch, (stop, part) in sorted(self.sounding.items(), key=lambda kv: kv[1][0]):
            if stop <= end:
                events.append(Note(max(stop, start), pitch, 0, part))
                del self.sounding[pitch]
        return sorted(events, key=lambda e: (e.step, e.velocity > 0))

    def close(self) -> list[Note]:
        """The ends of what still sounds, at the end of the beats played."""
        end = self.beats * STEPS_PER_BEAT
        out = [Note(min(stop, end), p, 0, part) for p, (stop, part) in sorted(self.sounding.items())]
        self.sounding.clear()
        return out
