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


def test_the_windows_recipe_uses_random_windows_of_30(krebs, tmp_path):
    out = tmp_path / "seed.pt"
    result = train_melody([krebs], out, TrainConfig.windowed(epochs=1), progress=False)
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
    window = train_melody([krebs], tmp_path / "w.pt", TrainConfig.windowed(split="tail", epochs=1), progress=False)
    stream = train_melody([krebs], tmp_path / "s.pt", TrainConfig(channel=0, epochs=1, hidden=16), progress=False)
    assert window["data"]["valid_events"] == stream["data"]["valid_events"] == 83


def test_checkpoints_of_every_earlier_layout_still_load(small_checkpoint, small_rbm, small_lyrics, tmp_path):
    """Each family once wrote its own layout; they now share one (training/checkpoints.py). A file
    in each old layout loads as it did: the same weights, settings and figures."""
    from segue.training import checkpoints, lyrics, polyphony

    melody = checkpoints.read(small_checkpoint, "melody")
    assert torch.load(small_checkpoint, weights_only=True)["format"] == checkpoints.FORMAT
    old_melody = {"format": 1, "model": json.dumps(melody.model), "codec": melody.codec,
                  "train": json.dumps(melody.train), "metrics": json.dumps(melody.metrics),
                  "history": json.dumps(melody.history), "data": json.dumps(melody.data),
                  "state_dict": melody.state, "resume": melody.resume}
    torch.save(old_melody, tmp_path / "melody.pt")
    torch.save({**old_melody, "kind": "metrical"}, tmp_path / "metrical.pt")
    again = load_checkpoint(tmp_path / "melody.pt")
    assert again.history == melody.history and again.train.epochs == melody.train["epochs"]
    assert all(torch.equal(again.model.state_dict()[k], v) for k, v in melody.state.items())
    assert checkpoints.read(tmp_path / "metrical.pt").kind == "metrical"

    rbm = checkpoints.read(small_rbm[0], "rnnrbm")
    torch.save({"kind": "rnnrbm", "config": rbm.model, "state": rbm.state, "resume": rbm.resume,
                "record": json.dumps({"config": rbm.train, "metrics": rbm.metrics, "history": rbm.history, **rbm.data})},
               tmp_path / "rbm.pt")
    model, record = polyphony.load(tmp_path / "rbm.pt")
    assert record["metrics"] == rbm.metrics and record["files"] == rbm.data["files"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in rbm.state.items())

    words = checkpoints.read(small_lyrics[0], "lyrics")
    torch.save({"kind": "lyrics", "model": words.model, "state": words.state, "codec": words.codec,
                "train": words.train, "metrics": words.metrics, "history": words.history, "data": words.data,
                "resume": words.resume}, tmp_path / "lyrics.pt")
    assert lyrics.load(tmp_path / "lyrics.pt").metrics == words.metrics
    with pytest.raises(ValueError, match="not an RNN-RBM checkpoint"):
        polyphony.load(tmp_path / "lyrics.pt")
