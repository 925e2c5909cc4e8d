"""The engine without ports: what it hears, what it ignores, how it answers and yields."""
import threading
import time

import mido
import pytest
from segue.daemon.live.engine import QUEUE_LIMIT, Engine, JamConfig
from segue.daemon.live.policy import CallAndResponse
from segue.daemon.live.scheduler import Scheduler
from segue.daemon.models.event import EventModel


@pytest.fixture
def engine(small_model):
    sent = []
    sched = Scheduler(sent.append, max_note=0.2)
    eng = Engine(EventModel(small_model), sched, CallAndResponse(silence=0.1), JamConfig(length=6, seed=0))
    yield eng, sent
    sched.close()


def note(pitch, velocity=90, channel=0):
    return mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)


def test_only_note_messages_of_listened_channels_are_heard(engine):
    eng, _ = engine
    now = time.monotonic()
    for msg in (mido.Message("clock"), mido.Message("sysex", data=[1, 2]), note(36, channel=9),
                note(60), mido.Message("note_off", note=61)):
        eng.hear(now, msg)
    assert eng.ignored == 1  # the sysex; the clock went to the tempo follower
    assert eng.heard == 3  # note messages; of them only note 60 is used
    assert eng.heard_since_answer == 1 and eng.player_held == 1


def test_a_flood_is_dropped_beyond_the_queue_limit(engine):
    eng, _ = engine
    for _ in range(QUEUE_LIMIT + 500):
        eng.on_message(mido.Message("clock"))
    assert eng.dropped == 500 and eng.arrived == QUEUE_LIMIT + 500


def test_answers_after_silence_then_yields_to_the_player(engine):
    eng, sent = engine
    stop = threading.Event()
    worker = threading.Thread(target=eng.run, args=(stop,))
    worker.start()
    for pitch in (60, 62, 64):
        eng.on_message(note(pitch))
        eng.on_message(note(pitch, 0))
    time.sleep(0.3)
    assert eng.answers == 1 and any(m.type == "note_on" for m in sent)
    eng.on_message(note(67))  # barge-in
    time.sleep(0.05)
    stop.set()
    worker.join()
    assert not eng.scheduler.busy


def test_config_validates_itself():
    with pytest.raises(ValueError, match="length"):
        JamConfig(length=0)
    with pytest.raises(ValueError, match="channel"):
        JamConfig(listen=(16,))


def test_an_error_while_answering_stops_and_waits_for_the_player(engine, monkeypatch):
    """A failing answer is logged, what sounds is released, and it is not retried in a loop."""
    eng, sent = engine
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("boom")

    monkeypatch.setattr("segue.daemon.live.engine.sample_events", broken)
    stop = threading.Event()
    worker = threading.Thread(target=eng.run, args=(stop,))
    worker.start()
    eng.scheduler.play(70, 90, time.monotonic() + 0.02, 5.0)
    time.sleep(0.1)
    assert ("note_on", 70) in [(m.type, m.note) for m in sent]
    for pitch in (60, 62):
        eng.on_message(note(pitch))
        eng.on_message(note(pitch, 0))
    time.sleep(0.4)
    stop.set()
    worker.join()
    assert calls == [1] and eng.errors == 1 and worker.is_alive() is False
    assert ("note_off", 70) in [(m.type, m.note) for m in sent]
