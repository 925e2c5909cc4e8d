"""The engine without ports: what it hears, what it ignores, how it answers and yields."""
import time
from pathlib import Path

import mido
import numpy as np
import pytest
from clocks import FakeClock, drive
from segue.daemon.formats.notes import still_sounding
from segue.daemon.live.engine import QUEUE_LIMIT, Engine, JamConfig
from segue.daemon.live.flood import AFTER_FLOOD_HOLD
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
    assert eng.listener.ignored == 1  # the sysex; the clock went to the tempo follower
    assert eng.listener.heard == 3  # note messages; of them only note 60 is used
    assert eng.heard_since_answer == 1 and eng.player_held == 1


def test_a_flood_beyond_the_queue_limit_drops_the_oldest(engine):
    eng, _ = engine
    for i in range(QUEUE_LIMIT + 500):
        eng.on_message(mido.Message("songpos", pos=i % 16384))
    assert eng.dropped == 500 and eng.arrived == QUEUE_LIMIT + 500
    waiting = eng.inbox.messages()
    assert len(waiting) == QUEUE_LIMIT and waiting[0][1].pos == 500  # the newest are kept


def phrase(eng, clock, pitches, step=0.1):
    for p in pitches:
        eng.take([(clock.now, note(p))])
        clock.now += step
        eng.take([(clock.now, note(p, 0))])


def struck(eng, at, pitch, velocity, held):
    """The player strikes `pitch` at `at` and lets it go `held` seconds later, the engine driven on
    its clock all the while."""
    drive(eng, until=at)
    eng.take([(eng.clock.now, note(pitch, velocity))])
    drive(eng, until=at + held)
    eng.take([(eng.clock.now, note(pitch, 0))])


