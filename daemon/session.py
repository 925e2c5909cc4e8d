"""A jam session: ports, scheduler, engine thread, and a clean ending on SIGINT/SIGTERM."""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import mido

from .engine import Engine, JamConfig
from .midifile import read_notes
from .model import EventModel
from .ports import backend, open_input, open_output
from .recorder import Recorder
from .scheduler import Scheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ports:
    backend: str | None = None
    input: str | None = None  # existing port (partial name); None: a virtual "segue in"
    output: str | None = None


def jam(config: JamConfig, policy, ports: Ports, model: str | Path | None = None,
        stop: threading.Event | None = None, ready=None, trace: str | Path | None = None,
        record: str | Path | None = None, replay: str | Path | None = None,
        controls: dict[int, str] | None = None) -> Engine:
    """Run until `stop` is set (SIGINT and SIGTERM set it); every sounding note is released at the end.

    `record`: a MIDI file for the session (player and machine tracks), rewritten as it grows.
    `replay`: a MIDI file played into the engine as if it were the player; the session ends when
    the file and the answer to it are over.
    `trace`: a file that gets one line per answer note-on, "due sent note_on note", and one per
    answer, "threshold-expiry start answer planned-end", in
    time.monotonic() seconds, which another process on the machine can compare with its own clock.
    """
    net = EventModel(model)
    for path in (record, trace):
        if path and not Path(path).resolve().parent.is_dir():
            raise ValueError(f"{path}: its folder does not exist")
    phrase = read_notes(replay) if replay else None
    midi = backend(ports.backend)
    stop = stop or threading.Event()
    trace_file = open(trace, "w", buffering=1) if trace else None  # noqa: SIM115 (closed below)
    outport = open_output(midi, ports.output)

    def traced(due, sent, msg):
        trace_file.write(f"{due:.6f} {sent:.6f} {msg.type} {msg.note}\n")

    def traced_answer(due, start, end):
        trace_file.write(f"{due:.6f} {start:.6f} answer {end:.6f}\n")

    recorder = Recorder(record) if record else None

    def send(msg):
        outport.send(msg)
        if recorder:
            recorder.machine(msg)

    scheduler = Scheduler(send, max_note=config.max_note, trace=traced if trace_file else None)
    engine = Engine(net, scheduler, policy, config, trace=traced_answer if trace_file else None, recorder=recorder,
                    controls=controls)
    inport = None
    previous = {}
    try:
        inport = open_input(midi, engine.on_message, ports.input)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: stop.set())
        worker = threading.Thread(target=engine.run, args=(stop,), name="segue-engine", daemon=True)
        worker.start()
        if ready:
            ready(inport.name, outport.name)
        if phrase:
            threading.Thread(target=_replay, args=(phrase, engine, stop), name="segue-replay", daemon=True).start()
        while not stop.wait(0.2):
            pass
        worker.join(timeout=1.0)
    finally:
        if inport is not None:
            inport.close()
        scheduler.close()  # releases what sounds, then CC 123 and CC 120 on the channels used
        outport.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if trace_file:
            trace_file.close()
        if recorder:
            recorder.close()
    log.info("session over: %d messages arrived, %d note messages heard, %d answers (last decided in %.2f ms), "
             "%d notes sent, %d late notes dropped, %d incoming dropped (queue full), %d non-note messages ignored",
             engine.arrived, engine.heard, engine.answers, engine.last_decision_ms, scheduler.sent,
             scheduler.dropped_late, engine.dropped, engine.ignored)
    return engine


def _replay(notes, engine: Engine, stop: threading.Event, lead: float = 0.5) -> None:
    """Feed note messages to the engine at their own times, then end the session after the answer."""
    start = engine.clock() + lead - notes[0].time
    for note in notes:
        if stop.wait(max(0.0, start + note.time - engine.clock())):
            return
        engine.on_message(mido.Message("note_on", channel=note.channel, note=note.pitch, velocity=note.velocity))
    stop.wait(0.1)
    while not stop.wait(0.05):  # the answer starts after the silence, and ends when nothing is due
        if engine.answers and not engine.answering:
            stop.set()
