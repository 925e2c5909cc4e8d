"""The scheduler: on time, cancellable, and never a stuck note.

The logic runs on a clock the tests move (Scheduler(thread=False).run_until sends each message at
its due time); one test checks that the sending thread sends, with no bound on how fast. How
punctual the thread is on a real machine is a benchmark's figure (benchmarks/jam_latency.py).
"""
import threading
import time

import pytest
from clocks import FakeClock
from segue.daemon.formats.notes import still_sounding
from segue.daemon.live.scheduler import Scheduler


class Collector:
    def __init__(self, clock):
        self.clock, self.messages, self.lock = clock, [], threading.Lock()

    def __call__(self, msg):
        with self.lock:
            self.messages.append((self.clock(), msg))

    def sounding(self):
        return still_sounding(m for _, m in self.messages)


@pytest.fixture
def sched():
    clock = FakeClock()
    out = Collector(clock)
    s = Scheduler(out, max_note=0.3, clock=clock, thread=False)

    def until(t):  # time moves on in 1 ms steps, the scheduler sending what falls due in each
        while clock.now < t:
            clock.now = min(t, clock.now + 0.001)
            s.run_until(clock.now)

    yield s, out, clock, until
    s.close()


def test_notes_play_at_their_times_and_are_released(sched):
    s, out, clock, until = sched
    now = clock()
    for i in range(5):
        s.play(60 + i, 90, now + 0.02 * i, 0.05)
    until(now + 0.03)
    assert [m.note for _, m in out.messages if m.type == "note_on"] == [60, 61]
    until(now + 0.25)
    ons = [t for t, m in out.messages if m.type == "note_on"]
    assert ons == pytest.approx([now + 0.02 * i for i in range(5)], abs=0.0015) and not out.sounding()


def test_notes_are_cut_at_max_length(sched):
    s, out, clock, until = sched
    s.play(60, 90, clock(), 10.0)
    until(clock() + 0.4)
    (on, _), (off, _) = out.messages
    assert not out.sounding() and off - on == pytest.approx(0.3, abs=0.0015)


def test_cancel_drops_pending_and_releases_sounding(sched):
    s, out, clock, until = sched
    now = clock()
    s.play(60, 90, now, 0.2)
    s.play(62, 90, now + 0.1, 0.2)
    until(now + 0.03)
    assert s.busy()
    s.cancel()
    until(now + 0.3)
    assert [m.note for _, m in out.messages if m.type == "note_on"] == [60]
    assert not out.sounding() and not s.busy()


def test_overlapping_same_pitch_is_released_first(sched):
    s, out, clock, until = sched
    now = clock()
    s.play(60, 90, now, 0.2)
    s.play(60, 80, now + 0.05, 0.05)
    until(now + 0.35)
    kinds = [(m.type, m.velocity) for _, m in out.messages]
    assert kinds == [("note_on", 90), ("note_off", 0), ("note_on", 80), ("note_off", 0)]


def test_late_notes_are_dropped_not_bunched():
    clock = FakeClock()
    out = Collector(clock)
    s = Scheduler(out, clock=clock, thread=False)
    s.play(60, 90, clock() - 0.5, 0.1)
    s._dispatch(s._heap.pop(0), lateness=0.5)  # what the thread does with a note found 0.5 s late
    assert s.dropped_late == 1 and out.messages == []
    s.close()


def test_panic_lifts_the_pedal_then_sends_all_notes_off_and_all_sound_off(sched):
    s, out, clock, until = sched
    s.play(60, 90, clock(), 0.2, channel=3)
    until(clock() + 0.02)
    s.panic()
    controls = [(m.channel, m.control, m.value) for _, m in out.messages if m.type == "control_change"]
    assert controls == [(3, 64, 0), (3, 123, 0), (3, 120, 0)] and not out.sounding()


def test_a_cancel_lifts_the_machines_pedal_and_drops_its_pedal_changes_to_come(sched):
    s, out, clock, until = sched
    now = clock()
    s.pedal(True, now, channel=2)
    s.play(60, 90, now, 1.0, channel=2)
    s.pedal(False, now + 0.5, channel=2)  # a bar line's change, still to come
    s.pedal(True, now + 0.55, channel=2)
    until(now + 0.1)
    assert [(m.control, m.value) for _, m in out.messages if m.type == "control_change"] == [(64, 127)]
    s.cancel()
    until(now + 2)
    pedal = [m.value for _, m in out.messages if m.type == "control_change"]
    releases = [i for i, (_, m) in enumerate(out.messages) if m.type == "note_off"]
    lift = next(i for i, (_, m) in enumerate(out.messages) if m.type == "control_change" and m.value == 0)
    assert pedal == [127, 0] and lift < releases[0] and not out.sounding()


def test_a_failing_port_does_not_stop_the_scheduler():
    calls = []

    def flaky(msg):
        calls.append(msg)
        if len(calls) == 1:
            raise OSError("port vanished")

    clock = FakeClock()
    s = Scheduler(flaky, clock=clock, thread=False)
    s.play(60, 90, clock(), 0.02)
    s.play(62, 90, clock() + 0.05, 0.02)
    clock.now += 0.15
    s.run_until(clock.now)
    s.close()
    assert s.errors == 1 and [m.note for m in calls if m.type == "note_on"] == [60, 62]


def test_the_sending_thread_sends_and_releases():
    """The real thread on the real clock: each note is played and released, or (on a machine busy
    enough to wake the thread more than `late` after it was due) dropped whole, never struck and
    left sounding. The notes are due 0.2 s on, so on most machines both are played."""
    got = []
    s = Scheduler(got.append, max_note=0.05)
    now = time.monotonic()
    s.play(60, 90, now + 0.2, 0.02)
    s.play(64, 90, now + 0.21, 10.0)  # cut at max-note
    deadline = time.monotonic() + 10.0
    while len(got) + 2 * s.dropped_late < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    s.close()
    played = [m.note for m in got if m.type == "note_on"]
    assert len(played) + s.dropped_late == 2 and set(played) <= {60, 64}
    assert played == sorted(played)
    assert not still_sounding(got)


def test_a_voice_stops_alone_on_its_own_channel():
    """Two parts on channels 0 and 1: cancelling channel 1 releases and drops only its notes."""
    from clocks import FakeClock

    sent, clock = [], FakeClock(0.0)
    s = Scheduler(sent.append, clock=clock, thread=False)
    s.play(60, 90, 0.0, 2.0, channel=0)
    s.play(64, 90, 0.0, 2.0, channel=1)
    s.play(67, 90, 1.0, 1.0, channel=1)  # still to come
    s.play(72, 90, 1.0, 1.0, channel=0)
    s.pedal(True, 0.0, channel=1)
    s.run_until(0.5)
    s.cancel((1,))
    assert s.busy((0,)) and not s.busy((1,))
    s.run_until(5.0)
    ons = [(m.channel, m.note) for m in sent if m.type == "note_on" and m.velocity]
    assert ons == [(0, 60), (1, 64), (0, 72)]
    assert (1, 64) not in s.sounding() and any(m.type == "control_change" and m.channel == 1 and m.value == 0
                                              for m in sent)
    s.close()
