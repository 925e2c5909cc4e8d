"""The melody corpus: public-domain monophonic melodies from music21's corpus, as training arrays.

Exactly these collections train segue's melody models; music21's other collections stay
out, so claims can be checked on music the models never saw:

- `essen`: the Essen folksong collection (ABC; permission for non-commercial use),
- `oneills`: O'Neill's Music of Ireland, 1850 (ABC),
- `ryans`: Ryan's Mammoth Collection (ABC),
- `nottingham`: music21's part of the Nottingham dataset (ABC; the melody line, chord symbols dropped),
- `chorales`: the soprano parts of Bach's 371 chorales in Riemenschneider's edition (MusicXML).

Each melody keeps its notated time: onsets and durations in quarter notes, the position in the bar
(the pick-up bar's missing beats counted), and the bar's length, so a model can learn the beat.
Exact and transposed duplicates (the same intervals and durations) are dropped, the first kept.
The split is by piece, from a hash of the melody itself: the same tune lands in the same split
whatever else the corpus holds.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from segue.daemon.formats.corpus import NOTE_FIELDS

COLLECTIONS = {"essen": "essenFolksong", "oneills": "oneills1850", "ryans": "ryansMammoth",
               "nottingham": "nottingham-dataset", "chorales": "bach"}
SPLITS = {"test": 0.1, "valid": 0.1}  # the rest trains
MIN_NOTES = 8
MIDI_SUFFIXES = (".mid", ".midi")
INVENTORY = ("pieces", "notes", "train", "valid", "test", "duplicates dropped", "unreadable or short")


@dataclass
class Melody:
    collection: str
    source: str  # file inside music21's corpus
    title: str
    pitch: list[int] = field(default_factory=list)
    onset: list[float] = field(default_factory=list)  # quarter notes from the start
    duration: list[float] = field(default_factory=list)
    bar_position: list[float] = field(default_factory=list)  # quarter notes since the bar line
    bar_length: list[float] = field(default_factory=list)  # the bar's length in quarter notes
    meter: str = ""
    key_sharps: int | None = None  # the key signature, when notated

    def signature(self) -> str:
        """What makes two melodies the same tune, in any key: intervals and durations."""
        steps = np.diff(self.pitch).tolist()
        return json.dumps([steps, [round(d, 4) for d in self.duration]])


CHORALE_FILE = re.compile(r"bwv\d+\.\d+\.(mxl|xml|krn)$")  # `chorale_set="bwv-files"`: movements named bwvN.M


def corpus_files(collection: str, chorale_set: str = "riemenschneider") -> list[Path]:
    """The files of one collection. Chorales: Riemenschneider's 371 as music21 numbers them, or (as
    the first corpus was built, and the shipped folk model trained) the 193 files named bwvN.M."""
    from music21 import corpus

    if collection == "chorales" and chorale_set == "bwv-files":
        return sorted(Path(p) for p in corpus.getComposer("bach") if CHORALE_FILE.search(Path(p).name))
    if collection == "chorales":  # the 371 of Riemenschneider's edition, as music21 numbers them
        from music21.corpus import chorales

        files = []
        for name in chorales.Iterator(numberingSystem="riemenschneider", returnType="filename"):
            found = corpus.getWork(name)  # several files for a chorale with variants (bwv18.5-lz, -w)
            found = [Path(f) for f in (found if isinstance(found, list) else [found])]
            files.append(next((f for f in found if f.stem == name.split("/")[-1]), found[0]))
        return sorted(set(files))
    folder = Path(corpus.__file__).parent / COLLECTIONS[collection]
    return sorted(p for p in folder.iterdir() if p.suffix == ".abc")


def parse_file(job: tuple[str, str]) -> tuple[list[Melody], int]:
    """Every melody in one corpus file (an ABC file holds many tunes), and how many were skipped."""
    collection, path = job
    from music21 import converter

    try:
        parsed = converter.parse(path)
    except Exception:  # music21 raises many kinds for a file it cannot read
        return [], 1
    scores = list(parsed.scores) if hasattr(parsed, "scores") else [parsed]
    parts = [(score, None) for score in scores]
    if Path(path).suffix.lower() in MIDI_SUFFIXES:  # a MIDI file: each track a melody (chords: their top note)
        parts = [(parsed, part) for part in parsed.parts]
    melodies, skipped = [], 0
    for number, (score, part) in enumerate(parts):
        try:
            melody = _melody(score, collection, f"{Path(path).name}#{number}", part)
        except Exception:  # one broken tune (odd tuplets, missing measures) is skipped, not the file
            melody = None
        if melody is not None and len(melody.pitch) >= MIN_NOTES:
            melodies.append(melody)
        else:
            skipped += 1
    return melodies, skipped


def _melody(score, collection: str, source: str, part=None) -> Melody | None:
    from music21 import harmony, note

    if part is None:
        part = score.parts[0] if score.parts else score  # chorales: the soprano; ABC: the tune
    part = part.stripTies()
    title = (score.metadata.title if score.metadata and score.metadata.title else "") or source
    melody = Melody(collection, source, title)
    meter = None
    for measure in part.getElementsByClass("Measure"):
        if measure.timeSignature is not None:
            meter = measure.timeSignature
        if meter is None:
            return None
        bar = float(meter.barDuration.quarterLength)
        pad = float(measure.paddingLeft or 0.0)  # a pick-up bar starts after the bar line
        for element in measure.notesAndRests:
            if isinstance(element, harmony.ChordSymbol) or element.duration.isGrace:
                continue
            length = float(element.quarterLength)
            if length <= 0 or isinstance(element, note.Rest):
                continue
            pitch = element.pitch.midi if isinstance(element, note.Note) else max(p.midi for p in element.pitches)
            melody.pitch.append(int(pitch))
            melody.onset.append(float(measure.offset + element.offset))
            melody.duration.append(length)
            melody.bar_position.append(float(pad + element.offset) % bar)
            melody.bar_length.append(bar)
    if meter is not None:
        melody.meter = meter.ratioString
    keys = part.recurse().getElementsByClass("KeySignature")
    melody.key_sharps = int(keys[0].sharps) if keys else None
    return melody


def midi_jobs(paths) -> list[tuple[str, str]]:
    """(collection, file) for MIDI files and folders (searched recursively); the collection is
    named after the folder given, or "midi" for files given one by one."""
    jobs = []
    for given in map(Path, paths):
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
            if not found:
                raise ValueError(f"{given}: no .mid or .midi files in it")
            jobs += [(given.resolve().name or "midi", str(p)) for p in found]
        elif given.is_file():
            jobs.append(("midi", str(given)))
        else:
            raise ValueError(f"{given}: no such file or folder")
    return jobs


def split_of(signature: str, seed: int = 0) -> str:
    """test / valid / train from a hash of the tune itself: stable, whatever else the corpus holds."""
    x = int(hashlib.sha1(f"{seed}:{signature}".encode()).hexdigest()[:8], 16) / 16 ** 8
    if x < SPLITS["test"]:
        return "test"
    return "valid" if x < SPLITS["test"] + SPLITS["valid"] else "train"


def build(out_dir: str | Path, collections=tuple(COLLECTIONS), seed: int = 0, workers: int = 2,
          progress: bool = True, limit: int | None = None, chorale_set: str = "riemenschneider",
          midi: tuple = ()) -> dict:
    """Parse, drop duplicates, split, and write `melodies.npz` and `pieces.json` into `out_dir`.

    `midi`: MIDI files or folders to add (`midi_jobs`; music21 quantises them and finds their bars).
    `limit`: at most this many files per collection (for tests). Returns the inventory."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    unknown = set(collections) - set(COLLECTIONS)
    if unknown:
        raise ValueError(f"unknown collection(s) {', '.join(sorted(unknown))}; known: {', '.join(COLLECTIONS)}")
    if chorale_set not in ("riemenschneider", "bwv-files"):
        raise ValueError("chorale set must be riemenschneider or bwv-files")
    jobs = [(c, str(p)) for c in collections for p in corpus_files(c, chorale_set)[:limit]] + midi_jobs(midi)
    if not jobs:
        raise ValueError("nothing to read: no collections and no MIDI files")
    parsed: dict[tuple[str, str], list[Melody]] = {}
    skipped = Counter()
    if workers == 1:  # in this process: no pool to start (tests, small folders)
        results = (parse_file(job) for job in jobs)
    else:
        # Spawned, not forked: a fork of a process with threads running (torch's, a MIDI port's)
        # can inherit a lock some thread held and hang (seen in the test suite).
        import multiprocessing

        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        results = (future.result() for future in [pool.submit(parse_file, job) for job in jobs])
    try:
        for job, (melodies, bad) in zip(jobs, tqdm(results, total=len(jobs), desc="parsing", unit="file",
                                                   disable=not progress)):
            parsed[job], skipped[job[0]] = melodies, skipped[job[0]] + bad
    finally:
        if workers != 1:
            pool.shutdown()
    seen: set[str] = set()
    kept: list[Melody] = []
    dropped = Counter()
    for job in jobs:  # in collection order, so the first copy of a tune is the one kept
        for melody in parsed[job]:
            signature = melody.signature()
            if signature in seen:
                dropped[melody.collection] += 1
                continue
            seen.add(signature)
            kept.append(melody)
    return _write(out, kept, dropped, skipped, seed)


