"""MIDI clock: tempo, position, and the next grid line."""
import math

import mido
import pytest
from segue.daemon.formats.units import Span
from segue.daemon.live.clock import ClockFollower, InternalClock, Tempo


def ticked(bpm=120.0, ticks=48, start=10.0):
    follower, dt = ClockFollower(), 60.0 / bpm / 24
    follower.feed(start, mido.Message("start"))
    for i in range(ticks):
        follower.feed(start + i * dt, mido.Message("clock"))
    return follower, start + (ticks - 1) * dt


def test_tempo_from_ticks():
    follower, _ = ticked(bpm=97.0)
    assert follower.synced and follower.bpm == pytest.approx(97.0)


def test_next_beat_and_bar():
    follower, last = ticked(bpm=120.0, ticks=30)  # last tick is 29: beat 1.208 at t=last
    assert last == pytest.approx(10.0 + 29 / 48)
    assert follower.next_grid(last, 1.0) == pytest.approx(11.0)  # beat 2 starts 1.0 s after start
    assert follower.next_grid(last + 0.45, 1.0) == pytest.approx(11.5)
    assert follower.next_grid(last, 4.0) == pytest.approx(12.0)  # the next bar of 4/4


def test_stop_continue_and_song_position():
    follower, last = ticked(ticks=10)
    follower.feed(last + 0.1, mido.Message("stop"))
    assert not follower.synced
    follower.feed(last + 0.2, mido.Message("songpos", pos=16))  # bar 2 (16 sixteenths)
    follower.feed(last + 0.3, mido.Message("continue"))
    follower.feed(last + 0.3, mido.Message("clock"))
    assert follower.ticks == 96 and follower.synced


def test_no_clock_means_not_synced():
    follower = ClockFollower()
    follower.feed(0.0, mido.Message("clock"))  # ticks without a start: tempo known, position not running
    assert not follower.synced


@pytest.mark.parametrize("text, unit, value", [
    ("16", "events", 16), ("4s", "seconds", 4), ("600ms", "seconds", 0.6), ("1.5beats", "beats", 1.5),
    ("2 bars", "bars", 2), ("1bar", "bars", 1),
])
def test_spans_parse(text, unit, value):
    span = Span.parse(text)
    assert (span.unit, span.value) == (unit, pytest.approx(value))


@pytest.mark.parametrize("text, words", [
    ("fast", "not a length"), ("0", "must be > 0"), ("2.5", "must be whole"), ("-1s", "not a length"),
])
def test_bad_spans_name_the_problem(text, words):
    with pytest.raises(ValueError, match=words):
        Span.parse(text)


def test_spans_follow_the_tempo():
    assert Span.parse("2bars").seconds(0.5, beats_per_bar=3) == pytest.approx(3.0)
    assert Span.parse("3beats").seconds(0.4) == pytest.approx(1.2)
    assert Span.parse(0.6, "seconds").seconds(0.1) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="in events does not fit"):
        Span.parse("8ev", allowed=("seconds",))


def test_internal_clock_grid():
    clock = InternalClock(bpm=100, origin=5.0)  # a beat is 0.6 s
    assert clock.next_grid(5.0, 1.0) == pytest.approx(5.0)
    assert clock.next_grid(5.01, 1.0) == pytest.approx(5.6)
    assert clock.next_grid(7.0, 4.0) == pytest.approx(7.4)
    with pytest.raises(ValueError, match="bpm"):
        InternalClock(bpm=5, origin=0.0)


def test_a_clock_that_stops_ticking_goes_stale():
    now = [0.0]
    follower, dt = ClockFollower(clock=lambda: now[0]), 60.0 / 120 / 24
    follower.feed(0.0, mido.Message("start"))
    for i in range(24):
        follower.feed(i * dt, mido.Message("clock"))
    now[0] = 23 * dt + 0.99  # two beats at 120 bpm are 1 s
    assert follower.synced
    now[0] = 23 * dt + 1.01
    assert not follower.synced
    follower.feed(now[0], mido.Message("clock"))  # it ticks again
    assert follower.synced


def test_three_ticks_two_seconds_apart_are_no_tempo():
    """A 48-second beat: outside 20..400 bpm, and stale (2 s at most) in any case."""
    now = [4.0]
    follower = ClockFollower(clock=lambda: now[0])
    follower.feed(0.0, mido.Message("start"))
    for t in (0.0, 2.0, 4.0):
        follower.feed(t, mido.Message("clock"))
    assert not follower.synced


def test_an_answer_waits_for_a_grid_line_one_bar_or_two_seconds_at_most():
    from segue.daemon.live.clock import Tempo

    slow = Tempo(20.0, origin=0.0)  # 3 s a beat: the next beat may be 3 s away
    assert slow.line(0.1, 1.0) == pytest.approx(3.0)
    assert slow.next_grid(0.1, 1.0) == 0.1  # not worth waiting 2.9 s for
    assert slow.next_grid(2.0, 1.0) == pytest.approx(3.0)
    brisk = Tempo(240.0, origin=0.0)  # a bar of 4/4 is 1 s
    assert brisk.next_grid(0.1, 4.0, bar=4.0) == pytest.approx(1.0)
    assert brisk.next_grid(0.1, 8.0, bar=4.0) == pytest.approx(0.25)  # two bars away: the next beat instead
    assert Tempo(120.0, origin=0.0).next_grid(0.01, 4.0) == pytest.approx(2.0)  # a whole bar of 2 s: waited for


class FakeLink:
    """A LinkClock's interface at a fixed tempo, beat 0 at time 0 (the real one: test_jam_jack.py)."""

    peers = 2

    def __init__(self, bpm):
        self.beat_seconds = 60.0 / bpm

    def next_grid(self, now, beats):
        step = beats * self.beat_seconds
        return math.ceil(now / step - 1e-9) * step


def test_link_gives_the_tempo_and_grid_unless_midi_clock_runs():
    tempo = Tempo(90.0, origin=0.0, link=FakeLink(100.0))  # --bpm too: Link wins over it
    assert tempo.known and tempo.beat_seconds == pytest.approx(0.6)
    assert tempo.line(1.0, 1.0) == pytest.approx(1.2) and "link, 2 peers" in tempo.describe()
    tempo.feed(10.0, mido.Message("start"))
    for i in range(30):  # MIDI clock at 120 bpm: it wins
        tempo.feed(10.0 + i * 0.5 / 24, mido.Message("clock"))
    assert tempo.source == "clock" and tempo.beat_seconds == pytest.approx(0.5)


def test_a_note_is_heard_on_the_nearest_sixteenth_or_triplet_of_a_shared_beat_only():
    """MIDI clock at 120 bpm: a note 20 ms after an eighth line is heard on it, one near a triplet
    on the triplet. A --bpm grid counted from segue's start is not the player's: nothing moves."""
    from segue.daemon.live.clock import Tempo

    now = [10.0]
    tempo = Tempo(None, 0.0, clock=lambda: now[0])
    tempo.feed(10.0, mido.Message("start"))
    for i in range(25):
        tempo.feed(10.0 + i * 0.5 / 24, mido.Message("clock"))
    now[0] = 10.5
    assert tempo.snap(10.5 + 0.25 + 0.02) == pytest.approx(10.75)
    assert tempo.snap(10.5 + 0.5 / 3 + 0.01) == pytest.approx(10.5 + 0.5 / 3)
    steady = Tempo(120, 0.0, clock=lambda: now[0])
    assert steady.snap(10.27) == 10.27
    assert Tempo(None, 0.0, clock=lambda: now[0]).snap(10.27) == 10.27
