"""Turn-taking: when would segue answer, cut in mid-phrase or wait after a real phrase end?

    python benchmarks/turn_taking.py runs/melodies            # the test split, the shipped folk model
    python benchmarks/turn_taking.py runs/melodies --split valid --limit 300

The held-out melodies of the melody corpus (`segue data melodies`) are played at 120 bpm and
stopped after every note. The note is a **phrase end** when the corpus marks one: the piece's last
note, a note followed by a rest of a beat or more, or a long note (twice the piece's median length,
at least 1.5 beats) after which the next note starts a bar. Every other note is **mid-phrase**: the
player goes on after the real gap to their next note (0 when legato).

For each rule, over every such point: the rate of answers that would **cut in mid-phrase** (the
rule answers before the player's next note comes) and the **delay after a phrase end** (the
silence the rule waits before answering, mean and 90th percentile). Fixed silences (what `--silence
0.6` does, and what other systems do) beside the model's rule (`--silence model`,
daemon/live/turns.py) at several thresholds, with the bar heard (MIDI clock or --bpm) and without
(free time: the model is told neither position nor metre).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from segue.daemon.formats.codec import POSITIONS
from segue.daemon.formats.corpus import load
from segue.daemon.live.timeline import DEFAULT_BEAT
from segue.daemon.live.turns import TurnRule
from segue.daemon.models.event import EventModel
from segue.daemon.offline.melody_eval import model_events

BEAT = 0.5  # seconds: 120 bpm (--bpm changes it)
FIXED = (0.2, 0.4, 0.6, 1.0, 2.0)  # seconds
FIXED_BEATS = (0.5, 0.75, 1.0)  # --silence 1beat: a fixed silence that follows the tempo
THRESHOLDS = (0.5, 0.3, 0.2, 0.1, 0.05)
METERS = 6


def phrase_ends(piece: dict) -> np.ndarray:
    """Per note: True where the corpus marks a phrase end (see the module's docstring)."""
    onset, length = np.asarray(piece["onset"], float), np.asarray(piece["duration"], float)
    at = np.asarray(piece["bar_position"], float)
    rest = np.append(onset[1:] - (onset[:-1] + length[:-1]), np.inf)
    starts_bar = np.append(np.isclose(at[1:], 0.0), True)
    long = (length >= 2 * np.median(length)) & (length >= 1.5)
    return (rest >= 1.0 - 1e-6) | (long & starts_bar)


def points(net: EventModel, piece: dict, free: bool):
    """(time logits after each note's release, its gap to the next note-on in seconds, phrase end?)."""
    rows = model_events(net, piece).copy()
    if free:
        rows[:, 4], rows[:, 5] = POSITIONS - 1, METERS - 1
    ends = phrase_ends(piece)
    onset, length = np.asarray(piece["onset"], float), np.asarray(piece["duration"], float)
    release = onset + length
    # Each note's release row, found from the event times: events are (release before strike) in time order.
    stream = net.stream()
    out, seen = [], 0
    order = np.argsort(release, kind="stable")
    for row in rows:
        logits = stream.advance(*row)
        if row[1] == 0:  # a release: the player may stop here
            k = order[seen]
            seen += 1
            later = onset[onset > release[k] - 1e-9]
            next_gap = (later.min() - release[k]) * BEAT if len(later) else np.inf
            out.append((net.heads(logits)[2].copy(), next_gap, bool(ends[k]) or not len(later)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--model", default="folk")
    parser.add_argument("--split", default="test", choices=["valid", "test"])
    parser.add_argument("--limit", type=int, default=0, help="At most this many pieces (0: all).")
    parser.add_argument("--bpm", type=float, default=120.0, help="The tempo the tunes are played at.")
    parser.add_argument("--phrase-break", type=float, default=TurnRule.phrase_break,
                        help="The model rule's phrase break in beats.")
    parser.add_argument("--answer-by", type=float, default=TurnRule.answer_by,
                        help="The model rule answers a silence this long (beats) whatever the model says.")
    args = parser.parse_args(argv)
    global BEAT
    BEAT = 60.0 / args.bpm
    net = EventModel(args.model)
    if net.codec.time_unit != "beats":
        raise SystemExit(f"{args.model}: not a beat-timed (metrical) model")
    pieces = load(args.corpus, args.split)[:args.limit or None]
    started = time.perf_counter()
    table = []
    counts = None
    for free in (False, True):
        found = [p for piece in pieces for p in points(net, piece, free)]
        gaps = np.array([g for _, g, _ in found])
        end = np.array([e for _, _, e in found])
        mid = ~end
        counts = (int(end.sum()), int(mid.sum()))
        rests = gaps[mid] > 0
        if not free:
            for silence in FIXED:
                cut = gaps[mid] > silence
                table.append((f"fixed {silence:g} s", "-", cut, cut[rests], np.full(end.sum(), silence)))
            for beats in FIXED_BEATS:
                cut = gaps[mid] > beats * BEAT
                table.append((f"fixed {beats:g} beat", "-", cut, cut[rests], np.full(end.sum(), beats * BEAT)))
        rules = [TurnRule(threshold=t, phrase_break=args.phrase_break, answer_by=args.answer_by) for t in THRESHOLDS]
        # In free time segue does not know the beat: it takes one as 0.5 s (120 bpm), whatever is played.
        beat = DEFAULT_BEAT if free else BEAT
        begun = time.perf_counter()
        waits = np.array([[rule.wait(t_logits, net.codec.time_array * beat, beat) for rule in rules]
                          for t_logits, _, _ in found])
        cost = (time.perf_counter() - begun) / waits.size * 1e6
        for j, rule in enumerate(rules):
            cut = gaps[mid] > waits[mid, j]
            table.append((f"model p < {rule.threshold:g}", "free" if free else "bar heard", cut, cut[rests],
                          waits[end, j]))
    print(f"{args.model} on {args.corpus} {args.split}: {len(pieces)} pieces at {args.bpm:g} bpm, model rule's break "
          f"{args.phrase_break:g} beats, answering by {args.answer_by:g} beats, {counts[0]} phrase ends, "
          f"{counts[1]} mid-phrase stops ({time.perf_counter() - started:.0f} s; load {os.getloadavg()[0]:.2f}); "
          f"the rule costs {cost:.1f} us a decision")
    print("| rule | time | cuts in mid-phrase | ... at its rests | delay after a phrase end: mean | p90 |\n"
          "|---|---|---|---|---|---|")
    for name, when, cut, at_rests, delay in table:
        print(f"| {name} | {when} | {cut.mean() * 100:.1f} % | {at_rests.mean() * 100:.1f} % | {delay.mean():.2f} s "
              f"| {np.percentile(delay, 90):.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
