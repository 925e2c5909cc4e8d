"""The melody corpus on disk (written by `segue data melodies`): note arrays plus a piece table.

`melodies.npz` holds one array per note field, all pieces end to end, and `starts`; `pieces.json`
holds each piece's collection, source, title, meter, key signature, note count and split.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from .codec import EventCodec, meter_class, position_class, sounding_class

VELOCITY = 80  # the corpus is notation: every note-on at one loudness
NOTE_FIELDS = ("pitch", "onset", "duration", "bar_position", "bar_length")  # MIDI key; quarter notes


class CorpusError(ValueError):
    """A folder that is not a melody corpus."""


def load(folder: str | Path, split: str | None = None) -> list[dict]:
    """The melodies of `split` (all when None): a dict per piece with its metadata and note arrays."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "pieces.json").read_text())["pieces"]
        data = np.load(folder / "melodies.npz")
        starts = data["starts"]
        arrays = {name: data[name] for name in NOTE_FIELDS + ("velocity",) if name in data}
    except (OSError, ValueError, KeyError) as err:
        raise CorpusError(f"{folder}: not a melody corpus (make one with segue data melodies): {err}") from None
    if len(starts) != len(meta) + 1:
        raise CorpusError(f"{folder}: pieces.json and melodies.npz do not match")
    return [{**piece, **{name: values[starts[i]:starts[i + 1]] for name, values in arrays.items()}}
            for i, piece in enumerate(meta) if split is None or piece["split"] == split]


def metrical_events(piece: dict, codec: EventCodec, sounding: bool = False) -> np.ndarray:
    """A corpus melody -> (N, 6) int64: interval, velocity and time classes (predicted), then the
    absolute pitch, position and metre classes (heard only). A corpus with velocities (a played
    one: training/keys.py) keeps them; notation's notes are all VELOCITY. `sounding`: a 7th column,
    how many notes sound before each event (sounding_class)."""
    rows = []
    loudness = piece.get("velocity", np.full(len(piece["pitch"]), VELOCITY))
    for p, onset, length, at, bar, v in zip(piece["pitch"], piece["onset"], piece["duration"], piece["bar_position"],
                                            piece["bar_length"], loudness):
        rows.append((float(onset + length), 0, int(p), (at + length) % bar, bar))  # the release
        rows.append((float(onset), int(v), int(p), at, bar))
    rows.sort(key=lambda r: (r[0], r[1] > 0, r[2]))  # a release before a strike at the same time; a chord from its bass up
    out, clock, reference, held, holding = [], None, None, Counter(), 0
    for t, loud, p, at, bar in rows:
        gap = 0.0 if clock is None else t - clock
        cls = codec.time_class(gap)
        clock = t if clock is None else clock + codec.time_values[cls]
        pitch = codec.fold_pitch(p)
        out.append((codec.interval_class(pitch, reference), codec.velocity_class(loud), cls, pitch - codec.low,
                    position_class(at), meter_class(bar), *((sounding_class(holding),) if sounding else ())))
        if loud:
            reference = pitch
            held[pitch] += 1
            holding += 1
        elif held[pitch]:
            held[pitch] -= 1
            holding -= 1
    return np.asarray(out, np.int64).reshape(-1, 7 if sounding else 6)
