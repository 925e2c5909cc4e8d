"""The melody corpus on disk (written by `segue data melodies`): note arrays plus a piece table.

`melodies.npz` holds one array per note field, all pieces end to end, and `starts`; `pieces.json`
holds each piece's collection, source, title, meter, key signature, note count and split.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

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
        arrays = {name: data[name] for name in NOTE_FIELDS}
    except (OSError, ValueError, KeyError) as err:
        raise CorpusError(f"{folder}: not a melody corpus (make one with segue data melodies): {err}") from None
    if len(starts) != len(meta) + 1:
        raise CorpusError(f"{folder}: pieces.json and melodies.npz do not match")
    return [{**piece, **{name: arrays[name][starts[i]:starts[i + 1]] for name in NOTE_FIELDS}}
            for i, piece in enumerate(meta) if split is None or piece["split"] == split]
