"""The command line: bad input gives one line and a non-zero exit; the runtime never loads torch."""
import shutil
import subprocess
import sys
import textwrap

import mido
import pytest
from click.testing import CliRunner
from segue.daemon.cli import cli, main


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output.strip()


def assert_one_line_error(code, output, words):
    assert code != 0
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert words in output


@pytest.fixture
def files(tmp_path, krebs):
    text = tmp_path / "notes.txt"
    text.write_text("not a midi file at all\n")
    truncated = tmp_path / "truncated.mid"
    truncated.write_bytes(krebs.read_bytes()[:300])
    empty = tmp_path / "empty.mid"
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    midi.save(empty)
    return {"text": text, "truncated": truncated, "empty": empty, "missing": tmp_path / "missing.mid"}


@pytest.mark.parametrize("which, words", [
    ("missing", "no such file"), ("text", "not a readable MIDI file"),
    ("truncated", "not a readable MIDI file (it ends early (truncated?))"), ("empty", "no notes"),
])
def test_bad_prime_files(small_model, files, tmp_path, which, words):
    code, out = run("generate", "--model", small_model, "--prime", files[which], "--out", tmp_path / "o.mid")
    assert_one_line_error(code, out, words)
    assert not (tmp_path / "o.mid").exists()


def hostile_meter_prime(path, tempo: int, numerator: int = 4, denominator: int = 4):
    """A short prime whose tempo and time signature are as given (possibly impossible)."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo),
                            mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)])
    for i, pitch in enumerate([60, 62, 64, 65, 67, 65, 64, 62]):
        track += [mido.Message("note_on", note=pitch, velocity=80, time=0 if i == 0 else 240),
                  mido.Message("note_off", note=pitch, time=240)]
    midi = mido.MidiFile()
    midi.tracks.append(track)
    midi.save(path)
    return path


@pytest.mark.parametrize("model", ["small_model", "folk"])
@pytest.mark.parametrize("tempo, numerator, denominator, words", [
    (0, 4, 4, "a tempo of 0 microseconds a beat (no time at all) is read as 400 bpm"),
    (0xFFFFFF, 4, 4, "a tempo of 16,777,215 microseconds a beat (3.58 bpm) is read as 20 bpm"),
    (500_000, 0, 4, "a time signature of 0/4"), (500_000, 255, 1024, "a time signature of 255/1024"),
])
def test_a_primes_impossible_tempo_or_meter_is_clamped_with_one_line(model, tempo, numerator, denominator, words,
                                                                     tmp_path, request):
    """Before: ZeroDivisionError (tempo 0) and OverflowError (0xFFFFFF, written back) tracebacks."""
    model = request.getfixturevalue(model) if model == "small_model" else model
    prime = hostile_meter_prime(tmp_path / "p.mid", tempo, numerator, denominator)
    done = subprocess.run([sys.executable, "-m", "segue.daemon.cli", "generate", "--model", str(model), "--prime",
                           str(prime), "--events", "40", "--out", str(tmp_path / "o.mid")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and str(prime) in warnings[0] and words in warnings[0], done.stderr
    written = mido.MidiFile(tmp_path / "o.mid")
    assert 20 <= mido.tempo2bpm(next(m.tempo for m in written.tracks[0] if m.type == "set_tempo")) <= 400


def test_bad_model_files(files, tmp_path, small_model, rewrite_metadata):
    code, out = run("generate", "--model", files["text"], "--out", tmp_path / "o.mid")
    assert_one_line_error(code, out, "not a loadable ONNX model")
    for value, words in [(None, "without segue metadata"), ("7", "model format 7 is unknown")]:
        model = rewrite_metadata(small_model, tmp_path / "m.onnx", {"segue.format": value})
        code, out = run("generate", "--model", model, "--out", tmp_path / "o.mid")
        assert_one_line_error(code, out, words)


@pytest.mark.parametrize("option, value, words", [
    ("--temperature", "0", "--temperature must be more than 0 and at most 10, not 0"), ("--temperature", "-1", "temperature must be"),
    ("--temperature", "inf", "temperature must be"), ("--temperature", "nan", "temperature must be"),
    ("--events", "-5", "--events must be from 1 to 10,000,000, not -5"), ("--top-p", "1.5", "top-p"), ("--top-k", "-2", "top-k"),
    ("--max-note", "0", "max-note"), ("--max-note", "inf", "--max-note must be more than 0 and at most 60, not inf"),
    ("--channel", "17", "--channel must be from 0 to 15, not 17"),
    ("--events", "many", "'many' is not a valid integer"),
])
def test_options_out_of_range(small_model, tmp_path, option, value, words):
    code, out = run("generate", "--model", small_model, "--out", tmp_path / "o.mid", option, value)
    assert_one_line_error(code, out, words)


def test_generate_and_info(small_model, krebs, tmp_path):
    code, out = run("generate", "--model", small_model, "--prime", krebs, "--channel", "0", "--events", "120",
                    "--seed", "4", "--out", tmp_path / "o.mid")
    assert code == 0 and "wrote" in out and (tmp_path / "o.mid").stat().st_size > 100
    code, out = run("info", small_model)
    assert code == 0 and "32 velocity classes" in out and "krebs.mid" in out


@pytest.mark.training
def test_bad_training_input(tmp_path, files):
    code, out = run("train", "melody", files["missing"], "--out", tmp_path / "c.pt")
    assert_one_line_error(code, out, "no such file or directory")
    code, out = run("export", files["text"], "--out", tmp_path / "m.onnx")
    assert_one_line_error(code, out, "not a segue checkpoint")


def test_export_with_check_and_quantize(small_checkpoint, krebs, tmp_path):
    code, out = run("export", small_checkpoint, "--out", tmp_path / "m.onnx", "--check", krebs,
                    "--quantize", tmp_path / "m8.onnx")
    assert code == 0, out
    assert "parity over 500 events" in out and (tmp_path / "m8.onnx").stat().st_size > 0
    code, out = run("info", tmp_path / "m8.onnx")
    assert code == 0 and "exported by: segue" in out


def test_main_returns_exit_codes(small_model, tmp_path):
    assert main(["generate", "--model", str(small_model), "--events", "5", "--out", str(tmp_path / "o.mid")]) == 0
    assert main(["generate", "--model", str(small_model), "--events", "0"]) == 1
    assert main(["no-such-command"]) == 2


def test_shipped_model_end_to_end_without_torch(tmp_path):
    """`segue generate` on the shipped model, as a user runs it; the runtime never imports torch."""
    out = tmp_path / "continuation.mid"
    segue = shutil.which("segue")  # the console script the README tells users to run
    command = [segue] if segue else [sys.executable, "-m", "segue.daemon.cli"]
    done = subprocess.run([*command, "generate", "--out", str(out), "--seed", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 100
    probe = textwrap.dedent(f"""
        import sys, pkgutil, importlib
        import segue.daemon
        for m in pkgutil.walk_packages(segue.daemon.__path__, "segue.daemon."):
            importlib.import_module(m.name)
        from segue.daemon.cli import main
        assert main(["generate", "--events", "200", "--seed", "2", "--out", {str(tmp_path / 'b.mid')!r}]) == 0
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "segue") and
                     not m.startswith("segue.daemon")))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # Only the namespace package itself: no torch, no onnx, no segue.training or segue.export.
    assert done.stdout.strip().splitlines()[-1] == "['segue']"


