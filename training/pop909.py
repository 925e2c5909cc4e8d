"""POP909 as a corpus for the accompanist: per song the sung melody, the piano accompaniment, the
beats and bars, the chords and the keys, all in beats.

POP909 (Wang, Chen et al., ISMIR 2020; MIT licence) arranges 909 Chinese pop songs for piano; the
808 given to this project sit in `../shared/data/pop909/NNN/`: `NNN.mid` (tracks MELODY, BRIDGE,
PIANO), `beat_midi.txt` (a line per beat: seconds, a flag, a downbeat flag), `chord_midi.txt`
(start s, end s, a Harte label such as `B:maj`, `F#:min7/5`, `N`), `key_audio.txt` (start s, end s,
`Gb:maj`; taken from the recording, whose clock the MIDI follows to within a beat).

Times become beats by the song's own beat annotations (piecewise linear between annotated beats,
the first and last beat's length beyond them), so a song with a tempo map that follows the
recording is on the same grid as one with a fixed tempo. The split is fixed by song: the songs in
number order, every tenth from the first is test, every tenth from the second valid, the rest train
(the same split `benchmarks/beats.py` holds out).

The corpus on disk: `pop909.npz` (every note of every song end to end, `starts` per song) and
`songs.json` (each song's split, beats, bars, chords and keys). Nothing here imports torch.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from segue.daemon.formats.midifile import MidiFileError, NoteMessage, read_notes

PARTS = ("MELODY", "BRIDGE", "PIANO")
NOTE_FIELDS = ("onset", "end", "pitch", "velocity", "part")  # beats, beats, MIDI key, 1-127, index in PARTS
LICENCE = "POP909 (Wang, Chen et al., ISMIR 2020), MIT licence"
PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# chord qualities (the Harte shorthands POP909 uses) as intervals above the root
QUALITIES = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus2": (0, 2, 7), "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10), "hdim7": (0, 3, 6, 10), "dim7": (0, 3, 6, 9),
    "maj6": (0, 4, 7, 9), "min6": (0, 3, 7, 9), "minmaj7": (0, 3, 7, 11), "sus4(b7)": (0, 5, 7, 10),
}
DEGREES = {"1": 0, "b2": 1, "2": 2, "b3": 3, "3": 4, "4": 5, "#4": 6, "b5": 6, "5": 7, "#5": 8, "b6": 8, "6": 9,
           "b7": 10, "7": 11}
LABEL = re.compile(r"^([A-G])([#b]?):([^/]+)(?:/(.+))?$")


class Pop909Error(ValueError):
    """A folder that is not POP909, or a song whose files cannot be read."""


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class, -1 for no chord (N)
    quality: str  # a key of QUALITIES, or "N"
    bass: int  # pitch class of the bass (the root unless inverted), -1 for N

    @property
    def pitch_classes(self) -> frozenset[int]:
        if self.root < 0:
            return frozenset()
        return frozenset({(self.root + i) % 12 for i in QUALITIES[self.quality]} | {self.bass})


def pitch_class(name: str) -> int:
    """`Gb`, `F#`, `C` -> 0..11."""
    base = PITCH_CLASSES[name[0]]
    return (base + name[1:].count("#") - name[1:].count("b")) % 12


def parse_chord(label: str) -> Chord:
    """A Harte label as POP909 writes it (`B:maj`, `F#:min7/5`, `A:sus4(b7)`, `N`) -> Chord."""
    label = label.strip()
    if label in ("N", "X", ""):
        return Chord(-1, "N", -1)
    match = LABEL.match(label)
    if not match or match.group(3) not in QUALITIES:
        raise Pop909Error(f"a chord label segue cannot read: {label!r}")
    root = pitch_class(match.group(1) + match.group(2))
    degree = match.group(4)
    if degree is not None and degree not in DEGREES:
        raise Pop909Error(f"a chord's bass segue cannot read: {label!r}")
    bass = root if degree is None else (root + DEGREES[degree]) % 12
    return Chord(root, match.group(3), bass)


def parse_key(label: str) -> tuple[int, str]:
    """`Gb:maj` -> (6, "maj")."""
    tonic, _, mode = label.strip().partition(":")
    if mode not in ("maj", "min") or not tonic or tonic[0] not in PITCH_CLASSES:
        raise Pop909Error(f"a key label segue cannot read: {label!r}")
    return pitch_class(tonic), mode


@dataclass
class Song:
    name: str
    split: str
    beats: list[float]  # seconds of each annotated beat
    downbeats: list[int]  # indices into beats
    chords: list[tuple[float, float, str]] = field(default_factory=list)  # start beat, end beat, label
    keys: list[tuple[float, float, str]] = field(default_factory=list)  # start beat, end beat, label
    notes: dict[str, int] = field(default_factory=dict)  # note count per part

    @property
    def beats_per_bar(self) -> int:
        """The song's bar in beats: the most common distance between its downbeats."""
        gaps = Counter(np.diff(self.downbeats).tolist())
        return int(gaps.most_common(1)[0][0]) if gaps else 4

    def chord_at(self, beat: float) -> Chord:
        for start, end, label in self.chords:
            if start <= beat < end:
                return parse_chord(label)
        return Chord(-1, "N", -1)


