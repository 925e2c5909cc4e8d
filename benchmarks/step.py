"""Per-event cost of the event model, headless throughput, and a cold `segue generate`.

    python benchmarks/step.py [--model M] [--steps 5000]

Single thread everywhere (onnxruntime intra-op 1, torch.set_num_threads(1)). Needs the
training extra for the torch rows. Prints one table; docs/benchmarks.md quotes it.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from segue.daemon.formats.midifile import NoteMessage
from segue.daemon.models.continuation import KEY_WEIGHT, NoteDraw, continue_events
from segue.daemon.options import GenerateConfig
from segue.daemon.models.cursor import Cursor
from segue.daemon.models.event import EventModel
from segue.daemon.models.key import KeyTracker
from segue.daemon.models.sampling import GumbelNoise, Sampling
from segue.daemon.offline.generate import default_prime


def percentiles(seconds: list[float]) -> str:
    us = np.array(seconds) * 1e6
    return f"p50 {np.percentile(us, 50):8.1f}  p99 {np.percentile(us, 99):8.1f}  mean {us.mean():8.1f}"


def timed(fn, steps: int, warmup: int = 200) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    clock = time.perf_counter
    for _ in range(steps):
        start = clock()
        fn()
        out.append(clock() - start)
    return out


def onnx_rows(model: EventModel, steps: int) -> dict[str, list[float]]:
    stream, noise, sampling = model.stream(), GumbelNoise(0), Sampling(temperature=0.9)  # generate's default
    heard = [0] * len(model.info.inputs)  # a metrical model's input-only features: their cost, not their value
    stream.prime(np.array([[*row, *heard] for row in model.codec.encode(default_prime())], np.int64))
    event = [0, 0, 0, *heard]
    draw = NoteDraw(model, sampling, noise)
    # The key of the prime, as segue generate keeps it; the cursor follows each struck pitch (an
    # interval model's classes move with it, so the key's log-weights are looked up again).
    cursor = Cursor(model.codec, key=KeyTracker())
    for n in default_prime():
        if n.velocity:
            cursor.key.hear(n.pitch)
    clock = [0.0]

    def step_only():
        stream.advance(*event)

    def sample(logits):  # the constrained draw `segue generate` makes, and the voice's bookkeeping
        gap = draw.time(logits)
        clock[0] += 0.1
        draw.now(clock[0])
        base = cursor.base
        pitch, vel = draw.note(logits, base, key=cursor.key_prior(model.codec.pitch_classes, KEY_WEIGHT))
        draw.follow([NoteMessage(clock[0], pitch + base, vel, 0)])
        if vel:
            cursor.reference = pitch + base
        event[:3] = pitch, vel, gap

    logits = stream.advance(*event).copy()
    return {"onnxruntime step": timed(step_only, steps),
            "sampling alone (a)": timed(lambda: sample(logits), steps),
            "onnxruntime step + sampling (a)": timed(lambda: sample(stream.advance(*event)), steps)}


def torch_rows(model: EventModel, steps: int) -> dict[str, list[float]]:
    import torch
    from segue.training.model import EventLSTM, ModelConfig

    torch.set_num_threads(1)
    layers, hidden = model.info.state["h"]
    # Same shapes as the ONNX model; the weights do not change the cost.
    net = EventLSTM(ModelConfig(model.codec.sizes, hidden, layers)).eval()
    events = torch.from_numpy(model.codec.encode(default_prime()))
    window = torch.cat([events] * 3)[:30][None]  # (1, 30, 3)
    one = torch.zeros(1, dtype=torch.long)
    state = [torch.zeros(layers, 1, hidden), torch.zeros(layers, 1, hidden)]

    def stream_step():
        with torch.no_grad():
            _, state[0], state[1] = net.step(one, one, one, state[0], state[1])

    def window_step():  # the seed's way: re-run the whole 30-event window for each new event
        with torch.no_grad():
            net(window)

    return {"torch streaming step (b)": timed(stream_step, steps),
            "torch 30-event window per event (c)": timed(window_step, steps // 2)}


def throughput(model: EventModel, events: int, repeats: int = 3) -> float:
    def cursor():  # a metrical model's place (4/4 at 120 bpm); None for a seconds model
        return Cursor.for_model(model, bar_beats=4.0, key=KeyTracker())

    prime = model.codec.encode(default_prime(bpm=60.0 if model.info.inputs else 120.0))
    runs = []
    for i in range(repeats):
        c = cursor()
        rows = c.rows(prime)
        runs.append(continue_events(model, rows, GenerateConfig(events=events, seed=i), cursor=c))
    return statistics.median(events / r.seconds for r in runs)


# Runs the CLI in a fresh interpreter, then reports that process's own peak RSS. ru_maxrss of a
# child is no good here: Linux charges a child the RSS of the parent it was forked from.
PEAK_PROBE = """
import sys
from segue.daemon.cli import main
code = main(sys.argv[1:])
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(hwm, file=sys.stderr)
sys.exit(code)
"""


def cold_generate(model_arg: list[str], repeats: int = 5) -> tuple[list[float], int]:
    """Wall time and peak RSS (KiB) of `segue generate --events 500` as fresh processes."""
    walls, peak = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", PEAK_PROBE, "generate", *model_arg, "--events", "500",
                                   "--seed", str(i), "--out", os.path.join(tmp, "o.mid")],
                                  check=True, capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
            peak = max(peak, int(done.stderr.split()[-1]))
    return walls, peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file (default: the shipped melody model)")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--no-torch", action="store_true", help="skip the torch rows")
    args = parser.parse_args(argv)
    if not args.no_torch and importlib.util.find_spec("torch") is None:
        print("torch is not installed (the training extra: pip install 'segue[train]', or -e '.[train]' in a "
              "clone): the torch rows are skipped, as with --no-torch", file=sys.stderr)
        args.no_torch = True
    model = EventModel(args.model)
    print(f"segue step benchmark: {model.path.name}, hidden {model.info.state['h'][1]}, "
          f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
    rows = onnx_rows(model, args.steps)
    if not args.no_torch:
        rows |= torch_rows(model, args.steps)
    print(f"\nper event, single thread, {args.steps} steps (microseconds)")
    for name, seconds in rows.items():
        print(f"  {name:<38} {percentiles(seconds)}")
    if not args.no_torch:
        a = np.median(rows["onnxruntime step + sampling (a)"])
        c = np.median(rows["torch 30-event window per event (c)"])
        print(f"  (a) is {c / a:.1f}x faster than (c) at the median")
    print(f"\nheadless generation (sampling loop, 20000 events, median of 3): {throughput(model, 20000):,.0f} events/s")
    walls, rss = cold_generate(["--model", args.model] if args.model else [])
    print(f"cold `segue generate --events 500` (5 fresh processes): wall median {statistics.median(walls):.2f} s, "
          f"max {max(walls):.2f} s; peak RSS {rss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