@pytest.mark.parametrize("command", [["train", "melody", "x.mid"], ["train", "rnnrbm", "x.json"],
                                     ["train", "rnnnade", "x.json"], ["train", "lyrics", "x.txt"],
                                     ["export", "x.pt"]])
def test_an_output_folder_that_does_not_exist_is_refused_before_any_work(command, tmp_path):
    out = tmp_path / "missing" / "out.pt"
    result = CliRunner().invoke(cli, [*command, "--out", str(out)])
    assert result.exit_code == 2 and "its folder" in result.output and "does not exist" in result.output


def test_messages_name_every_kind_a_command_takes(small_lyric_model):
    result = CliRunner().invoke(cli, ["generate", "--model", str(small_lyric_model), "--out", "x.mid"])
    assert result.exit_code == 1
    assert "a lyric model; segue generate plays event models (folk, melody), piano-roll models (RNN-RBM or " \
           "LSTM-NADE files: chorale, chorale-nade) and accompanists (pop); for words, segue lyrics" in result.output
    result = CliRunner().invoke(cli, ["jam", "--mode", "harmonize", "--model", "melody"])
    assert result.exit_code == 1 and "RNN-RBM or LSTM-NADE file: chorale, chorale-nade" in result.output


def test_counts_read_as_words():
    from segue.daemon.formats.units import count
    from segue.daemon.formats.units import Span

    assert (str(Span.parse("1beat")), str(Span.parse("2bars")), count(0.5, "beats")) == ("1 beat", "2 bars", "0.5 beats")


