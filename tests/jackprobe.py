"""A private JACK server and a probe client: how segue's live tests and benchmarks reach real ports.

The probe has its own JACK MIDI ports wired to segue's, plays note messages with their timing,
and timestamps (time.monotonic, shared by every process on the machine) what it receives.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager

import mido

from segue.daemon.formats.notes import still_sounding


@contextmanager
def jack_server(period: int = 1024, rate: int = 48000, log=None, realtime: bool = True, name: str | None = None):
    """Start `jackd -d dummy` under a unique name; yields the environment that reaches it.

    Realtime scheduling where the machine allows it (as on a musician's JACK setup), else
    `--no-realtime`. Without it, on a busy 2-core machine, the clients' JACK threads wait for a
    CPU like any other thread, jackd reports them late ("XRun ... was not finished") and for a
    while passes no MIDI at all: the live tests then fail for reasons a musician never meets.
    1024 frames (21 ms): shorter periods overrun without realtime scheduling.
    `log`: a file for jackd's own messages (xruns), else they are dropped. The environment
    yielded names the mode the server runs in as SEGUE_JACK_MODE.
    `name`: the server's name (default: a new one). A server that is killed leaves its entry in
    JACK's registry of eight servers, which only a later server of the same name reclaims: a test
    that kills its server must name it.
    """
    if not shutil.which("jackd"):
        raise RuntimeError("jackd is missing: apt-get install jackd2")
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    server, server_name = None, name
    try:
        for mode in ("-R", "--no-realtime")[0 if realtime else 1:]:
            name = server_name or f"segue-{os.getpid()}-{time.monotonic_ns()}"
            env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1",
                   "SEGUE_JACK_MODE": "realtime" if mode == "-R" else "no-realtime"}
            server = subprocess.Popen(["jackd", "-n", name, mode, "-d", "dummy", "-r", str(rate), "-p", str(period)],
                                      env=env, stdout=log or subprocess.DEVNULL,
                                      stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
            if _answers(env, server):
                break
            server.terminate()
            server.wait(timeout=5)
        else:
            raise RuntimeError("jackd did not start")
        os.environ["JACK_DEFAULT_SERVER"] = name  # for this process's own clients (the probe)
        yield env
    finally:
        if server and server.poll() is None:
            server.terminate()
            server.wait(timeout=5)
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved


def _answers(env, server, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode != 0:
        if time.monotonic() > deadline or server.poll() is not None:
            return False
        time.sleep(0.1)
    return True


def jack_port(env, part: str, timeout: float = 10.0) -> str:
    """The full name of the first JACK port whose name contains `part` (waits for it to appear)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ports = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout.split("\n")
        hits = [p for p in ports if part in p]
        if hits:
            return hits[0]
        time.sleep(0.05)
    raise RuntimeError(f"no JACK port like {part!r}")


def jack_ports_gone(env, part: str, timeout: float = 5.0) -> bool:
    """Wait until no JACK port name contains `part` (a closed client's ports linger briefly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ports = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout
        if part not in ports:
            return True
        time.sleep(0.05)
    return False


class Probe:
    """A test client with its own JACK MIDI ports, wired to segue's virtual ports."""

    _count = 0

    def __init__(self, env, segue_in: str = "segue in", segue_out: str | None = "segue out"):
        """`segue_out=None`: the probe only plays; segue's output goes elsewhere."""
        midi = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
        Probe._count += 1
        name = f"probe{os.getpid()}x{Probe._count}"  # unique: a closed probe's ports may still be listed
        self.received: list[tuple[float, mido.Message]] = []
        self.lock = threading.Lock()
        self.inport = midi.open_input(f"{name} in", virtual=True, client_name=name, callback=self._got)
        self.outport = midi.open_output(f"{name} out", virtual=True, client_name=name)
        wiring = [(jack_port(env, f"{name} out"), jack_port(env, segue_in))]
        if segue_out:
            wiring.append((jack_port(env, segue_out), jack_port(env, f"{name} in")))
        for src, dst in wiring:
            subprocess.run(["jack_connect", src, dst], env=env, check=True)

    def _got(self, msg):
        stamp = time.monotonic()
        with self.lock:
            self.received.append((stamp, msg))

    def play(self, notes, speed: float = 4.0) -> float:
        """Play note messages with their own timing (sped up); returns when the last was sent."""
        start, first = time.monotonic(), notes[0].time
        for n in notes:
            time.sleep(max(0.0, start + (n.time - first) / speed - time.monotonic()))
            self.outport.send(mido.Message("note_on", channel=n.channel, note=n.pitch, velocity=n.velocity))
        return time.monotonic()

    def note_ons(self, after: float = 0.0):
        with self.lock:
            return [(t, m) for t, m in self.received if m.type == "note_on" and m.velocity and t >= after]

    def sounding(self) -> set:
        with self.lock:
            return still_sounding(m for _, m in self.received)

    def wait_for(self, condition, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        self.inport.close()
        self.outport.close()


def whole_notes(notes, count: int):
    """The first `count` notes of a message list, each with its release (a phrase that ends silent)."""
    messages, onsets, held = [], 0, set()
    for n in notes:
        if n.velocity and onsets == count:
            if not held:
                break
            continue
        if n.velocity:
            onsets += 1
            held.add(n.pitch)
        elif n.pitch in held:
            held.discard(n.pitch)
        else:
            continue  # the release of a note after the last one taken
        messages.append(n)
    return messages
