"""The kinds of model file segue plays (and the one it hears with: the beat tracker's ear): each
with its runtime class, what it plays, and the checkpoint families (`segue train ...`, `segue
export`) its files come from.

A model file names its kind (metadata `segue.kind`, models/file.py); everything that depends on
the kind looks it up here instead of branching on it. The live parts of a kind (its context and
voices) are in live/engine.py's KINDS, under the same names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .accompanist import AccompanistModel
from .event import EventModel
from .file import kind_name, model_kind
from .lyric import LyricModel
from .roll import RollModel
from .salience import SalienceModel


@dataclass(frozen=True)
class Kind:
    name: str
    runtime: type  # the class that opens a file of this kind
    plays: tuple[str, ...]  # the commands that play it
    families: tuple[str, ...]  # the checkpoint families whose exports are of this kind
    words: str  # for messages


KINDS = {k.name: k for k in (
    Kind("events", EventModel, ("generate", "jam"), ("melody", "metrical"), "event models (folk, melody)"),
    Kind("piano-roll", RollModel, ("generate", "jam"), ("rnnrbm", "rnnnade"),
         "piano-roll models (RNN-RBM or LSTM-NADE files: chorale, chorale-nade)"),
    Kind("characters", LyricModel, ("lyrics",), ("lyrics",), "lyric models (songci)"),
    Kind("accompaniment", AccompanistModel, ("generate", "jam"), ("chords",), "accompanists (pop)"),
    Kind("onsets", SalienceModel, (), ("beats",), "the beat tracker's ear (beat)"),  # heard with, not played
)}


def open_model(path: str | Path | None):
    """The runtime model a file holds, of whichever kind it is (None: the default melody model)."""
    kind = model_kind(path)
    if kind not in KINDS:
        raise ValueError(f"{path}: {kind_name(kind)}")
    return KINDS[kind].runtime(path)


def playing(command: str) -> str:
    """The kinds a command plays, in words."""
    words = [k.words for k in KINDS.values() if command in k.plays]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def check_plays(path, command: str) -> str:
    """The file's kind, if `command` plays it; else one sentence naming what it does play."""
    kind = model_kind(path)
    if kind not in KINDS or command not in KINDS[kind].plays:
        other = "; for words, segue lyrics" if kind == "characters" and command != "lyrics" else ""
        raise ValueError(f"{path}: {kind_name(kind)}; segue {command} plays {playing(command)}{other}")
    return kind
