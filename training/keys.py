"""POP909's songs as a keyboard corpus for the two-handed model (`keys`): every note of the chosen
parts (the melody, the bridge and the piano part as one keyboard part, or the piano part alone)
with its velocity, in beats, placed in the song's bars, in the melody corpus's format
(daemon/formats/corpus.py: `melodies.npz` and `pieces.json`, plus a `velocity` field), so the
metrical trainer (training/metrical.py) reads it as it reads the melodies.

    segue data pop909 ../shared/data/pop909 runs/pop909
    segue data keys runs/pop909 runs/keys [--parts piano]

Notes start on the nearest sixteenth or triplet eighth (GRID), and a note struck on a sixteenth
ends on one (`release_grid` 4): many songs' MIDI follows the recording, a few hundredths of a beat
either way, and their releases fall anywhere; as heard (events timed from one to the next) that
taught a model rhythms off every grid (docs/notes/keys.md). The live engine
hears a player the same way (daemon/live/clock.py: Tempo.snap). The split is POP909's (by song).
Nothing here imports torch.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import pop909

CHOICES = {"all": pop909.PARTS, "piano": ("PIANO",)}
GRID = 12  # notes start and end on the nearest twelfth of a beat (every sixteenth and triplet eighth)


def bar_places(onsets: np.ndarray, downbeats: np.ndarray, bar: int) -> np.ndarray:
    """Beats into the bar of each onset: from the last annotated downbeat at or before it (before
    the first one, counted back from it in bars of `bar` beats)."""
    downbeats = np.asarray(downbeats, float)
    if not len(downbeats):
        return onsets % bar
    index = np.searchsorted(downbeats, onsets + 1e-6, side="right") - 1
    place = np.where(index >= 0, onsets - downbeats[np.maximum(index, 0)], (onsets - downbeats[0]) % bar)
    return np.minimum(place, bar - 1e-6)  # a bar longer than the song's usual one (an odd annotation)


def build(source: str | Path, out: str | Path, parts: str = "all", log=print, release_grid: int = 4) -> dict:
    """Write the keyboard corpus of the POP909 corpus in `source` to `out`; returns the inventory.
    `release_grid`: releases on this division of the beat (4: a note struck on a sixteenth ends on
    one, at least a sixteenth long; a triplet's note keeps GRID)."""
    if parts not in CHOICES:
        raise ValueError(f"--parts {parts}: one of {', '.join(CHOICES)}")
    wanted = [pop909.PARTS.index(p) for p in CHOICES[parts]]
    songs = pop909.load(source)
    fields = {f: [] for f in ("pitch", "onset", "duration", "bar_position", "bar_length", "velocity")}
    pieces, starts = [], [0]
    for song, notes in songs:
        keep = np.isin(notes["part"], wanted)
        onset = np.round(notes["onset"][keep].astype(float) * GRID) / GRID
        grid = np.where(np.abs(onset * release_grid - np.round(onset * release_grid)) < 1e-6, release_grid, GRID)
        end = np.maximum(np.round(notes["end"][keep].astype(float) * grid) / grid, onset + 1 / grid)
        order = np.lexsort((notes["pitch"][keep], onset))
        onset = onset[order]
        if len(onset) < 16:
            continue
        bar = song.beats_per_bar
        duration = end[order] - onset
        fields["pitch"].append(notes["pitch"][keep][order].astype(np.int16))
        fields["onset"].append(onset.astype(np.float32))
        fields["duration"].append(duration.astype(np.float32))
        fields["bar_position"].append(bar_places(onset, song.downbeats, bar).astype(np.float32))
        fields["bar_length"].append(np.full(len(onset), bar, np.float32))
        fields["velocity"].append(notes["velocity"][keep][order].astype(np.int16))
        pieces.append({"collection": "pop909", "source": song.name, "title": song.name, "meter": f"{bar}/4",
                       "key": "", "notes": int(len(onset)), "split": song.split})
        starts.append(starts[-1] + len(onset))
    if not pieces:
        raise pop909.Pop909Error(f"{source}: no song with notes in the parts {', '.join(CHOICES[parts])}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "melodies.npz", starts=np.array(starts), **{f: np.concatenate(v) for f, v in fields.items()})
    counts = {split: sum(1 for p in pieces if p["split"] == split) for split in ("train", "valid", "test")}
    inventory = {"pop909": {"pieces": len(pieces), "notes": int(starts[-1]), **counts, "parts": list(CHOICES[parts])}}
    (out / "pieces.json").write_text(json.dumps({"seed": 0, "inventory": inventory, "pieces": pieces,
                                                 "source": pop909.LICENCE, "grid": GRID,
                                                 "release_grid": release_grid}))
    log(f"{len(pieces)} songs ({', '.join(f'{k} {v}' for k, v in counts.items())}), {starts[-1]:,} notes of "
        f"{', '.join(CHOICES[parts])}; {pop909.LICENCE}")
    return inventory
