"""Session recording: player and machine on separate tracks, rewritten atomically as it grows.

The file on disk is replaced (write to a temporary file, then os.replace) every few seconds and
at the end, so an interrupted session keeps what was played up to the last write, and a reader
never sees a half-written file. Notes still sounding at a write are released at its end time.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import mido

log = logging.getLogger(__name__)
TICKS_PER_BEAT = 480
TEMPO = 500_000  # 120 bpm: 960 ticks a second
TRACKS = ("player", "segue")


class Recorder:
    def __init__(self, path: str | Path, every: float = 2.0, clock=time.monotonic):
        self.path, self.every, self.clock = Path(path), every, clock
        self._events: list[tuple[float, int, mido.Message]] = []
        self._lock = threading.Lock()
        self._start = clock()
        self._changes = 0  # bumped on every change; a write is skipped when nothing changed since the last
        self._written = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="segue-recorder", daemon=True)
        self._thread.start()

    def player(self, msg: mido.Message, at: float | None = None) -> None:
        self._add(0, msg, at)

    def machine(self, msg: mido.Message, at: float | None = None) -> None:
        self._add(1, msg, at)

    def lyric(self, text: str, at: float | None = None) -> None:
        """A lyric meta event on the machine's track (UTF-8, see midifile.write_notes)."""
        with self._lock:
            self._events.append((self.clock() if at is None else at, 1, mido.MetaMessage("lyrics", text=text)))
            self._changes += 1

    def drop_lyrics_after(self, at: float) -> None:
        """Forget lyric events later than `at` (their notes were cancelled by a barge-in)."""
        with self._lock:
            self._events = [e for e in self._events if not (e[0] > at and e[2].type == "lyrics")]
            self._changes += 1

    def _add(self, track: int, msg: mido.Message, at: float | None) -> None:
        if msg.type in ("note_on", "note_off", "control_change", "pitchwheel", "program_change"):
            with self._lock:
                self._events.append((self.clock() if at is None else at, track, msg))
                self._changes += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.write()

    def write(self) -> None:
        """Replace the file with everything recorded so far (nothing hanging)."""
        with self._lock:
            events, changes = list(self._events), self._changes
        if changes == self._written and self.path.exists():
            return
        midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT, charset="utf-8")
        end = max((t for t, _, _ in events), default=self._start)
        for index, name in enumerate(TRACKS):
            track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
            if index == 0:
                track.append(mido.MetaMessage("set_tempo", tempo=TEMPO))
            sounding, last = set(), 0
            mine = sorted(((t, m) for t, i, m in events if i == index), key=lambda e: e[0])
            for t, msg in mine:
                tick = max(last, round(mido.second2tick(t - self._start, TICKS_PER_BEAT, TEMPO)))
                track.append(msg.copy(time=tick - last))
                last = tick
                if msg.type == "note_on" and msg.velocity:
                    sounding.add((msg.channel, msg.note))
                elif msg.type in ("note_on", "note_off"):
                    sounding.discard((msg.channel, msg.note))
            end_tick = max(last, round(mido.second2tick(end - self._start, TICKS_PER_BEAT, TEMPO)))
            for channel, note in sorted(sounding):  # still sounding at this write: end them there
                track.append(mido.Message("note_off", channel=channel, note=note, time=end_tick - last))
                last = end_tick
            midi.tracks.append(track)
        tmp = self.path.with_name(self.path.name + ".part")
        try:
            midi.save(tmp)
            os.replace(tmp, self.path)
            self._written = changes
        except OSError as err:  # a full disk must not stop the session; the last good file stays
            log.warning("could not write the recording %s: %s", self.path, err)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.write()
