"""A take's tempo map from the beat heard in the player's notes, written when the recording closes.

The recorder journals at a fixed 120 bpm (960 ticks a second), so a take survives a kill. When the
session followed the heard beat (no MIDI clock, no Link), closing the take rewrites its times
onto the beats the tracker hears in the player's track: a set_tempo on each beat whose tempo
changed, one time signature (6/8 where the beat is heard in thirds), and bar lines on the tracked downbeats, so the take opened in a DAW
sits on its grid. Seconds are kept: every event sounds when it did. One pass at close, O(n).
"""
from __future__ import annotations

import logging
from pathlib import Path

import mido
import numpy as np

from ..models.beat import CONFIDENT, track

log = logging.getLogger(__name__)


def write_tempo_map(path: str | Path, ticks_per_second: int) -> bool:
    """Rewrite `path` (recorded at `ticks_per_second`) on the beats heard in its first track;
    False (the file untouched) when the tracker is not sure of a beat."""
    mid = mido.MidiFile(path)
    timed = []  # per track: (seconds, message)
    for t in mid.tracks:
        tick, out = 0, []
        for msg in t:
            tick += msg.time
            if not (msg.is_meta and msg.type in ("set_tempo", "time_signature", "end_of_track")):
                out.append((tick / ticks_per_second, msg))
        timed.append(out)
    notes = [(s, m.note, m.velocity) for s, m in timed[0] if m.type == "note_on"]
    beats = track(notes)
    sure = next((i for i, b in enumerate(beats) if b.confidence >= CONFIDENT), None)
    if sure is None or len(beats) - sure < 8:
        return False
    beats = beats[sure:]  # from the first beat the tracker was sure of (before it: its first tempo)
    times = np.array([b.time for b in beats])
    downs = [i for i, b in enumerate(beats) if b.downbeat]
    meter = int(np.median(np.diff(downs))) if len(downs) > 1 else 4
    meter = meter if meter in (2, 3, 4) else 4
    # a beat heard in thirds is a dotted quarter: the file counts quarters (6/8: two beats of 1.5)
    unit = 1.5 if sum(b.division == 3 for b in beats) * 2 > len(beats) else 1.0
    first, last = times[1] - times[0], times[-1] - times[-2]
    index = np.arange(len(times), dtype=float)
    start = -times[0] / first  # position of time 0, before the first beat
    shift = -np.floor(start / meter) * meter  # whole bars before it so no position is negative
    if downs:
        shift += (-(downs[0] + shift)) % meter  # the first tracked downbeat on a bar line
    index = (index + shift) * unit
    beat_ticks = mid.ticks_per_beat

    def ticks(s: float) -> int:
        if s <= times[0]:
            p = index[0] - (times[0] - s) / first * unit
        elif s >= times[-1]:
            p = index[-1] + (s - times[-1]) / last * unit
        else:
            p = float(np.interp(s, times, index))
        return max(0, round(p * beat_ticks))

    tempi = [(0, first / unit)] + [(ticks(t), p / unit) for t, p in zip(times[:-1], np.diff(times))]
    changes, written = [], None
    for tick, period in tempi:  # every beat whose tempo differs (to the microsecond): each note stays when it sounded
        tempo = round(period * 1e6)
        if tempo != written:
            changes.append((tick, mido.MetaMessage("set_tempo", tempo=tempo)))
            written = tempo
    out = mido.MidiFile(type=mid.type, ticks_per_beat=beat_ticks)
    for i, events in enumerate(timed):
        absolute = [(ticks(s), m) for s, m in events]
        if i == 0:
            signature = (meter * 3, 8) if unit > 1 else (meter, 4)
            absolute = changes + [(0, mido.MetaMessage("time_signature", numerator=signature[0],
                                                       denominator=signature[1]))] + absolute
        absolute.sort(key=lambda e: e[0])  # stable: metas first at a tick, events in their order
        tr, now = mido.MidiTrack(), 0
        for tick, msg in absolute:
            tr.append(msg.copy(time=tick - now))
            now = tick
        tr.append(mido.MetaMessage("end_of_track", time=0))
        out.tracks.append(tr)
    out.save(path)
    log.info("the take's tempo map: %d beats heard, %s tempo changes, %d/%d", len(beats), len(changes),
             meter * 3 if unit > 1 else meter, 8 if unit > 1 else 4)
    return True
