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


HOSTILE = ['[1, 2]', '"text"', '3', '{}', '{"h": [1', 'null', '{"h": [1, 99999]}', '{"h": [-1, 4]}',
           '{"h": "ab", "c": 2}', '{"low": 0, "high": 3}', '[]']


@pytest.mark.parametrize("fixture", ["small_model", "shipped_roll_model", "shipped_nade_model", "small_lyric_model"])
def test_hostile_metadata_is_one_sentence(fixture, request, tmp_path, rewrite_metadata):
    """Every segue.* value replaced by JSON of the wrong shape: the file loads, or ModelFileError says why."""
    from segue.daemon.models.lyric import LyricModel
    from segue.daemon.models.roll import RollModel

    load = {"small_model": EventModel, "shipped_roll_model": RollModel, "shipped_nade_model": RollModel,
            "small_lyric_model": LyricModel}[fixture]
    source = request.getfixturevalue(fixture)
    keys = [k for k in _metadata(source) if k.startswith("segue.") and k not in ("segue.format", "segue.weights")]
    for key in keys:
        for value in HOSTILE:
            path = rewrite_metadata(source, tmp_path / "m.onnx", {key: value})
            try:
                load(path)
            except ModelFileError as err:
                assert "\n" not in str(err) and str(path) in str(err)


def _metadata(path):
    onnx = pytest.importorskip("onnx", reason="reading a model's metadata needs onnx: pip install -e '.[train]'")

    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_flipped_weights_are_refused(small_model, tmp_path):
    data = bytearray(small_model.read_bytes())
    data[len(data) // 2] ^= 0x10  # a bit of a weight (the metadata is at the end)
    flipped = tmp_path / "flipped.onnx"
    flipped.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="weights do not match the checksum"):
        EventModel(flipped)


def test_old_files_without_a_checksum_load_with_a_warning(small_model, tmp_path, caplog):
    onnx = pytest.importorskip("onnx", reason="rewriting a model file needs onnx: pip install -e '.[train]'")
    proto = onnx.load(str(small_model))
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key != "segue.weights"]
    del proto.metadata_props[:]
    for key, value in kept:
        proto.metadata_props.add(key=key, value=value)
    old = tmp_path / "old.onnx"
    onnx.save(proto, str(old))
    with caplog.at_level("WARNING"):
        EventModel(old)
    assert "has no weight checksum" in caplog.text


@pytest.mark.parametrize("beats", [0, -1, "NaN", 1e9])
def test_a_piano_roll_frame_of_no_length_is_refused(shipped_roll_model, rewrite_metadata, tmp_path, beats):
    """Before: a frame of 0 beats loaded, and segue generate wrote 152 note-ons at time 0 in a 0 s file."""
    from segue.daemon.models.roll import RollModel

    codec = json.dumps({"low": 21, "high": 108, "beats": beats}).replace('"NaN"', "NaN")
    path = rewrite_metadata(shipped_roll_model, tmp_path / "m.onnx", {"segue.codec": codec})
    with pytest.raises(ModelFileError, match=r"broken segue metadata \(ValueError: a frame of .* beats"):
        RollModel(path)
