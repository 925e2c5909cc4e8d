"""The POP909 corpus (`segue data pop909`): songs read from ../shared/data/pop909 into beats, with
their chords and keys, split by song; labels read as Harte wrote them; bad folders one line."""
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, shared
from segue.training import pop909
from segue.training.cli import data


def test_chord_and_key_labels_as_pop909_writes_them():
    assert pop909.parse_chord("F#:min7/5") == pop909.Chord(6, "min7", 1)
    assert pop909.parse_chord("Bb:maj/3").pitch_classes == {10, 2, 5}
    assert pop909.parse_chord("A:sus4(b7)").pitch_classes == {9, 2, 4, 7}
    assert pop909.parse_chord("N").root == -1 and not pop909.parse_chord("N").pitch_classes
    assert pop909.parse_key("Gb:maj") == (6, "maj") and pop909.parse_key("C#:min") == (1, "min")
    for bad in ("H:maj", "C:power", "C:maj/9"):
        with pytest.raises(pop909.Pop909Error, match="cannot read"):
            pop909.parse_chord(bad)


def test_songs_are_read_into_beats_with_their_chords_and_split_by_song(tmp_path):
    source = tmp_path / "songs"
    source.mkdir()
    for name in ("001", "002", "003"):
        (source / name).symlink_to(shared(DATA / "pop909" / name))
    inventory = pop909.build(source, tmp_path / "corpus", log=lambda line: None)
    assert inventory["songs"] == 3 and inventory["split"] == {"test": 1, "valid": 1, "train": 1}
    songs = pop909.load(tmp_path / "corpus")
    assert [s.name for s, _ in songs] == ["001", "002", "003"]
    assert [s.name for s, _ in pop909.load(tmp_path / "corpus", "valid")] == ["002"]
    for song, notes in songs:
        piano = notes["part"] == pop909.PARTS.index("PIANO")
        onsets = notes["onset"][piano]
        # on the song's own beats, the piano part sits on the sixteenth grid and in the annotated chords
        assert np.mean(np.abs(onsets * 4 - np.round(onsets * 4)) < 0.1) > 0.9
        in_chord = [p % 12 in song.chord_at(o).pitch_classes for o, p in zip(onsets, notes["pitch"][piano])
                    if song.chord_at(o).root >= 0]
        assert np.mean(in_chord) > 0.9
        assert song.beats_per_bar == 4 and song.keys and np.all(notes["end"] > notes["onset"])


def test_a_folder_that_is_not_pop909_is_one_line(tmp_path):
    result = CliRunner().invoke(data, ["pop909", str(tmp_path), str(tmp_path / "out")])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "no POP909 songs" in result.output
    result = CliRunner().invoke(data, ["pop909", str(tmp_path / "missing"), str(tmp_path / "out")])
    assert result.exit_code == 1 and "no such folder" in result.output
