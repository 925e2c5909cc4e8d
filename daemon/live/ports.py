"""MIDI ports through python-rtmidi: the MIDI system chosen for the machine, virtual ports, or
connections to existing ones by partial name.

Virtual ports are mido's rtmidi ports. A connection to an existing port is a small mido port of
our own (`Connection`): mido opens those under rtmidi's default client name ("RtMidiOut
Client"), since to mido a client name means a virtual port, and a DAW or `aconnect -l` should
show segue as `segue`.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Callable

import mido
import mido.ports

from ..models.file import c_stderr

APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "windows": "WINDOWS_MM"}
CLIENT = "segue"
OWN_CLIENTS = (f"{CLIENT} in", f"{CLIENT} out", CLIENT, f"{CLIENT} watch", f"{CLIENT} resync")  # segue's own clients
ALSA_SEQ = "/dev/snd/seq"
log = logging.getLogger(__name__)


def compiled_backends() -> list[str]:
    import rtmidi

    return [rtmidi.get_api_name(api) for api in rtmidi.get_compiled_api()]


def alsa_problem() -> str | None:
    """Why the ALSA sequencer cannot be used here (None: it can)."""
    if not os.path.exists(ALSA_SEQ):
        return f"{ALSA_SEQ} is missing"
    if not os.access(ALSA_SEQ, os.R_OK | os.W_OK):
        return f"{ALSA_SEQ} is not open to this user (add it to the 'audio' group)"
    return None


def jack_problem() -> str | None:
    """Why JACK cannot be used here (None: a server answers). Never starts a server."""
    import rtmidi

    saved = os.environ.get("JACK_NO_START_SERVER")
    os.environ["JACK_NO_START_SERVER"] = "1"  # libjack would otherwise try to start one itself
    try:
        with c_stderr():  # libjack's "Cannot connect to server socket" and the like
            rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=f"{CLIENT} probe").delete()
        return None
    except rtmidi.RtMidiError:
        return "no server answers"
    finally:
        if saved is None:
            os.environ.pop("JACK_NO_START_SERVER", None)
        else:
            os.environ["JACK_NO_START_SERVER"] = saved


def choose_backend(name: str | None = None) -> str:
    """The MIDI system to use: `name` if given and usable; else ALSA on Linux when its sequencer is
    usable, then JACK when a server answers; CoreMIDI on macOS; Windows MultiMedia on Windows."""
    available = compiled_backends()
    if name is not None:
        if name not in APIS or name not in available:
            raise ValueError(f"MIDI backend {name!r} is not available here; available: {', '.join(available)}")
        problem = {"alsa": alsa_problem, "jack": jack_problem}.get(name, lambda: None)()
        if problem:
            raise OSError(f"cannot use {name}: {problem}; {_ADVICE[name]}")
        return name
    if sys.platform == "darwin":
        return "coremidi"
    if sys.platform == "win32":
        return "windows"
    tried = []
    for candidate, check in (("alsa", alsa_problem), ("jack", jack_problem)):
        if candidate not in available:
            tried.append(f"{candidate} (not compiled into python-rtmidi)")
            continue
        problem = check()
        if problem is None:
            log.info("MIDI backend: %s", candidate)
            return candidate
        tried.append(f"{candidate} ({problem})")
    raise OSError(f"no MIDI system to use: tried {', '.join(tried)}; {_ADVICE['alsa']}, or {_ADVICE['jack']}")


_ADVICE = {
    "alsa": "load ALSA's sequencer (sudo modprobe snd-seq)",
    "jack": "start a JACK server (qjackctl, or jackd -d alsa)",
}


def backend(name: str | None = None) -> mido.Backend:
    """The rtmidi API called `name` (alsa, jack, coremidi, windows), or the one this machine can use."""
    return open_backend(choose_backend(name))


def open_backend(chosen: str) -> mido.Backend:
    """mido's rtmidi backend on an API `choose_backend` already chose."""
    return mido.Backend(f"mido.backends.rtmidi/{APIS[chosen]}", load=True)


def own_port(name: str) -> bool:
    """A port of segue's own clients (its virtual ports, its watchers), by the client part of its name."""
    client = name.split(":", 1)[0].strip()
    return client in OWN_CLIENTS or any(client.startswith(f"{c}-") for c in OWN_CLIENTS)  # JACK's "segue in-01"


def find_port(names: list[str], wanted: str, kind: str) -> str:
    """The one port whose name contains `wanted` (case-insensitive), never one of segue's own: an
    input that listens to segue's output would feed it its own answers."""
    others = [n for n in names if not own_port(n)]
    hits = [n for n in others if wanted.lower() in n.lower()]
    if len(hits) != 1:
        what = "no" if not hits else "more than one"
        left_out = " (segue's own ports are left out)" if len(others) < len(names) else ""
        raise ValueError(f"{what} {kind} port matches {wanted!r}{left_out}; "
                         f"{kind} ports: {', '.join(others) or 'none'}")
    return hits[0]


def _rtapi(midi: mido.Backend) -> int:
    """python-rtmidi's API constant for a mido backend."""
    import rtmidi

    return getattr(rtmidi, f"API_{midi.api}") if midi.api else rtmidi.API_UNSPECIFIED


