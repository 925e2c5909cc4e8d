"""Session recording: player and machine on separate tracks, journalled as the session goes.

Each track's events are encoded as they come (formats/smf.py, O(1) a message) and appended every
`every` seconds to a journal beside the recording (`take.mid.player.journal`,
`take.mid.segue.journal`), so a killed process loses at most that much. On close the journals
become one standard MIDI file (a header and the two bodies copied in: milliseconds for a three-hour
session) and are removed; notes still sounding are released at the end. A session that died leaves
its journals, and `recover` turns them into its file the next time segue records there. A session
never overwrites a recording: when the file exists, it records to the next free name (take-2.mid).
"""
from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from pathlib import Path

import mido

from ..formats.smf import TrackBody, assemble, meta, recover_body
from .tempo_map import write_tempo_map

log = logging.getLogger(__name__)
TICKS_PER_BEAT = 480
TEMPO = 500_000  # 120 bpm: 960 ticks a second
TICKS_PER_SECOND = TICKS_PER_BEAT * 1_000_000 // TEMPO
TRACKS = ("player", "segue")
RECORDED = ("note_on", "note_off", "control_change", "pitchwheel", "program_change")
LYRIC_SLACK = 0.01  # seconds: a note-on is sent at its due time or later, never this much earlier
LYRIC_LATE = 1.0  # seconds: a note sent later than this after its due time is not the one (the scheduler drops it)
STRUCK = 256  # the machine's last note-ons kept for words that come after them
BACKLOG = 16 << 20  # bytes kept in memory while the disk refuses them; beyond, recording stops


def journals(path: str | Path) -> list[Path]:
    path = Path(path)
    return [path.with_name(f"{path.name}.{track}.journal") for track in TRACKS]


def free_name(path: str | Path) -> Path:
    """`path`, or take-2.mid, take-3.mid ... when it (or its journals) exist."""
    path, n = Path(path), 1
    candidate = path
    while candidate.exists() or any(j.exists() for j in journals(candidate)):
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _opening(index: int) -> bytes:
    """A track's first events: its name, and the tempo on the first."""
    out = b"\x00" + meta(0x03, TRACKS[index].encode())
    if index == 0:
        out += b"\x00" + meta(0x51, TEMPO.to_bytes(3, "big"))
    return out


def left_behind(where: str | Path) -> list[Path]:
    """The recordings that dead sessions left as journals: under a folder, or for a take and its
    numbered names (take.mid, take-2.mid, ...), each named by the file it stands for."""
    where = Path(where)
    if where.is_dir():
        pattern, folder = "*.journal", where
    else:
        pattern, folder = f"{where.stem}*{where.suffix}.*.journal", where.parent
    found = set()
    for journal in folder.glob(pattern):
        for track in TRACKS:
            suffix = f".{track}.journal"
            if journal.name.endswith(suffix):
                take = journal.with_name(journal.name[: -len(suffix)])
                if where.is_dir() or take == where or _numbered(take, where):
                    found.add(take)
    return sorted(found)


def _numbered(take: Path, base: Path) -> bool:
    """take is base's free_name: stem-N.suffix."""
    rest = take.name[len(base.stem):len(take.name) - len(base.suffix)] if take.name.startswith(base.stem) else ""
    return take.suffix == base.suffix and rest.startswith("-") and rest[1:].isdigit()


def recover(path: str | Path) -> Path | None:
    """The journals a dead session left at `path`, made into its MIDI file (at `path`, or the next
    free name if a file is there); None when there are none."""
    files = journals(path)
    if not any(f.exists() for f in files):
        return None
    target = Path(path) if not Path(path).exists() else free_name(path)
    found = [f.read_bytes() if f.exists() else _opening(i) for i, f in enumerate(files)]
    parsed = [recover_body(data) for data in found]
    end = max(tick for _, tick, _ in parsed)
    bodies = []
    for data, (length, tick, sounding) in zip(found, parsed):
        body = TrackBody()
        body.tick, body.sounding = tick, sounding
        bodies.append((io.BytesIO(data), length, body.close(end)))
    assemble(target, TICKS_PER_BEAT, bodies)
    for f in files:
        f.unlink(missing_ok=True)
    return target


