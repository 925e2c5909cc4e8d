"""Event data sets for training, built with the runtime's codec, from MIDI files or benchmark JSON."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from segue.daemon.formats.codec import EventCodec
from segue.daemon.formats.midifile import MidiFileError, NoteMessage, read_notes

MIDI_SUFFIXES = {".mid", ".midi", ".smf", ".kar"}
JSON_FRAME_SECONDS = 0.5  # one benchmark frame (a JSB quarter, a Nottingham eighth) at 120 bpm


@dataclass
class Piece:
    name: str
    events: np.ndarray  # (N, 3) int64 classes
    valid_from: int  # index of the first held-out event (N if nothing is held out)


def midi_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, directories searched recursively for MIDI files."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.suffix.lower() in MIDI_SUFFIXES)  # not .json: name it
        elif p.exists():
            found.append(p)
        else:
            raise MidiFileError(f"{p}: no such file or directory")
    if not found:
        raise MidiFileError("no MIDI files found in " + ", ".join(map(str, paths)))
    return found


def read_all(files: Sequence[Path], channel=None, track=None) -> list[tuple[str, list[NoteMessage]]]:
    """Note messages per piece: one per MIDI file, one per training piece of a benchmark JSON file."""
    pieces = []
    for f in files:
        if f.suffix.lower() == ".json":
            pieces += read_json_pieces(f)
        else:
            pieces.append((f.name, read_notes(f, channel=channel, track=track)))
    return pieces


def read_json_pieces(path: Path, split: str = "train", frame: float = JSON_FRAME_SECONDS):
    """The piano-roll benchmark format ({"train": [[[pitch, ...] per frame] per piece], ...}) as notes.

    A pitch held over consecutive frames is one note; velocity is a constant 80 (the data has none).
    """
    try:
        pieces = json.loads(path.read_text())[split]
        rolls = [[{int(p) for p in frame_pitches} for frame_pitches in piece] for piece in pieces]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise MidiFileError(f"{path}: not a piano-roll benchmark file with a {split!r} split ({err})") from err
    out = []
    for index, roll in enumerate(rolls):
        notes, sounding = [], set()
        for t, frame_pitches in enumerate([*roll, set()]):
            notes += [NoteMessage(t * frame, p, 0) for p in sorted(sounding - frame_pitches)]
            notes += [NoteMessage(t * frame, p, 80) for p in sorted(frame_pitches - sounding)]
            sounding = frame_pitches
        if notes:
            out.append((f"{path.stem}:{split}:{index}", notes))
    return out


def pieces_from(notes, codec: EventCodec, valid_fraction: float, min_events: int) -> list[Piece]:
    """Encode each file; its last `valid_fraction` of events is the held-out continuation."""
    pieces = []
    for name, msgs in notes:
        events = codec.encode(msgs)
        if len(events) < min_events:
            raise MidiFileError(f"{name}: {len(events)} events, fewer than the {min_events} training needs")
        pieces.append(Piece(name, events, len(events) - int(round(len(events) * valid_fraction))))
    return pieces


def stream_windows(pieces: Sequence[Piece], length: int, stride: int, rng: np.random.Generator) -> np.ndarray:
    """Training windows (W, length + 1, 3), starting every `stride` events from a random phase."""
    windows = []
    for piece in pieces:
        part = piece.events[: piece.valid_from]
        if len(part) < length + 1:
            continue
        phase = int(rng.integers(0, stride))
        starts = list(range(phase % max(1, len(part) - length), len(part) - length, stride)) or [0]
        windows += [part[s : s + length + 1] for s in starts]
    return np.stack(windows)


def seed_windows(events: np.ndarray, window: int) -> np.ndarray:
    """The windowed recipe's samples: every run of window + 1 events, sliding by one, (W, window + 1, 3)."""
    idx = np.arange(len(events) - window)[:, None] + np.arange(window + 1)[None, :]
    return events[idx]
