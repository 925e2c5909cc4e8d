"""Piano-roll frames: the benchmark JSON, MIDI on a beat grid, and the way back to notes."""
import numpy as np
import pytest
from segue.daemon.formats import pianoroll
from segue.daemon.formats.midifile import NoteMessage, write_notes

from tests.conftest import DATA, shared


def test_benchmark_json_matches_its_published_counts():
    data = pianoroll.load_json(shared(DATA / "polyphonic" / "jsb_chorales.json"))
    assert [len(data[s]) for s in pianoroll.SPLITS] == [229, 76, 77]
    assert [sum(len(p) for p in data[s]) for s in pianoroll.SPLITS] == [13807, 4602, 4725]
    assert all(p.shape[1] == 88 and p.dtype == bool for p in data["train"])


@pytest.mark.parametrize("content, words", [
    ("[1, 2]", "expected an object"), ('{"train": 3}', "train must be a list"),
    ('{"train": [[]]}', r"train\[0\]: a piece must be a non-empty list"),
    ('{"train": [[[60], 61]]}', "frame 1: a frame must be a list"),
    ('{"train": [[[60, 20]]]}', "pitch 20 is outside 21..108"),
    ('{"train": [[[60.5]]]}', "60.5 is not a MIDI pitch"), ("{nope", "not JSON"),
])
def test_bad_json_is_named(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(pianoroll.PianoRollError, match=words):
        pianoroll.load_json(path)


def test_midi_round_trip_on_the_beat_grid(tmp_path):
    # At 120 bpm a beat is 0.5 s: C for two beats, then E and G together for one, a 16th-note D.
    notes = [NoteMessage(0.0, 60, 90), NoteMessage(1.0, 60, 0), NoteMessage(1.0, 64, 90), NoteMessage(1.0, 67, 90),
             NoteMessage(1.5, 64, 0), NoteMessage(1.5, 67, 0), NoteMessage(1.5, 62, 90), NoteMessage(1.625, 62, 0)]
    path = tmp_path / "tiny.mid"
    write_notes(path, notes, bpm=120)
    roll = pianoroll.from_midi(path, beats=1.0)
    pitches = [sorted(int(k) + 21 for k in np.nonzero(frame)[0]) for frame in roll]
    assert pitches == [[60], [60], [64, 67], [62]]  # the short D is kept: it starts inside frame 3
    back = pianoroll.to_notes(roll, seconds_per_frame=0.5)
    assert [(n.time, n.pitch, n.velocity > 0) for n in back][:3] == [(0.0, 60, True), (1.0, 60, False), (1.0, 64, True)]


def test_frame_accuracy_is_the_papers():
    target = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], bool)
    predicted = np.array([[1, 0, 1, 0], [0, 0, 0, 1]], bool)
    assert pianoroll.frame_accuracy(predicted, target) == pytest.approx(1 / (1 + 2 + 1))


def test_midi_without_notes_is_an_error(tmp_path):
    import mido

    path = tmp_path / "empty.mid"
    mido.MidiFile(tracks=[mido.MidiTrack([mido.MetaMessage("end_of_track")])]).save(path)
    with pytest.raises(ValueError, match="no notes"):
        pianoroll.from_midi(path)
