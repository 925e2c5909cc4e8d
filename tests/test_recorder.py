"""The session recorder: two tracks, nothing hanging, O(1) a message, and a killed session recovered."""
import mido
import pytest
from clocks import FakeClock
from segue.daemon.live.recorder import Recorder, free_name, journals, left_behind, recover


def notes_of(track):
    t, out = 0, []
    for msg in track:
        t += msg.time
        if msg.type in ("note_on", "note_off"):
            out.append((t, msg.note, msg.velocity if msg.type == "note_on" else 0))
    return out


def test_player_and_machine_on_their_own_tracks(tmp_path):
    clock = FakeClock()
    rec = Recorder(tmp_path / "s.mid", every=60, clock=clock)
    rec.player(mido.Message("note_on", note=60, velocity=90), at=100.5)
    rec.player(mido.Message("note_off", note=60), at=101.0)
    rec.machine(mido.Message("note_on", note=67, velocity=80), at=101.5)
    rec.machine(mido.Message("clock"), at=101.6)  # not recorded
    clock.now = 102.0
    assert rec.close() == tmp_path / "s.mid"
    midi = mido.MidiFile(tmp_path / "s.mid")
    assert [t.name for t in midi.tracks] == ["player", "segue"]
    assert notes_of(midi.tracks[0]) == [(480, 60, 90), (960, 60, 0)]  # 960 ticks a second
    # the machine's note was still sounding: released at the last recorded event
    assert notes_of(midi.tracks[1]) == [(1440, 67, 80), (1440, 67, 0)]
    assert midi.tracks[0][1].type == "set_tempo" and midi.tracks[0][1].tempo == 500_000
    assert not any(j.exists() for j in journals(tmp_path / "s.mid"))


def test_lyrics_land_at_their_notes_and_a_barge_in_drops_the_unsung(tmp_path):
    clock = FakeClock()
    rec = Recorder(tmp_path / "s.mid", every=60, clock=clock)
    rec.lyric("la", at=101.0)
    rec.lyric("lo", at=102.0)  # its note is cancelled
    rec.machine(mido.Message("note_on", note=67, velocity=80), at=101.0)
    rec.drop_lyrics_after(101.5)
    rec.machine(mido.Message("note_off", note=67), at=101.5)
    rec.close()
    track = mido.MidiFile(tmp_path / "s.mid", charset="utf-8").tracks[1]
    assert [(m.type, getattr(m, "text", None)) for m in track if m.type in ("lyrics", "note_on")] == \
        [("lyrics", "la"), ("note_on", None)]


def test_a_lyric_goes_only_with_its_note_on(tmp_path):
    """A note the scheduler never sent (dropped as late on a busy machine, or due after the session
    ended) takes its syllable with it: every recorded lyric has its note-on."""
    clock = FakeClock()
    rec = Recorder(tmp_path / "s.mid", every=60, clock=clock)
    for at, pitch, text in [(101.0, 60, "la"), (101.5, 62, "li"), (102.0, 64, "lo"), (103.0, 65, "lu")]:
        rec.lyric(text, at=at, pitch=pitch)
    rec.machine(mido.Message("note_on", note=60, velocity=80), at=101.001)
    # 62 at 101.5 was dropped as late: the next note-on to go out is 64's
    rec.machine(mido.Message("note_on", note=64, velocity=80), at=102.0)
    rec.machine(mido.Message("note_off", note=64), at=102.5)  # and 65's never went out
    rec.close()
    track = mido.MidiFile(tmp_path / "s.mid", charset="utf-8").tracks[1]
    assert [(m.type, getattr(m, "text", getattr(m, "note", None))) for m in track if m.type in ("lyrics", "note_on")
            and (m.type == "lyrics" or m.velocity)] == [("lyrics", "la"), ("note_on", 60), ("lyrics", "lo"), ("note_on", 64)]


def test_words_that_come_after_their_notes_are_still_recorded_with_them(tmp_path):
    """An answer's first notes go out while the rest is sampled; its line of words comes after."""
    clock = FakeClock()
    rec = Recorder(tmp_path / "s.mid", every=60, clock=clock)
    rec.machine(mido.Message("note_on", note=60, velocity=80), at=101.002)
    rec.machine(mido.Message("note_on", note=62, velocity=80), at=101.5)
    for at, pitch, text in [(101.0, 60, "la"), (101.5, 62, "li"), (102.0, 64, "lo")]:
        rec.lyric(text, at=at, pitch=pitch)
    rec.machine(mido.Message("note_on", note=64, velocity=80), at=102.0)
    rec.close()
    track = mido.MidiFile(tmp_path / "s.mid", charset="utf-8").tracks[1]
    sung = [m.text for m in track if m.type == "lyrics"]
    assert sung == ["la", "li", "lo"] and sum(1 for m in track if m.type == "note_on" and m.velocity) == 3


