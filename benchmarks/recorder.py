"""The session recorder over a long session: cost per minute, and the time to close it.

    python benchmarks/recorder.py [--messages 500000] [--hours 3]

Feeds the recorder `--messages` player and machine note messages spread over `--hours` of session
time (a clock the benchmark moves; the journal is flushed once per session second, as live), and
prints the CPU time each session minute cost (appends + flushes) at the start, middle and end,
then how long close() took to turn the journals into the MIDI file.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import mido
from segue.daemon.live.recorder import Recorder


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--hours", type=float, default=3.0)
    args = parser.parse_args(argv)
    seconds = args.hours * 3600
    per_second = args.messages / seconds
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session.mid"
        rec = Recorder(path, every=3600 * 24, clock=clock)  # flushed below, once per session second
        minute_cost: list[float] = []
        sent, cost, start = 0, 0.0, clock.now
        for second in range(int(seconds)):
            due = int((second + 1) * per_second)
            began = time.process_time()
            while sent < due:
                clock.now = start + sent / per_second
                msg = mido.Message("note_on", note=48 + sent % 36, velocity=0 if sent % 4 >= 2 else 90)
                (rec.player if sent % 2 == 0 else rec.machine)(msg)
                sent += 1
            rec.flush()
            cost += time.process_time() - began
            if (second + 1) % 60 == 0:
                minute_cost.append(cost)
                cost = 0.0
        began = time.perf_counter()
        rec.close()
        closing = time.perf_counter() - began
        size = path.stat().st_size
        check = mido.MidiFile(path)
        recorded = sum(1 for t in check.tracks for m in t if m.type == "note_on")

    def ms(values):
        return f"{statistics.median(values) * 1000:.1f} ms"

    n = len(minute_cost)
    print(f"segue recorder: {sent:,} messages over {args.hours:g} h of session ({per_second:.1f}/s), "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print("  CPU per session minute (appends + 60 flushes), median of each tenth of the session:")
    tenth = max(1, n // 10)
    print("   " + "  ".join(ms(minute_cost[i:i + tenth]) for i in range(0, n, tenth)))
    print(f"  first tenth {ms(minute_cost[:tenth])}, last tenth {ms(minute_cost[-tenth:])}")
    print(f"  close (journals -> MIDI file): {closing * 1000:.1f} ms for {size / 1e6:.1f} MB, "
          f"{recorded:,} note messages in the file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
