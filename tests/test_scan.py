"""The one-pass MIDI reader against mido on real files: the same notes, tempo map and meter."""
from __future__ import annotations

import mido
import pytest
from conftest import DATA, shared
from segue.daemon.formats.midifile import DEFAULT_TEMPO, MidiFileError, read_meter, read_notes


def mido_notes(path, channel=None):
    """What read_notes gave when it was built on mido (its code then), in seconds."""
    midi = mido.MidiFile(path)
    tempos, notes = [], []
    for trk in midi.tracks:
        tick = 0
        for msg in trk:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type in ("note_on", "note_off"):
                if (channel is None and msg.channel == 9) or (channel is not None and msg.channel != channel):
                    continue
                velocity = msg.velocity if msg.type == "note_on" else 0
                notes.append((tick, 0 if velocity == 0 else 1, msg.note, velocity, msg.channel))
    notes.sort()
    tempos.sort()
    out, tempo, seconds, last, t = [], DEFAULT_TEMPO, 0.0, 0, 0
    for tick, _, pitch, velocity, ch in notes:
        while t < len(tempos) and tempos[t][0] <= tick:
            seconds += mido.tick2second(tempos[t][0] - last, midi.ticks_per_beat, tempo)
            last, tempo = tempos[t][0], tempos[t][1]
            t += 1
        out.append((round(seconds + mido.tick2second(tick - last, midi.ticks_per_beat, tempo), 9), pitch, velocity, ch))
    return out


def files():
    found = [DATA / "midi" / "krebs.mid", DATA / "midi" / "allegroconspirito.mid"]
    found += sorted((DATA / "pop909").glob("*/*.mid"))[:12]
    found += sorted((DATA / "asap").rglob("*.mid"))[:6]
    return found


@pytest.mark.parametrize("path", files(), ids=lambda p: p.name)
def test_the_same_notes_as_mido(path):
    shared(path)
    ours = [(round(n.time, 9), n.pitch, n.velocity, n.channel) for n in read_notes(path)]
    assert ours == mido_notes(path)
    tail = read_notes(path, last=100)
    assert [(round(n.time, 9), n.pitch, n.velocity, n.channel) for n in tail] == ours[-100:]
    midi = mido.MidiFile(path)
    signatures = [m for t in midi.tracks for m in t if m.type == "time_signature"]
    if len(signatures) == 1:
        assert (read_meter(path).numerator, read_meter(path).denominator) == (signatures[0].numerator,
                                                                              signatures[0].denominator)


def test_a_huge_prime_is_read_in_memory_bounded_by_its_tail(tmp_path):
    """200,000 notes: read_notes(last=N) keeps N; the whole list is never built."""
    import tracemalloc

    from segue.daemon.formats.midifile import NoteMessage
    from segue.daemon.formats.smf import NoteFile

    path = tmp_path / "long.mid"
    writer = NoteFile(path, 120.0)
    writer.add([NoteMessage(i * 0.25 + d, 60 + i % 12, 0 if d else 80) for i in range(200_000) for d in (0.0, 0.2)])
    writer.close()
    tracemalloc.start()
    tail = read_notes(path, last=4096)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(tail) == 4096 and tail[-1].velocity == 0 and tail[-2].pitch == 60 + 199_999 % 12
    assert peak < 3 * path.stat().st_size  # the file's bytes and the tail, not 400,000 messages


@pytest.mark.parametrize("data, words", [
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x60MTrk\x00\x00\x00\x03\x00\x40\x3c", "running status without"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x05\x00\x90\x3c\xc0\x00", "data byte must be"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x06\x00\xff\x51\x02\x07\xa1", "a set_tempo of 2 bytes"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x40\x00", "ends early"),
    (b"MThd\x00\x00\x00\x06\x00\x02\x00\x01\x00\x60", "type 2 MIDI files"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\xe7\x28", "SMPTE time division"),
])
def test_bad_bytes_are_one_sentence(data, words, tmp_path):
    path = tmp_path / "bad.mid"
    path.write_bytes(data)
    with pytest.raises(MidiFileError, match=words) as err:
        read_notes(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
