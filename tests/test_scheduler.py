"""The scheduler: on time, cancellable, and never a stuck note."""
import threading
import time

import pytest
from segue.daemon.formats.notes import still_sounding
from segue.daemon.live.scheduler import Scheduler


class Collector:
    def __init__(self):
        self.messages, self.lock = [], threading.Lock()

    def __call__(self, msg):
        with self.lock:
            self.messages.append((time.monotonic(), msg))

    def sounding(self):
        return still_sounding(m for _, m in self.messages)


@pytest.fixture
def sched():
    out = Collector()
    s = Scheduler(out, max_note=0.3)
    yield s, out
    s.close()


def test_notes_play_on_time_and_are_released(sched):
    s, out = sched
    now = time.monotonic()
    for i in range(5):
        s.play(60 + i, 90, now + 0.02 * i, 0.05)
    time.sleep(0.25)
    ons = [(t, m) for t, m in out.messages if m.type == "note_on"]
    assert len(ons) == 5 and not out.sounding()
    errors = [t - (now + 0.02 * i) for i, (t, _) in enumerate(ons)]
    assert max(errors) < 0.02 and min(errors) >= 0  # on time (the jitter figure belongs to a benchmark)


def test_notes_are_cut_at_max_length(sched):
    s, out = sched
    now = time.monotonic()
    s.play(60, 90, now, 10.0)
    time.sleep(0.4)
    on, off = [t for t, _ in out.messages]
    assert not out.sounding() and off - on == pytest.approx(0.3, abs=0.01)


def test_cancel_drops_pending_and_releases_sounding(sched):
    s, out = sched
    now = time.monotonic()
    s.play(60, 90, now, 0.2)
    s.play(62, 90, now + 0.1, 0.2)
    time.sleep(0.03)
    assert s.busy
    s.cancel()
    time.sleep(0.2)
    assert [m.note for _, m in out.messages if m.type == "note_on"] == [60]
    assert not out.sounding() and not s.busy


def test_overlapping_same_pitch_is_released_first(sched):
    s, out = sched
    now = time.monotonic()
    s.play(60, 90, now, 0.2)
    s.play(60, 80, now + 0.05, 0.05)
    time.sleep(0.35)
    kinds = [(m.type, m.velocity) for _, m in out.messages]
    assert kinds == [("note_on", 90), ("note_off", 0), ("note_on", 80), ("note_off", 0)]


def test_late_notes_are_dropped_not_bunched(sched):
    s, out = sched
    s.play(60, 90, time.monotonic() - 0.5, 0.1)
    time.sleep(0.05)
    assert s.dropped_late == 1 and out.messages == []


def test_panic_sends_all_notes_off_and_all_sound_off(sched):
    s, out = sched
    s.play(60, 90, time.monotonic(), 0.2, channel=3)
    time.sleep(0.02)
    s.panic()
    controls = [(m.channel, m.control) for _, m in out.messages if m.type == "control_change"]
    assert controls == [(3, 123), (3, 120)] and not out.sounding()


def test_a_failing_port_does_not_stop_the_scheduler():
    calls = []

    def flaky(msg):
        calls.append(msg)
        if len(calls) == 1:
            raise OSError("port vanished")

    s = Scheduler(flaky)
    now = time.monotonic()
    s.play(60, 90, now, 0.02)
    s.play(62, 90, now + 0.05, 0.02)
    time.sleep(0.15)
    s.close()
    assert s.errors == 1 and [m.note for m in calls if m.type == "note_on"] == [60, 62]
