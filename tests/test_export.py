"""Export: torch and onnxruntime agree over a real piece; int8 costs little."""
import numpy as np
import torch
from segue.daemon.formats.midifile import read_notes
from segue.daemon.models.event import EventModel
from segue.export.onnx import parity
from segue.export.quantize import quantize
from segue.training.train import load_checkpoint


def test_parity_over_300_events_of_a_real_piece(small_checkpoint, exported_model, krebs):
    model = EventModel(exported_model)
    events = model.codec.encode(read_notes(krebs, channel=0))[:300]
    worst = parity(small_checkpoint, exported_model, events)
    assert worst["probs"] < 1e-5 and worst["logits"] < 1e-4 and worst["state"] < 1e-4


def test_streaming_step_equals_the_trained_sequence_model(small_checkpoint, krebs):
    """The exported step (explicit cell) is the same function as nn.LSTM over a whole sequence."""
    ckpt = load_checkpoint(small_checkpoint)
    events = torch.from_numpy(ckpt.codec.encode(read_notes(krebs, channel=0))[:200])
    with torch.no_grad():
        whole, _ = ckpt.model(events[None])
        h = torch.zeros(1, 1, ckpt.model.config.hidden)
        c = torch.zeros_like(h)
        for t in range(len(events)):
            step, h, c = ckpt.model.step(events[t, 0:1], events[t, 1:2], events[t, 2:3], h, c)
            assert torch.allclose(step[0], whole[0, t], atol=1e-5)


def test_int8_model_loads_and_stays_close(exported_model, tmp_path, krebs):
    q = quantize(exported_model, tmp_path / "q.onnx")
    fp, i8 = EventModel(exported_model), EventModel(q)
    assert i8.info == fp.info
    events = fp.codec.encode(read_notes(krebs, channel=0))[:100]
    a, b = fp.stream(), i8.stream()
    tv = []
    for row in events:
        pa, pb = [np.exp(x - x.max()) / np.exp(x - x.max()).sum() for x in (a.advance(*row), b.advance(*row))]
        tv.append(0.5 * np.abs(pa - pb).sum() / 3)  # total variation per head, averaged
    assert np.mean(tv) < 0.05


def test_a_failed_export_check_leaves_no_file_under_the_output_name(small_checkpoint, tmp_path, krebs, monkeypatch):
    from click.testing import CliRunner
    from segue.daemon.cli import cli

    out = tmp_path / "m.onnx"
    not_midi = tmp_path / "notes.txt"
    not_midi.write_text("not a MIDI file")
    result = CliRunner().invoke(cli, ["export", str(small_checkpoint), "--out", str(out), "--check", str(not_midi)])
    assert result.exit_code == 1 and "not a readable MIDI file" in result.output
    assert list(tmp_path.iterdir()) == [not_midi]  # neither m.onnx nor m.onnx.part

    monkeypatch.setattr("segue.export.onnx.parity", lambda *a: {"logits": 0.5, "probs": 0.1, "state": 0.0})
    result = CliRunner().invoke(cli, ["export", str(small_checkpoint), "--out", str(out), "--check", str(krebs)])
    assert result.exit_code == 1 and "export check failed, nothing written" in result.output
    assert "max |logit diff| 5.00e-01" in result.output and not out.exists()

    result = CliRunner().invoke(cli, ["export", str(small_checkpoint), "--out", str(out)])
    assert result.exit_code == 0 and out.is_file() and not (tmp_path / "m.onnx.part").exists()


def test_an_onset_salience_trains_exports_and_the_tracker_hears_with_it(tmp_path):
    """segue train beats (POP909 songs only) -> segue export -> segue info -> the beat tracker with it."""
    from click.testing import CliRunner
    from conftest import DATA, shared
    from segue.daemon.cli import cli
    from segue.daemon.models.beat import PointerTracker, track
    from segue.daemon.models.salience import SalienceModel
    from segue.training.cli import train

    source = tmp_path / "songs"
    source.mkdir()
    for name in ("001", "003", "006", "007", "011"):  # one tempo each; in this folder 003 is the valid split
        (source / name).symlink_to(shared(DATA / "pop909" / name))
    runner = CliRunner()
    checkpoint, model = tmp_path / "beats.pt", tmp_path / "beat.onnx"
    result = runner.invoke(train, ["beats", str(tmp_path / "no-corpus"), str(source), "--out", str(checkpoint),
                                   "--tunes", "0", "--hidden", "8", "--epochs", "2", "--window", "64"])
    assert result.exit_code == 0 and "nats an onset" in result.output, result.output
    assert "3 train pieces" in result.output and "1 valid" in result.output, result.output
    result = runner.invoke(cli, ["info", str(checkpoint)])
    assert "onset salience" in result.output and "nats/onset" in result.output, result.output
    result = runner.invoke(cli, ["export", str(checkpoint), "--out", str(model)])
    assert result.exit_code == 0 and "parity over 300 onsets" in result.output, result.output
    assert SalienceModel(model).hidden == 8
    result = runner.invoke(cli, ["info", str(model)])
    assert "onset salience for the beat tracker" in result.output, result.output
    notes = [(0.5 * k, 60 + k % 5, 90) for k in range(32)]
    beats = track(notes, tracker=lambda bpm: PointerTracker(bpm, salience=model))
    assert beats and all(0 < b.bpm < 300 for b in beats)


