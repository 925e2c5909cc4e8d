"""Notated classical scores for the beat tracker's ear: every note of every part, with the notated beat.

The ear (daemon/models/salience.py) learnt which onsets mark beats from folk tunes and pop songs
alone, so in a classical piano texture it hears the running sixteenths' level, not the notated
beat (docs/benchmarks.md: most ASAP performances heard at twice the annotated tempo). These are
music21's public-domain instrumental scores (string quartets of Haydn, Mozart and Beethoven,
Schumann, a rag, a mazurka, a C. P. E. Bach sonata, a Corelli movement) and the Bach chorales,
all parts played as one keyboard part, with the notated beat as ASAP annotates it: the
denominator's note in simple meters (3/8: three eighths), the dotted note in compound ones (6/8,
9/8, 12/8, 12/16: two, three, four beats). A piece that ASAP holds (the C major prelude of the
Well-Tempered Clavier) is left out, so nothing measured on ASAP was heard in training.

Written to OUT_DIR/scores.npz (the notes and the beats of every piece, concatenated) and
scores.json (per piece: its name, split, and where its rows are); the split is by file, every tenth
valid, the next test, the rest train. Needs music21 (the training extra).
"""
from __future__ import annotations

import json
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np

# music21's instrumental classical scores, and the chorales (the files named bwvN.M); music21's
# Renaissance vocal polyphony (Palestrina, Monteverdi, the Trecento) is left out: not keyboard music.
COMPOSERS = ("haydn", "mozart", "beethoven", "schumann_robert", "schumann_clara", "chopin", "joplin", "cpebach",
             "corelli", "handel", "schubert", "beach", "weber")
IN_ASAP = ("bach/bwv846",)  # pieces ASAP performs: never trained on (ASAP measures the tracker)
MIN_ONSETS = 24


def beat_unit(numerator: int, denominator: int) -> Fraction:
    """The notated beat in quarter notes, as ASAP counts it: the dotted note in compound meters (6/8,
    9/8, 12/8, 6/16, 12/16, 24/16), the denominator's note otherwise (3/8: an eighth, 2/2: a half)."""
    unit = Fraction(4, denominator)
    return unit * 3 if numerator % 3 == 0 and numerator > 3 else unit


def files() -> list[str]:
    """The scores, as music21's corpus names them (a .krn twin of a MusicXML file left out)."""
    from music21 import corpus

    chosen = []
    for path in corpus.getPaths():
        name = str(path).split("/corpus/", 1)[1]
        top, stem = name.split("/")[0], name.rsplit(".", 1)[0]
        if any(stem.startswith(x) for x in IN_ASAP):
            continue
        chorale = top == "bach" and name.split("/")[1].startswith("bwv") and name.count("/") == 1
        if top in COMPOSERS or chorale:
            chosen.append(name)
    stems = {c.rsplit(".", 1)[0] for c in chosen if not c.endswith(".krn")}
    return sorted(c for c in chosen if not (c.endswith(".krn") and c.rsplit(".", 1)[0] in stems))


def read(name: str) -> dict | None:
    """One score: its notes (onset and length in quarter notes, key), its beats and downbeats (quarter
    notes), from its first part's bars and time signatures. None when it has no usable bars."""
    from music21 import corpus, meter

    score = corpus.parse(name)
    notes = []
    for part in score.parts:
        for n in part.stripTies().flatten().notes:
            if n.duration.isGrace or not n.duration.quarterLength:
                continue
            start = float(n.offset)
            for p in n.pitches:
                notes.append((start, float(n.duration.quarterLength), int(p.midi)))
    bars = score.parts[0].getElementsByClass("Measure")
    if not notes or not len(bars):
        return None
    beats, downbeats = [], []
    signature = None
    for bar in bars:
        found = bar.getElementsByClass(meter.TimeSignature)
        signature = found[0] if found else signature
        if signature is None:
            return None
        unit = float(beat_unit(signature.numerator, signature.denominator))
        full = float(signature.barDuration.quarterLength)
        start = float(bar.getOffsetInHierarchy(score))
        length = float(bar.duration.quarterLength)
        first = start - (full - length if bar.paddingLeft else 0.0)  # a pick-up bar: its missing beats
        k = np.arange(first, start + length - 1e-6, unit)
        beats += [float(b) for b in k if b >= start - 1e-6]
        if abs(first - start) < 1e-6:
            downbeats.append(start)
    notes.sort()
    if len(notes) < MIN_ONSETS or len(beats) < 8:
        return None
    onset, length, pitch = (np.array(c) for c in zip(*notes))
    return {"name": name, "onset": onset, "length": length, "pitch": pitch, "beats": np.array(beats),
            "downbeats": np.array(downbeats)}


def split_of(name: str) -> str:
    r = zlib.crc32(name.encode()) % 10
    return "valid" if r == 0 else "test" if r == 1 else "train"


def build(out_dir: str | Path, names: list[str] | None = None, workers: int = 2, log=print) -> dict:
    """Parse the scores and write OUT_DIR/scores.npz and scores.json; returns the inventory."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    names = names if names is not None else files()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if workers == 1:
        pieces = [read(n) for n in names]
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            pieces = list(pool.map(read, names))
    pieces = [p for p in pieces if p is not None]
    columns = {k: [] for k in ("onset", "length", "pitch", "beats", "downbeats")}
    index = []
    for p in pieces:
        row = {"name": p["name"], "split": split_of(p["name"])}
        for k, rows in columns.items():
            row[k] = [sum(len(r) for r in rows), sum(len(r) for r in rows) + len(p[k])]
            rows.append(p[k])
        index.append(row)
    np.savez_compressed(out / "scores.npz", **{k: np.concatenate(v) for k, v in columns.items()})
    (out / "scores.json").write_text(json.dumps(index, indent=0))
    inventory = {s: sum(1 for r in index if r["split"] == s) for s in ("train", "valid", "test")}
    inventory.update(pieces=len(index), notes=int(sum(len(p["onset"]) for p in pieces)), unreadable=len(names) - len(pieces))
    log(", ".join(f"{k} {v}" for k, v in inventory.items()))
    return inventory


def load(folder: str | Path, split: str) -> list[dict]:
    """The pieces of one split: name, onset, length, pitch, beats, downbeats (quarter notes)."""
    folder = Path(folder)
    if not (folder / "scores.npz").exists():
        raise FileNotFoundError(f"no score corpus in {folder}: segue data scores {folder}")
    arrays = np.load(folder / "scores.npz")
    columns = {k: arrays[k] for k in arrays.files}
    out = []
    for row in json.loads((folder / "scores.json").read_text()):
        if row["split"] == split:
            out.append({"name": row["name"], **{k: columns[k][slice(*row[k])] for k in columns}})
    return out
