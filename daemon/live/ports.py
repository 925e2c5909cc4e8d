"""MIDI ports through mido's rtmidi backend: virtual ports, or existing ones by partial name."""
from __future__ import annotations

import logging
import sys
import threading
from typing import Callable

import mido

APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "windows": "WINDOWS_MM"}
CLIENT = "segue"
log = logging.getLogger(__name__)


def compiled_backends() -> list[str]:
    import rtmidi

    return [rtmidi.get_api_name(api) for api in rtmidi.get_compiled_api()]


def backend(name: str | None = None) -> mido.Backend:
    """The rtmidi API called `name` (alsa, jack, coremidi, windows), or the platform's default."""
    if name is None:
        return mido.Backend("mido.backends.rtmidi", load=True)
    available = compiled_backends()
    if name not in APIS or name not in available:
        raise ValueError(f"MIDI backend {name!r} is not available here; available: {', '.join(available)}")
    return mido.Backend(f"mido.backends.rtmidi/{APIS[name]}", load=True)


def find_port(names: list[str], wanted: str, kind: str) -> str:
    """The one port whose name contains `wanted` (case-insensitive)."""
    hits = [n for n in names if wanted.lower() in n.lower()]
    if len(hits) != 1:
        what = "no" if not hits else "more than one"
        raise ValueError(f"{what} {kind} port matches {wanted!r}; {kind} ports: {', '.join(names) or 'none'}")
    return hits[0]


def open_output(midi: mido.Backend, name: str | None = None, virtual: str = "segue out"):
    """An existing output port by partial name, else a new virtual one."""
    _no_virtual_on_windows(name)
    try:
        if name:
            return midi.open_output(find_port(midi.get_output_names(), name, "output"))  # mido: a client name means virtual
        return midi.open_output(virtual, virtual=True, client_name=f"{CLIENT} out")
    except (OSError, SystemError, RuntimeError) as err:  # rtmidi's errors when no server or device answers
        raise OSError(f"could not open a MIDI output: {err}") from err


def open_input(midi: mido.Backend, callback: Callable[[mido.Message], None], name: str | None = None,
               virtual: str = "segue in"):
    """An existing input port by partial name, else a new virtual one; `callback` gets each message."""
    _no_virtual_on_windows(name)
    try:
        if name:
            return midi.open_input(find_port(midi.get_input_names(), name, "input"), callback=callback)
        return midi.open_input(virtual, virtual=True, callback=callback, client_name=f"{CLIENT} in")
    except (OSError, SystemError, RuntimeError) as err:
        raise OSError(f"could not open a MIDI input: {err}") from err


def _no_virtual_on_windows(name: str | None) -> None:
    if sys.platform == "win32" and not name:
        raise ValueError("Windows has no virtual MIDI ports: create them with loopMIDI and pass --input and --output")


class PortWatch:
    """Keeps a connection to an existing port (by name) alive across the port vanishing and returning.

    A synth restarted, a USB cable pulled and pushed back, a DAW reloading its project: the
    port goes away and comes back under the same name, and rtmidi does not reconnect by itself.
    `check()` (called every second or so) notices both moments: `on_lost()` runs when it goes,
    and on return the port is reopened and `on_return(port)` runs, e.g. to release notes the far
    end may still hold.
    """

    def __init__(self, midi: mido.Backend, kind: str, port, on_return: Callable | None = None,
                 on_lost: Callable | None = None):
        import rtmidi

        self.midi, self.kind, self.port, self.on_return, self.on_lost = midi, kind, port, on_return, on_lost
        self.name = port.name
        api = getattr(rtmidi, f"API_{midi.api}") if midi.api else rtmidi.API_UNSPECIFIED
        self._lister = (rtmidi.MidiOut if kind == "output" else rtmidi.MidiIn)(rtapi=api, name=f"{CLIENT} watch")  # one, reused
        self.lock = threading.Lock()
        self.lost = False
        self.returns = 0

    def present(self) -> bool:
        return self.name in self._lister.get_ports()

    def check(self) -> None:
        here = self.present()
        if not here and not self.lost:
            self.lost = True
            log.warning("%s port %r vanished; waiting for it to return", self.kind, self.name)
            if self.on_lost:
                self.on_lost()
        elif here and self.lost:
            with self.lock:
                callback = getattr(self.port, "callback", None)  # mido clears it on close
                self.port.close()
                if self.kind == "output":
                    self.port = self.midi.open_output(self.name)
                else:
                    self.port = self.midi.open_input(self.name, callback=callback)
            self.lost = False
            self.returns += 1
            log.warning("%s port %r is back; reconnected", self.kind, self.name)
            if self.on_return:
                self.on_return(self.port)

    def send(self, msg: mido.Message) -> None:
        with self.lock:
            self.port.send(msg)

    def close(self) -> None:
        with self.lock:
            self.port.close()
        self._lister.delete()
