"""The engine's modes and tempo without ports: lengths in time, grids, continuous play, re-priming, thru.

Every test here runs on a clock it moves itself, with the scheduler sending exactly on time
(Scheduler(thread=False).run_until): nothing depends on how busy the machine is."""
import mido
import numpy as np
import pytest
from clocks import FakeClock, drive
from segue.daemon.formats.notes import still_sounding
from segue.daemon.formats.units import Span
from segue.daemon.live.engine import Engine, JamConfig
from segue.daemon.live.listener import MACHINE
from segue.daemon.live.policy import CallAndResponse, Continuous
from segue.daemon.live.scheduler import Scheduler
from segue.daemon.models.continuation import NoteDraw
from segue.daemon.models.event import EventModel
from segue.daemon.models.sampling import GumbelNoise, Sampling


def note(pitch, velocity=90, channel=0):
    return mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)


@pytest.fixture
def make(small_model):
    made = []

    def build(policy=None, trace=None, **config):
        sent, sent_times = [], []
        clock = FakeClock()
        sched = Scheduler(sent.append, max_note=config.get("max_note", 4.0), clock=clock, thread=False,
                          trace=lambda due, at, msg: sent_times.append((due, msg.note)))
        answers = []
        eng = Engine(EventModel(small_model), sched, policy or CallAndResponse(0.1), JamConfig(seed=0, **config),
                     trace=lambda *a: answers.append(a), clock=clock)
        made.append(sched)
        return eng, sent, sent_times, answers

    yield build
    for sched in made:
        sched.close()


def phrase(eng, start, pitches=(60, 62, 64, 65), step=0.1):
    for i, pitch in enumerate(pitches):
        eng.hear(start + i * step, note(pitch))
        eng.hear(start + i * step + step / 2, note(pitch, 0))
    return start + len(pitches) * step


def test_an_answer_in_seconds_ends_in_time(make):
    eng, sent, _, answers = make(length="0.6s", max_note=1.0)
    now = eng.clock()
    phrase(eng, now - 1.0)
    eng.voice("answer").answer(now)
    (due, start, finish), = answers
    assert start <= finish <= start + 0.6 + 1e-6
    eng.scheduler.run_until(finish + 0.05)
    assert any(m.type == "note_on" for m in sent) and not still_sounding(sent)


def test_answers_start_on_the_internal_grid(make):
    eng, _, _, answers = make(bpm=150, grid=2.0)  # a grid line every 0.8 s from the session's start
    eng.clock.now = now = 100.37
    phrase(eng, now - 1.0)
    eng.voice("answer").answer(now)
    start = answers[0][1]
    lines = (start - eng.timeline.tempo.internal.origin) / 0.8
    assert lines == pytest.approx(round(lines), abs=1e-6) and now <= start < now + 0.8 + 0.01


def test_silence_in_beats_follows_the_tempo(make):
    policy = CallAndResponse(silence=Span(2, "beats"))
    for bpm, wait in ((240, 0.5), (60, 2.0)):
        eng, *_ = make(policy=policy, bpm=bpm)
        last = phrase(eng, 100.0) - 0.05
        assert policy.due(eng) == pytest.approx(last + wait)


def test_barge_in_forgets_what_was_not_played(make):
    eng, sent, sent_times, _ = make(length=60, max_note=0.3)
    now = eng.clock()
    phrase(eng, now - 1.0)
    eng.voice("answer").answer(now)
    eng.clock.now = cut = now + 0.4
    eng.scheduler.run_until(cut)
    eng.hear(cut, note(70))  # the player comes back: barge-in
    machine_ons = [(round(n.time, 6), n.pitch) for n in eng.listener.window if n.channel == MACHINE and n.velocity]
    played = [(round(due, 6), p) for due, p in sent_times]
    assert machine_ons == played and len(played) < 30  # remembered exactly what went out
    assert eng.listener.window[-1].pitch == 70 and eng.context.reprimes == 1
    fresh = eng.context.model.stream()  # the state is the window's, not the sampled answer's
    expected = fresh.prime(eng.context.codec.encode(list(eng.listener.window)))
    assert np.allclose(eng.context.logits, expected, atol=1e-5)


def test_reload_primes_the_new_model_from_the_window(make, small_model):
    eng, *_ = make()
    phrase(eng, eng.clock() - 1.0)
    other = EventModel(small_model)
    eng.reload(other)
    assert eng.context.model is other and eng.context.reprimes == 1
    assert np.allclose(eng.context.logits, other.stream().prime(eng.context.codec.encode(list(eng.listener.window))), atol=1e-5)


def test_continuous_plays_along_and_rests_after_the_tail(make):
    eng, sent, sent_times, _ = make(policy=Continuous(), length="0.4s", max_note=0.5)
    start = eng.clock()
    for pitch in (60, 64, 67, 72, 67, 64, 60, 64, 67, 72):
        eng.on_message(note(pitch))
        drive(eng, eng.clock.now + 0.05)
        eng.on_message(note(pitch, 0))
        drive(eng, eng.clock.now + 0.05)
    last = eng.clock()
    drive(eng, last + 1.2)  # the 0.4 s tail, then every note's max-note
    during = [due for due, _ in sent_times if start <= due <= last]
    assert during, "nothing played while the player played"
    assert all(due <= last + 0.4 + 0.1 for due, _ in sent_times), "it went on past the tail"
    assert not still_sounding(sent) and not eng.answering


