"""Training: it learns, it is repeatable, its checkpoints are safe to load."""
import json

import pytest
import torch
from segue.training.data import seed_windows, stream_windows
from segue.training.train import TrainConfig, load_checkpoint, train_melody


def test_training_lowers_held_out_nll(small_checkpoint):
    history = load_checkpoint(small_checkpoint).history
    assert history[-1]["valid_nll"] < history[0]["valid_nll"] - 0.5
    assert history[-1]["train_nll"] < history[0]["train_nll"]


def test_same_seed_same_weights_other_seed_other_weights(krebs, tmp_path):
    cfg = TrainConfig(channel=0, epochs=2, hidden=16, length=32, seed=5)
    for name, seed in [("a", 5), ("b", 5), ("c", 6)]:
        train_melody([krebs], tmp_path / f"{name}.pt", TrainConfig(**{**cfg.__dict__, "seed": seed}), progress=False)
    a, b, c = (load_checkpoint(tmp_path / f"{n}.pt").model.state_dict() for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_checkpoint_holds_only_tensors_and_json(small_checkpoint):
    raw = torch.load(small_checkpoint, weights_only=True)  # refuses pickled objects
    assert json.loads(raw["model"])["hidden"] == 32
    assert json.loads(raw["train"])["mode"] == "stream"


def test_plot_is_written_beside_the_checkpoint(small_checkpoint):
    png = small_checkpoint.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_textbook_recipe_uses_random_windows_of_30(krebs, tmp_path):
    out = tmp_path / "seed.pt"
    result = train_melody([krebs], out, TrainConfig.textbook(epochs=1), progress=False)
    ckpt = load_checkpoint(out)
    assert ckpt.codec.velocity_classes == 128 and ckpt.codec.time_classes == 12
    assert result["data"]["valid_events"] == (826 - 30) // 10  # 1/10 of the sliding windows


def test_windows():
    events = torch.arange(40 * 3).reshape(40, 3).numpy()
    w = seed_windows(events, 30)
    assert w.shape == (10, 31, 3) and (w[3, 0] == events[3]).all() and (w[3, -1] == events[33]).all()


def test_stream_windows_stay_inside_the_training_part():
    import numpy as np
    from segue.training.data import Piece

    piece = Piece("p", np.arange(300 * 3).reshape(300, 3), valid_from=270)
    w = stream_windows([piece], 64, 16, np.random.default_rng(0))
    assert w.shape[1:] == (65, 3) and w[:, :, 0].max() < 270 * 3
    assert len(w) == pytest.approx((270 - 64) / 16, abs=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "stream", "split": "random"}, "stream mode needs split tail"),
    ({"valid_fraction": 0.9}, "valid fraction"), ({"epochs": 0}, "batch and epochs"), ({"lr": 0}, "lr"),
])
def test_config_validates_itself(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_benchmark_json_becomes_notes(tmp_path):
    from segue.training.data import read_json_pieces

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"train": [[[60, 64], [60], [], [62]]], "valid": [], "test": []}))
    (name, notes), = read_json_pieces(path, frame=0.5)
    assert name == "tiny:train:0"
    assert [(n.time, n.pitch, n.velocity) for n in notes] == [
        (0.0, 60, 80), (0.0, 64, 80), (0.5, 64, 0), (1.0, 60, 0), (1.5, 62, 80), (2.0, 62, 0)]


def test_bad_benchmark_json(tmp_path):
    from segue.daemon.formats.midifile import MidiFileError
    from segue.training.data import read_json_pieces

    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"train": [[["C4"]]]}))
    with pytest.raises(MidiFileError, match="not a piano-roll benchmark file"):
        read_json_pieces(path)


def test_both_recipes_score_the_same_held_out_tail(krebs, tmp_path):
    """Window and stream protocols predict exactly the last 10 % of events (83 of 826)."""
    window = train_melody([krebs], tmp_path / "w.pt", TrainConfig.textbook(split="tail", epochs=1), progress=False)
    stream = train_melody([krebs], tmp_path / "s.pt", TrainConfig(channel=0, epochs=1, hidden=16), progress=False)
    assert window["data"]["valid_events"] == stream["data"]["valid_events"] == 83