def to_beats(seconds, beats: np.ndarray) -> np.ndarray:
    """Seconds -> beats on a song's annotated beats (beat k at beats[k]); beyond the first and the
    last annotated beat, at that beat's length."""
    seconds = np.asarray(seconds, float)
    index = np.arange(len(beats), dtype=float)
    out = np.interp(seconds, beats, index)
    first, last = beats[1] - beats[0], beats[-1] - beats[-2]
    out = np.where(seconds < beats[0], (seconds - beats[0]) / first, out)
    return np.where(seconds > beats[-1], index[-1] + (seconds - beats[-1]) / last, out)


def split_of(index: int) -> str:
    return {0: "test", 1: "valid"}.get(index % 10, "train")


def song_folders(source: Path) -> list[Path]:
    folders = sorted(p for p in source.iterdir() if p.is_dir() and p.name.isdigit() and (p / f"{p.name}.mid").exists())
    if not folders:
        raise Pop909Error(f"{source}: no POP909 songs (folders NNN with NNN.mid) in it")
    return folders


def read_song(folder: Path, split: str) -> tuple[Song, dict[str, np.ndarray]]:
    """One song: its annotations and its notes (in beats), by part."""
    name = folder.name
    try:
        rows = np.loadtxt(folder / "beat_midi.txt", ndmin=2)
    except (OSError, ValueError) as err:
        raise Pop909Error(f"{folder}/beat_midi.txt: {err}") from None
    if rows.shape[0] < 8 or rows.shape[1] < 3 or np.any(np.diff(rows[:, 0]) <= 0):
        raise Pop909Error(f"{folder}/beat_midi.txt: not a rising list of beats with downbeat flags")
    beats = rows[:, 0]
    song = Song(name, split, beats.tolist(), np.flatnonzero(rows[:, 2] > 0).tolist())

    def segments(path: Path, parse):
        out = []
        for line in path.read_text().splitlines():
            parts = line.split("\t") if "\t" in line else line.split()
            if len(parts) < 3:
                continue
            start, end = to_beats([float(parts[0]), float(parts[1])], beats)
            parse(parts[2])  # a label segue cannot read stops here, naming it
            if end > start:
                out.append((round(float(start), 4), round(float(end), 4), parts[2].strip()))
        return out

    song.chords = segments(folder / "chord_midi.txt", parse_chord)
    song.keys = segments(folder / "key_audio.txt", parse_key) if (folder / "key_audio.txt").exists() else []
    columns = {f: [] for f in NOTE_FIELDS}
    import mido

    try:
        midi = mido.MidiFile(folder / f"{name}.mid")
    except (OSError, ValueError, EOFError) as err:
        raise Pop909Error(f"{folder}/{name}.mid: {err}") from None
    names = [t.name.strip().upper() for t in midi.tracks]
    seconds = tempo_map(midi)
    for part_index, part in enumerate(PARTS):
        if part not in names:
            continue
        try:  # in quarter notes, then seconds on the file's own tempi (the runtime's reader clamps
            # tempi to what segue plays; a song's slow intro must keep its true times)
            messages = [NoteMessage(seconds(m.time), m.pitch, m.velocity, m.channel)
                        for m in read_notes(folder / f"{name}.mid", track=names.index(part), beats=True)]
        except MidiFileError:
            continue  # a part with no notes
        open_at: dict[int, tuple[float, int]] = {}
        count = 0
        for m in messages:
            if m.pitch in open_at:  # a release, or struck again while sounding: the note ends here
                start, velocity = open_at.pop(m.pitch)
                columns_add(columns, start, m.time, m.pitch, velocity, part_index)
                count += 1
            if m.velocity:
                open_at[m.pitch] = (m.time, m.velocity)
        song.notes[part] = count
    arrays = {f: np.asarray(v) for f, v in columns.items()}
    arrays["onset"] = to_beats(arrays["onset"], beats) if len(arrays["onset"]) else np.zeros(0)
    arrays["end"] = to_beats(arrays["end"], beats) if len(arrays["end"]) else np.zeros(0)
    order = np.lexsort((arrays["pitch"], arrays["onset"])) if len(arrays["onset"]) else np.zeros(0, int)
    return song, {f: arrays[f][order] for f in NOTE_FIELDS}


def tempo_map(midi):
    """Quarter notes -> seconds on every set_tempo of a mido file, as written."""
    changes, per_beat = [], midi.ticks_per_beat
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                changes.append((tick / per_beat, msg.tempo / 1e6))
    changes.sort()
    if not changes or changes[0][0] > 0:
        changes.insert(0, (0.0, 0.5))
    at = np.array([c[0] for c in changes])
    length = np.array([c[1] for c in changes])
    start = np.concatenate([[0.0], np.cumsum(np.diff(at) * length[:-1])])

    def seconds(quarters: float) -> float:
        k = int(np.searchsorted(at, quarters, side="right")) - 1
        return float(start[k] + (quarters - at[k]) * length[k])

    return seconds