def _write(out: Path, melodies: list[Melody], dropped: Counter, skipped: Counter, seed: int) -> dict:
    starts = np.cumsum([0] + [len(m.pitch) for m in melodies])
    arrays = {name: np.concatenate([np.asarray(getattr(m, name)) for m in melodies]) if melodies else np.zeros(0)
              for name in NOTE_FIELDS}
    arrays["pitch"] = arrays["pitch"].astype(np.int16)
    for name in NOTE_FIELDS[1:]:
        arrays[name] = arrays[name].astype(np.float32)
    np.savez_compressed(out / "melodies.npz", starts=starts.astype(np.int64), **arrays)
    pieces = [{"collection": m.collection, "source": m.source, "title": m.title, "meter": m.meter,
               "key_sharps": m.key_sharps, "notes": len(m.pitch), "split": split_of(m.signature(), seed)}
              for m in melodies]
    inventory: dict[str, Counter] = {}
    for m, piece in zip(melodies, pieces):
        row = inventory.setdefault(m.collection, Counter())
        row.update({"pieces": 1, "notes": piece["notes"], piece["split"]: 1})
    for collection in set(dropped) | set(skipped):
        inventory.setdefault(collection, Counter()).update({"duplicates dropped": dropped[collection],
                                                            "unreadable or short": skipped[collection]})
    inventory = {c: {k: row[k] for k in INVENTORY} for c, row in inventory.items()}
    (out / "pieces.json").write_text(json.dumps({"seed": seed, "inventory": inventory, "pieces": pieces}, indent=1))
    return inventory


def format_inventory(inventory: dict) -> str:
    columns = INVENTORY
    lines = [f"{'collection':<12}" + "".join(f"{c:>20}" for c in columns)]
    total = Counter()
    for collection, row in inventory.items():
        lines.append(f"{collection:<12}" + "".join(f"{row[c]:>20,}" for c in columns))
        total.update(row)
    lines.append(f"{'all':<12}" + "".join(f"{total[c]:>20,}" for c in columns))
    return "\n".join(lines)
