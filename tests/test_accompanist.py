"""The accompanist (pop): its model file, a part played beat by beat, a melody file accompanied, the CLI."""
from __future__ import annotations

import mido
import numpy as np
import pytest
from segue.daemon.cli import main
from segue.daemon.formats.chords import chord_class, melody_features, pitch_classes
from segue.daemon.models import accompanist as acc
from segue.daemon.models.file import ModelFileError

C_MAJOR = {0, 2, 4, 5, 7, 9, 11}


@pytest.fixture(scope="module")
def pop():
    return acc.AccompanistModel("pop")


def melody_file(path, pitches, beats_each=1.0, bpm=100, hold=0.9):
    """A one-track melody, one note per `beats_each` beats, in 4/4."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
                            mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    step = int(480 * beats_each)
    for p in pitches:
        track.append(mido.Message("note_on", note=p, velocity=90, time=0))
        track.append(mido.Message("note_off", note=p, velocity=0, time=int(step * hold)))
        track.append(mido.MetaMessage("marker", text="", time=step - int(step * hold)))
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(path)
    return path


def test_the_shipped_file_reads_and_steps(pop):
    assert pop.patterns and abs(pop.weights.sum() - 1) < 1e-9
    logits, h = pop.step(np.zeros(14, np.float32), 0, pop.initial_state())
    assert logits.shape == (181,) and h.shape == pop.initial_state().shape
    assert any("accompanist" in line for line in pop.about())


def test_a_model_of_another_kind_is_refused_in_one_sentence():
    with pytest.raises(ModelFileError, match="an event model, but this needs an accompanist"):
        acc.AccompanistModel("folk")


def test_the_chord_is_the_one_whose_tones_are_likeliest_right_and_never_no_chord(pop):
    logits = np.full(181, -30.0)
    logits[chord_class(7, "maj")] = 0.0
    assert pop.stream(0).choose(logits) == chord_class(7, "maj")
    logits[0] = 5.0
    assert pop.stream(0).choose(logits) == chord_class(7, "maj")
    # C likeliest (0.4), E minor and G (0.3 each): E minor's tones are likelier tones of the true chord
    logits = np.full(181, -30.0)
    for (root, quality), p in {(0, "maj"): 0.4, (4, "min"): 0.3, (7, "maj"): 0.3}.items():
        logits[chord_class(root, quality)] = np.log(p)
    assert pop.stream(0).choose(logits) == chord_class(4, "min")


def test_a_part_ends_every_note_it_strikes_and_never_strikes_a_held_key(pop):
    part = pop.stream(3)
    heard = melody_features(np.array([0.0]), np.array([1.0]), np.array([60]), 1)[0]
    held = {60, 64, 67}  # a C major triad held by the player
    notes, chords = [], set()
    for b in range(64):
        notes += part.beat(heard, b % 4, held=held)
        chords.add(part.chord)
    notes += part.close()
    sounding = {}
    for n in sorted(notes, key=lambda n: (n.step, n.velocity > 0)):
        assert n.part == ("bass" if n.pitch < acc.BASS_BELOW else "chords")
        if n.velocity:
            assert n.pitch not in held and n.pitch not in sounding
            sounding[n.pitch] = n.step
        else:
            assert sounding.pop(n.pitch) <= n.step
    assert not sounding
    assert {n.part for n in notes} == {"bass", "chords"}
    # a C heard on every beat: the chords it plays hold C
    assert all(0 in pitch_classes(c) for c in chords)


def test_a_change_of_chord_ends_the_old_chord_s_tones(pop):
    part = pop.stream(0)
    heard = np.zeros(14, np.float32)
    heard[12] = 1.0
    part.beat(heard, 0)
    first = part.chord
    part.h = pop.initial_state()
    # force a change by taking a chord with no tone in common
    far = next(c for c in range(1, 181) if not pitch_classes(c) & pitch_classes(first))
    logits = np.full(181, -20.0)
    logits[far] = 0.0
    part.model = type("Fixed", (), {"step": lambda self, *a: (logits, pop.initial_state()), "patterns": pop.patterns,
                                    "weights": pop.weights})()
    before = dict(part.sounding)
    notes = part.beat(heard, 1)
    ended = {n.pitch for n in notes if not n.velocity and n.step == 4}
    assert part.chord == far and ended & set(before), "a held note off the new chord went on"
    assert {p for p in before if p % 12 not in pitch_classes(far)} <= ended | {p for p, (s, _) in before.items() if s <= 4}


def beats_of(pitches) -> np.ndarray:
    """One note a beat, each held for 0.9 of it: the chord model's features per beat."""
    pitches = np.asarray(pitches)
    onsets = np.arange(len(pitches), dtype=float)
    return melody_features(onsets, onsets + 0.9, pitches, len(pitches))


