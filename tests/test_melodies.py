"""The melody corpus: notated time kept (pick-up bars, ties, grace notes), transposed copies dropped,
a split by piece that does not move."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("music21")
from segue.daemon.formats.corpus import load  # noqa: E402
from segue.training import melodies  # noqa: E402

TUNES = """X:1
T:Test tune
M:3/4
L:1/8
K:G
D2 | "G"G2 A2 B2- | B2 c2 {e}d2 | g4 f2 |]

X:2
T:The same a tone up
M:3/4
L:1/8
K:A
E2 | "A"A2 B2 c2- | c2 d2 {f}e2 | a4 g2 |]

X:3
T:Another
M:2/4
L:1/8
K:D
AB | d2 f2 | e2 d2 | c2 B2 | A4 |]
"""


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    abc = tmp_path / "tunes.abc"
    abc.write_text(TUNES)
    monkeypatch.setattr(melodies, "corpus_files", lambda collection, chorale_set: [abc] if collection == "essen" else [])
    out = tmp_path / "out"
    inventory = melodies.build(out, ("essen",), workers=1, progress=False)
    return out, inventory


def test_notated_time_is_kept(corpus):
    out, _ = corpus
    first = next(m for m in load(out) if m["title"] == "Test tune")
    assert first["pitch"].tolist() == [62, 67, 69, 71, 72, 74, 79, 78]  # the tie is one B, the grace note gone
    assert first["onset"].tolist() == [0, 1, 2, 3, 5, 6, 7, 9]
    assert first["duration"].tolist() == [1, 1, 1, 2, 1, 1, 2, 1]
    assert first["bar_position"].tolist() == [2, 0, 1, 2, 1, 2, 0, 2]  # the pick-up is the bar's last beat
    assert set(first["bar_length"].tolist()) == {3.0} and first["meter"] == "3/4" and first["key_sharps"] == 1


def test_a_transposed_copy_is_dropped_and_counted(corpus):
    out, inventory = corpus
    assert [m["title"] for m in load(out)] == ["Test tune", "Another"]
    row = inventory["essen"]
    assert (row["pieces"], row["duplicates dropped"], row["notes"]) == (2, 1, 8 + 9)
    assert row["train"] + row["valid"] + row["test"] == 2


def test_the_split_comes_from_the_tune_itself():
    a = melodies.Melody("essen", "a#0", "a", pitch=[60, 62, 64], duration=[1, 1, 2])
    b = melodies.Melody("oneills", "b#3", "b", pitch=[65, 67, 69], duration=[1, 1, 2])  # the same tune
    assert a.signature() == b.signature() and melodies.split_of(a.signature()) == melodies.split_of(b.signature())
    splits = [melodies.split_of(str(i)) for i in range(4000)]
    assert 0.08 < splits.count("test") / 4000 < 0.12 and 0.08 < splits.count("valid") / 4000 < 0.12
    assert splits != [melodies.split_of(str(i), seed=1) for i in range(4000)]


def test_an_unknown_collection_is_named():
    with pytest.raises(ValueError, match="unknown collection.s. jazz; known: essen"):
        melodies.build("/tmp/never", ("jazz",))


def test_arrays_and_pieces_agree(corpus):
    out, _ = corpus
    data = np.load(out / "melodies.npz")
    assert data["starts"].tolist() == [0, 8, 17] and data["pitch"].dtype == np.int16


def test_a_corpus_from_midi_files_takes_each_track_as_a_melody(tmp_path, krebs, allegro):
    """`segue data melodies OUT --midi FOLDER`: music21 quantises the files and finds their bars."""
    inventory = melodies.build(tmp_path, collections=(), midi=(krebs, allegro), progress=False, workers=1)
    pieces = load(tmp_path)
    assert inventory["midi"]["pieces"] == len(pieces) >= 2
    krebs_piece = next(p for p in pieces if p["source"].startswith("krebs.mid#"))
    assert krebs_piece["meter"] == "4/4" and krebs_piece["notes"] > 300
    bars = np.asarray(krebs_piece["bar_position"])
    assert ((bars >= 0) & (bars < 4)).all() and np.isin(bars % 0.25, [0]).mean() > 0.9  # on a sixteenth grid
    with pytest.raises(ValueError, match="no such file or folder"):
        melodies.build(tmp_path, collections=(), midi=(tmp_path / "none",), progress=False)