def test_the_training_extra_hint_works_from_a_clone_too(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'", name="torch")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    for module in [m for m in sys.modules if m.startswith("segue.training")]:
        monkeypatch.delitem(sys.modules, module)
    result = CliRunner().invoke(cli, ["train", "melody", "x.mid", "--out", "x.pt"])
    assert result.exit_code == 1
    assert "pip install 'segue[train]' (in a clone of segue: pip install -e '.[train]')" in result.output


def test_the_systemd_unit_runs_a_valid_segue_jam_command():
    """scripts/segue-jam.service, as the Pi guide tells users to install it: its ExecStart parses."""
    import shlex
    from pathlib import Path

    unit = (Path(__file__).resolve().parents[1] / "scripts" / "segue-jam.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.split("=", 1)[1])
    assert argv[0].endswith("/bin/segue") and "jam" in argv
    cli.make_context("segue", argv[1:argv.index("jam")])  # the group's own options (-v)
    params = cli.commands["jam"].make_context("jam", argv[argv.index("jam") + 1:]).params
    assert params["record"] and params["status"] is False and params["length"] == "2bars"


@pytest.mark.parametrize("option, value, words", [
    ("--max-note", "inf", "--max-note must be more than 0 and at most 60, not inf"), ("--velocity-scale", "inf", "--velocity-scale must be"),
    ("--length", "1000000000", "--length in events must be from 1 to 512, not 1,000,000,000"),
    ("--length", "100000s", "--length in seconds must be from"), ("--silence", "1000", "--silence in seconds must be"),
    ("--temperature", "1e309", "temperature must be"), ("--seed", "-1", "--seed must be from 0 to 9,223,372,036,854,775,807, not -1"),
    ("--record", "", "record: an empty file name"), ("--session-weight", "nan", "--session-weight must be"),
])
def test_jam_refuses_absurd_values_before_it_opens_a_port(option, value, words, tmp_path):
    code, out = run("jam", "--backend", "jack", option, value)
    assert_one_line_error(code, out, words)


@pytest.mark.parametrize("text, words", [
    ("max_note = inf\n", "--max-note must be more than 0"), ("record = '/tmp'\n", "record: /tmp is a folder"),
    ("record = ''\n", "record: an empty file name"), ("velocity_scale = nan\n", "--velocity-scale must be"),
    ("x = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    ("[cc]\npanic = 24\nenabled = 24\n", "[cc] enabled and panic are both on controller 24"),
])
def test_jam_config_values_get_the_same_checks(text, words, tmp_path):
    config = tmp_path / "jam.toml"
    config.write_text(text)
    code, out = run("jam", "--backend", "jack", "--config", config)
    assert_one_line_error(code, out, words)


@pytest.mark.parametrize("text, typed, words", [
    ("backend = 'nope'\n", ["--backend", "jack"], "backend must be one of"),
    ("max_note = 1e9\n", ["--max-note", "2"], "--max-note must be more than 0 and at most 60, not 1,000,000,000"),
    ("top_k = 9999999\n", ["--top-k", "3"], "--top-k must be from 0 to 100,000"),
    ("mode = 'dance'\n", ["--mode", "call"], "mode must be one of"),
])
def test_a_config_files_values_are_checked_even_where_the_command_line_overrides_them(text, typed, words, tmp_path):
    """Before: backend = 'nope' in the file was accepted when --backend came on the command line."""
    config = tmp_path / "jam.toml"
    config.write_text(text)
    code, out = run("jam", *typed, "--config", config)
    assert_one_line_error(code, out, words)
    assert str(config) in out


def test_frames_have_an_upper_bound(tmp_path):
    code, out = run("generate", "-m", "chorale", "--frames", "100000000", "--out", tmp_path / "o.mid")
    assert_one_line_error(code, out, "--frames must be from 1 to 100,000, not 100,000,000")


def test_beats_prints_the_beats_heard_in_a_file(tmp_path):
    """`segue beats`: one line per beat (seconds, tempo, confidence, `bar` on downbeats) from the live
    tracker; a file with no notes, or not a MIDI file, is one line and a non-zero exit."""
    from segue.daemon.formats.midifile import NoteMessage, write_notes

    beat, notes = 60 / 100, []
    for k in range(40):
        notes += [NoteMessage(k * beat, 60 + k % 5, 100 if k % 4 == 0 else 70), NoteMessage(k * beat + 0.3, 60 + k % 5, 0)]
    write_notes(tmp_path / "steady.mid", notes, bpm=100)
    code, output = run("beats", tmp_path / "steady.mid")
    assert code == 0, output
    rows = [line.split() for line in output.splitlines()]
    times = [float(r[0]) for r in rows]
    late = [t for t in times if t > 8.0]
    assert late and max(abs(t / beat - round(t / beat)) * beat for t in late) < 0.03
    assert float(rows[-1][1]) == pytest.approx(100, rel=0.03) and any(r[-1] == "bar" for r in rows)
    (tmp_path / "junk.mid").write_bytes(b"not midi")
    assert_one_line_error(*run("beats", tmp_path / "junk.mid"), "not a readable MIDI file")
    write_notes(tmp_path / "empty.mid", [NoteMessage(0.0, 60, 0)], bpm=100)
    code, output = run("beats", tmp_path / "empty.mid")
    assert code != 0 and "Traceback" not in output
