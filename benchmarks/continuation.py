"""Continuations of held-out melodies: a model file, the interval Markov baseline and the real tunes.

For each held-out tune with enough notes, the first 24 notes are the prime and 32 notes are
continued; every source is described by the same statistics (medians over tunes): the fraction of
onsets that are chords, of notes in the prime's key, of onsets on the prime's eighth-note grid, the
mean absolute interval, the range, and the fraction of the continuation's 3-interval motifs heard
before (in the prime or earlier in the continuation).

    python benchmarks/continuation.py runs/metrical.onnx runs/melodies [--tunes 60] [--plot FILE.png]

Prints one table; docs/notes/melody-model.md quotes it.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter

import numpy as np
from segue.daemon.formats.corpus import load
from segue.daemon.formats.midifile import NoteMessage
from segue.daemon.models.continuation import KEY_WEIGHT, continue_events
from segue.daemon.options import GenerateConfig
from segue.daemon.models.cursor import Cursor
from segue.daemon.models.event import EventModel
from segue.daemon.models.key import KeyTracker
from segue.daemon.models.markov import (
    MAX_INTERVAL,
    VariableOrderMarkov,
    interval_symbol,
)
from segue.daemon.models.sampling import GumbelNoise, Sampling
from segue.daemon.offline.melody_eval import train_markov

PRIME, LENGTH = 24, 32
# Krumhansl-Kessler key profiles (major, minor), for the key of the prime.
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}  # minor: natural, and the leading tone


def key_of(pitches, durations) -> tuple[int, str]:
    weights = np.zeros(12)
    for p, d in zip(pitches, durations):
        weights[int(p) % 12] += d
    best = max(((np.corrcoef(weights, np.roll(profile, tonic))[0, 1], tonic, mode)
                for tonic in range(12) for mode, profile in (("major", MAJOR), ("minor", MINOR))))
    return best[1], best[2]


def stats(onsets, pitches, prime_pitches, key, bar_offset: float) -> dict:
    """`onsets` in beats from the prime's first bar line (so the grid is the notation's)."""
    onsets, pitches = np.asarray(onsets, float), np.asarray(pitches, int)
    tonic, mode = key
    scale = {(tonic + s) % 12 for s in SCALES[mode]}
    times = Counter(np.round(onsets, 4))
    steps = np.diff(pitches)
    heard = list(np.diff(prime_pitches)) + list(steps)
    motifs = [tuple(heard[i:i + 3]) for i in range(len(heard) - 2)]
    first = len(prime_pitches) - 1  # motifs that start in the continuation
    later = [m for i, m in enumerate(motifs) if i >= first - 2]
    repeated = sum(1 for i, m in enumerate(motifs) if i >= first - 2 and m in motifs[:i])
    grid = (onsets + bar_offset) * 2
    return {"chords": sum(1 for n in times.values() if n > 1) / max(len(times), 1),
            "in key": float(np.mean([p % 12 in scale for p in pitches])),
            "on 8th grid": float(np.mean(np.abs(grid - np.round(grid)) < 1 / 48)),
            "mean |interval|": float(np.abs(steps).mean()) if len(steps) else 0.0,
            "range": int(pitches.max() - pitches.min()),
            "repeated motifs": repeated / max(len(later), 1)}


def model_continuation(net: EventModel, piece: dict, seed: int, session_weight: float = 0.0,
                       sampling: Sampling = Sampling(), key_weight: float = KEY_WEIGHT):
    """(onsets in beats from the first bar line, pitches) of the model's first LENGTH notes."""
    offset = float(piece["bar_position"][0])
    bar = float(piece["bar_length"][0])
    notes = []
    for p, onset, length in zip(piece["pitch"][:PRIME], piece["onset"][:PRIME], piece["duration"][:PRIME]):
        notes += [NoteMessage(float(onset) + offset, int(p), 80), NoteMessage(float(onset + length) + offset, int(p), 0)]
    notes.sort(key=lambda n: (n.time, n.velocity > 0))
    codec = net.codec
    beat_seconds = 0.5
    if codec.time_unit == "beats":
        session = VariableOrderMarkov(order=4, window=2000) if session_weight else None
        cursor = Cursor.for_model(net, beat_seconds, bar_beats=bar, session=session,
                                  key=KeyTracker() if key_weight else None)
        events, played = codec.encode_timed(notes)
        rows = cursor.rows(events, first=float(played[0]))
        end = cursor.beats
    else:  # a seconds model hears the tune at 120 bpm
        cursor = None
        rows = codec.encode([NoteMessage(n.time * beat_seconds, n.pitch, n.velocity) for n in notes])
        end = notes[-1].time
    config = GenerateConfig(events=LENGTH * 3, seed=seed, session_weight=session_weight, sampling=sampling,
                            key_weight=key_weight)
    result = continue_events(net, rows, config, first_gap=True, cursor=cursor)
    strikes = [(end + n.time / beat_seconds, n.pitch) for n in result.notes if n.velocity][:LENGTH]
    return [t - offset for t, _ in strikes], [p for _, p in strikes]


