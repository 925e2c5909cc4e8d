"""Does generated music have the texture of the data? Note lengths, polyphony, guard repairs.

    python benchmarks/texture.py [--model M] [--events 600] [--seeds 5] PRIMES...

For each prime file: the prime itself, then continuations sampled with segue's constrained
order (release-or-strike first, then a pitch that fits) and with the seed's independent
heads (`--free`), averaged over seeds.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from segue.daemon.formats.midifile import read_notes
from segue.daemon.formats.notes import note_spans
from segue.daemon.models.continuation import continue_events
from segue.daemon.options import GenerateConfig
from segue.daemon.models.event import EventModel


def texture(notes) -> tuple[float, float, float]:
    """(median note length s, mean note length s, mean number of notes sounding)."""
    spans = note_spans(notes)
    onsets = np.array([s[0] for s in spans])
    ends = np.array([s[1] for s in spans])
    grid = np.arange(onsets.min(), ends.max(), 0.05)
    sounding = ((onsets[None, :] <= grid[:, None]) & (ends[None, :] > grid[:, None])).sum(1)
    lengths = ends - onsets
    return float(np.median(lengths)), float(lengths.mean()), float(sounding.mean())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("primes", nargs="+")
    parser.add_argument("--model")
    parser.add_argument("--channel", type=int, default=0)
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    model = EventModel(args.model)
    print(f"{'prime':<24} {'source':<12} {'median len s':>12} {'mean len s':>10} {'polyphony':>9} "
          f"{'dropped rel':>11} {'restrikes':>9} {'cut at max':>10}")
    for prime in args.primes:
        notes = read_notes(prime, channel=args.channel)
        name = prime.rsplit("/", 1)[-1]
        print(f"{name:<24} {'the prime':<12} " + " ".join(f"{v:>{w}.2f}" for v, w in zip(texture(notes), (12, 10, 9))))
        events = model.codec.encode(notes)
        for label, constrain in (("segue", True), ("free", False)):
            rows, counts = [], np.zeros(3)
            for seed in range(args.seeds):
                out = continue_events(model, events, GenerateConfig(events=args.events, seed=seed, constrain=constrain))
                rows.append(texture(out.notes))
                c = out.counts
                counts += (c.dropped_releases, c.retriggers, c.forced_releases)
            med, mean, poly = np.mean(rows, axis=0)
            d, r, f = counts / args.seeds
            print(f"{'':<24} {label:<12} {med:>12.2f} {mean:>10.2f} {poly:>9.2f} {d:>11.1f} {r:>9.1f} {f:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
