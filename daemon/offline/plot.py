"""Piano-roll pictures of note messages (needs the optional matplotlib: segue[plot])."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..formats.midifile import NoteMessage
from ..formats.notes import note_spans


def piano_roll(notes: Sequence[NoteMessage], path: str | Path, title: str = "") -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise RuntimeError("--plot needs matplotlib: pip install 'segue[plot]'") from err
    spans = note_spans(notes)
    fig, ax = plt.subplots(figsize=(12, 4), dpi=100)
    for onset, end, pitch, vel in spans:
        ax.broken_barh([(onset, max(end - onset, 0.01))], (pitch - 0.4, 0.8),
                       facecolors=plt.cm.viridis(vel / 127))
    if spans:
        pitches = [s[2] for s in spans]
        ax.set_ylim(min(pitches) - 2, max(pitches) + 2)
        ax.set_xlim(0, max(s[1] for s in spans))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
