"""Piano-roll frames: 88 keys (MIDI 21..108) on a beat grid, as the RNN-RBM sees music.

A piece is a list of frames; a frame is the set of pitches sounding during it. The benchmark
JSON of ../shared/data/polyphonic stores exactly that ({"train": [piece, ...], ...}, each frame
a list of pitches). MIDI files are sampled on a grid of `beats` per frame: a pitch is in a frame
when a note of it sounds at the frame's midpoint, or starts inside the frame (short notes are
not lost between two midpoints).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .midifile import NoteMessage, read_notes

LOW, HIGH = 21, 108  # A0..C8, the piano's keys
KEYS = HIGH - LOW + 1
SPLITS = ("train", "valid", "test")


class PianoRollError(ValueError):
    """Data that is not a piano roll: wrong JSON shapes, pitches off the keyboard, empty pieces."""


def load_json(path: str | Path, splits=SPLITS) -> dict[str, list[np.ndarray]]:
    """{split: [bool array (frames, 88)]} from a benchmark JSON file; one clear error per problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PianoRollError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PianoRollError(f"{path}: not JSON ({err})") from None
    if not isinstance(data, dict) or not any(s in data for s in splits):
        raise PianoRollError(f"{path}: expected an object with {', '.join(splits)} lists of pieces")
    out = {}
    for split in splits:
        if split not in data:
            continue
        pieces = data[split]
        if not isinstance(pieces, list):
            raise PianoRollError(f"{path}: {split} must be a list of pieces")
        out[split] = [to_roll(piece, where=f"{path}: {split}[{i}]") for i, piece in enumerate(pieces)]
    return out


def to_roll(piece, where: str = "piece") -> np.ndarray:
    """A list of frames (lists of MIDI pitches) -> bool array (frames, 88)."""
    if not isinstance(piece, list) or not piece:
        raise PianoRollError(f"{where}: a piece must be a non-empty list of frames")
    roll = np.zeros((len(piece), KEYS), bool)
    for t, frame in enumerate(piece):
        if not isinstance(frame, list):
            raise PianoRollError(f"{where} frame {t}: a frame must be a list of pitches")
        for pitch in frame:
            if not isinstance(pitch, (int, float)) or isinstance(pitch, bool) or pitch != int(pitch):
                raise PianoRollError(f"{where} frame {t}: {pitch!r} is not a MIDI pitch")
            if not LOW <= pitch <= HIGH:
                raise PianoRollError(f"{where} frame {t}: pitch {int(pitch)} is outside {LOW}..{HIGH}")
            roll[t, int(pitch) - LOW] = True
    return roll


def from_midi(path: str | Path, beats: float = 1.0, channel: int | None = None) -> np.ndarray:
    """A MIDI file on a grid of `beats` per frame (the file's own tempo map) -> bool (frames, 88)."""
    spans = note_spans_in_beats(read_notes(path, channel=channel, beats=True))
    if not spans:
        raise PianoRollError(f"{path}: no notes")
    frames = max(1, math.ceil(max(end for _, end, _ in spans) / beats - 1e-9))
    roll = np.zeros((frames, KEYS), bool)
    for onset, end, pitch in spans:
        while pitch < LOW:
            pitch += 12
        while pitch > HIGH:
            pitch -= 12
        first = int(onset // beats)
        last = max(first, math.ceil(end / beats - 0.5) - 1)  # frames whose midpoint it covers
        roll[first:last + 1, pitch - LOW] = True
    return roll


def note_spans_in_beats(notes: list[NoteMessage]) -> list[tuple[float, float, int]]:
    """(onset, end, pitch) for every released note of a list timed in beats (channels merged)."""
    open_notes: dict[tuple[int, int], float] = {}
    spans = []
    for n in notes:
        key = (n.channel, n.pitch)
        if key in open_notes:
            spans.append((open_notes.pop(key), n.time, n.pitch))
        if n.velocity > 0:
            open_notes[key] = n.time
    return spans


def to_notes(roll: np.ndarray, seconds_per_frame: float, velocity: int = 80, channel: int = 0,
             start: float = 0.0) -> list[NoteMessage]:
    """Frames -> note messages: a pitch held over consecutive frames is one note."""
    roll = np.asarray(roll, bool)
    padded = np.vstack([np.zeros((1, KEYS), bool), roll, np.zeros((1, KEYS), bool)])
    changes = padded[1:].astype(np.int8) - padded[:-1].astype(np.int8)  # +1 onset, -1 release
    notes = []
    for t, key in zip(*np.nonzero(changes)):
        vel = velocity if changes[t, key] > 0 else 0
        notes.append(NoteMessage(start + t * seconds_per_frame, int(key) + LOW, vel, channel))
    return sorted(notes, key=lambda n: (n.time, n.velocity > 0, n.pitch))


def frame_accuracy(predicted: np.ndarray, target: np.ndarray) -> float:
    """TP / (TP + FP + FN) summed over all frames (the paper's measure)."""
    predicted, target = np.asarray(predicted, bool), np.asarray(target, bool)
    tp = np.sum(predicted & target)
    wrong = np.sum(predicted ^ target)
    return float(tp / (tp + wrong)) if tp + wrong else 1.0


def repeat_accuracy(rolls: list[np.ndarray]) -> float:
    """The baseline every piano-roll model is measured beside: each frame predicted as the one
    before it (silence before a piece's first), as `frame_accuracy`. Slow music scores high on it."""
    held = [np.vstack([np.zeros((1, r.shape[1]), bool), np.asarray(r[:-1], bool)]) for r in rolls]
    return frame_accuracy(np.concatenate(held), np.concatenate(rolls))


THRESHOLDS = np.round(np.arange(0.05, 0.955, 0.01), 2)


def expected_accuracy(marginals, target: np.ndarray, tune: tuple | None) -> dict:
    """Frame accuracy of predicting the keys whose probability of sounding (`marginals`, per
    frame of `target`) is above the threshold that scores best on other pieces, `tune` =
    (their rolls, their marginals); {} without them.

    Why a threshold below 0.5: with accuracy J = TP / (TP + FP + FN) over all frames, predicting
    one more key whose probability is p adds p to TP and 1 - p to the denominator on average,
    so it pays when p > J / (1 + J), about 0.25 at the accuracies here, not at 0.5."""
    if tune is None:
        return {}
    tune_rolls, tune_marginals = tune
    truth = np.concatenate(tune_rolls)
    threshold = max(THRESHOLDS, key=lambda t: frame_accuracy(tune_marginals > t, truth))
    return {"accuracy_expected": frame_accuracy(marginals > threshold, target),
            "threshold": float(threshold)}


def shifted(roll: np.ndarray, semitones: int) -> np.ndarray:
    """`roll` moved up (or down) by `semitones`; ValueError if a sounding key would leave the keyboard."""
    if semitones == 0:
        return roll
    keys = np.flatnonzero(roll.any(0))
    if len(keys) and not (0 <= keys[0] + semitones and keys[-1] + semitones < roll.shape[1]):
        raise ValueError(f"transposing by {semitones} semitones takes keys off the 88-key keyboard")
    out = np.zeros_like(roll)
    if semitones > 0:
        out[:, semitones:] = roll[:, :-semitones]
    else:
        out[:, :semitones] = roll[:, -semitones:]
    return out