def test_a_backlog_is_heard_but_not_stepped_and_never_answered(clocked):
    eng, clock = clocked
    # a fast player (50 note messages a second; a thousand would be a flood: live/flood.py)
    backlog = [(clock.now + i * 0.02, note(60 + i // 2 % 12, 90 if i % 2 == 0 else 0)) for i in range(100)]
    clock.now += 2.5  # the engine wakes half a second behind the player's last message
    eng.take(backlog)
    assert eng.shed == 100 and eng.listener.heard == 100 and eng.context.reprimes == 1
    assert eng.player_held == 0 and len(eng.listener.window) > 0
    # Silence counts from the last message's arrival: its answer is due 0.5 s after it, not at once.
    assert eng.policy.due(eng) == pytest.approx(backlog[-1][0] + 0.5)
    eng.take([(clock.now, note(70))])  # on time: stepped
    assert eng.shed == 100 and eng.listener.heard == 101


def test_a_lost_note_off_does_not_silence_the_answer(clocked):
    eng, clock = clocked
    eng.take([(clock.now, note(50))])  # its note-off never comes
    clock.now += 1.0
    assert eng.policy.due(eng) is None  # a held note: maybe the phrase's long last note
    phrase(eng, clock, [60, 62, 64])  # a whole note begins and ends after it: 50 is not the phrase any more
    assert eng.player_held == 0 and eng.listener.held.pitches() == {eng.context.codec.fold_pitch(50)}  # still held, not waited for
    assert eng.policy.due(eng) == pytest.approx(clock.now + 0.5)


def test_the_phrase_s_last_held_notes_keep_it_waiting_until_the_hold_limit(clocked):
    eng, clock = clocked
    phrase(eng, clock, [60, 62])
    eng.take([(clock.now, note(64)), (clock.now, note(67))])  # a held chord, legato from the last note
    assert eng.player_held == 2 and eng.policy.due(eng) is None
    clock.now += eng.listener.hold_limit - 0.01
    eng.listener.expire(clock.now)
    assert eng.player_held == 2
    clock.now += 0.02
    eng.listener.expire(clock.now)
    assert eng.player_held == 0 and eng.listener.forgotten == 2 and eng.policy.due(eng) is not None


@pytest.mark.parametrize("clear", [mido.Message("control_change", control=123), mido.Message("control_change", control=120),
                                   mido.Message("reset")])
def test_all_notes_off_and_reset_from_the_player_clear_held_keys(clocked, clear):
    eng, clock = clocked
    eng.take([(clock.now, note(64)), (clock.now, note(67, channel=1))])
    eng.take([(clock.now, clear)])
    assert len(eng.listener.held) == (1 if clear.type == "control_change" else 0)  # CC 123/120: its own channel only
    assert eng.player_held == len(eng.listener.held)


def test_a_key_struck_again_on_its_channel_is_a_new_note(clocked):
    eng, clock = clocked
    eng.take([(clock.now, note(64))])
    stepped = eng.heard_since_answer
    eng.take([(clock.now + 0.1, note(64))])  # the release in between was lost
    assert eng.heard_since_answer == stepped + 1
    eng.take([(clock.now + 0.2, note(64, channel=3))])  # the same key on another channel: nothing new
    assert eng.heard_since_answer == stepped + 1


def test_answers_after_silence_then_yields_to_the_player(clocked):
    eng, clock = clocked
    for pitch in (60, 62, 64):
        eng.on_message(note(pitch))
        eng.on_message(note(pitch, 0))
    last = clock.now
    drive(eng, last + 0.49)
    assert eng.answers == 0  # the silence is 0.5 s
    drive(eng, last + 0.6)
    assert eng.answers == 1 and any(m.type == "note_on" for m in eng.sent)
    eng.on_message(note(67))  # barge-in
    drive(eng, clock.now + 0.01)
    assert not eng.scheduler.busy() and not still_sounding(eng.sent)


def test_config_validates_itself():
    with pytest.raises(ValueError, match="length"):
        JamConfig(length=0)
    with pytest.raises(ValueError, match="--listen must be from 0 to 15, not 16"):
        JamConfig(listen=(16,))
    with pytest.raises(ValueError, match="--channel must be from 0 to 15"):
        JamConfig(channel=-1)


def test_an_error_while_answering_stops_and_waits_for_the_player(clocked, monkeypatch):
    """A failing answer is logged, what sounds is released, and it is not retried in a loop."""
    eng, clock = clocked
    sent = eng.sent
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("boom")

    monkeypatch.setattr("segue.daemon.live.voices.sample_events", broken)
    eng.scheduler.play(70, 90, clock.now + 0.02, 5.0)
    drive(eng, clock.now + 0.1)
    assert ("note_on", 70) in [(m.type, m.note) for m in sent]
    for pitch in (60, 62):
        eng.on_message(note(pitch))
        eng.on_message(note(pitch, 0))
    drive(eng, clock.now + 2.0)
    assert calls == [1] and eng.errors == 1
    assert ("note_off", 70) in [(m.type, m.note) for m in sent]


def pedal(value, channel=0):
    return mido.Message("control_change", channel=channel, control=64, value=value)


def test_keys_released_under_the_pedal_sound_for_the_model_until_it_lifts(clocked):
    eng, clock = clocked
    steps = []
    advance = eng.context.stream.advance
    eng.context.stream.advance = lambda *event: steps.append(event) or advance(*event)
    eng.take([(clock.now, pedal(127))])
    phrase(eng, clock, [60, 64])  # struck and released with the pedal down
    folded = {eng.context.codec.fold_pitch(p) for p in (60, 64)}
    assert len(steps) == 2 and eng.listener.held.pitches() == folded  # two strikes, no releases: they ring
    # not waited for; the silence counts from the last key let go, though it is no event for the model
    assert eng.player_held == 0 and eng.policy.due(eng) == pytest.approx(clock.now + 0.5)
    before = (eng.heard_since_answer, eng.last_player)
    clock.now += 0.2
    eng.take([(clock.now, pedal(0))])
    assert len(steps) == 4 and eng.listener.held.pitches() == frozenset()  # the lift: both releases stepped
    assert [n.velocity for n in list(eng.listener.window)[-2:]] == [0, 0]
    assert (eng.heard_since_answer, eng.last_player) == before  # a pedal change is not playing


def test_a_pedal_lift_does_not_stop_an_answer(clocked):
    eng, clock = clocked
    eng.take([(clock.now, pedal(100))])
    phrase(eng, clock, [60, 62, 64])
    drive(eng, until=clock.now + 0.6)  # the silence passes: it answers
    assert eng.answers == 1 and eng.answering
    eng.take([(clock.now, pedal(0))])
    assert eng.answering  # no barge-in


def test_pedal_plays_answers_with_the_pedal_re_pedalled_at_each_bar_line(small_model):
    clock, sent = FakeClock(), []
    sched = Scheduler(sent.append, max_note=2.0, clock=clock, thread=False)
    eng = Engine(EventModel(small_model), sched, CallAndResponse(silence=0.5),
                 JamConfig(length="4bars", seed=0, pedal=True, bpm=120), clock=clock)
    phrase(eng, clock, [60, 62, 64, 65])
    drive(eng, until=clock.now + 0.6)
    assert eng.answers == 1
    sched.run_until(clock.now + 30)
    out = [m for m in sent if m.type in ("note_on", "note_off", "control_change")]
    changes = [m.value for m in out if m.type == "control_change" and m.control == 64]
    first_note = next(i for i, m in enumerate(out) if m.type == "note_on")
    assert out[first_note - 1].type == "control_change" and out[first_note - 1].value == 127  # down before it
    assert changes[0] == 127 and changes[-1] == 0 and changes.count(0) == changes.count(127) >= 2  # bar lines
    assert out[-1].type == "control_change" and out[-1].value == 0  # lifted after the last release
    sched.close()


def test_a_barge_in_lifts_the_machines_pedal(small_model):
    clock, sent = FakeClock(), []
    sched = Scheduler(sent.append, max_note=2.0, clock=clock, thread=False)
    eng = Engine(EventModel(small_model), sched, CallAndResponse(silence=0.5),
                 JamConfig(length="4bars", seed=0, pedal=True, bpm=120), clock=clock)
    phrase(eng, clock, [60, 62, 64])
    drive(eng, until=clock.now + 0.6)
    sched.run_until(clock.now + 0.3)
    assert 127 in [m.value for m in sent if m.type == "control_change"]
    eng.take([(clock.now, note(70))])  # the player comes back
    lift = [i for i, m in enumerate(sent) if m.type == "control_change" and m.value == 0]
    assert lift and not sched.sounding()
    sched.run_until(clock.now + 30)  # the cancelled answer's bar-line changes never go out
    assert [m.value for m in sent[lift[0]:] if m.type == "control_change"] == [0]
    sched.close()


def test_a_flood_is_not_answered_and_the_phrase_after_it_is_despite_lost_note_offs(clocked):
    """20,000 note messages a second, half their note-offs lost (as JACK loses them), then a phrase
    whose last note-off is lost too: before, nothing answered until the 8 s hold limit; now the
    flood's keys are forgotten when it ends and the phrase is answered within its silence + 0.5 s."""
    eng, clock = clocked
    start = clock.now
    for i in range(4000):  # 0.2 s of flood, stepped by the engine as it comes
        clock.now = start + i / 20_000
        onset = i % 2 == 0
        if onset or i % 4 == 1:  # every other note-off lost
            eng.take([(clock.now, note(36 + (i // 2) % 48, 80 if onset else 0))])
        if i % 100 == 0:
            drive(eng, clock.now + 0.001)
    assert not eng.sent and eng.listener.flood.on and eng.heard_since_answer == 0
    drive(eng, clock.now + 0.3)  # the flood is over: its held keys are forgotten, nothing answers it
    assert not eng.listener.flood.on and len(eng.listener.held) == 0 and not eng.sent
    drive(eng, clock.now + 2.0)
    assert not eng.sent
    end = phrase(eng, clock, [60, 62, 64])
    eng.take([(clock.now, note(65))])  # the last key's note-off is lost
    end = clock.now
    drive(eng, end + 0.5 + AFTER_FLOOD_HOLD + 0.1)
    onsets = [m for m in eng.sent if m.type == "note_on" and m.velocity]
    assert onsets, "the phrase after the flood was not answered"


def test_a_fast_player_is_no_flood(clocked):
    """Two hands at 40 note messages a second for 10 s: every note is part of the phrase."""
    eng, clock = clocked
    for i in range(400):
        clock.now += 1 / 40
        eng.take([(clock.now, note(48 + i % 24, 80 if i % 2 == 0 else 0))])
        assert not eng.listener.flood.on
    assert eng.listener.flood.floods == 0 and eng.heard_since_answer > 0


def test_with_no_clock_an_answer_starts_on_the_beat_heard_in_the_player_s_notes(small_model):
    """A player at 90 bpm, their first beat 0.23 s after the session began (off any grid counted from
    the start), no MIDI clock and no --bpm: the answer starts on the player's next beat, and the
    status line says the tempo was heard. With --fixed-tempo it starts where it was ready."""
    beat = 60 / 90
    starts = {}
    for fixed in (False, True):
        clock, sent = FakeClock(), []
        sched = Scheduler(sent.append, max_note=2.0, clock=clock, thread=False)
        traced = []
        eng = Engine(EventModel(small_model), sched, CallAndResponse(silence=0.7),
                     JamConfig(length=4, seed=0, fixed_tempo=fixed), clock=clock,
                     trace=lambda *a: traced.append(a))
        first = clock.now + 0.23
        rhythm = [0, 1, 1.5, 2, 3] * 4  # quarters and eighths, louder on the beat
        times = [first + (bar * 4 + b) * beat for bar in range(4) for b in rhythm[:5]]
        for i, t in enumerate(times):
            on_beat = float(rhythm[i % 5]).is_integer()
            struck(eng, t, 60 + i % 5 * 2, 100 if on_beat else 60, 0.15)
        if not fixed:
            assert eng.timeline.tracked and "heard" in eng.status()
            assert 60 / eng.timeline.beat_seconds == pytest.approx(90, rel=0.03)
        drive(eng, until=times[-1] + 2.5)
        assert eng.answers == 1
        assert [m for m in sent if m.type == "note_on" and m.velocity]
        starts[fixed] = traced[0][1]
    offset = (starts[False] - first) / beat
    assert abs(offset - round(offset)) * beat < 0.03, f"the answer starts {offset:.2f} beats after the player's first"
    offset = (starts[True] - first) / beat
    assert abs(offset - round(offset)) * beat > 0.03  # ready 0.7 s after the last note: not on the beat


def test_the_player_s_subdivision_is_the_grid_that_explains_their_notes():
    from segue.daemon.live.context import Subdivision

    def heard(phases, width=0.05):
        grid = Subdivision()
        for p in phases:
            grid.hear(p, width)
        return grid.parts()

    assert heard([0, 0.5] * 3) == 2
    assert heard([0, 0.98] * 4) == 1  # a little early on the beat is on the beat
    assert heard([0, 1 / 3, 2 / 3] * 4) == 3
    assert heard([0, 0.25, 0.5, 0.75] * 4) == 4
    assert heard([0, 0.25, 1 / 3, 0.5] * 4) == 12
    assert heard([0, 0.5, 0]) is None  # too few notes to say
    # a jig's eighths with a sloppy player's timing (0.06 of a beat): some land nearer a sixteenth
    # or a half than their third, and they are still thirds
    rng = np.random.default_rng(3)
    jig = (np.array([0, 1 / 3, 2 / 3] * 8) + rng.normal(0, 0.06, 24)) % 1.0
    assert sum(min(abs(p - 0.25), abs(p - 0.5), abs(p - 0.75)) < min(abs(p - 1 / 3), abs(p - 2 / 3)) for p in jig) >= 3
    assert heard(jig, width=0.07) == 3
    # once the player changes to straight eighths, the grid follows
    assert heard(list(jig) + [0, 0.5] * 12, width=0.07) == 2


def test_an_answer_falls_on_the_grid_the_player_plays_on():
    """No clock: a player of quarters and eighths at 90 bpm, 15 ms of jitter. The engine hears the
    beat, hears the notes on it, and every note of the folk model's answer falls on the player's
    eighths (the model's sixteenths and triplets are not drawn)."""
    from segue.daemon.live.policy import CallAndResponse
    from segue.daemon.models.event import EventModel

    folk = Path(__file__).resolve().parents[1] / "daemon" / "models" / "folk.onnx"
    rng = np.random.default_rng(4)
    clock, sent = FakeClock(), []
    sched = Scheduler(lambda m: sent.append((clock.now, m)), max_note=2.0, clock=clock, thread=False)
    eng = Engine(EventModel(folk), sched, CallAndResponse(silence=1.0), JamConfig(length=12, seed=2), clock=clock)
    beat, first = 60 / 90, clock.now + 0.31
    rhythm = [0, 1, 1.5, 2, 2.5, 3, 3.5]
    times = [first + (bar * 4 + b) * beat + rng.normal(0, 0.015) for bar in range(4) for b in rhythm]
    for i, t in enumerate(times):
        drive(eng, until=t)
        eng.take([(clock.now, note(62 + i % 5 * 2, 100 if rhythm[i % 7] in (0, 2) else 70))])
        drive(eng, until=t + 0.2)
        eng.take([(clock.now, note(62 + i % 5 * 2, 0))])
    drive(eng, until=times[-1] + 8.0)
    assert eng.context.subdivision.parts() == 2, "the player plays quarters and eighths"
    answer = [t for t, m in sent if m.type == "note_on" and m.velocity and t > times[-1]]
    assert len(answer) >= 4
    eighths = (np.array(answer) - first) / (beat / 2)
    assert np.max(np.abs(eighths - np.round(eighths))) * beat / 2 < 0.04


def test_the_grid_keeps_events_on_it_and_never_leaves_only_a_chord():
    from segue.daemon.formats.codec import EventCodec
    from segue.daemon.models.cursor import Cursor

    codec = EventCodec.beats()
    cursor = Cursor(codec, bar_beats=4.0)
    cursor.beats, cursor.grid = 1.5, 2
    allowed = codec.time_array[cursor.on_grid()]
    assert set(np.round((1.5 + allowed) * 2, 6)) <= set(np.arange(0, 40.0))  # halves of the beat
    assert {0.0, 0.5, 1.0} <= set(allowed)
    cursor.grid = None
    assert cursor.on_grid() is None and cursor.on_grid(model_grid=12) is not None
    cursor.bar_beats = None
    assert cursor.on_grid(model_grid=12) is None  # no bar, no place on a grid
    cursor.bar_beats, cursor.beats, cursor.grid = 4.0, 0.01, 2  # off every grid line a gap could reach
    assert cursor.on_grid() is None  # (a grid allowing only a gap of 0: a chord without end)


def test_a_drawn_gap_moves_to_the_nearest_on_the_grid_never_to_or_from_a_chord():
    from segue.daemon.formats.codec import EventCodec
    from segue.daemon.models.cursor import Cursor

    codec = EventCodec.beats()
    values = list(np.round(codec.time_array, 6))
    cursor = Cursor(codec, bar_beats=4.0)
    cursor.beats, cursor.grid = 1.0, 2
    assert values[cursor.snap_gap(values.index(0.458333))] == 0.5  # 11/24 of a beat: the half
    assert values[cursor.snap_gap(values.index(0.041667))] == 0.5  # a 24th: not a chord
    assert cursor.snap_gap(0) == 0  # a chord stays one
    assert values[cursor.snap_gap(values.index(1.0))] == 1.0


@pytest.mark.parametrize("mode", ["call", "continuous"])
def test_with_no_clock_segue_s_part_keeps_the_player_s_beat_after_they_stop(small_model, mode):
    """The player plays 4 bars at 90 bpm and stops; segue answers after 8 beats of their silence
    (call), or goes on playing along for 16 beats (continuous). The beat they were heard in stays
    in force, however long the silence before the answer and however long the part goes on after
    their last note: the answer starts on their beat 8 of their beats after their last note, and
    every note segue plays after it is placed in their tempo. It lapses 4 beats after segue's last
    note (SILENCE), as after the player's own."""
    from segue.daemon.live.policy import Continuous
    from segue.daemon.models.beat import SILENCE

    beat = 60 / 90
    clock, sent, traced = FakeClock(), [], []
    sched = Scheduler(lambda m: sent.append((clock.now, m)), max_note=2.0, clock=clock, thread=False)
    policy = CallAndResponse(silence="8beats") if mode == "call" else Continuous()
    eng = Engine(EventModel(small_model), sched, policy, JamConfig(length="16beats", seed=0), clock=clock,
                 trace=lambda *a: traced.append(a))
    first = clock.now + 0.23
    rhythm = [0, 1, 1.5, 2, 3]  # quarters and eighths, louder on the beat
    times = [first + (bar * 4 + b) * beat for bar in range(4) for b in rhythm]
    for i, t in enumerate(times):
        struck(eng, t, 60 + i % 5 * 2, 100 if float(rhythm[i % 5]).is_integer() else 60, 0.15)
    last = times[-1] + 0.15
    assert eng.timeline.tracked and 60 / eng.timeline.beat_seconds == pytest.approx(90, rel=0.03)
    heard, tempi = eng.timeline.beat_seconds, []
    while clock.now < last + 40 * beat:
        drive(eng, until=clock.now + 0.05)
        if eng.answering:
            tempi.append((eng.timeline.tracked, eng.timeline.beat_seconds))
    ons = [t for t, m in sent if m.type == "note_on" and m.velocity and t > last]
    assert ons and tempi, "segue played nothing after the player stopped"
    assert all(tracked and b == pytest.approx(heard, rel=0.01) for tracked, b in tempi), \
        "segue's part fell off the player's beat after they stopped"
    if mode == "call":
        start = traced[0][1]
        offset = (start - first) / beat
        assert abs(offset - round(offset)) * beat < 0.03, f"the answer starts {offset:.2f} beats after the first"
        assert start - last >= 8 * heard - 0.01  # 8 of the player's beats, not of a default 120 bpm
    end = max(t for t, m in sent if m.type in ("note_on", "note_off"))
    drive(eng, until=end + (SILENCE + 1) * heard)
    assert not eng.timeline.tracked, "the beat outlived the player and segue by more than SILENCE beats"


@pytest.mark.parametrize("lost", [False, True])
def test_a_phrase_ending_on_a_held_note_keeps_its_beat_and_the_answer_starts_on_it(small_model, lost):
    """A phrase at 132 bpm that ends on a note held for 6 beats (more than SILENCE): the heard beat
    stays in force while the note sounds, and the answer after it starts on the player's beat (not
    at a default 120 bpm). A note-off that never comes holds it no longer than the listener's keys
    (HOLD_LIMIT), and the beat lapses SILENCE beats after the answer."""
    from segue.daemon.live.keys import HOLD_LIMIT
    from segue.daemon.models.beat import SILENCE

    beat = 60 / 132
    clock, sent, traced = FakeClock(), [], []
    sched = Scheduler(lambda m: sent.append((clock.now, m)), max_note=2.0, clock=clock, thread=False)
    eng = Engine(EventModel(small_model), sched, CallAndResponse(silence=0.6), JamConfig(length="8beats", seed=0),
                 clock=clock, trace=lambda *a: traced.append(a))
    first = clock.now + 0.31
    for i in range(32):  # eighths, louder on the beat
        struck(eng, first + i * beat / 2, 60 + i % 5 * 2, 100 if i % 2 == 0 else 60, 0.2 * beat)
    last = first + 16 * beat
    drive(eng, until=last)
    eng.take([(clock.now, note(72))])
    drive(eng, until=last + 5.5 * beat)  # the note still sounds, more than SILENCE beats after it was struck
    assert eng.timeline.tracked and not traced, "a held note was taken for a player who has stopped"
    if not lost:
        drive(eng, until=last + 6 * beat)
        eng.take([(clock.now, note(72, 0))])
    drive(eng, until=last + HOLD_LIMIT + 2.0)
    assert traced, "no answer"
    offset = (traced[0][1] - first) / beat
    assert abs(offset - round(offset)) < 0.06, f"the answer starts {offset:.2f} beats after the player's first"
    if not lost:
        assert traced[0][1] - (last + 6 * beat) < 0.6 + beat + 0.05  # after the silence, on the next beat
    while eng.answering:
        drive(eng, until=clock.now + 0.1)
    end = max(t for t, m in sent if m.type in ("note_on", "note_off"))
    drive(eng, until=end + (SILENCE + 1) * beat)
    assert not eng.timeline.tracked, "a note-off that never came kept the beat in force"