def test_folk_plays_along_as_one_line():
    """An interval model playing along a tune: one of its notes at a time. Before, it took the
    player's releases for its own and its notes piled up to --max-note (a fifth of them did)."""
    clock, sent = FakeClock(), []
    sched = Scheduler(sent.append, max_note=4.0, clock=clock, thread=False)
    eng = Engine(EventModel("folk"), sched, Continuous(), JamConfig(seed=0, length="2s", bpm=120), clock=clock)
    tune = (67, 69, 71, 72, 74, 72, 71, 69, 67, 67, 69, 71, 72, 74, 76, 74)
    for pitch in tune * 2:
        eng.on_message(note(pitch))
        drive(eng, clock.now + 0.2)
        eng.on_message(note(pitch, 0))
        drive(eng, clock.now + 0.05)
    drive(eng, clock.now + 7.0)
    sounding, most, onsets = {}, 0, 0
    for msg in sent:
        if msg.type == "note_on" and msg.velocity:
            sounding[msg.note], onsets = clock.now, onsets + 1
        elif msg.type in ("note_on", "note_off"):
            sounding.pop(msg.note, None)
        most = max(most, len(sounding))
    sched.close()
    assert onsets > 10 and most == 1 and not still_sounding(sent)


def test_strikes_avoid_the_pitches_the_player_holds(small_model):
    model = EventModel(small_model)
    stream, noise, sampling = model.stream(), GumbelNoise(3), Sampling(temperature=2.0)
    logits = stream.prime(np.array([[36, 20, 5]]))
    held = frozenset(range(model.codec.low, model.codec.low + 40))
    draw = NoteDraw(model, sampling, noise)
    draw.hold(held)
    for _ in range(300):
        pitch, vel = draw.note(logits, model.codec.low)
        assert vel > 0 and pitch + model.codec.low not in held


def test_thru_passes_the_player_and_releases_at_the_end(small_model):
    machine, thru = [], []
    sched = Scheduler(machine.append, send_thru=thru.append)
    eng = Engine(EventModel(small_model), sched, CallAndResponse(0.1), JamConfig(thru=True, listen=(3,)))
    eng.hear(0.0, note(60, channel=3))
    eng.hear(0.0, note(62, channel=5))  # not listened to: not passed either
    eng.hear(0.0, mido.Message("note_off", note=61, channel=3))  # never sounded: not passed
    sched.cancel()  # a barge-in releases the machine's notes, not the player's
    assert [(m.type, m.note) for m in thru] == [("note_on", 60)]
    sched.close()
    assert [(m.type, m.note, m.channel) for m in thru][1] == ("note_off", 60, 3) and not still_sounding(thru)
    assert not machine or all(m.type == "control_change" for m in machine)


def test_status_line_says_what_it_does(make):
    eng, *_ = make(bpm=90)
    assert eng.status().startswith("listening | call | 90.0 bpm (--bpm) | heard 0 | answers 0")


def test_continuous_play_ends_after_a_stuck_key_is_forgotten():
    """The replay whose last note-off never came: segue plays along while the key is held, forgets
    it after the hold limit, plays its tail and rests, so a --replay session ends."""
    clock, sent = FakeClock(), []
    sched = Scheduler(sent.append, max_note=4.0, clock=clock, thread=False)
    eng = Engine(EventModel("folk"), sched, Continuous(), JamConfig(seed=0, length=16), clock=clock)
    tune = (67, 69, 71, 72, 74, 72, 71, 69) * 2
    for i, pitch in enumerate(tune):
        eng.on_message(note(pitch))
        drive(eng, clock.now + 0.2)
        if i < len(tune) - 1:  # the last key's note-off is lost
            eng.on_message(note(pitch, 0))
        drive(eng, clock.now + 0.05)
    last = clock.now
    drive(eng, last + 4.0, step=0.01)
    assert eng.answering and eng.player_held == 1  # the held key keeps the part going
    drive(eng, last + eng.listener.hold_limit + 8.0, step=0.01)
    assert len(eng.listener.held) == 0 and not eng.answering and not still_sounding(sent)
    assert eng.listener.forgotten == 1
    played = [m for m in sent if m.type == "note_on" and m.velocity]
    drive(eng, clock.now + 20.0, step=0.05)
    assert [m for m in sent if m.type == "note_on" and m.velocity] == played, "it kept playing after its tail"
    sched.close()


def test_a_part_with_nothing_to_draw_from_ends_instead_of_hanging(make):
    eng, sent, _, _ = make(policy=Continuous(), length=8, max_note=0.5)
    phrase(eng, eng.clock() - 0.5)
    along = eng.voice("along")
    along.accompany(eng.clock())
    assert along.playing
    eng.context.logits = None  # e.g. a re-priming from an empty window
    assert along.accompany(eng.clock()) is None and along.line is None
    drive(eng, eng.clock() + 1.0)
    assert not eng.answering and not still_sounding(sent)
