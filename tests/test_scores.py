"""The notated scores the beat tracker's ear learns from: the beat as ASAP annotates it, pick-up bars,
every part as one keyboard part, and the corpus written and read back."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("music21")
from segue.daemon.models import beat  # noqa: E402
from segue.training import beat_data, scores  # noqa: E402


@pytest.mark.parametrize("meter, unit", [("4/4", 1), ("2/2", 2), ("3/8", Fraction(1, 2)), ("6/8", Fraction(3, 2)),
                                         ("9/8", Fraction(3, 2)), ("12/16", Fraction(3, 4)), ("3/4", 1)])
def test_the_beat_is_the_notated_one_dotted_in_compound_meters(meter, unit):
    numerator, denominator = (int(x) for x in meter.split("/"))
    assert scores.beat_unit(numerator, denominator) == unit


def test_a_chorale_with_a_pickup_every_part_and_its_bars():
    piece = scores.read("bach/bwv1.6.mxl")  # 4/4 with a one-beat pick-up, four voices
    assert piece["beats"][0] == 0 and piece["downbeats"][0] == 1.0  # the pick-up beat, then the first bar line
    assert np.allclose(np.diff(piece["downbeats"][:8]), 4.0)
    assert np.allclose(np.diff(piece["beats"][:16]), 1.0)
    first = piece["pitch"][piece["onset"] == 0]
    assert len(first) >= 4  # soprano, alto, tenor and bass (and a doubling instrument) struck together
    assert piece["length"].min() > 0


def test_the_corpus_leaves_out_what_asap_performs_and_reads_back(tmp_path):
    names = scores.files()
    assert not any(n.startswith("bach/bwv846") for n in names)
    assert any(n.startswith("mozart/") for n in names) and any(n.startswith("haydn/") for n in names)
    chosen = ["bach/bwv1.6.mxl", "chopin/mazurka06-2.krn"]
    inventory = scores.build(tmp_path, names=chosen, workers=1, log=lambda *_: None)
    assert inventory["pieces"] == 2
    pieces = [p for split in ("train", "valid", "test") for p in scores.load(tmp_path, split)]
    assert sorted(p["name"] for p in pieces) == chosen
    mazurka = next(p for p in pieces if p["name"].startswith("chopin"))
    assert np.allclose(np.diff(mazurka["downbeats"][:8]), 3.0)  # 3/4
    rng = np.random.default_rng(0)
    for split in ("train", "valid", "test"):
        for name, notes, beats, downbeats in beat_data.score_pieces(tmp_path, split, 0, rng):
            assert name in chosen and len(beats) > len(downbeats) > 8
            period = float(np.median(np.diff(beats)))
            assert 60 / 240 <= period <= 60 / 30 * 1.5  # a tempo the renderer may take, with drift
            onsets = np.array([o[0] for o in beat.onsets(notes)])  # a chord's notes one onset, as the tracker hears them
            gap = np.median(np.diff(onsets))
            assert 0.05 < gap < 1.0  # a player's pace, not a machine's


@pytest.mark.training
def test_the_ear_trains_on_scores_alone(tmp_path):
    """segue train beats --scores DIR with no corpus and no songs: the scores' train split trains, their
    valid split validates, and the checkpoint names the score corpus."""
    pytest.importorskip("torch")
    from click.testing import CliRunner
    from segue.training import checkpoints
    from segue.training.cli import train

    scores.build(tmp_path / "scores", names=["bach/bwv1.6.mxl", "bach/bwv10.7.mxl", "bach/bwv113.8.mxl"], workers=1,
                 log=lambda *_: None)
    out = tmp_path / "ear.pt"
    result = CliRunner().invoke(train, ["beats", str(tmp_path / "none"), str(tmp_path / "none"), "--tunes", "0",
                                        "--songs", "0", "--scores", str(tmp_path / "scores"), "--out", str(out),
                                        "--hidden", "4", "--epochs", "1", "--window", "32"])
    assert result.exit_code == 0, result.output
    assert "2 train pieces" in result.output and "1 valid" in result.output, result.output
    assert checkpoints.read(out, "beats").data["scores"] == str(tmp_path / "scores")