def test_the_form_hears_a_passage_come_back_and_says_what_followed_it():
    rng = np.random.default_rng(1)
    verse = beats_of(rng.choice([60, 62, 64, 65, 67, 69, 71], size=16))
    bridge = beats_of(rng.choice([61, 63, 66, 68, 70], size=8))
    form = acc.Form()
    for row in np.concatenate([verse, bridge]):
        form.add(row)
        assert form.coming() is None  # nothing has come back yet
    for b, row in enumerate(verse[:12]):
        form.add(row)
        coming = form.coming()
        if b + 1 < acc.REPEAT_BEATS:
            assert coming is None  # too few beats of the verse again to tell
        else:
            assert coming is not None and np.array_equal(coming, verse[b + 1]), b
    rest = np.zeros((acc.REPEAT_BEATS, 14), np.float32)
    rest[:, 12] = 1.0
    for row in rest:
        form.add(row)
    assert form.coming() is None  # the player rests: nothing to foresee


def test_the_form_s_memory_is_flat_and_forgets_a_passage_older_than_it():
    rng = np.random.default_rng(2)
    form = acc.Form()
    first = beats_of(rng.choice(range(60, 72), size=acc.REPEAT_BEATS + 1))
    for row in first:
        form.add(row)
    sizes = (form.beats.nbytes, form.differ.nbytes)
    for row in beats_of(rng.choice(range(48, 60), size=acc.FORM_BEATS)):  # more than it remembers
        form.add(row)
    for row in first[:-1]:
        form.add(row)
    assert (form.beats.nbytes, form.differ.nbytes) == sizes and form.count == acc.FORM_BEATS
    assert form.coming() is None  # the first passage is out of memory


def test_a_melody_played_again_gets_the_chords_named_after_hearing_each_beat(pop):
    rng = np.random.default_rng(3)
    tune = beats_of(rng.choice([60, 62, 64, 65, 67, 69, 71, 72], size=24))
    part = pop.stream(0)
    for b in range(len(tune) + 1):  # the tune heard to its end
        part.beat(tune[b - 1] if b else np.zeros(14, np.float32), b % 4)
    names = []
    for b, row in enumerate(tune[1:], start=1):  # the tune again from its second beat
        h = part.h
        part.beat(tune[b - 1], b % 4)
        if b > acc.REPEAT_BEATS:
            logits, _ = pop.step(tune[b], (b + 1) % 4, part.h)
            assert part.repeating and part.chord == part.choose(logits), b
            names.append(part.chord)
        assert h is not part.h  # the state goes on with the beat heard, not the one foreseen
    assert len(names) == len(tune) - 1 - acc.REPEAT_BEATS


def test_a_melody_file_gets_a_bass_and_chords_in_its_key(tmp_path):
    melody = melody_file(tmp_path / "tune.mid", [60, 64, 67, 64, 65, 69, 72, 69, 67, 71, 74, 71, 72, 67, 64, 60] * 2)
    out = tmp_path / "band.mid"
    assert main(["generate", "--accompany", str(melody), "--out", str(out), "--seed", "0"]) == 0
    midi = mido.MidiFile(out)
    assert midi.type == 1 and [t.name for t in midi.tracks[1:]] == ["melody", "bass", "chords"]
    parts = {}
    for track in midi.tracks[1:]:
        tick, ons, sounding = 0, [], set()
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity:
                ons.append((tick / 480, msg.note, msg.channel))
                sounding.add(msg.note)
            elif msg.type in ("note_on", "note_off"):
                sounding.discard(msg.note)
        assert not sounding, f"{track.name}: notes left on"
        parts[track.name] = ons
    assert {c for *_, c in parts["bass"]} == {1} and {c for *_, c in parts["chords"]} == {2}
    assert all(p < acc.BASS_BELOW for _, p, _ in parts["bass"]) and all(p >= acc.BASS_BELOW for _, p, _ in parts["chords"])
    under = parts["bass"] + parts["chords"]
    assert all(abs(t * 4 - round(t * 4)) < 1e-6 for t, _, _ in under)  # on the sixteenth grid
    in_key = np.mean([p % 12 in C_MAJOR for _, p, _ in under])
    assert in_key >= 0.8, in_key  # a C major tune: its accompaniment in C major


