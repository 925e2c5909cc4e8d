"""The jam config file and live CC controls."""
import mido
import pytest
from click.testing import CliRunner
from segue.daemon.cli import cli
from segue.daemon.live import config
from segue.daemon.formats.units import Span
from segue.daemon.live.engine import Engine, JamConfig
from segue.daemon.live.policy import CallAndResponse
from segue.daemon.live.scheduler import Scheduler
from segue.daemon.models.event import EventModel


def write(tmp_path, text):
    path = tmp_path / "segue.toml"
    path.write_text(text)
    return path


def test_options_and_cc_map(tmp_path):
    options, controls = config.load(write(tmp_path, 'silence = 1\nlength = 24\ninput = "Keys"\n'
                                                    "[cc]\ntemperature = 21\npanic = 24\n"))
    assert options == {"silence": "1", "length": "24", "input_name": "Keys"}
    assert controls == {21: "temperature", 24: "panic"}


@pytest.mark.parametrize("text, words", [
    ("volume = 3\n", "unknown option 'volume'"), ("length = 'long'\n", "'long' is not a length"),
    ("length = true\n", "length must be str"), ("silence = '3 events'\n", "silence: '3 events': a length in events"),
    ("bpm = 'fast'\n", "bpm must be float"), ("[cc]\nwarp = 3\n", "unknown control 'warp'"),
    ("[cc]\npanic = 120\n", "controller number in range 0..119"), ("silence = \n", "not valid TOML"),
])
def test_bad_config_files(tmp_path, text, words):
    with pytest.raises(ValueError, match=words):
        config.load(write(tmp_path, text))


def test_command_line_wins_over_file_wins_over_defaults():
    merged = config.merge({"silence": 0.6, "length": 30, "seed": None}, {"length"}, {"silence": 1.0, "length": 8})
    assert merged == {"silence": 1.0, "length": 30, "seed": None}


def test_jam_reports_config_errors_in_one_line(tmp_path):
    path = write(tmp_path, "grid = 'bars'\n")
    result = CliRunner().invoke(cli, ["jam", "--config", str(path)])
    assert result.exit_code == 1 and result.output.strip() == f"Error: {path}: grid must be one of beat, bar, off, not 'bars'"
    result = CliRunner().invoke(cli, ["jam", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 1 and "no such config file" in result.output


@pytest.mark.parametrize("command", ["generate", "jam", "ports", "info", "export", "train", "eval"])
def test_help_exits_zero(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Error" not in result.output


def test_cc_controls_change_the_engine_live(small_model):
    sent = []
    sched = Scheduler(sent.append)
    eng = Engine(EventModel(small_model), sched, CallAndResponse(0.1), JamConfig(length=16),
                 controls={21: "temperature", 22: "length", 23: "enabled", 24: "panic", 25: "mode"})
    cc = lambda control, value: eng.hear(0.0, mido.Message("control_change", control=control, value=value))  # noqa: E731
    cc(21, 127)
    cc(22, 0)
    assert eng.config.sampling.temperature == 2.0 and eng.config.length == Span(1, "events")
    cc(25, 127)
    assert eng.mode == "continuous"
    cc(25, 0)
    assert eng.mode == "call"
    cc(23, 0)
    assert not eng.enabled
    eng.hear(0.0, mido.Message("note_on", note=60, velocity=90))
    eng.voice("answer").answer(1.0)
    assert eng.answers == 0  # switched off: no answer
    sched.play(60, 90, 0.0, 10.0, channel=2)
    cc(24, 127)
    sched.close()
    assert [(m.channel, m.control) for m in sent if m.type == "control_change"][:3] == [(2, 64), (2, 123), (2, 120)]
    assert eng.listener.ignored == 0  # mapped CCs are controls, not ignored messages


def test_the_session_control_sets_the_session_models_weight():
    from segue.daemon.live.controls import settings
    from segue.daemon.options import JamConfig

    assert settings(JamConfig(), "session", 127).session_weight == 0.9
    assert settings(JamConfig(), "session", 0).session_weight == 0.0
    with pytest.raises(ValueError, match="--session-weight must be from 0 to less than 1"):
        JamConfig(session_weight=1.0)


def test_an_option_declared_once_reaches_help_the_config_file_and_the_cc_map(monkeypatch, tmp_path, small_model):
    """Take one jam option out of the table: it is gone from --help, the config file and the CC
    map; declare it again, with a control, in that one place: it is in all three, and the control
    moves the engine's setting."""
    import click
    from segue.daemon import options
    from segue.daemon.cli_options import with_options

    def jam_help():
        command = click.command()(with_options("jam")(lambda **_: None))
        return CliRunner().invoke(command, ["--help"]).output

    rest = [o for o in options.OPTIONS if o.name != "velocity_scale"]
    monkeypatch.setattr(options, "OPTIONS", rest)
    assert "--velocity-scale" not in jam_help()
    with pytest.raises(ValueError, match="unknown option 'velocity_scale'"):
        config.load(write(tmp_path, "velocity_scale = 1.5\n"))
    with pytest.raises(ValueError, match="unknown control 'velocity'"):
        config.load(write(tmp_path, "[cc]\nvelocity = 30\n"))

    added = options.Option("velocity_scale", ("--velocity-scale",), "float", 1.0, "Louder or softer.", bounds=(0, 10),
                           above=True, field="velocity_scale", control="velocity", cc=(0.5, 2.0))
    monkeypatch.setattr(options, "OPTIONS", [*rest, added])
    assert "--velocity-scale" in jam_help() and "Louder or softer." in jam_help()
    assert config.load(write(tmp_path, "velocity_scale = 1.5\n[cc]\nvelocity = 30\n")) == ({"velocity_scale": 1.5},
                                                                                              {30: "velocity"})
    with pytest.raises(ValueError, match="--velocity-scale must be more than 0 and at most 10, not 20"):
        config.load(write(tmp_path, "velocity_scale = 20\n"))
    sched = Scheduler(lambda _: None)
    try:
        eng = Engine(EventModel(small_model), sched, CallAndResponse(0.1), JamConfig(), controls={30: "velocity"})
        eng.hear(0.0, mido.Message("control_change", control=30, value=127))
        assert eng.config.velocity_scale == 2.0
    finally:
        sched.close()
