"""A jam session: ports, scheduler, engine thread, and a clean ending on SIGINT/SIGTERM."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import mido

from ..formats.midifile import read_notes
from ..formats.units import count
from ..models import kinds
from ..models.accompanist import KIND as ACCOMPANIMENT
from ..models.file import kind_name
from ..models.roll import KIND
from ..options import JamConfig
from .engine import KINDS, Engine
from .ports import (
    JackServerWatch,
    PortWatch,
    SysexResync,
    backend,
    input_port_name,
    open_input,
    open_output,
)
from .recorder import Recorder, free_name, left_behind, recover
from .scheduler import Scheduler, all_off
from .timeline import DEFAULT_BEAT

log = logging.getLogger(__name__)
EXIT_SERVER_LOST = 3  # exit status when the MIDI server died under the session
DRAIN = 0.25  # seconds between the last releases and closing the output (several JACK periods, even when busy)


DEFAULTS = {"harmonize": "chorale", "accompany": "pop"}  # the model a mode plays when --model is not given


@dataclass(frozen=True)
class Ports:
    backend: str | None = None
    input: str | None = None  # existing port (partial name); None: a virtual "segue in"
    output: str | None = None


def jam(config: JamConfig, policy, ports: Ports, model: str | Path | None = None,
        stop: threading.Event | None = None, ready=None, trace: str | Path | None = None,
        record: str | Path | None = None, replay: str | Path | None = None,
        controls: dict[int, str] | None = None, policies: dict | None = None, status: bool = False,
        voicing: tuple[int, int] = (36, 96), lyricist=None, link: bool = False) -> Engine:
    """Run until `stop` is set (SIGINT and SIGTERM set it); every sounding note is released at the end.

    SIGHUP reloads the model file (retrained, re-exported) without stopping: the new model is
    primed from the window of recent events. Ports given by name are watched: when one vanishes
    and returns it is reopened, and the output gets releases of what was sounding.
    `status`: redraw a one-line status on stderr twice a second.

    `record`: a MIDI file for the session (player and machine tracks), rewritten as it grows.
    `replay`: a MIDI file played into the engine as if it were the player; the session ends when
    the file and the answer to it are over.
    `trace`: a file that gets one line per answer note-on, "due sent note_on note", and one per
    answer, "threshold-expiry start answer planned-end", in
    time.monotonic() seconds, which another process on the machine can compare with its own clock.
    """
    mode = getattr(policy, "name", "")
    if model is None and mode in DEFAULTS:
        model = DEFAULTS[mode]  # the shipped model for the mode
    kind = kinds.check_plays(model, "jam")
    if (kind == ACCOMPANIMENT) != (mode == "accompany"):
        raise ValueError("--mode accompany plays an accompanist (pop), and an accompanist plays --mode accompany"
                         + (f"; {model} is {kind_name(kind)}" if kind != ACCOMPANIMENT else f", not {mode}"))
    if kind == ACCOMPANIMENT and lyricist is not None:
        raise ValueError("--lyrics sings the answers of --mode call, not an accompaniment")
    if kind == "events" and mode == "harmonize":
        raise ValueError("--mode harmonize needs a piano-roll model (an RNN-RBM or LSTM-NADE file: chorale, "
                         "chorale-nade), not an event model")
    if kind == KIND and mode not in KINDS[KIND].modes:
        raise ValueError(f"a piano-roll model plays --mode {' or '.join(KINDS[KIND].modes)}, not {mode}")
    turns = [p for p in (policy, *(policies or {}).values()) if getattr(p, "turn", None) is not None]
    if kind == KIND and turns:
        raise ValueError("--silence model needs an event model's time head; a piano-roll model answers after a "
                         "fixed silence (--silence 0.6, 1beat)")
    if kind == KIND and lyricist is not None:
        raise ValueError("--lyrics sings on melodies: it needs an event model, not a piano-roll model")
    net = kinds.KINDS[kind].runtime(model)
    # Three threads share the GIL (engine, scheduler, MIDI input); by default a thread that wants
    # it may wait 5 ms for another to let go, which a note due now cannot afford.
    sys.setswitchinterval(0.0005)
    for option, path in (("record", record), ("trace", trace)):
        if path is not None:
            _check_file_name(option, path)
    phrase = read_notes(replay) if replay else None
    midi = backend(ports.backend)
    stop = stop or threading.Event()
    with ExitStack() as teardown:  # undone last to first: see _session_parts for the order
        engine, scheduler, parts = _session_parts(teardown, config, policy, ports, midi, net, model, stop, trace,
                                                  record, controls, policies, voicing, lyricist, link)
        worker = threading.Thread(target=engine.run, args=(stop,), name="segue-engine", daemon=True)
        worker.start()
        if ready:
            ready(parts.inport.name, parts.outport.name)
        if phrase:
            threading.Thread(target=_replay, args=(phrase, engine, stop), name="segue-replay", daemon=True).start()
        ticks = 0
        while not stop.wait(0.5):
            ticks += 1
            if ticks % 2 == 0:
                if parts.server_watch is not None and not parts.server_watch.alive:
                    parts.server_lost = True
                    break
                for watch in (parts.in_watch, parts.out_watch):
                    if watch:
                        _guarded(watch.check)
                if parts.resync:
                    _guarded(parts.resync.pulse)
            if status:
                sys.stderr.write("\r\x1b[2K" + engine.status())
                sys.stderr.flush()
        if status:
            sys.stderr.write("\n")
        worker.join(timeout=1.0)
    log.info("session over: %s arrived, %s heard, %s (last decided in %.2f ms), %s sent, %s dropped, "
             "%s dropped (queue full), %s shed (heard too late to step), %s in floods (not stepped), "
             "%s forgotten, %s ignored",
             count(engine.arrived, "messages"),
             count(engine.listener.heard, "note messages"), count(engine.answers, "answers"), engine.last_decision_ms,
             count(scheduler.sent, "notes"), count(scheduler.dropped_late, "late notes"),
             count(engine.dropped, "incoming messages"), count(engine.shed, "note messages"),
             count(engine.listener.flooded, "note messages"), count(engine.listener.forgotten, "held keys"),
             count(engine.listener.ignored, "non-note messages"))
    return engine


@dataclass
class _Parts:
    outport: object
    out_watch: PortWatch | None
    inport: object = None
    in_watch: PortWatch | None = None
    resync: SysexResync | None = None
    server_watch: JackServerWatch | None = None
    server_lost: bool = False
    handlers: dict = field(default_factory=dict)  # the signal handlers the session replaced

    def close_input(self) -> None:
        """The input side, last: the sysex resync, the input port, the signal handlers."""
        if self.resync:
            self.resync.close()
        if self.in_watch:
            self.in_watch.close()
        elif self.inport is not None:
            self.inport.close()
        for sig, handler in self.handlers.items():
            signal.signal(sig, handler)


def _session_parts(teardown: ExitStack, config, policy, ports: Ports, midi, net, model, stop, trace, record, controls,
                   policies, voicing, lyricist, link):
    """Open a session's parts, each registered on `teardown` as it opens, so that whatever fails
    on the way closes what was opened. At the end they are undone in this order: the input (no
    more hearing) and its resync, the signal handlers, the Link session, the scheduler (it releases
    what sounds, lifts the pedal, sends CC 123 and 120), the recording (whole), then, unless the
    JACK server died (libjack crashes when a client of a dead server closes: the process ends
    there), a pause for JACK to carry the last releases, the output, the input side (the
    signal handlers last: a signal during teardown still ends it cleanly), the trace file."""
    trace_file = teardown.enter_context(open(trace, "w", buffering=1)) if trace else None
    outport = open_output(midi, ports.output)
    out_watch = PortWatch(midi, "output", outport) if ports.output else None
    parts = _Parts(outport, out_watch)
    teardown.callback(parts.close_input)
    teardown.callback(out_watch.close if out_watch else outport.close)
    teardown.callback(time.sleep, DRAIN)  # JACK hands a port's messages on at its next cycle
    send_out = out_watch.send if out_watch else outport.send
    recorder = _recorder(record) if record else None
    teardown.callback(_end_if_server_lost, parts, recorder)
    if recorder:
        teardown.callback(recorder.close)

    def send(msg):
        send_out(msg)
        if recorder:
            recorder.machine(msg)

    def traced(due, sent, msg):
        trace_file.write(f"{due:.6f} {sent:.6f} {msg.type} {msg.note}\n")

    def traced_answer(due, start, end):
        trace_file.write(f"{due:.6f} {start:.6f} answer {end:.6f}\n")

    scheduler = Scheduler(send, max_note=config.max_note, trace=traced if trace_file else None, send_thru=send_out)
    teardown.callback(scheduler.close)
    shared = None
    if link:
        from .link import LinkClock

        shared = LinkClock(config.bpm or 60.0 / DEFAULT_BEAT, quantum=config.beats_per_bar)
        teardown.callback(shared.close)
    if lyricist is not None:
        lyricist.recorder = recorder
    engine = Engine(net, scheduler, policy, config, trace=traced_answer if trace_file else None, recorder=recorder,
                    controls=controls, policies=policies, lyricist=lyricist, link=shared, voicing=voicing)
    if recorder:  # a take that followed the player's beat alone gets the tempo map heard in it
        recorder.heard_beat = lambda: engine.timeline.tempo.followed == {"heard"}
    if out_watch:
        held_at_loss: set = set()
        out_watch.on_lost = lambda: held_at_loss.update(scheduler.sounding())
        out_watch.on_return = lambda _: _release_after_return(out_watch.send, scheduler, config.channel, held_at_loss)
    parts.server_watch = JackServerWatch() if midi.api == "UNIX_JACK" else None
    # Before the input port exists: a signal as soon as it appears still ends the session cleanly.
    if threading.current_thread() is threading.main_thread():
        handlers = {signal.SIGINT: lambda *_: stop.set(), signal.SIGTERM: lambda *_: stop.set()}
        if hasattr(signal, "SIGHUP"):
            handlers[signal.SIGHUP] = lambda *_: _reload(engine, model)
        for sig, handler in handlers.items():
            parts.handlers[sig] = signal.signal(sig, handler)
    parts.inport = open_input(midi, engine.on_message, ports.input)
    parts.in_watch = PortWatch(midi, "input", parts.inport) if ports.input else None
    try:
        parts.resync = SysexResync(midi, input_port_name(parts.inport))
    except (OSError, RuntimeError) as err:  # the MIDI system cannot connect a port to segue's own
        log.warning("no sysex resync for the input (%s): an unterminated sysex may deafen it", err)
    return engine, scheduler, parts


def _recorder(record) -> Recorder:
    for take in left_behind(record):  # sessions that died here left journals: they become files first
        log.warning("the take of a session that did not end (killed?) is recovered: %s", recover(take))
    target = free_name(record)
    if target != Path(record):
        log.warning("%s exists: this session records to %s", record, target)
    return Recorder(target)


def _end_if_server_lost(parts: _Parts, recorder) -> None:
    if parts.server_lost:
        log.error("segue stopped: the JACK server went away mid-session%s",
                  f"; the recording is in {recorder.path}" if recorder else "")
        logging.shutdown()
        os._exit(EXIT_SERVER_LOST)


def _check_file_name(option: str, path: str | Path) -> None:
    """A file segue will write: a name, not a folder, in a folder that exists (the same checks for the
    command line and the config file)."""
    if not str(path).strip():
        raise ValueError(f"{option}: an empty file name")
    if Path(path).is_dir():
        raise ValueError(f"{option}: {path} is a folder, not a file name")
    if not Path(path).resolve().parent.is_dir():
        raise ValueError(f"{option}: {path}: its folder does not exist")


def _guarded(job) -> None:
    try:
        job()
    except Exception:  # a port check that fails must not end the session
        log.exception("port check failed")


def _release_after_return(send, scheduler: Scheduler, channel: int, held_at_loss: set) -> None:
    """The output is back: the notes that sounded when it went are released, then CC 123 and 120.

    Sent twice, at once and DRAIN later: a connection made this instant may not carry messages in
    JACK's current cycle (a returned synth then got neither the releases nor the CCs, now and
    then); releases and all-notes-off are harmless to repeat."""
    scheduler.cancel()  # what this answer still had to play is dropped, not sent late
    channels = {channel} | {c for c, _ in held_at_loss}
    messages = [mido.Message("note_off", channel=c, note=pitch, velocity=0) for c, pitch in sorted(held_at_loss)]
    messages += all_off(channels)
    for attempt in range(2):
        if attempt:
            time.sleep(DRAIN)
        for msg in messages:
            send(msg)
    log.info("released %d notes held when the output went", len(held_at_loss))
    held_at_loss.clear()


def _reload(engine: Engine, model: str | Path | None) -> None:
    """SIGHUP: load the model file again (it may have been retrained) and hand it to the engine thread."""
    try:
        fresh = type(engine.context.model)(model)
    except Exception as err:  # a half-written or wrong file: keep playing with the old one
        log.error("reload failed, keeping the current model: %s", str(err).splitlines()[0])
        return
    engine.request(lambda eng: eng.reload(fresh))


def _replay(notes, engine: Engine, stop: threading.Event, lead: float = 0.5) -> None:
    """Feed note messages to the engine at their own times, then end the session after the answer."""
    start = engine.clock() + lead - notes[0].time
    for note in notes:
        if stop.wait(max(0.0, start + note.time - engine.clock())):
            return
        engine.on_message(mido.Message("note_on", channel=note.channel, note=note.pitch, velocity=note.velocity))
    before = engine.answers  # answers to the phrase's earlier pauses do not end it: the one after its end does
    stop.wait(0.1)
    while not stop.wait(0.05):  # the answer starts after the silence, and ends when nothing is due
        if engine.answers > before and not engine.answering:
            stop.set()
