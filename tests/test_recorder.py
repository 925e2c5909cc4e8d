"""The session recorder: two tracks, nothing hanging, the file always whole."""
import mido
from segue.daemon.live.recorder import Recorder


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def notes_of(track):
    t, out = 0, []
    for msg in track:
        t += msg.time
        if msg.type in ("note_on", "note_off"):
            out.append((t, msg.note, msg.velocity if msg.type == "note_on" else 0))
    return out


def test_player_and_machine_on_their_own_tracks(tmp_path):
    clock = Clock()
    rec = Recorder(tmp_path / "s.mid", every=60, clock=clock)
    rec.player(mido.Message("note_on", note=60, velocity=90), at=100.5)
    rec.player(mido.Message("note_off", note=60), at=101.0)
    rec.machine(mido.Message("note_on", note=67, velocity=80), at=101.5)
    rec.machine(mido.Message("clock"), at=101.6)  # not recorded
    clock.now = 102.0
    rec.close()
    midi = mido.MidiFile(tmp_path / "s.mid")
    assert [t.name for t in midi.tracks] == ["player", "segue"]
    assert notes_of(midi.tracks[0]) == [(480, 60, 90), (960, 60, 0)]  # 960 ticks a second
    # the machine's note was still sounding: released at the last recorded event
    assert notes_of(midi.tracks[1]) == [(1440, 67, 80), (1440, 67, 0)]


def test_file_is_rewritten_while_recording(tmp_path):
    import time

    rec = Recorder(tmp_path / "s.mid", every=0.05)
    rec.player(mido.Message("note_on", note=60, velocity=90))
    time.sleep(0.2)
    first = mido.MidiFile(tmp_path / "s.mid")  # readable before the session ends
    assert notes_of(first.tracks[0])[0][1:] == (60, 90) and notes_of(first.tracks[0])[-1][2] == 0
    rec.close()
    assert not (tmp_path / "s.mid.part").exists()


def test_unwritable_path_does_not_raise(tmp_path):
    rec = Recorder(tmp_path / "missing-dir" / "s.mid", every=60)
    rec.player(mido.Message("note_on", note=60, velocity=90))
    rec.close()  # logged, not raised
    assert not (tmp_path / "missing-dir").exists()