@pytest.mark.parametrize("args, said", [
    (["--model", "pop"], "an accompanist plays under a melody"),
    (["--accompany", "TUNE", "--model", "folk"], "--accompany needs an accompanist"),
    (["--accompany", "JUNK"], "not a readable MIDI file"),
])
def test_wrong_uses_get_one_line(tmp_path, capsys, args, said):
    tune = melody_file(tmp_path / "tune.mid", [60, 62, 64])
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    args = [{"TUNE": str(tune), "JUNK": str(junk)}.get(a, a) for a in args]
    assert main(["generate", *args, "--out", str(tmp_path / "out.mid")]) == 1
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1


def engine(**config):
    """An accompanying engine on a clock the test moves, the scheduler sending exactly on time."""
    from clocks import FakeClock
    from segue.daemon.live.accompany import Accompany
    from segue.daemon.live.engine import Engine, JamConfig
    from segue.daemon.live.scheduler import Scheduler

    clock, sent, times = FakeClock(), [], []
    sched = Scheduler(sent.append, max_note=4.0, clock=clock, thread=False,
                      trace=lambda due, at, msg: times.append((due, msg)))
    eng = Engine(acc.AccompanistModel("pop"), sched, Accompany(), JamConfig(seed=0, **config), clock=clock)
    return eng, sent, times


def play(eng, pitches, beat, hold=0.9):
    from clocks import drive

    for p in pitches:
        eng.on_message(mido.Message("note_on", note=p, velocity=90))
        drive(eng, eng.clock.now + beat * hold)
        eng.on_message(mido.Message("note_off", note=p))
        drive(eng, eng.clock.now + beat * (1 - hold))


def test_in_a_jam_it_plays_on_the_beat_on_two_channels_and_rests_after_the_player():
    from clocks import drive
    from segue.daemon.formats.notes import still_sounding

    eng, sent, times = engine(bpm=120.0, fixed_tempo=True, channel=4, bass_channel=5, length="1bar")
    start = eng.clock()
    play(eng, [60, 64, 67, 72, 67, 64, 62, 60] * 2, 0.5)
    last = eng.clock()
    assert "chord " in eng.status() and "chord -" not in eng.status()
    drive(eng, last + 4.0)
    ons = [(due, m) for due, m in times if m.type == "note_on" and m.velocity]
    assert {m.channel for _, m in ons} == {4, 5}
    assert all((m.note < acc.BASS_BELOW) == (m.channel == 5) for _, m in ons)
    line = eng.timeline.line(start, 1.0)  # the --bpm grid: sixteenths from its beat lines
    assert all(abs((due - line) / 0.125 - round((due - line) / 0.125)) < 1e-6 for due, _ in ons)
    assert min(due for due, _ in ons) <= start + 1.0  # it comes in within the first two beats
    assert max(due for due, _ in ons) <= last + 2.0 + 0.5  # a bar's rest, then it rests too
    assert not still_sounding(sent) and not eng.answering and eng.answers == 1


def test_in_a_jam_a_tune_played_again_is_heard_come_back_on_the_status_line():
    eng, _, _ = engine(bpm=120.0, fixed_tempo=True)
    tune = [60, 64, 67, 72, 69, 65, 62, 59]
    play(eng, tune, 0.5)
    assert "come back" not in eng.status()
    play(eng, tune * 2, 0.5)
    assert "chord " in eng.status() and "(a passage come back)" in eng.status()


def test_in_a_jam_a_flood_or_barge_in_stops_it_and_nothing_is_left_on():
    from segue.daemon.formats.notes import still_sounding

    eng, sent, _ = engine(bpm=100.0)
    play(eng, [62, 65, 69, 65], 0.6)
    assert eng.answering
    eng.stop_answer(eng.clock())
    eng.scheduler.run_until(eng.clock.now + 0.01)
    assert not still_sounding(sent)
    play(eng, [62, 65, 69, 65], 0.6)  # it comes back with the player
    assert eng.answering
    eng.scheduler.close()
    assert not still_sounding(sent)