def test_a_chord_model_trains_exports_and_accompanies(tmp_path):
    """segue data pop909 -> segue train chords -> segue export -> segue generate --accompany."""
    from click.testing import CliRunner
    from conftest import DATA, shared
    from segue.daemon.cli import cli, main
    from segue.daemon.models.accompanist import AccompanistModel
    from segue.training.cli import data, train

    source = tmp_path / "songs"
    source.mkdir()
    for name in ("001", "002", "003"):
        (source / name).symlink_to(shared(DATA / "pop909" / name))
    runner = CliRunner()
    assert runner.invoke(data, ["pop909", str(source), str(tmp_path / "corpus")]).exit_code == 0
    checkpoint, model = tmp_path / "chords.pt", tmp_path / "acc.onnx"
    result = runner.invoke(train, ["chords", str(tmp_path / "corpus"), "--out", str(checkpoint), "--hidden", "8",
                                   "--epochs", "2", "--batch", "2"])
    assert result.exit_code == 0 and "nats a beat" in result.output, result.output
    result = runner.invoke(cli, ["info", str(checkpoint)])
    assert "accompanist's chord model" in result.output and "nats/beat at epoch" in result.output, result.output
    result = runner.invoke(cli, ["export", str(checkpoint), "--out", str(model)])
    assert result.exit_code == 0 and "parity over 200 beats" in result.output, result.output
    net = AccompanistModel(model)
    assert net.hidden == 8 and net.patterns
    assert main(["generate", "--accompany", str(source / "001" / "001.mid"), "--track", "1", "--model", str(model),
                 "--out", str(tmp_path / "band.mid")]) == 0


def test_a_keyboard_model_trains_on_pop909_exports_polyphonic_and_continues_a_piano_file(tmp_path):
    """segue data pop909 -> segue data keys -> segue train metrical -> segue export -> segue generate
    --prime: the corpus keeps velocities and chords on the beat's twelfths, the file says it is a
    keyboard model, and it continues a piano part."""
    import numpy as np
    from click.testing import CliRunner
    from conftest import DATA, shared
    from segue.daemon.cli import cli, main
    from segue.daemon.formats.corpus import load
    from segue.daemon.models.event import EventModel
    from segue.training.cli import data, train

    source = tmp_path / "songs"
    source.mkdir()
    for name in ("001", "002", "003", "004", "005", "006", "007", "008", "010", "011", "012", "013"):
        (source / name).symlink_to(shared(DATA / "pop909" / name))
    runner = CliRunner()
    assert runner.invoke(data, ["pop909", str(source), str(tmp_path / "pop")]).exit_code == 0
    result = runner.invoke(data, ["keys", str(tmp_path / "pop"), str(tmp_path / "keys")])
    assert result.exit_code == 0 and "MELODY, BRIDGE, PIANO" in result.output, result.output
    song = load(tmp_path / "keys", "train")[0]
    assert np.all(np.abs(song["onset"] * 12 - np.round(song["onset"] * 12)) < 1e-4)
    assert len(set(song["velocity"].tolist())) > 10 and np.any(np.diff(song["onset"]) == 0)
    sixteenths = song  # the default: releases of notes struck on sixteenths on sixteenths
    assert runner.invoke(data, ["keys", str(tmp_path / "pop"), str(tmp_path / "k12"), "--release-grid", "12"]).exit_code == 0
    twelfths = load(tmp_path / "k12", "train")[0]
    ends = twelfths["onset"] + twelfths["duration"]
    assert np.mean(np.abs(ends * 4 - np.round(ends * 4)) < 1e-4) < 0.9  # as the songs play them
    on = np.abs(sixteenths["onset"] * 4 - np.round(sixteenths["onset"] * 4)) < 1e-4
    ends = (sixteenths["onset"] + sixteenths["duration"])[on]
    assert np.all(np.abs(ends * 4 - np.round(ends * 4)) < 1e-4)  # a note struck on a sixteenth ends on one
    checkpoint, model = tmp_path / "keys.pt", tmp_path / "keys.onnx"
    result = runner.invoke(train, ["metrical", str(tmp_path / "keys"), "--out", str(checkpoint), "--hidden", "16",
                                   "--epochs", "1", "--batch", "4", "-q"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["export", str(checkpoint), "--out", str(model)]).exit_code == 0
    info = EventModel(model).info
    assert info.polyphonic and info.grid == 12 and "sounding" in info.inputs  # it hears how many notes it holds
    out = tmp_path / "more.mid"
    assert main(["generate", "--prime", str(source / "001" / "001.mid"), "--model", str(model), "--events", "200",
                 "--out", str(out)]) == 0
    assert out.stat().st_size > 100
