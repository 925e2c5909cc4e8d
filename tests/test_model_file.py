"""The model-file contract: a broken file fails with one clear sentence."""
import json

import numpy as np
import pytest
from segue.daemon.models.event import EventModel
from segue.daemon.models.file import ModelFileError


def test_a_good_model_describes_itself(small_model):
    model = EventModel(small_model)
    assert model.info.kind == "events"
    assert model.codec.sizes == (89, 32, 48)
    assert model.info.state == {"h": (1, 32), "c": (1, 32)}
    assert model.info.training["data"]["files"] == ["krebs.mid"]
    assert "valid_nll" in model.info.training["metrics"]


def test_not_onnx(tmp_path):
    bad = tmp_path / "song.onnx"
    bad.write_bytes(b"MThd\x00\x00\x00\x06" + bytes(100))
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        EventModel(bad)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        EventModel(tmp_path / "nothing.onnx")


def test_onnx_without_segue_metadata(small_model, tmp_path, rewrite_metadata):
    path = rewrite_metadata(small_model, tmp_path / "bare.onnx", {"segue.format": None})
    with pytest.raises(ModelFileError, match="without segue metadata"):
        EventModel(path)


def test_unknown_format_version(small_model, tmp_path, rewrite_metadata):
    path = rewrite_metadata(small_model, tmp_path / "future.onnx", {"segue.format": "99"})
    with pytest.raises(ModelFileError, match="model format 99 is unknown"):
        EventModel(path)


def test_wrong_kind(small_model, tmp_path, rewrite_metadata):
    path = rewrite_metadata(small_model, tmp_path / "roll.onnx", {"segue.kind": "piano-roll"})
    with pytest.raises(ModelFileError, match="a piano-roll model, but this needs an event model"):
        EventModel(path)


def test_broken_codec(small_model, tmp_path, rewrite_metadata):
    path = rewrite_metadata(small_model, tmp_path / "codec.onnx", {"segue.codec": json.dumps({"low": 90, "high": 10})})
    with pytest.raises(ModelFileError, match="broken segue metadata"):
        EventModel(path)


def test_state_names_must_match_the_graph(small_model, tmp_path, rewrite_metadata):
    path = rewrite_metadata(small_model, tmp_path / "state.onnx", {"segue.state": json.dumps({"memory": [1, 32]})})
    with pytest.raises(ModelFileError, match="do not match its metadata"):
        EventModel(path)


def test_stream_equals_step(small_model, krebs):
    """The bound-buffer stream and the plain step give the same logits."""
    from segue.daemon.formats.midifile import read_notes

    model = EventModel(small_model)
    events = model.codec.encode(read_notes(krebs, channel=0))[:50]
    stream, state = model.stream(), model.initial_state()
    for row in events:
        fast = stream.advance(*row).copy()
        slow, state = model.step(row[None], state)
        np.testing.assert_allclose(fast, slow[0], atol=1e-6)


def test_c_level_noise_on_stderr_is_filtered(capfd):
    """What a C library writes to fd 2 (Debian's onnxruntime: hundreds of "Schema error" lines) is
    held back; other lines pass."""
    import os

    from segue.daemon.models.file import _not_schema_noise, c_stderr

    with c_stderr(keep=_not_schema_noise):
        os.write(2, b"Schema error: Trying to register schema with name Abs\n\nreal trouble\n")
    assert capfd.readouterr().err == "real trouble\n"
    with c_stderr():
        os.write(2, b"Cannot connect to server socket\n")
    assert capfd.readouterr().err == ""