def test_a_killed_session_is_recovered_up_to_its_last_flush(tmp_path):
    """SIGKILL: no close, the journal holds every flushed event, a cut last event is left out."""
    clock, path = FakeClock(), tmp_path / "s.mid"
    rec = Recorder(path, every=3600, clock=clock)
    for i in range(100):
        rec.player(mido.Message("note_on", note=40 + i % 40, velocity=90), at=100 + i * 0.1)
        rec.player(mido.Message("note_off", note=40 + i % 40), at=100.05 + i * 0.1)
    rec.player(mido.Message("note_on", note=90, velocity=90), at=111.0)  # sounding at the kill
    rec.flush()
    rec.player(mido.Message("note_on", note=91, velocity=90), at=112.0)  # never flushed: lost
    player = journals(path)[0]
    player.write_bytes(player.read_bytes() + b"\x83")  # and a write cut inside a delta time
    assert recover(path) == path and not any(j.exists() for j in journals(path))
    notes = notes_of(mido.MidiFile(path).tracks[0])
    assert len([n for n in notes if n[2]]) == 101 and (notes[-1][1], notes[-1][2]) == (90, 0)
    assert recover(path) is None  # nothing left to recover


def killed_take(path, pitch=60):
    """A recorder that flushed one note and was never closed (its process was killed)."""
    rec = Recorder(path, every=3600, clock=FakeClock())
    rec.player(mido.Message("note_on", note=pitch, velocity=90), at=100.0)
    rec.flush()
    return rec


def test_the_numbered_takes_of_killed_sessions_are_found_and_recovered(tmp_path):
    """Before, a jam's start recovered only take.mid's journals: a killed take-2.mid stayed journals."""
    take = tmp_path / "take.mid"
    take.write_bytes(b"an earlier take")
    killed_take(tmp_path / "take-2.mid", 62)
    killed_take(tmp_path / "other.mid", 64)
    assert left_behind(take) == [tmp_path / "take-2.mid"]
    assert left_behind(tmp_path) == [tmp_path / "other.mid", tmp_path / "take-2.mid"]
    from segue.daemon.cli import main

    assert main(["recover", str(tmp_path)]) == 0
    assert not list(tmp_path.glob("*.journal"))
    assert notes_of(mido.MidiFile(tmp_path / "take-2.mid").tracks[0])[0][1] == 62
    assert main(["recover", str(take)]) == 1  # nothing left: one line, exit 1


def test_a_recording_is_never_overwritten(tmp_path):
    path = tmp_path / "take.mid"
    assert free_name(path) == path
    path.write_bytes(b"x")
    assert free_name(path) == tmp_path / "take-2.mid"
    (tmp_path / "take-2.mid.player.journal").write_bytes(b"")
    assert free_name(path) == tmp_path / "take-3.mid"


def test_cost_per_message_does_not_grow(tmp_path):
    """The bytes written per flush follow the messages since the last flush, not the session."""
    clock = FakeClock()
    rec = Recorder(tmp_path / "s.mid", every=3600, clock=clock)
    sizes = []
    for minute in range(5):
        for i in range(2000):
            rec.player(mido.Message("note_on", note=60, velocity=90 if i % 2 == 0 else 0), at=100 + minute * 60 + i * 0.01)
        before = sum(j.stat().st_size for j in journals(tmp_path / "s.mid"))
        rec.flush()
        sizes.append(sum(j.stat().st_size for j in journals(tmp_path / "s.mid")) - before)
    assert max(sizes[1:]) == min(sizes[1:])  # the same work each minute
    rec.close()
    assert len(notes_of(mido.MidiFile(tmp_path / "s.mid").tracks[0])) == 10000


def test_a_folder_that_cannot_hold_it_fails_at_once(tmp_path):
    with pytest.raises(OSError):
        Recorder(tmp_path / "missing-dir" / "s.mid", every=60)


def test_a_take_that_followed_the_heard_beat_gets_its_tempo_map(tmp_path):
    """A player at 90 bpm recorded (at 120 bpm's ticks, as every take is journalled): on close the
    take is rewritten on the beats heard in the player's track, so its notes sit on the file's
    beat grid at 90 bpm and every event still sounds when it did. Without the heard beat in force
    the take keeps 120 bpm."""
    import numpy as np
    from segue.daemon.formats.midifile import read_notes

    for heard in (True, False):
        clock, rng, beat = FakeClock(), np.random.default_rng(0), 60 / 90
        rec = Recorder(tmp_path / f"{heard}.mid", every=60, clock=clock)
        rec.heard_beat = lambda: heard
        played = []
        for bar in range(8):
            for b in (0, 1, 1.5, 2, 3):
                t = 100.3 + (bar * 4 + b) * beat + rng.normal(0, 0.01)
                rec.player(mido.Message("note_on", note=60 + int(2 * b), velocity=100 if b == int(b) else 60), at=t)
                rec.player(mido.Message("note_off", note=60 + int(2 * b)), at=t + 0.2)
                played.append(t - 100.0)
        rec.machine(mido.Message("note_on", note=72, velocity=80), at=played[-1] + 100.5)
        clock.now = played[-1] + 101.5
        path = rec.close()
        midi = mido.MidiFile(path)
        tempi = [mido.tempo2bpm(m.tempo) for m in midi.tracks[0] if m.type == "set_tempo"]
        seconds = [n.time for n in read_notes(path, track=0) if n.velocity]
        assert np.allclose(np.diff(seconds), np.diff(played), atol=0.003)  # each note when it sounded
        beats = np.array([n.time for n in read_notes(path, track=0, beats=True) if n.velocity])
        if heard:
            assert np.median(tempi) == pytest.approx(90, rel=0.03)
            late = beats[len(beats) // 2:]  # after the tracker is sure: on the eighth grid of the file
            assert np.median(np.abs(late * 2 - np.round(late * 2))) < 0.1
        else:
            assert tempi == [120]
