"""The reliability scenarios of benchmarks/reliability.py, short, through a real JACK server."""
import importlib.util
import sys
from pathlib import Path

import pytest
from jackprobe import jack_server

spec = importlib.util.spec_from_file_location("reliability", Path(__file__).parent.parent / "benchmarks" / "reliability.py")
reliability = importlib.util.module_from_spec(spec)
sys.modules["reliability"] = reliability
spec.loader.exec_module(reliability)


@pytest.fixture(scope="module")
def jack():
    with jack_server() as env:
        yield env


def check(result):
    assert result.held, result.line()


def test_a_lost_note_off_leaves_it_answering(jack):
    check(reliability.lost_note_off(jack))


def test_an_open_sysex_does_not_deafen_it(jack):
    check(reliability.open_sysex(jack))


def test_a_flood_gets_no_answer_and_the_next_phrase_does(jack, tmp_path):
    check(reliability.flood(jack, 5000, 2.0, None))
    check(reliability.flood(jack, 5000, 2.0, str(tmp_path / "flood.mid")))


def test_after_a_flood_that_lost_note_offs_the_next_phrase_is_answered_in_time(jack):
    """Before: the keys whose note-offs the flood lost held segue back until the 8 s hold limit."""
    check(reliability.flood(jack, 5000, 2.0, None, lossy=True))


def test_sigkill_and_sigterm_keep_the_recording(jack, tmp_path):
    for result in reliability.signals(jack, str(tmp_path / "take"), 0.1):
        check(result)


def test_a_dead_server_ends_the_session_with_the_recording_saved(tmp_path):
    check(reliability.killed_server(str(tmp_path / "server.mid")))