def markov_continuation(intervals: VariableOrderMarkov, durations_of: VariableOrderMarkov, values: list[float],
                        piece: dict, seed: int, session_weight: float = 0.3):
    """The Continuator's way: intervals from the corpus model mixed with one that learnt the prime,
    durations from a duration model, notes end to end (a monophonic line, no rests)."""
    rng = np.random.default_rng(seed)
    noise = GumbelNoise(seed)
    draw = Sampling().draw
    session = VariableOrderMarkov(order=4, window=2000)
    pitches = [int(p) for p in piece["pitch"][:PRIME]]
    context = [interval_symbol(s) for s in np.diff(pitches)]
    for s in context:
        session.observe(s)
    dur_context = [values.index(min(values, key=lambda v: abs(v - d))) for d in piece["duration"][:PRIME]]
    onset = float(piece["onset"][PRIME - 1] + piece["duration"][PRIME - 1])
    onsets, out = [], []
    for _ in range(LENGTH):
        p = (1 - session_weight) * intervals.distribution(tuple(context[-intervals.order:])) \
            + session_weight * session.distribution()
        symbol = draw(np.log(np.maximum(p, 1e-12)), noise)
        pitch = int(np.clip(pitches[-1] + symbol - MAX_INTERVAL, 24, 112))
        d = durations_of.distribution(tuple(dur_context[-durations_of.order:]))
        k = int(rng.choice(len(d), p=d))
        onsets.append(onset)
        out.append(pitch)
        pitches.append(pitch)
        context.append(symbol)
        session.observe(symbol)
        dur_context.append(k)
        onset += values[k]
    return onsets, out


def plot(cases, path: str) -> None:
    """Piano rolls: a row per tune, a column per source; the prime grey, the continuation coloured,
    bar lines dotted, time in beats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(cases[0][1])
    fig, axes = plt.subplots(len(cases), len(names), figsize=(5 * len(names), 2.4 * len(cases)), dpi=100,
                             squeeze=False)
    for row, (piece, sources) in enumerate(cases):
        offset, bar = float(piece["bar_position"][0]), float(piece["bar_length"][0])
        prime = list(zip(piece["onset"][:PRIME], piece["duration"][:PRIME], piece["pitch"][:PRIME]))
        for col, name in enumerate(names):
            ax = axes[row][col]
            onsets, pitches = sources[name]
            ends = list(onsets[1:]) + [onsets[-1] + 0.5] if len(onsets) else []
            for o, d, p in prime:
                ax.broken_barh([(o + offset, d)], (p - 0.4, 0.8), facecolors="0.65")
            for o, e, p in zip(onsets, ends, pitches):
                ax.broken_barh([(o + offset, max(e - o, 0.05))], (p - 0.4, 0.8), facecolors="tab:blue")
            right = (onsets[-1] + offset + 1) if len(onsets) else 1
            for line in np.arange(0, right, bar):
                ax.axvline(line, color="0.8", lw=0.6, ls=":")
            ax.set_xlim(0, right)
            shown = list(piece["pitch"][:PRIME]) + list(pitches)
            ax.set_ylim(min(shown) - 3, max(shown) + 3)
            if row == 0:
                ax.set_title(name)
            if col == 0:
                ax.set_ylabel(piece["title"][:24], fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("beats")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an event model file (or a shipped name, e.g. melody)")
    parser.add_argument("corpus", help="a folder from segue data melodies")
    parser.add_argument("--split", default="test", choices=["valid", "test"])
    parser.add_argument("--tunes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", help="also write piano rolls of the first three tunes here (PNG)")
    parser.add_argument("--temperature", type=float, default=1.0, help="the model's sampling temperature")
    parser.add_argument("--top-p", type=float, default=1.0, help="the model's nucleus")
    parser.add_argument("--session-weight", type=float, default=0.0,
                        help="the model's continuations also with a session model that learnt the prime (a row more)")
    parser.add_argument("--key-weight", type=float, default=KEY_WEIGHT,
                        help="the prime's key's profile, to this power, on the model's notes (as segue generate; 0: off)")
    args = parser.parse_args(argv)
    net = EventModel(args.model)
    sampling = Sampling(temperature=args.temperature, top_p=args.top_p)
    train = load(args.corpus, "train")
    held = [p for p in load(args.corpus, args.split) if len(p["pitch"]) >= PRIME + LENGTH]
    held = [held[i] for i in np.random.default_rng(args.seed).permutation(len(held))[:args.tunes]]
    intervals = train_markov(train, order=4)
    values = sorted({round(float(d), 4) for p in train for d in p["duration"]})
    durations = VariableOrderMarkov(symbols=len(values), order=2)
    for p in train:
        durations.reset_context()
        for d in p["duration"]:
            durations.observe(values.index(round(float(d), 4)))
    session_name = f"{net.path.name} + session {args.session_weight:g}"
    rows: dict[str, list[dict]] = {"real": [], "Markov": [], net.path.name: []}
    if args.session_weight:
        rows[session_name] = []
    cases = []
    for i, piece in enumerate(held):
        prime = piece["pitch"][:PRIME]
        key = key_of(prime, piece["duration"][:PRIME])
        offset = float(piece["bar_position"][0])
        sources = {"real": (piece["onset"][PRIME:PRIME + LENGTH], piece["pitch"][PRIME:PRIME + LENGTH]),
                   "Markov": markov_continuation(intervals, durations, values, piece, args.seed + i),
                   net.path.name: model_continuation(net, piece, args.seed + i, sampling=sampling,
                                                             key_weight=args.key_weight)}
        if args.session_weight:
            sources[session_name] = model_continuation(net, piece, args.seed + i, args.session_weight, sampling,
                                                       args.key_weight)
        for name, (onsets, pitches) in sources.items():
            if len(pitches) > 1:
                rows[name].append(stats(onsets, pitches, prime, key, offset))
        if len(cases) < 3:
            cases.append((piece, sources))
    print(f"continuations of {len(held)} {args.split} tunes ({PRIME}-note primes, {LENGTH} notes), medians:")
    keys = list(next(iter(rows.values()))[0])
    print(f"{'':<22}" + "".join(f"{k:>17}" for k in keys))
    for name, found in rows.items():
        print(f"{name:<22}" + "".join(f"{statistics.median(r[k] for r in found):>17.3f}" for k in keys)
              + f"   ({len(found)} tunes)")
    if args.plot:
        plot(cases, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