class Recorder:
    """`player`, `machine` and `lyric` may be called from any thread; the journal is written by its own."""

    def __init__(self, path: str | Path, every: float = 1.0, clock=time.monotonic):
        self.path, self.every, self.clock = Path(path), every, clock
        self._start = clock()
        self._tracks = [TrackBody() for _ in TRACKS]
        self._pending = [bytearray(_opening(i)) for i in range(len(TRACKS))]  # encoded, not yet in the journal
        self._lengths = [0] * len(TRACKS)  # bytes in each journal
        self._files = [open(j, "w+b") for j in journals(self.path)]  # noqa: SIM115 (closed in close())
        self._lyrics: list[tuple[float, int | None, str]] = []  # (due, pitch, text): waiting for their note-on
        self._struck: deque[tuple[float, int]] = deque(maxlen=STRUCK)  # (sent, pitch): note-ons with no words yet
        self._lock = threading.Lock()
        self._failing = False
        self.stopped = False  # the disk refused BACKLOG bytes: nothing more is recorded
        self._stop = threading.Event()
        self.heard_beat = None  # a callable: did the session follow the beat heard in the player's notes?
        self._thread = threading.Thread(target=self._loop, name="segue-recorder", daemon=True)
        self._thread.start()

    def player(self, msg: mido.Message, at: float | None = None) -> None:
        self._add(0, msg, at)

    def machine(self, msg: mido.Message, at: float | None = None) -> None:
        self._add(1, msg, at)

    def lyric(self, text: str, at: float | None = None, pitch: int | None = None) -> None:
        """A lyric meta event on the machine's track (UTF-8) for the machine's note struck at `at`
        (of `pitch`; None: any), written with that note-on, and never without it: a note cancelled
        or dropped as late takes its syllable with it. The note may have gone out already (an
        answer's first notes play while the rest is sampled, and its words come after)."""
        with self._lock:
            at = self.clock() if at is None else at
            for i, (sent, struck) in enumerate(self._struck):
                if at - LYRIC_SLACK <= sent <= at + LYRIC_LATE and pitch in (None, struck):
                    del self._struck[i]
                    self._write_lyric(sent, text)
                    return
            self._lyrics.append((at, pitch, text))
            self._lyrics.sort(key=lambda e: e[0])

    def drop_lyrics_after(self, at: float) -> None:
        """Forget lyric events later than `at` (their notes were cancelled by a barge-in)."""
        with self._lock:
            self._lyrics = [e for e in self._lyrics if e[0] <= at]

    def _tick(self, at: float) -> int:
        return max(0, round((at - self._start) * TICKS_PER_SECOND))

    def _add(self, track: int, msg: mido.Message, at: float | None) -> None:
        if msg.type not in RECORDED or self.stopped:
            return
        with self._lock:
            at = self.clock() if at is None else at
            if track == 1 and msg.type == "note_on" and msg.velocity and not self._sing(msg.note, at):
                self._struck.append((at, msg.note))
            self._pending[track] += self._tracks[track].message(self._tick(at), msg)

    def _sing(self, pitch: int, at: float) -> bool:
        """The syllable of the machine's note-on of `pitch` sent at `at` (its due time or later), written
        just before it; False if it has none yet. The scheduler sends in due order, so a syllable due
        before this one's whose note never went out belongs to a cancelled note: dropped."""
        for i, (when, wanted, text) in enumerate(self._lyrics):
            if when > at + LYRIC_SLACK:
                return False  # no syllable is due yet: its words may still come
            if wanted is None or wanted == pitch:
                if i:
                    log.debug("dropped %d lyrics of notes that never went out", i)
                del self._lyrics[:i + 1]
                self._write_lyric(at, text)
                return True
        return False

    def _write_lyric(self, at: float, text: str) -> None:
        """A lyric meta event on the machine's track at `at` (with the lock held)."""
        self._pending[1] += self._tracks[1].event(self._tick(at), meta(0x05, text.encode("utf-8")))

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()

    def flush(self) -> None:
        """Append what was encoded since the last flush to the journals (outside the lock: a slow disk
        never holds up the engine)."""
        with self._lock:
            chunks = [bytes(p) for p in self._pending]
            for p in self._pending:
                p.clear()
        for i, chunk in enumerate(chunks):
            if not chunk:
                continue
            try:
                self._files[i].seek(self._lengths[i])
                self._files[i].write(chunk)
                self._files[i].flush()
                self._lengths[i] += len(chunk)
                self._failing = False
            except OSError as err:
                with self._lock:  # keep it for the next try, in front of what came since
                    self._pending[i][:0] = chunk
                    backlog = sum(len(p) for p in self._pending)
                if not self._failing:
                    log.warning("could not write the recording's journal %s: %s", self._files[i].name, err)
                    self._failing = True
                if backlog > BACKLOG and not self.stopped:
                    self.stopped = True
                    log.error("recording stopped: %d MB could not be written; the journal keeps what was",
                              backlog >> 20)

    def close(self) -> Path | None:
        """Stop, flush, and turn the journals into the MIDI file; returns it (None if that failed, in which
        case the journals stay for `recover`)."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        with self._lock:
            if self._lyrics:  # their notes never went out (the session ended first)
                log.debug("dropped %d lyrics of notes that never went out", len(self._lyrics))
                self._lyrics.clear()
        self.flush()
        end = max(t.tick for t in self._tracks)
        try:
            assemble(self.path, TICKS_PER_BEAT,
                     [(f, n, t.close(end)) for f, n, t in zip(self._files, self._lengths, self._tracks)])
        except OSError as err:
            log.error("could not write the recording %s (%s); its journals are kept: the next "
                      "`segue jam --record %s` recovers them", self.path, err, self.path)
            return None
        finally:
            for f in self._files:
                f.close()
        for j in journals(self.path):
            j.unlink(missing_ok=True)
        if self.heard_beat is not None and self.heard_beat():
            try:
                write_tempo_map(self.path, TICKS_PER_SECOND)
            except (OSError, ValueError, EOFError) as err:  # the take stays as it was recorded
                log.warning("could not write the take's tempo map (%s): it keeps 120 bpm", err)
        return self.path
