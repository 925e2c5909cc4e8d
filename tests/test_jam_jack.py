"""`segue jam` against a real JACK server: it answers after silence, yields, and leaves no note on."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import mido
import pytest

from segue.daemon.midifile import read_notes

SILENCE = 0.4


@pytest.fixture(scope="module")
def jack():
    """A private JACK server (dummy driver), named so it cannot meet any other on the machine."""
    assert shutil.which("jackd"), "jackd is missing: apt-get install jackd2 (.ci/run does)"
    name = f"segue-test-{os.getpid()}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"}
    server = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "128"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["JACK_DEFAULT_SERVER"] = name
    deadline = time.monotonic() + 10
    while subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode != 0:
        assert time.monotonic() < deadline and server.poll() is None, "jackd did not start"
        time.sleep(0.1)
    yield env
    server.terminate()
    server.wait(timeout=5)
    os.environ.pop("JACK_DEFAULT_SERVER", None)


def jack_port(env, part: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ports = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout.split("\n")
        hits = [p for p in ports if part in p]
        if hits:
            return hits[0]
        time.sleep(0.1)
    raise AssertionError(f"no JACK port like {part!r}")


class Probe:
    """A test client with its own JACK MIDI ports, wired to segue's."""

    def __init__(self, env):
        midi = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
        self.received: list[tuple[float, mido.Message]] = []
        self.lock = threading.Lock()
        self.inport = midi.open_input("probe in", virtual=True, client_name="probe", callback=self._got)
        self.outport = midi.open_output("probe out", virtual=True, client_name="probe")
        subprocess.run(["jack_connect", jack_port(env, "probe out"), jack_port(env, "segue in")], env=env, check=True)
        subprocess.run(["jack_connect", jack_port(env, "segue out"), jack_port(env, "probe in")], env=env, check=True)

    def _got(self, msg):
        with self.lock:
            self.received.append((time.monotonic(), msg))

    def play(self, notes, speed=4.0) -> float:
        """Play note messages with their own timing (sped up); returns when the last was sent."""
        start, first = time.monotonic(), notes[0].time
        for n in notes:
            time.sleep(max(0.0, start + (n.time - first) / speed - time.monotonic()))
            self.outport.send(mido.Message("note_on", note=n.pitch, velocity=n.velocity))
        return time.monotonic()

    def note_ons(self, after=0.0):
        with self.lock:
            return [(t, m) for t, m in self.received if m.type == "note_on" and m.velocity and t >= after]

    def sounding(self):
        held = set()
        with self.lock:
            for _, m in self.received:
                if m.type == "note_on" and m.velocity:
                    held.add((m.channel, m.note))
                elif m.type in ("note_on", "note_off"):
                    held.discard((m.channel, m.note))
        return held

    def wait_for(self, condition, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.01)
        return False

    def close(self):
        self.inport.close()
        self.outport.close()


@pytest.fixture
def jam(jack):
    procs = []

    def start(*args):
        cmd = [sys.executable, "-m", "segue.daemon.cli", "jam", "--backend", "jack", "--silence", str(SILENCE),
               "--seed", "1", "--max-note", "1.0", *args]
        proc = subprocess.Popen(cmd, env=jack, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        jack_port(jack, "segue out")
        return proc, Probe(jack)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def phrase(krebs):
    """The first twelve notes of krebs.mid (channel 0), each with its release."""
    messages, onsets, held = [], 0, set()
    for n in read_notes(krebs, channel=0):
        if n.velocity and onsets == 12:
            if not held:
                break
            continue
        if n.velocity:
            onsets += 1
            held.add(n.pitch)
        elif n.pitch in held:
            held.discard(n.pitch)
        else:
            continue  # the release of a note after the twelfth
        messages.append(n)
    assert onsets == 12 and not held
    return messages


def test_answers_after_silence_and_releases_every_note(jam, phrase):
    proc, probe = jam("--length", "12")
    last = probe.play(phrase)
    assert probe.wait_for(lambda: probe.note_ons(), timeout=3), "no answer"
    first = probe.note_ons()[0][0]
    assert last + SILENCE - 0.005 <= first <= last + SILENCE + 0.25
    assert probe.wait_for(lambda: len(probe.note_ons()) > 0 and not probe.sounding(), timeout=8)
    time.sleep(0.3)
    assert not probe.sounding()
    probe.close()


def test_barge_in_stops_the_answer(jam, phrase):
    proc, probe = jam("--length", "60")
    probe.play(phrase)
    assert probe.wait_for(lambda: probe.note_ons(), timeout=3), "no answer"
    barge = probe.play([phrase[0]])  # the player comes back: one note-on, held
    time.sleep(0.1)
    assert not probe.sounding(), "sounding notes were not released on barge-in"
    assert probe.note_ons(after=barge + 0.02) == [], "the answer went on after barge-in"
    probe.play([phrase[1]])  # release the player's note: after the silence it may answer again
    probe.close()


def test_sigterm_mid_answer_leaves_no_note_sounding(jam, phrase):
    proc, probe = jam("--length", "60")
    probe.play(phrase)
    assert probe.wait_for(lambda: probe.note_ons(), timeout=3), "no answer"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0, proc.stderr.read()
    time.sleep(0.1)
    assert not probe.sounding()
    with probe.lock:
        controls = {(m.control) for _, m in probe.received if m.type == "control_change"}
    assert {120, 123} <= controls
    probe.close()
