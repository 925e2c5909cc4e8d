"""How an accompaniment sits under a pop melody: POP909 test songs, figures per song, medians.

    python benchmarks/accompany.py runs/pop909                 # the real piano part and the rule
    python benchmarks/accompany.py runs/pop909 --songs 24 --beats 128

Each song's melody from its first note, BEATS beats of it, against:
- `real`: the song's own piano part (POP909's PIANO track) over the same beats;
- `rule`: the annotated key's diatonic triad that holds the bar's most frequent melody pitch class,
  root in the bass (36-47), the triad above it (55-67), struck on every beat;
- `harmonize chorale`: today's `--mode harmonize` with the shipped chorale (RNN-RBM), frame by
  frame as live/harmony.py plays it;
- `annotated+texture`: the song's annotated chords played with the accompanist's texture patterns
  (what the texture does with perfect chords);
- `pop chords`: the chords the shipped accompanist (`--model`, default pop) plays, voiced as the
  rule voices its triads (its chord choice alone);
- `pop`: the shipped accompanist as it plays (daemon/offline/accompany.py, the same beat-by-beat
  path as live): its chords with its texture, bass and chords.

Figures (per song, then the median over songs):
- chord tones: share of the part's onsets whose pitch class is in the annotated chord then (N left out);
- melody harmony: share of the melody's notes that are a tone of, or consonant (unison, third,
  fourth, fifth, sixth, octave) with, every accompaniment note sounding at the melody note's onset
  (melody notes with nothing under them left out); melody in chord: the share of those notes whose
  pitch class the accompaniment sounds then (ReaLchords' note-in-chord "harmony");
- follows: beats after an annotated chord change until the part's onsets over a beat are in the new
  chord (at most the chord's length), median over the changes;
- grid: share of onsets within 0.08 beat of a sixteenth; eighths: of an eighth; at once: notes sounding together, averaged
  over the time something sounds; above the melody: share of the part's onsets (while the melody
  sounds) higher than the melody note; lowest and mean pitch; coverage: share of the time something sounds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONSONANT = {0, 3, 4, 5, 7, 8, 9}  # intervals (mod 12) heard as consonant against a melody note
MAJOR, MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)


def sounding(part: np.ndarray, at: float) -> np.ndarray:
    """Pitches of `part` (rows onset, end, pitch) sounding at `at`."""
    return part[(part[:, 0] <= at + 1e-6) & (part[:, 1] > at + 1e-6), 2]


def measure(song, melody: np.ndarray, part: np.ndarray, start: float, end: float) -> dict:
    from segue.training.pop909 import parse_chord

    chords = [(s, e, parse_chord(label)) for s, e, label in song.chords if e > start and s < end]

    def chord_at(t):
        for s, e, c in chords:
            if s <= t < e:
                return c
        return None

    part = part[(part[:, 0] >= start) & (part[:, 0] < end)]
    melody = melody[(melody[:, 0] >= start) & (melody[:, 0] < end)]
    if not len(part):
        return {"chord tones": 0.0, "melody harmony": 0.0, "melody in chord": 0.0, "follows": float("nan"), "grid": 0.0, "eighths": 0.0,
                "at once": 0.0,
                "above the melody": float("nan"), "lowest": float("nan"), "mean": float("nan"), "coverage": 0.0}
    tones = [p % 12 in c.pitch_classes for o, _, p in part if (c := chord_at(o)) is not None and c.root >= 0]
    good, inside, heard = 0, 0, 0
    for onset, _, pitch in melody:
        under = sounding(part, onset)
        if not len(under):
            continue
        heard += 1
        pcs = {int(u) % 12 for u in under}
        inside += int(pitch) % 12 in pcs
        good += int(pitch) % 12 in pcs or all((int(pitch) - int(u)) % 12 in CONSONANT for u in under)
    follows = []
    for (s0, e0, c0), (s1, e1, c1) in zip(chords, chords[1:]):
        if c1.root < 0 or c1.pitch_classes == c0.pitch_classes:
            continue
        lag = e1 - s1
        for d in np.arange(-0.25, e1 - s1, 0.25):
            window = part[(part[:, 0] >= s1 + d - 1e-6) & (part[:, 0] < s1 + d + 1.0)]
            if len(window) and np.mean([p % 12 in c1.pitch_classes for p in window[:, 2]]) >= 0.75:
                lag = max(0.0, d)
                break
        follows.append(lag)
    grid = np.mean(np.abs(part[:, 0] * 4 - np.round(part[:, 0] * 4)) < 0.32)
    over = [p > sounding(melody, o).max() for o, _, p in part if len(sounding(melody, o))]
    steps = np.arange(start, end, 1 / 16)
    counts = np.array([len(sounding(part, t)) for t in steps])
    return {"chord tones": float(np.mean(tones)) if tones else float("nan"),
            "melody harmony": good / heard if heard else float("nan"),
            "melody in chord": inside / heard if heard else float("nan"),
            "follows": float(np.median(follows)) if follows else float("nan"),
            "grid": float(grid), "eighths": float(np.mean(np.abs(part[:, 0] * 2 - np.round(part[:, 0] * 2)) < 0.16)),
            "at once": float(counts[counts > 0].mean()) if (counts > 0).any() else 0.0,
            "above the melody": float(np.mean(over)) if over else float("nan"),
            "lowest": float(part[:, 2].min()), "mean": float(part[:, 2].mean()),
            "coverage": float(np.mean(counts > 0))}


def triad_part(classes_per_beat, start: int, end: int) -> np.ndarray:
    """Chord classes, one per beat from `start`, voiced as the rule voices them: the root in 36-47,
    the triad's three tones closest above 55, one beat each."""
    from segue.daemon.formats.chords import chord_of, QUALITIES

    rows = []
    for b in range(start, end):
        root, quality = chord_of(int(classes_per_beat[b - start]))
        if root < 0:
            continue
        rows.append((b, b + 1, 36 + root))
        for i in QUALITIES[quality][:3]:
            rows.append((b, b + 1, 55 + (root + i - 55) % 12))
    return np.array(rows, float).reshape(-1, 3)


