"""Two hands on held-out POP909 songs: a keyboard model against the real continuations and a Markov baseline.

    segue data pop909 ../shared/data/pop909 runs/pop909 && segue data keys runs/pop909 runs/keys
    python benchmarks/keys.py keys runs/keys [--songs 40] [--split test] [--plot docs/img/keys.png]

NLL (each song streamed from its start, its first MAX_EVENTS events): pitch per note-on (an interval
from the last struck pitch), velocity and time per event, for the model file and for a Markov
baseline of the same three heads (interpolated Witten-Bell n-grams of order 3 counted on the train
split: intervals over the last intervals, time classes over the last time classes, velocity classes
over the last velocity class and this event's time class).

Continuations: from the bar line 32 beats into each song, 8 beats of the song are the prime and the
next 8 beats are continued by the model (temperature 1, the key prior as `segue generate` plays it),
by the Markov baseline (its heads drawn in turn; a release ends the oldest sounding note), and
played by the song itself. Each is described (medians over songs): notes in the prime's key, onsets
on the sixteenth grid (within 1/48 beat), notes sounding at once (mean over the sixteenths with any
note; share with 1, 2, 3, 4+), share of the sixteenths with a note below middle C (a bass), range,
velocity spread (standard deviation), and motifs that come back (the continuation's 3-interval motifs
of struck pitches heard before, in the prime or earlier in it).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from continuation import key_of, SCALES  # noqa: E402
from segue.daemon.formats.codec import EventCodec  # noqa: E402
from segue.daemon.formats.corpus import load, metrical_events  # noqa: E402
from segue.daemon.formats.midifile import NoteMessage  # noqa: E402
from segue.daemon.models.continuation import sample_events  # noqa: E402
from segue.daemon.models.cursor import Cursor  # noqa: E402
from segue.daemon.models.event import EventModel  # noqa: E402
from segue.daemon.models.key import KeyTracker  # noqa: E402
from segue.daemon.models.sampling import GumbelNoise  # noqa: E402
from segue.daemon.options import GenerateConfig  # noqa: E402

MAX_EVENTS = 1500  # events per song scored for NLL
START, PRIME, LENGTH = 32.0, 8.0, 8.0  # beats: where the prime starts, its length, the continuation's
ORDER = 3
BEAT = 0.5  # seconds a beat while sampling (the model counts in beats: any value gives the same notes)


# -- the Markov baseline ----------------------------------------------------------------------------
class WittenBell:
    """P(symbol | the last ORDER-1 context symbols), interpolated Witten-Bell down to add-one unigrams."""

    def __init__(self, size: int, order: int = ORDER):
        self.size, self.order = size, order
        self.counts = [defaultdict(Counter) for _ in range(order)]  # by context length

    def count(self, context: tuple, symbol: int) -> None:
        for k in range(self.order):
            if len(context) >= k:
                self.counts[k][context[len(context) - k:] if k else ()][symbol] += 1

    def distribution(self, context: tuple) -> np.ndarray:
        unigram = self.counts[0][()]
        total = sum(unigram.values())
        p = np.array([(unigram[s] + 1) / (total + self.size) for s in range(self.size)])
        for k in range(1, self.order):
            if len(context) < k:
                break
            seen = self.counts[k].get(context[len(context) - k:])
            if not seen:
                continue
            n, types = sum(seen.values()), len(seen)
            lam = n / (n + types)
            q = np.zeros(self.size)
            for s, c in seen.items():
                q[s] = c / n
            p = lam * q + (1 - lam) * p
        return p


class MarkovKeys:
    """The baseline's three heads, counted on (N, 6) metrical event rows."""

    def __init__(self, codec: EventCodec, songs: list[np.ndarray]):
        self.codec = codec
        self.pitch = WittenBell(codec.pitch_classes)
        self.time = WittenBell(codec.time_classes)
        self.velocity = WittenBell(codec.velocity_classes, order=2)
        for rows in songs:
            for i, ctx in self.contexts(rows):
                pitch, velocity, gap = (int(x) for x in rows[i, :3])
                self.time.count(ctx["time"], gap)
                self.velocity.count(ctx["velocity"], velocity)
                if velocity:
                    self.pitch.count(ctx["pitch"], pitch)

    def contexts(self, rows):
        strikes, gaps, last = [], [], 0
        for i in range(len(rows)):
            gap = int(rows[i, 2])
            yield i, {"pitch": tuple(strikes[-(ORDER - 1):]), "time": tuple(gaps[-(ORDER - 1):]),
                      "velocity": (last * self.codec.time_classes + gap,)}
            gaps.append(gap)
            last = int(rows[i, 1])
            if rows[i, 1]:
                strikes.append(int(rows[i, 0]))

    def nll(self, rows) -> np.ndarray:
        """(note-ons, pitch nats, events, velocity nats, time nats) over rows after the first."""
        out = np.zeros(5)
        for i, ctx in self.contexts(rows):
            if i == 0:
                continue
            pitch, velocity, gap = (int(x) for x in rows[i, :3])
            out[2] += 1
            out[4] -= math.log(self.time.distribution(ctx["time"])[gap])
            out[3] -= math.log(self.velocity.distribution(ctx["velocity"])[velocity])
            if velocity:
                out[0] += 1
                out[1] -= math.log(self.pitch.distribution(ctx["pitch"])[pitch])
        return out

    def continue_notes(self, prime_rows, last_pitch: int, sounding: list[int], beats: float, rng) -> list:
        """Notes (onset beats from the prime's end, end, pitch, velocity) for `beats` beats."""
        codec = self.codec
        strikes = [int(r[0]) for r in prime_rows if r[1]][-(ORDER - 1):]
        gaps = [int(r[2]) for r in prime_rows][-(ORDER - 1):]
        last = int(prime_rows[-1][1])
        clock, out, open_notes, pitch_now = 0.0, [], [[p, 0.0, None] for p in sounding], last_pitch
        while True:
            gap = int(rng.choice(codec.time_classes, p=self.time.distribution(tuple(gaps))))
            clock += codec.time_values[gap]
            if clock >= beats:
                break
            velocity = int(rng.choice(codec.velocity_classes, p=self.velocity.distribution((last * codec.time_classes + gap,))))
            gaps = (gaps + [gap])[-(ORDER - 1):]
            last = velocity
            if not velocity:
                if open_notes:
                    note = open_notes.pop(0)
                    if note[2] is not None:
                        out.append((note[1], clock, note[0], note[2]))
                continue
            step = int(rng.choice(codec.pitch_classes, p=self.pitch.distribution(tuple(strikes))))
            pitch_now = int(np.clip(pitch_now + step - codec.pitch_classes // 2, codec.low, codec.high))
            strikes = (strikes + [step])[-(ORDER - 1):]
            open_notes.append([pitch_now, clock, codec.velocity_value(velocity)])
        out += [(o, beats, p, v) for p, o, v in open_notes if v is not None]
        return sorted(out)


# -- the model --------------------------------------------------------------------------------------
def model_nll(net: EventModel, rows: np.ndarray) -> np.ndarray:
    stream = net.stream()
    out = np.zeros(5)
    logits = None
    for i, row in enumerate(rows):
        if logits is not None:
            pitch, velocity, gap = (int(x) for x in row[:3])
            heads = [h - (h.max() + np.log(np.exp(h - h.max()).sum())) for h in net.heads(logits)]
            out[2] += 1
            out[3] -= heads[1][velocity]
            out[4] -= heads[2][gap]
            if velocity:
                out[0] += 1
                out[1] -= heads[0][pitch]
        logits = stream.advance(*(int(x) for x in row))
    return out


def model_continuation(net: EventModel, prime: list[NoteMessage], bar: float, start: float, seed: int) -> list:
    """Notes (onset, end, pitch, velocity), beats from the prime's end, of the model's continuation."""
    codec = net.codec
    cursor = Cursor.for_model(net, BEAT, bar_beats=bar, key=KeyTracker())
    events, played = codec.encode_timed(prime)
    rows = cursor.rows(events, first=float(played[0]) / BEAT - start)  # beats from the prime's first bar line
    stream = net.stream()
    logits = stream.prime(rows)
    gap_to_end = PRIME - cursor.beats  # from the last event as the model heard it to the prime's end
    config = GenerateConfig(events=4000, seed=seed)
    result = sample_events(stream, logits, config, GumbelNoise(seed), first_gap=True, cursor=cursor,
                           until=(LENGTH + gap_to_end) * BEAT)
    notes, open_at = [], {}
    for n in result.notes:
        t = n.time / BEAT - gap_to_end
        if n.velocity:
            open_at[n.pitch] = (t, n.velocity)
        elif n.pitch in open_at:
            o, v = open_at.pop(n.pitch)
            if o >= 0:
                notes.append((o, min(t, LENGTH), n.pitch, v))
    return sorted(notes)


# -- what a continuation is like ----------------------------------------------------------------------
def describe(notes, prime_notes, key) -> dict | None:
    if not notes:
        return None
    onset, end, pitch, velocity = (np.array(c, float) for c in zip(*notes))
    tonic, mode = key
    scale = {(tonic + s) % 12 for s in SCALES[mode]}
    steps = np.arange(0, LENGTH, 0.25) + 0.125
    sounding = np.array([np.sum((onset <= s) & (end > s)) for s in steps])
    low = np.array([np.any((onset <= s) & (end > s) & (pitch < 60)) for s in steps])
    busy = sounding[sounding > 0]
    struck = [int(p) for _, p in sorted(zip(prime_notes[0], prime_notes[1]))] + \
             [int(p) for _, p in sorted(zip(onset, pitch))]
    heard = list(np.diff(struck))
    motifs = [tuple(heard[i:i + 3]) for i in range(len(heard) - 2)]
    first = len(prime_notes[0]) - 1
    later = [i for i in range(len(motifs)) if i >= first - 2]
    grid = onset * 4
    return {"in key": float(np.mean([int(p) % 12 in scale for p in pitch])),
            "on 16th grid": float(np.mean(np.abs(grid - np.round(grid)) < 4 / 48)),
            "at once": float(busy.mean()) if len(busy) else 0.0,
            "at once 1/2/3/4+": tuple(float(np.mean(np.minimum(busy, 4) == k)) if len(busy) else 0.0 for k in (1, 2, 3, 4)),
            "bass": float(low.mean()),
            "range": float(pitch.max() - pitch.min()),
            "velocity sd": float(velocity.std()),
            "repeated motifs": sum(1 for i in later if motifs[i] in motifs[:i]) / max(len(later), 1)}


def song_window(piece, lo, hi):
    on = np.asarray(piece["onset"], float)
    keep = (on >= lo) & (on < hi)
    return [(float(o - lo), float(o - lo + d), int(p), int(v)) for o, d, p, v in
            zip(on[keep], np.asarray(piece["duration"])[keep], piece["pitch"][keep], piece["velocity"][keep])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a keyboard model file (or a shipped name: keys)")
    parser.add_argument("corpus", help="a keyboard corpus (segue data keys)")
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--split", choices=["test", "valid"], default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", help="a PNG of the first songs' primes and continuations")
    parser.add_argument("--grid", type=int, help="hold the model's draws to this division of the beat instead of "
                                                 "the one its file names (an experiment)")
    args = parser.parse_args()
    started = time.perf_counter()
    net = EventModel(args.model)
    if args.grid:
        net.info = dataclasses.replace(net.info, grid=args.grid)
    codec = net.codec
    songs = load(args.corpus, args.split)[:args.songs]
    markov = MarkovKeys(codec, [metrical_events(p, codec) for p in load(args.corpus, "train")])  # (its 3 heads)
    print(f"{len(songs)} {args.split} songs; Markov baseline counted in {time.perf_counter() - started:.0f} s", flush=True)
    sums = {"keys": np.zeros(5), "markov": np.zeros(5)}
    for piece in songs:
        rows = metrical_events(piece, codec, net.info.sounding)[:MAX_EVENTS]
        sums["keys"] += model_nll(net, rows)
        sums["markov"] += markov.nll(rows)
    print("NLL (nats): pitch per note-on, velocity and time per event, sum per event")
    for name, s in sums.items():
        print(f"  {name:7s} pitch {s[1] / s[0]:.3f}  velocity {s[3] / s[2]:.3f}  time {s[4] / s[2]:.3f}  "
              f"per event {(s[1] + s[3] + s[4]) / s[2]:.3f}")
    rng = np.random.default_rng(args.seed)
    table: dict[str, list] = {"real": [], "keys": [], "markov": []}
    shown = []
    for i, piece in enumerate(songs):
        bar = float(piece["bar_length"][0])
        on = np.asarray(piece["onset"], float)
        downbeats = on - np.asarray(piece["bar_position"], float)
        start = float(downbeats[np.searchsorted(downbeats, START)]) if np.any(downbeats >= START) else None
        if start is None:
            continue
        prime = song_window(piece, start, start + PRIME)
        real = song_window(piece, start + PRIME, start + PRIME + LENGTH)
        if len(prime) < 8 or len(real) < 4:
            continue
        prime_msgs = sorted([NoteMessage((start + o) * BEAT, p, v) for o, e, p, v in prime] +
                            [NoteMessage((start + min(e, PRIME)) * BEAT, p, 0) for o, e, p, v in prime],
                            key=lambda n: (n.time, n.velocity > 0))
        key = key_of([p for _, _, p, _ in prime], [e - o for o, e, _, _ in prime])
        prime_pitches = ([o for o, *_ in prime], [p for _, _, p, _ in prime])
        ours = model_continuation(net, prime_msgs, bar, start, args.seed + i)
        events, _ = codec.encode_timed(prime_msgs)
        cursor = Cursor(codec, BEAT)
        prime_rows = cursor.rows(events)
        sounding = [p for o, e, p, v in prime if e > PRIME]
        theirs = markov.continue_notes(prime_rows, prime[-1][2], sounding, LENGTH, rng)
        for name, notes in (("real", real), ("keys", ours), ("markov", theirs)):
            table[name].append(describe(notes, prime_pitches, key))
        if len(shown) < 4:
            shown.append((piece["title"], prime, {"real": real, "keys": ours, "markov": theirs}))
    print(f"continuations of {len(table['real'])} songs (8 beats after 8; medians):")
    names = ["in key", "on 16th grid", "at once", "bass", "range", "velocity sd", "repeated motifs"]
    print("| source | " + " | ".join(names) + " | at once 1/2/3/4+ |")
    print("|---" * (len(names) + 2) + "|")
    for name, rows in table.items():
        rows = [r for r in rows if r]
        spread = np.mean([r["at once 1/2/3/4+"] for r in rows], axis=0)
        print(f"| {name} | " + " | ".join(f"{statistics.median(r[k] for r in rows):.2f}" for k in names) +
              " | " + "/".join(f"{x:.2f}" for x in spread) + " |")
    print(f"{time.perf_counter() - started:.0f} s")
    if args.plot:
        plot(shown, args.plot)
    return 0


def plot(shown, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(shown[0][2])
    fig, axes = plt.subplots(len(shown), len(names), figsize=(5 * len(names), 2.6 * len(shown)), dpi=100, squeeze=False)
    for row, (title, prime, sources) in enumerate(shown):
        for col, name in enumerate(names):
            ax = axes[row][col]
            for o, e, p, v in prime:
                ax.broken_barh([(o, max(min(e, PRIME) - o, 0.05))], (p - 0.4, 0.8), facecolors="0.65")
            for o, e, p, v in sources[name]:
                ax.broken_barh([(PRIME + o, max(e - o, 0.05))], (p - 0.4, 0.8),
                               facecolors=plt.cm.viridis(v / 127))
            for line in np.arange(0, PRIME + LENGTH + 1, 4):
                ax.axvline(line, color="0.8", lw=0.6, ls=":")
            ax.axhline(60, color="0.85", lw=0.6)
            ax.set_xlim(0, PRIME + LENGTH)
            ax.set_ylim(28, 96)
            if row == 0:
                ax.set_title(name)
            if col == 0:
                ax.set_ylabel(f"song {title}", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("beats (prime grey; colour: velocity)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
