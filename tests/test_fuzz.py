"""Property-based fuzzing (hypothesis) of what segue reads: MIDI primes, model metadata, jam config
files. Each either works or fails with one line of the error kind its reader promises; nothing else
escapes. A fixed budget here; `python benchmarks/fuzz.py` runs the same properties far longer."""
from __future__ import annotations

import json
import os

import mido
import pytest
from segue.daemon.formats.midifile import MidiFileError

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis: pip install -e '.[test]'")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

settings.register_profile("suite", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", max_examples=int(os.environ.get("SEGUE_FUZZ_EXAMPLES", "2000")), deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("SEGUE_FUZZ_PROFILE", "suite"))


def one_line(err: Exception) -> bool:
    return bool(str(err).strip()) and "\n" not in str(err).strip()


@st.composite
def midi_bytes(draw):
    """A small MIDI file with any tempo, time signature and notes, then bytes overwritten or cut."""
    track = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=draw(st.integers(0, 0xFFFFFF))),
        mido.MetaMessage("time_signature", numerator=draw(st.integers(0, 255)),
                         denominator=2 ** draw(st.integers(0, 7))),
    ])
    for _ in range(draw(st.integers(0, 12))):
        pitch, channel = draw(st.integers(0, 127)), draw(st.integers(0, 15))
        track.append(mido.Message("note_on", note=pitch, velocity=draw(st.integers(0, 127)), channel=channel,
                                  time=draw(st.integers(0, 5000))))
        track.append(mido.Message("note_off", note=pitch, channel=channel, time=draw(st.integers(0, 5000))))
    midi = mido.MidiFile(type=draw(st.sampled_from([0, 1])), ticks_per_beat=draw(st.integers(1, 0x7FFF)))
    midi.tracks.append(track)
    import io

    buffer = io.BytesIO()
    midi.save(file=buffer)
    data = bytearray(buffer.getvalue())
    for offset, value in draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), max_size=6)):
        data[offset] = value
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data)


# found by benchmarks/fuzz.py: a prime of releases only raised "the prime holds no events", naming no file
@example(data=b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x01MTrk\x00\x00\x00\x1b\x00\xffQ\x03\x00\x00\x00\x00"
              b"\xffX\x04\x00\x00\x18\x08\x00\x90\x00\x00\x00\x80\x00@\x00\xff/\x00")
@given(data=midi_bytes())
def test_any_prime_is_continued_or_refused_in_one_line(data, tmp_path_factory):
    from segue.daemon.options import GenerateConfig
    from segue.daemon.offline.generate import generate_file

    folder = tmp_path_factory.mktemp("prime")
    prime = folder / "prime.mid"
    prime.write_bytes(data)
    try:
        generate_file(folder / "out.mid", GenerateConfig(events=16, seed=0), prime=prime)
    except MidiFileError as err:
        assert one_line(err)
        return
    written = mido.MidiFile(folder / "out.mid")
    tempo = next(m.tempo for m in written.tracks[0] if m.type == "set_tempo")
    assert 20 <= mido.tempo2bpm(tempo) <= 400


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=8)


@given(which=st.sampled_from(["small_model", "shipped_roll_model", "shipped_nade_model", "small_lyric_model"]),
       key=st.integers(0, 20), value=JSON, raw=st.booleans())
def test_any_metadata_value_loads_or_is_one_sentence(which, key, value, raw, request, rewrite_metadata,
                                                     tmp_path_factory):
    pytest.importorskip("onnx", reason="rewriting a model file needs onnx: pip install -e '.[train]'")
    import onnx
    from segue.daemon.models.event import EventModel
    from segue.daemon.models.file import ModelFileError
    from segue.daemon.models.lyric import LyricModel
    from segue.daemon.models.roll import RollModel

    source = request.getfixturevalue(which)
    keys = sorted(p.key for p in onnx.load(str(source)).metadata_props
                  if p.key.startswith("segue.") and p.key not in ("segue.format", "segue.weights"))
    text = json.dumps(value, allow_nan=True) if not raw else str(value)
    path = rewrite_metadata(source, tmp_path_factory.mktemp("meta") / "m.onnx", {keys[key % len(keys)]: text})
    load = {"small_model": EventModel, "small_lyric_model": LyricModel}.get(which, RollModel)
    try:
        load(path)
    except ModelFileError as err:
        assert one_line(err) and str(path) in str(err)


OPTION_VALUES = st.one_of(st.booleans(), st.integers(-2**40, 2**40), st.floats(), st.text(max_size=12),
                          st.lists(st.integers(), max_size=2))


@given(options=st.dictionaries(st.sampled_from(sorted(__import__("segue.daemon.options", fromlist=["x"]).config_keys())),
                               OPTION_VALUES, max_size=5))
def test_any_config_file_is_taken_or_refused_in_one_line(options, tmp_path_factory):
    from click.testing import CliRunner
    from segue.daemon.cli import cli

    lines = []
    for key, value in options.items():
        if isinstance(value, float) and value != value:
            literal = "nan"
        elif isinstance(value, float) and value in (float("inf"), float("-inf")):
            literal = "inf" if value > 0 else "-inf"
        else:
            literal = json.dumps(value)
        lines.append(f"{key} = {literal}")
    path = tmp_path_factory.mktemp("config") / "jam.toml"
    path.write_text("\n".join(lines) + "\n")
    # --backend nope... would open ports if the file were good: a bad --input name stops it there
    result = CliRunner().invoke(cli, ["jam", "--config", str(path), "--backend", "jack", "--input", "no such port " * 3,
                                      "--no-status"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1, result.output