class _Connection:
    """The rtmidi side of a connection to an existing port, made as client `segue`."""

    def _connect(self, midi: mido.Backend, kind: str):
        import rtmidi

        api = _rtapi(midi)
        self._rt = (rtmidi.MidiOut if kind == "output" else rtmidi.MidiIn)(rtapi=api, name=CLIENT)
        names = self._rt.get_ports()
        if self.name not in names:
            self._rt.delete()
            raise OSError(f"unknown {kind} port {self.name!r}")
        self._rt.open_port(names.index(self.name), name=f"{'out' if kind == 'output' else 'in'}")

    def _close(self):
        self._rt.close_port()
        self._rt.delete()


class Connection(_Connection, mido.ports.BaseOutput):
    """An output to an existing port."""

    def __init__(self, midi: mido.Backend, name: str):
        self._midi = midi
        super().__init__(name)

    def _open(self, **kwargs):
        self._connect(self._midi, "output")

    def _send(self, msg):
        self._rt.send_message(msg.bytes())


class InputConnection(_Connection, mido.ports.BaseInput):
    """An input from an existing port; `callback` gets each message on rtmidi's thread."""

    def __init__(self, midi: mido.Backend, name: str, callback: Callable[[mido.Message], None]):
        self._midi, self.callback = midi, callback
        super().__init__(name)

    def _open(self, **kwargs):
        self._connect(self._midi, "input")
        self._rt.ignore_types(sysex=False, timing=False, active_sense=True)
        self._rt.set_callback(self._received)

    def _received(self, event, data=None):
        """Each RtMidi message parsed on its own (as mido's own ports do): a broken one is dropped,
        not fed into the next as a stream parser would."""
        try:
            msg = mido.Message.from_bytes(event[0])
        except ValueError:
            return
        self.callback(msg)


def open_output(midi: mido.Backend, name: str | None = None, virtual: str = "segue out"):
    """An existing output port by partial name, else a new virtual one."""
    _no_virtual_on_windows(name)
    try:
        if name:
            return Connection(midi, find_port(midi.get_output_names(), name, "output"))
        return midi.open_output(virtual, virtual=True, client_name=f"{CLIENT} out")
    except (OSError, SystemError, RuntimeError) as err:  # rtmidi's errors when no server or device answers
        raise OSError(f"could not open a MIDI output: {err}") from err


def open_input(midi: mido.Backend, callback: Callable[[mido.Message], None], name: str | None = None,
               virtual: str = "segue in"):
    """An existing input port by partial name, else a new virtual one; `callback` gets each message."""
    _no_virtual_on_windows(name)
    try:
        if name:
            return InputConnection(midi, find_port(midi.get_input_names(), name, "input"), callback)
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
        api = _rtapi(midi)
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
                self.port.close()
                if self.kind == "output":
                    self.port = Connection(self.midi, self.name)
                else:
                    self.port = InputConnection(self.midi, self.name, self.port.callback)
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


class JackServerWatch:
    """Whether the JACK server segue plays on is still there, without disturbing it.

    A new client per check would do, but JACK reorders its graph for every client that comes and
    goes, and on a busy machine that loses MIDI (the clock ticks a DAW sends). libjack itself keeps
    quiet about a dead server (its port lists are cached in shared memory). So this looks for the
    server's listening socket (`jack_<server>_<uid>_0`) in /proc/net/unix: the kernel drops it the
    moment the server process dies. Linux only; where the socket is not found at the start the
    watch says nothing (`alive` stays True).
    """

    def __init__(self, server: str | None = None):
        name = server or os.environ.get("JACK_DEFAULT_SERVER") or "default"
        self._suffix = f"/jack_{name}_{os.getuid()}_0"
        self.known = self._listening() is True

    def _listening(self) -> bool | None:
        try:
            with open("/proc/net/unix") as table:
                for line in table:
                    fields = line.split()
                    if len(fields) >= 8 and fields[-1].endswith(self._suffix) and fields[3] == "00010000":
                        return True
        except OSError:
            return None
        return False

    @property
    def alive(self) -> bool:
        return not self.known or self._listening() is not False


class SysexResync:
    """Sends a lone F7 (end of sysex) into segue's own input, every second or so (`pulse`).

    RtMidi glues an unterminated sysex (F0 ... with no F7, a broken controller or a hostile byte
    stream) to everything that follows until some message ends in F7, and hands none of it on: one
    bad message would leave the input deaf. The F7 ends such a sysex within a second (the notes it
    swallowed are lost, and the glued message is dropped as unreadable); at any other time a lone F7
    is dropped by the parser. `port`: the full name of segue's input port as a sender sees it.
    """

    def __init__(self, midi: mido.Backend, port: str):
        import rtmidi

        api = _rtapi(midi)
        self._rt = rtmidi.MidiOut(rtapi=api, name=f"{CLIENT} resync")
        names = self._rt.get_ports()
        index = next((i for i, n in enumerate(names) if n.startswith(port)), None)
        if index is None:
            self._rt.delete()
            raise OSError(f"no port {port!r} to resync")
        self._rt.open_port(index, name="resync")

    def pulse(self) -> None:
        self._rt.send_message([0xF7])

    def close(self) -> None:
        self._rt.close_port()
        self._rt.delete()


def input_port_name(port) -> str:
    """The name a sender sees for one of segue's input ports (client:port)."""
    if isinstance(port, InputConnection):
        return f"{CLIENT}:in"
    return f"{CLIENT} in:{port.name}"
