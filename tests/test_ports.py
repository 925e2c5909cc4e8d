"""Choosing the MIDI system and matching port names (no MIDI system needed)."""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from segue.daemon.live import ports


def test_segues_own_ports_are_never_matched():
    names = ["segue out:segue out", "segue-01:in", "Synth:in 1", "segue watch:x"]
    assert ports.find_port(names, "synth", "input") == "Synth:in 1"
    with pytest.raises(ValueError, match="no input port matches 'segue' .segue's own ports are left out.; input ports: Synth:in 1"):
        ports.find_port(names, "segue", "input")


def test_a_port_whose_name_only_contains_segue_is_not_ours():
    assert not ports.own_port("My segue synth:in")
    assert ports.find_port(["My segue synth:in", "segue in:segue in"], "segue", "output") == "My segue synth:in"


@pytest.fixture
def linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ports, "compiled_backends", lambda: ["alsa", "jack"])

    def machine(alsa=None, jack=None):
        monkeypatch.setattr(ports, "alsa_problem", lambda: alsa)
        monkeypatch.setattr(ports, "jack_problem", lambda: jack)
    return machine


def test_alsa_first_then_jack_on_linux(linux):
    linux(alsa=None, jack=None)
    assert ports.choose_backend() == "alsa"
    linux(alsa="/dev/snd/seq is missing", jack=None)
    assert ports.choose_backend() == "jack"


def test_nothing_usable_says_what_was_tried_in_one_line(linux):
    linux(alsa="/dev/snd/seq is missing", jack="no server answers")
    with pytest.raises(OSError) as err:
        ports.choose_backend()
    assert str(err.value).count("\n") == 0
    assert "alsa (/dev/snd/seq is missing), jack (no server answers)" in str(err.value)
    assert "modprobe snd-seq" in str(err.value) and "JACK server" in str(err.value)


def test_an_asked_for_backend_that_cannot_work_is_refused(linux):
    linux(alsa="/dev/snd/seq is missing", jack=None)
    with pytest.raises(OSError, match="cannot use alsa: /dev/snd/seq is missing"):
        ports.choose_backend("alsa")
    assert ports.choose_backend("jack") == "jack"


@pytest.mark.parametrize("platform, api", [("darwin", "coremidi"), ("win32", "windows")])
def test_the_platforms_own_system_elsewhere(monkeypatch, platform, api):
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(ports, "compiled_backends", lambda: [api])
    assert ports.choose_backend() == api


@pytest.mark.skipif(ports.alsa_problem() is None, reason="ALSA's sequencer works here: it would be chosen")
@pytest.mark.parametrize("command", [["ports"], ["jam", "--no-status"]])
def test_no_midi_system_here_is_one_line_and_a_failure(command):
    """This machine has no /dev/snd; with no JACK server either, segue says so in one line, with no
    libjack or alsa-lib noise, and exits 1."""
    env = {"JACK_DEFAULT_SERVER": f"none-{uuid.uuid4().hex[:8]}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "segue.daemon.cli", *command], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith("Error: no MIDI system to use: tried alsa (/dev/snd/seq is missing), jack")
