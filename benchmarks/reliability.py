"""segue jam on stage: floods, a lost note-off, an open sysex, a killed server, SIGKILL/SIGTERM while recording.

    python benchmarks/reliability.py                     # every scenario, the issue's rates and lengths
    python benchmarks/reliability.py --only flood --rates 1000 --seconds 5
    python benchmarks/reliability.py --quick             # short versions (what the tests run)

Each scenario starts its own `jackd -d dummy` and `segue jam --backend jack` and prints one line:
what it tried, whether segue held, and the figures. The exit code is the number of scenarios that
did not hold. docs/guide/jam.md quotes a full run.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
import threading
import time
from dataclasses import dataclass

import mido
from segue.daemon.formats.midifile import NoteMessage
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the JACK test harness
from jackprobe import Probe, jack_port, jack_ports_gone, jack_server  # noqa: E402
from segue.daemon.live.recorder import journals

SILENCE = 0.4
PHRASE = [NoteMessage(i * 0.15 + d, 60 + (0, 2, 4, 5, 7, 5, 4, 2)[i], 0 if d else 90, 0)
          for i in range(8) for d in (0.0, 0.12)]  # eight whole notes, a scale up and down


@dataclass
class Result:
    scenario: str
    held: bool
    figures: str

    def line(self) -> str:
        return f"{self.scenario:<44} {'held' if self.held else 'FAILED':<7} {self.figures}"


class Jam:
    """One `segue jam` on the server of `env`, with a probe wired to it."""

    def __init__(self, env, *args: str):
        self.env = env
        cmd = [sys.executable, "-m", "segue.daemon.cli", "-v", "jam", "--backend", "jack", "--silence", str(SILENCE),
               "--seed", "1", "--length", "8", "--max-note", "1.0", "--no-status", *args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.said: list[str] = []
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.said.append(line)
                if line.startswith("listening on"):
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        ready.wait(timeout=30)  # every port and client of segue's exists (see tests/test_jam_jack.py)
        jack_port(env, "segue in")
        jack_port(env, "segue out")
        self.probe = Probe(env)

    def answer_delay(self, lose_last_off: bool = False) -> float | None:
        """Play the phrase (`lose_last_off`: without its last note-off); seconds from its last
        message to the first answer note (None: no answer)."""
        last = self.probe.play(PHRASE[:-1] if lose_last_off else PHRASE, speed=1.0)
        if not self.probe.wait_for(lambda: self.probe.note_ons(after=last), timeout=SILENCE + 3.0):
            return None
        return self.probe.note_ons(after=last)[0][0] - last

    def stop(self, sig=signal.SIGINT, timeout: float = 10.0) -> tuple[int | None, str, float]:
        """(exit code, stderr, seconds to exit) after `sig`."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = None
        took = time.monotonic() - started
        self._reader.join(timeout=5)
        err = "".join(self.said)
        self.probe.close()
        jack_ports_gone(self.env, "segue in")
        return code, err, took


def session_counts(stderr: str) -> dict[str, int]:
    """The counts of segue's "session over" line."""
    line = next((l for l in stderr.splitlines() if "session over" in l), "")
    patterns = {"arrived": r"(\d+) messages? arrived", "dropped": r"(\d+) incoming messages? dropped",
                "shed": r"(\d+) note messages? shed", "heard": r"(\d+) note messages? heard",
                "flooded": r"(\d+) note messages? in floods"}
    return {k: int(m[1]) for k, p in patterns.items() if (m := re.search(p, line))}