def columns_add(columns, start, end, pitch, velocity, part) -> None:
    if end - start < 0.01:
        return  # a release at its strike: no note
    for f, v in zip(NOTE_FIELDS, (start, end, pitch, velocity, part)):
        columns[f].append(v)


def build(source: str | Path, out: str | Path, log=print) -> dict:
    """Read every song of `source`, write the corpus to `out`, print and return the inventory."""
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise Pop909Error(f"{source}: no such folder (POP909's songs, e.g. ../shared/data/pop909)")
    folders = song_folders(source)
    songs, arrays, skipped = [], [], []
    for i, folder in enumerate(folders):
        try:
            song, notes = read_song(folder, split_of(i))
        except Pop909Error as err:
            skipped.append(str(err))
            continue
        songs.append(song)
        arrays.append(notes)
    if not songs:
        raise Pop909Error(f"{source}: no song could be read ({skipped[0] if skipped else 'none found'})")
    out.mkdir(parents=True, exist_ok=True)
    starts = np.cumsum([0] + [len(a["onset"]) for a in arrays])
    np.savez_compressed(out / "pop909.npz", starts=starts,
                        **{f: np.concatenate([a[f] for a in arrays]).astype(np.float32 if f in ("onset", "end") else np.int16)
                           for f in NOTE_FIELDS})
    (out / "songs.json").write_text(json.dumps({"source": LICENCE, "songs": [asdict(s) for s in songs]}))
    inventory = inventory_of(songs, skipped)
    for line in inventory_lines(inventory):
        log(line)
    return inventory


def inventory_of(songs: list[Song], skipped: list[str]) -> dict:
    qualities = Counter(parse_chord(c[2]).quality for s in songs for c in s.chords)
    return {
        "songs": len(songs), "skipped": skipped,
        "split": dict(Counter(s.split for s in songs)),
        "notes": {p: sum(s.notes.get(p, 0) for s in songs) for p in PARTS},
        "beats": sum(len(s.beats) for s in songs),
        "bars": dict(Counter(s.beats_per_bar for s in songs)),
        "chords": sum(len(s.chords) for s in songs),
        "qualities": dict(qualities.most_common()),
        "keys": dict(Counter(parse_key(k[2])[1] for s in songs for k in s.keys)),
        "key changes": sum(max(0, len(s.keys) - 1) for s in songs),
    }


def inventory_lines(inv: dict) -> list[str]:
    total = sum(inv["qualities"].values())
    return [
        f"{inv['songs']} songs ({', '.join(f'{k} {v}' for k, v in sorted(inv['split'].items()))}); "
        f"{len(inv['skipped'])} skipped" + (f" (first: {inv['skipped'][0]})" if inv["skipped"] else ""),
        "notes: " + ", ".join(f"{p} {n:,}" for p, n in inv["notes"].items()),
        f"{inv['beats']:,} beats; beats per bar: " + ", ".join(f"{k}: {v} songs" for k, v in sorted(inv["bars"].items())),
        f"{inv['chords']:,} chords: " + ", ".join(f"{q} {n / total:.1%}" for q, n in list(inv["qualities"].items())[:8]),
        "keys: " + ", ".join(f"{m} {n}" for m, n in inv["keys"].items()) + f"; {inv['key changes']} changes of key",
        f"licence: {LICENCE}",
    ]


def part_rows(notes: dict[str, np.ndarray], part: str) -> np.ndarray:
    """One part's notes of a song (`load`'s notes; part: MELODY, BRIDGE or PIANO) as (onset, end,
    pitch) rows in beats."""
    mine = notes["part"] == PARTS.index(part)
    return np.stack([notes["onset"][mine], notes["end"][mine], notes["pitch"][mine]], axis=1).astype(float)


def load(folder: str | Path, split: str | None = None) -> list[tuple[Song, dict[str, np.ndarray]]]:
    """The songs of `split` (all when None), each with its notes by field (see NOTE_FIELDS)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "songs.json").read_text())["songs"]
        data = np.load(folder / "pop909.npz")
        starts = data["starts"]
        arrays = {f: data[f] for f in NOTE_FIELDS}
    except (OSError, ValueError, KeyError) as err:
        raise Pop909Error(f"{folder}: not a POP909 corpus (make one with segue data pop909): {err}") from None
    if len(starts) != len(meta) + 1:
        raise Pop909Error(f"{folder}: songs.json and pop909.npz do not match")
    out = []
    for i, m in enumerate(meta):
        if split is None or m["split"] == split:
            song = Song(**{k: m[k] for k in ("name", "split", "beats", "downbeats", "notes")},
                        chords=[tuple(c) for c in m["chords"]], keys=[tuple(k) for k in m["keys"]])
            out.append((song, {f: arrays[f][starts[i]:starts[i + 1]] for f in NOTE_FIELDS}))
    return out