def test_with_the_pedal_it_is_changed_with_the_chord_and_lifted_at_the_end():
    from clocks import drive

    eng, sent, _ = engine(bpm=120.0, pedal=True, channel=0, bass_channel=1, length="1bar")
    play(eng, [60, 64, 67, 72, 65, 69, 72, 77, 67, 71, 74, 79] * 2, 0.5)
    drive(eng, eng.clock.now + 3.0)
    pedal = [m for m in sent if m.type == "control_change" and m.control == 64]
    assert pedal and all(m.channel == 0 for m in pedal)
    assert pedal[0].value >= 64 and pedal[-1].value < 64  # down from the first beat, up at the end
    assert len(pedal) > 2  # changed at least once with the chord


def test_given_bpm_the_beats_count_from_the_first_note_and_a_later_part_comes_in_on_them():
    """With --bpm the player's first note begins the grid (the session's --bpm clock began at
    segue's start, a fraction of a beat away); a phrase after a rest, begun off the beat, gets a
    part on the same grid."""
    from clocks import drive

    eng, sent, times = engine(bpm=120.0, length="1bar")
    drive(eng, eng.clock.now + 0.37)  # the player starts 0.37 s after segue: not on the --bpm clock's beat
    first = eng.clock()
    play(eng, [60, 64, 67, 72] * 2, 0.5)
    drive(eng, eng.clock.now + 2.5)  # a rest: the part stops
    assert not eng.answering and eng.answers == 1
    drive(eng, eng.clock.now + 0.3)  # the next phrase begins off the beat
    play(eng, [62, 65, 69, 74] * 2, 0.5)
    drive(eng, eng.clock.now + 3.0)
    ons = [due for due, m in times if m.type == "note_on" and m.velocity]
    assert eng.answers == 2 and ons
    assert all(abs((due - first) / 0.125 - round((due - first) / 0.125)) < 1e-6 for due in ons)


def test_a_key_the_player_strikes_after_the_beat_is_decided_is_not_struck_by_the_machine():
    from clocks import drive

    eng, sent, times = engine(bpm=120.0, length="2bars")
    play(eng, [60, 64, 67, 72], 0.5)
    voice = eng.voice("accompany")
    drive(eng, eng.clock.now + 0.01)
    later = [(t, p) for t, _, p, v in voice.pending if v and t > eng.clock.now + 0.05]
    while not later:  # the next beat with a strike still to come
        drive(eng, eng.clock.now + 0.05)
        later = [(t, p) for t, _, p, v in voice.pending if v and t > eng.clock.now + 0.05]
    due, pitch = later[0]
    struck = eng.clock.now
    eng.on_message(mido.Message("note_on", note=pitch, velocity=80))
    drive(eng, due + 0.2)
    eng.on_message(mido.Message("note_off", note=pitch))
    let_go = eng.clock.now
    assert not [t for t, m in times if m.type == "note_on" and m.velocity and m.note == pitch and struck < t < let_go]
    drive(eng, let_go + 5.0)  # two bars' rest, then it rests
    assert not eng.answering
    eng.scheduler.close()
    from segue.daemon.formats.notes import still_sounding
    assert not still_sounding(sent)


def test_with_no_tempo_given_it_waits_for_the_heard_beat_and_plays_on_it():
    """No clock, no --bpm: nothing until the beat heard in the player's notes is sure (not a
    made-up 120 bpm), then the part on that beat."""
    eng, sent, times = engine(length="1bar")
    first = eng.clock()
    play(eng, [60, 64, 67, 72, 67, 64, 65, 62] * 3, 0.6, hold=0.8)  # 100 bpm, 24 beats
    ons = [due for due, m in times if m.type == "note_on" and m.velocity]
    assert ons and eng.timeline.tracked and abs(eng.timeline.beat_seconds - 0.6) < 0.02
    assert min(ons) > first + 1.2  # it waited for the beat
    assert all(abs((t - first) / 0.15 - round((t - first) / 0.15)) < 0.03 / 0.15 for t in ons)  # the player's sixteenths