def flood(env, rate: int, seconds: float, record: str | None, lossy: bool = False) -> Result:
    """Note messages at `rate`/s for `seconds`: no answer while they come or for the flood itself,
    then a normal phrase is answered within the silence + 50 ms. `lossy`: nine note-offs in ten
    are lost, as JACK lost them in a minute at 20,000/s, and the phrase's last note-off too; it is
    then answered within the silence + 0.5 s."""
    jam = Jam(env, *(["--record", record] if record else []))
    probe, out = jam.probe, jam.probe.outport
    start = time.monotonic()
    sent, burst = 0, max(1, rate // 1000)  # a burst every millisecond
    while (now := time.monotonic()) < start + seconds:
        due = int((now - start) * rate)
        while sent < due:
            pitch = 36 + (sent // 2) % 48
            if not (lossy and sent % 2 and sent % 20 != 1):
                out.send(mido.Message("note_on", note=pitch, velocity=0 if sent % 2 else 80))
            sent += 1
        time.sleep(0.001 if burst else 0)
    time.sleep(SILENCE + 0.5)  # what was already sent may still be answered: it must not be
    after = [t for t, _ in probe.note_ons()]  # answers during the flood or to it
    delay = jam.answer_delay(lose_last_off=lossy)
    code, err, took = jam.stop()
    counts = session_counts(err)
    lag = re.findall(r"first note ([0-9.]+) ms after the cue", err)
    bound = SILENCE + (0.5 if lossy else 0.05)
    held = not after and delay is not None and delay <= bound and code == 0
    what = f"flood {rate:,}/s for {seconds:g} s{', 9 in 10 note-offs lost' if lossy else ''}{' --record' if record else ''}"
    return Result(what, held, f"sent {sent:,}; answers during or to it {len(after)}; answer after it "
                  f"{'none' if delay is None else f'{delay * 1000:.0f} ms'} (bound {bound * 1000:.0f} ms); "
                  f"segue: arrived {counts.get('arrived', '?')}, dropped {counts.get('dropped', '?')}, "
                  f"shed {counts.get('shed', '?')}, in floods {counts.get('flooded', '?')}, "
                  f"stepped {counts.get('heard', 0) - counts.get('shed', 0) - counts.get('flooded', 0)}; cue-to-note of the last answer {lag[-1] if lag else '?'} ms")


def then_a_phrase(env, what: str, send, bound: float) -> Result:
    """`send(probe)` something hostile, then a phrase: answered within `bound` seconds of its end."""
    jam = Jam(env)
    send(jam.probe)
    time.sleep(0.5)
    delay = jam.answer_delay()
    code, _, _ = jam.stop()
    held = delay is not None and delay <= bound and code == 0
    return Result(what, held, f"answer {'none' if delay is None else f'{delay * 1000:.0f} ms'} after the phrase")


def lost_note_off(env) -> Result:
    return then_a_phrase(env, "a note-on whose note-off never comes, a phrase",
                         lambda probe: probe.outport.send(mido.Message("note_on", note=50, velocity=90)),
                         SILENCE + 0.05)


def open_sysex(env) -> Result:
    # No F7: a sysex that never ends. segue ends it within a second (its SysexResync).
    return then_a_phrase(env, "an unterminated sysex (F0 7D 01 02), a phrase",
                         lambda probe: probe.outport._rt.send_message([0xF0, 0x7D, 0x01, 0x02]), SILENCE + 1.05)


def killed_server(record: str) -> Result:
    """jackd dies mid-session: segue says so and exits non-zero, the recording saved."""
    with jack_server(name=f"segue-killed-{os.getuid()}") as env:  # a fixed name: see jack_server
        jam = Jam(env, "--record", record)
        delay = jam.answer_delay()
        server = int(subprocess.run(["pgrep", "-f", f"jackd -n {env['JACK_DEFAULT_SERVER']}"], capture_output=True,
                                    text=True).stdout.split()[0])
        os.kill(server, signal.SIGKILL)
        try:
            code = jam.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic()
        code, err, _ = jam.stop(timeout=5)
    said = [l for l in err.splitlines() if "server" in l.lower() and ("ERROR" in l or "error" in l)]
    notes = _recorded_notes(record)
    held = code not in (0, None) and notes > 0 and bool(said)
    del took
    return Result("jackd killed mid-session (--record)", held,
                  f"exit code {code}; said: {said[0] if said else 'nothing'}; recording: {notes} note-ons "
                  f"(answered first: {delay is not None})")


def _recorded_notes(path: str) -> int:
    try:
        return sum(1 for m in mido.MidiFile(path) if m.type == "note_on" and m.velocity)
    except (OSError, EOFError, ValueError):
        return 0


def signals(env, record: str, minutes: float) -> list[Result]:
    """SIGKILL keeps all but the last second or two of the recording; SIGTERM exits in under 1 s."""
    results = []
    for sig in (signal.SIGKILL, signal.SIGTERM):
        path = f"{record}.{sig.name}.mid"
        jam = Jam(env, "--record", path)
        out = jam.probe.outport
        start = time.monotonic()
        sent = 0
        while time.monotonic() < start + minutes * 60:  # ordinary playing, 20 messages a second
            out.send(mido.Message("note_on", note=60 + sent % 12, velocity=0 if sent % 2 else 80))
            sent += 1
            time.sleep(0.05)
        last_sent = time.monotonic()
        time.sleep(0.3)
        _, _, took = jam.stop(sig)
        if sig == signal.SIGKILL:
            recovered = subprocess.run([sys.executable, "-c", "import sys; from segue.daemon.live.recorder import "
                                        "recover; print(recover(sys.argv[1]))", path], capture_output=True, text=True)
            kept = _recorded_notes(path) if "None" not in recovered.stdout else 0
            player_sent = sent // 2 + sent % 2
            lost_s = (player_sent - _player_notes(path)) * 0.1  # a note-on every 0.1 s
            results.append(Result(f"SIGKILL after {minutes:g} min with --record", lost_s <= 2.0 and kept > 0,
                                  f"recovered {kept} note-ons ({_player_notes(path)} of the player's {player_sent}): "
                                  f"{max(0.0, lost_s):.1f} s lost; journals left {any(j.exists() for j in journals(path))}"))
        else:
            results.append(Result(f"SIGTERM after {minutes:g} min with --record", took < 1.0 and _player_notes(path) > 0,
                                  f"exited in {took:.2f} s after {sent:,} messages ({last_sent - start:.0f} s); "
                                  f"recording {_player_notes(path)} player note-ons"))
    return results


def _player_notes(path: str) -> int:
    try:
        return sum(1 for m in mido.MidiFile(path).tracks[0] if m.type == "note_on" and m.velocity)
    except (OSError, EOFError, ValueError, IndexError):
        return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["flood", "note-off", "sysex", "server", "signals"], action="append")
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each flood")
    parser.add_argument("--minutes", type=float, default=1.0, help="playing before SIGKILL / SIGTERM")
    parser.add_argument("--quick", action="store_true", help="short floods (1,000/s for 3 s) and 0.2 min of playing")
    parser.add_argument("--dir", default="/tmp", help="where recordings go")
    args = parser.parse_args(argv)
    if args.quick:
        args.rates, args.seconds, args.minutes = [1000], 3.0, 0.2
    only = set(args.only or ["flood", "note-off", "sysex", "server", "signals"])
    tag = f"{args.dir}/segue-reliability-{os.getpid()}"
    print(f"segue reliability: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; silence {SILENCE * 1000:.0f} ms")
    results: list[Result] = []
    with jack_server() as env:
        for rate in args.rates if "flood" in only else []:
            for record, lossy in ((None, False), (f"{tag}-flood-{rate}.mid", False), (None, True)):
                results.append(flood(env, rate, args.seconds, record, lossy))
                print(results[-1].line(), flush=True)
        if "note-off" in only:
            results.append(lost_note_off(env))
            print(results[-1].line(), flush=True)
        if "sysex" in only:
            results.append(open_sysex(env))
            print(results[-1].line(), flush=True)
        if "signals" in only:
            for r in signals(env, f"{tag}-signal", args.minutes):
                results.append(r)
                print(r.line(), flush=True)
    if "server" in only:
        results.append(killed_server(f"{tag}-server.mid"))
        print(results[-1].line(), flush=True)
    failed = sum(not r.held for r in results)
    print(f"tried {len(results)}, held {len(results) - failed}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