def rule_classes(song, melody: np.ndarray, start: int, end: int) -> list[int]:
    """Per beat: the key's diatonic triad holding the bar's most frequent melody pitch class."""
    from segue.daemon.formats.chords import chord_class
    from segue.training.pop909 import parse_key

    out = []
    bar = song.beats_per_bar
    first_down = song.downbeats[0] if song.downbeats else 0
    for b in range(start, end):
        key = next((parse_key(k[2]) for k in song.keys if k[0] <= b + 0.5 < k[1]), None) or (
            parse_key(song.keys[0][2]) if song.keys else (0, "maj"))
        tonic, mode = key
        scale = [(tonic + s) % 12 for s in (MAJOR if mode == "maj" else MINOR)]
        bar_start = first_down + ((b - first_down) // bar) * bar
        notes = melody[(melody[:, 0] >= bar_start) & (melody[:, 0] < bar_start + bar)]
        if not len(notes):
            out.append(out[-1] if out else chord_class(tonic, "maj" if mode == "maj" else "min"))
            continue
        weight = np.zeros(12)
        np.add.at(weight, notes[:, 2].astype(int) % 12, notes[:, 1] - notes[:, 0])
        pitch = int(np.argmax(weight))
        best = None
        for degree in (0, 4, 3, 5, 1, 2, 6):  # tonic, dominant, subdominant, relative, then the rest
            root = scale[degree]
            triad = {root, scale[(degree + 2) % 7], scale[(degree + 4) % 7]}
            if pitch in triad:
                third = (scale[(degree + 2) % 7] - root) % 12
                fifth = (scale[(degree + 4) % 7] - root) % 12
                quality = "maj" if third == 4 else ("min" if fifth == 7 else "dim")
                best = chord_class(root, quality)
                break
        out.append(best if best is not None else chord_class(tonic, "maj" if mode == "maj" else "min"))
    return out


def harmonize_part(model, melody: np.ndarray, start: int, end: int, seed: int) -> np.ndarray:
    """Today's `segue jam --mode harmonize` (live/harmony.py) over the melody, frame by frame (a
    frame is the model's length, a beat for chorale): at each frame line the keys the player holds
    or struck during the frame before are clamped, the machine plays the sampled keys the player is
    not playing (--voicing 36-96) for the frame, and rests when the player rests."""
    from segue.daemon.formats.pianoroll import KEYS, LOW

    stream, previous, rows = model.stream(seed), None, []
    frame = model.beats
    for line in np.arange(start, end, frame):
        player = np.zeros(KEYS, bool)
        playing = melody[(melody[:, 1] > line - frame) & (melody[:, 0] <= line)]
        for pitch in playing[:, 2].astype(int):
            if LOW <= pitch < LOW + KEYS:
                player[pitch - LOW] = True
        if not player.any():
            previous = None
            continue
        sample = stream.advance(previous, held=player)
        machine = sample & ~player & (np.arange(KEYS) + LOW >= 36) & (np.arange(KEYS) + LOW <= 96)
        rows += [(line, line + frame, k + LOW) for k in np.nonzero(machine)[0]]
        previous = player | machine
    return np.array(rows, float).reshape(-1, 3)


def textured_part(patterns, classes_per_beat, song, start: int, end: int, seed: int, hold: int = 4) -> np.ndarray:
    """Per-beat chord classes played with texture patterns (daemon/models/texture.py), bar by bar
    from the song's downbeats: one pattern (drawn by how common it is) for `hold` bars, then another."""
    from segue.daemon.models.texture import realise

    rng = np.random.default_rng(seed)
    weights = np.array([n for _, n in patterns], float)
    weights /= weights.sum()
    first_down = song.downbeats[0] if song.downbeats else 0
    bar0 = first_down + ((start - first_down) // 4) * 4
    rows, pattern = [], None
    for k, bar in enumerate(range(bar0, end, 4)):
        if k % hold == 0:
            pattern = patterns[int(rng.choice(len(patterns), p=weights))][0]
        per_step = []
        for step in range(16):
            b = bar + step // 4
            per_step.append(int(classes_per_beat[b - start]) if start <= b < end else 0)
        for step, length, pitch, velocity in realise(pattern, per_step):
            onset = bar + step / 4
            rows.append((onset, onset + length / 4, pitch))
    return np.array(rows, float).reshape(-1, 3)


def _notes_of(notes) -> np.ndarray:
    """(beat, accompanist Note) messages -> (onset, end, pitch) rows."""
    from segue.daemon.formats.midifile import NoteMessage
    from segue.daemon.formats.notes import note_spans

    ordered = sorted(notes, key=lambda e: (e[0], e[1].velocity > 0))
    spans = note_spans([NoteMessage(at, n.pitch, n.velocity) for at, n in ordered])
    return np.array([span[:3] for span in spans], float).reshape(-1, 3)


def plot(path, song, melody, real, ours, start, end) -> None:
    """Melody over the real part, and melody over segue's, one above the other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(14, 7), sharex=True)
    for ax, part, title in ((axes[0], real, "real piano part"), (axes[1], ours, "segue (pop)")):
        for rows, colour in ((part, "tab:blue"), (melody, "tab:red")):
            rows = rows[(rows[:, 0] >= start) & (rows[:, 0] < end)]
            ax.hlines(rows[:, 2], rows[:, 0], np.minimum(rows[:, 1], end), colors=colour, linewidth=3)
        for s, e, label in song.chords:
            if start <= s < end:
                ax.axvline(s, color="0.85", linewidth=0.8, zorder=0)
                ax.text(s, 0.01, label.split(":")[0] + ("m" if ":min" in label else ""), fontsize=6, color="0.4",
                        transform=ax.get_xaxis_transform())
        ax.set_title(f"POP909 song {song.name}: melody (red) over the {title} (blue)")
        ax.set_ylabel("MIDI pitch")
    axes[1].set_xlabel("beats")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--songs", type=int, default=24)
    parser.add_argument("--beats", type=int, default=128)
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", default="pop", help="the accompanist file (default: the shipped pop)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", help="a PNG: the first song's melody over its real part and over segue's")
    args = parser.parse_args()
    from segue.daemon.models.accompanist import AccompanistModel
    from segue.daemon.offline.accompany import accompaniment
    from segue.training import pop909

    songs = pop909.load(args.corpus, args.split)[: args.songs]
    net = AccompanistModel(args.model)
    patterns = list(zip(net.patterns, net.weights))
    from segue.daemon.models.roll import RollModel

    chorale = RollModel("chorale")
    results: dict[str, list[dict]] = {"real": [], "rule": [], "harmonize chorale": [], "annotated+texture": [],
                                      "pop chords": [], "pop": []}
    shown = None
    for song, notes in songs:
        melody = pop909.part_rows(notes, "MELODY")
        real = pop909.part_rows(notes, "PIANO")
        start = int(np.floor(melody[:, 0].min()))
        end = min(start + args.beats, len(song.beats))
        results["real"].append(measure(song, melody, real, start, end))
        results["rule"].append(measure(song, melody, triad_part(rule_classes(song, melody, start, end), start, end),
                                       start, end))
        results["harmonize chorale"].append(measure(song, melody, harmonize_part(chorale, melody, start, end,
                                                                                 args.seed + int(song.name)), start, end))
        from segue.training.chords import song_arrays as arrays_of

        features, classes, slots = arrays_of(song, notes)
        results["annotated+texture"].append(measure(song, melody, textured_part(patterns, classes[start:end], song, start,
                                                                                end, seed=int(song.name)), start, end))
        notes, chosen = accompaniment(net, melody, start, end, [int(s) for s in slots],
                                      seed=args.seed + int(song.name))
        part = _notes_of(notes)
        results["pop chords"].append(measure(song, melody, triad_part(chosen, start, end), start, end))
        results["pop"].append(measure(song, melody, part, start, end))
        if shown is None:
            shown = (song, melody, real, part, start, end)
    if args.plot and shown is not None:
        plot(args.plot, *shown)
    names = [n for n in results if results[n]]
    figures = list(results["real"][0])
    print(f"{len(songs)} {args.split} songs, {args.beats} beats each from the melody's first note; medians")
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for f in figures:
        cells = []
        for n in names:
            values = [r[f] for r in results[n] if r[f] == r[f]]
            cells.append(f"{statistics.median(values):.2f}" if values else "-")
        print(f"| {f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
