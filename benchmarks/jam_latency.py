"""Live latency of `segue jam` through real JACK ports, measured by an external client.

    python benchmarks/jam_latency.py [--rounds 20] [--period 1024] [--silence 0.3] [--mode continuous]

A private JACK server (dummy driver) runs; `segue jam` runs as its own process with `--trace`;
a probe client plays a phrase from krebs.mid, pauses, and timestamps what comes back. All times
are time.monotonic(), which every process on the machine shares. Prints:
  decision    threshold expiry as segue sees it (its arrival time of the player's last note +
              silence) -> first answer note sent: the goal's "decision latency"
  end to end  threshold expiry at the probe (its last note sent + silence) -> first answer note
              received: adds the JACK transport both ways (up to a period each)
  schedule    each answer note-on: sent - due (segue's scheduler alone)
  delivered   each answer note-on: received - due (through JACK: adds up to one period)
  CPU         segue's CPU time / wall time, idle-listening and over the answering rounds
With --mode continuous segue plays along (and 1 s past each phrase), and with --mode accompany
(the shipped pop, --bpm 120) it plays a bass and chords under each phrase, each beat decided just
before its line (benchmarks/accompany_step.py times that decision): there is no threshold, so only
the schedule, delivery and CPU rows apply. With --silence model the threshold is the model's
(segue's trace gives it), so there is no end-to-end row.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from segue.daemon.formats.midifile import read_notes
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the JACK test harness
from jackprobe import Probe, jack_port, jack_server, whole_notes  # noqa: E402

KREBS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "midi" / "krebs.mid"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def stats(ms: list[float]) -> str:
    if not ms:  # e.g. no answer came in time on an overloaded machine: say so, do not crash
        return "not collected (no sample)"
    a = np.array(ms)
    return f"p50 {np.percentile(a, 50):7.2f}  p99 {np.percentile(a, 99):7.2f}  max {a.max():7.2f} ms  (n={len(a)})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--period", type=int, default=1024, help="JACK frames per period (at 48 kHz)")
    parser.add_argument("--silence", default="0.3", help="Seconds, or model (segue jam --silence model).")
    parser.add_argument("--length", default="16")
    parser.add_argument("--mode", choices=["call", "continuous", "accompany"], default="call")
    parser.add_argument("--model", help="segue jam --model (default: the mode's shipped model)")
    parser.add_argument("--no-realtime", action="store_true", help="run jackd without realtime scheduling")
    parser.add_argument("--lyrics", action="store_true", help="sing the answers (segue jam --lyrics, shipped lyric model)")
    parser.add_argument("--grid", choices=["beat", "bar", "off"], default="beat",
                        help="segue jam --grid: with the beat heard in the phrases, an answer waits for the next "
                             "beat (up to a beat); off measures the decision alone")
    args = parser.parse_args(argv)
    phrase = whole_notes(read_notes(KREBS, channel=0), 8)
    with tempfile.TemporaryDirectory() as tmp, jack_server(period=args.period, realtime=not args.no_realtime) as env:
        trace = Path(tmp) / "trace.txt"
        proc = subprocess.Popen([sys.executable, "-m", "segue.daemon.cli", "jam", "--backend", "jack",
                                 "--silence", str(args.silence), "--length", args.length if args.mode == "call" else "1s",
                                 "--mode", args.mode, "--seed", "1",
                                 *(["--bpm", "120"] if args.mode == "accompany" else []),
                                 "--max-note", "0.5", "--trace", str(trace), "--grid", args.grid,
                                 *(["--lyrics"] if args.lyrics else []), *(["--model", args.model] if args.model else [])],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        jack_port(env, "segue out")
        probe = Probe(env)
        time.sleep(1.0)
        idle_cpu, idle_start = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(5.0)
        idle = (cpu_seconds(proc.pid) - idle_cpu) / (time.monotonic() - idle_start)
        busy_cpu, busy_start = cpu_seconds(proc.pid), time.monotonic()
        expiries = []
        fixed = args.silence != "model"  # the model's rule: segue alone knows when its silence expires
        for _ in range(args.rounds):
            last = probe.play(phrase)
            expiry = last + float(args.silence) if fixed else last
            expiries.append(expiry)
            probe.wait_for(lambda: probe.note_ons(after=expiry - 0.05), timeout=5)
            time.sleep(2.0)  # let the answer finish before the next call
        busy = (cpu_seconds(proc.pid) - busy_cpu) / (time.monotonic() - busy_start)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        probe.close()
        lines = [line.split() for line in trace.read_text().splitlines()]
    sent = [(float(d), float(s), int(n)) for d, s, kind, n in lines if kind == "note_on"]
    answers = [float(d) for d, _, kind, _ in lines if kind == "answer"]
    received = probe.note_ons()
    decision, end_to_end, schedule, delivered = [], [], [], []
    for due, at, note in sent:
        schedule.append((at - due) * 1000)
        arrivals = [t for t, m in received if m.note == note and t >= at - 1e-4]
        if arrivals:
            delivered.append((arrivals[0] - due) * 1000)
    for due in answers:
        first_sent = min((s for _, s, _ in sent if s >= due), default=None)
        if first_sent is not None:
            decision.append((first_sent - due) * 1000)
    for expiry in expiries:
        first_got = min((t for t, _ in received if t >= expiry - 0.05), default=None)
        if first_got is not None:
            end_to_end.append((first_got - expiry) * 1000)
    period_ms = args.period / 48.0
    print(f"segue jam through JACK (dummy driver, {env['SEGUE_JACK_MODE']}, {args.period} frames = {period_ms:.1f} ms per period), "
          f"{args.rounds} calls of {len(phrase) // 2} notes, mode {args.mode}, silence {args.silence} s, "
          f"{os.cpu_count()} cores{', answers sung (--lyrics)' if args.lyrics else ''}")
    if args.mode == "call":
        print(f"  decision    {stats(decision)}")
        if fixed:
            print(f"  end to end  {stats(end_to_end)}")
    print(f"  schedule    {stats(schedule)}")
    print(f"  delivered   {stats(delivered)}")
    print(f"  CPU: idle-listening {idle * 100:.2f} % of one core, answering rounds {busy * 100:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
