"""The beat tracker on onsets whose times the test sets (no wall clock): it locks, it follows a
change of tempo, it says when there is no beat, and it never uses a note it has not heard."""
import numpy as np
import pytest
from segue.daemon.models.beat import PointerTracker, track


def played(bpm, beats, start=0.0, jitter=0.012, seed=0, pattern=(1, 0.5, 0.5, 1, 1)):
    """A melody's onsets at `bpm`: a rhythm of quarter and eighth notes, louder on the beat."""
    rng = np.random.default_rng(seed)
    period, t, notes, i = 60.0 / bpm, start, [], 0
    while t < start + beats * period - 1e-9:
        on_beat = abs((t - start) / period - round((t - start) / period)) < 1e-6
        notes.append((t + rng.normal(0, jitter), 60 + i % 7, 96 if on_beat else 70))
        t += pattern[i % len(pattern)] * period
        i += 1
    return notes


def test_it_locks_to_a_90_bpm_phrase_and_follows_a_change_to_120():
    first = played(90, 16)
    end = 16 * 60 / 90
    second = played(120, 24, start=end)
    tracker = PointerTracker()
    for t, pitch, velocity in first:
        tracker.note(t, pitch, velocity)
    tracker.flush()
    assert tracker.bpm == pytest.approx(90, rel=0.04)
    nearest = min(abs(tracker.next_beat(end - 0.2) - b) for b in (end - 60 / 90, end))
    assert nearest < 0.05  # the next beat where the player's next beat is
    for t, pitch, velocity in second[:16]:  # two bars of 4 at 120: 8 beats
        tracker.note(t, pitch, velocity)
    tracker.flush()
    assert tracker.bpm == pytest.approx(120, rel=0.04), "it did not follow the new tempo within two bars"


@pytest.mark.parametrize("seed", range(3))
def test_a_first_guess_of_the_tempo_is_the_level_the_beat_is_heard_at(seed):
    # sixteenths and eighths at 66 bpm: heard at twice the player's tempo with no guess; a rough
    # guess (--bpm 60 or 75) is the level, and the tracker finds the tempo near it
    notes = played(66, 24, seed=seed, pattern=(0.25, 0.25, 0.5, 0.5, 0.5))
    heard = {}
    for guess in (None, 60, 75):
        tracker = PointerTracker(guess)
        for t, pitch, velocity in notes:
            tracker.note(t, pitch, velocity)
        tracker.flush()
        heard[guess] = tracker.bpm
        assert tracker.confidence() > 0.25
    assert heard[None] == pytest.approx(132, rel=0.04)
    assert heard[60] == pytest.approx(66, rel=0.04) and heard[75] == pytest.approx(66, rel=0.04)


def test_a_first_guess_still_follows_a_change_of_tempo_and_a_jig_s_dotted_quarter():
    first, second = played(120, 16), played(90, 24, start=8.0)
    tracker = PointerTracker(120)
    for t, pitch, velocity in first + second[:16]:
        tracker.note(t, pitch, velocity)
    tracker.flush()
    assert tracker.bpm == pytest.approx(90, rel=0.04)
    # --bpm 120 counts quarter notes: a jig at 80 dotted quarters a minute is heard at its beat
    tracker = PointerTracker(120)
    for t, pitch, velocity in played(80, 32, pattern=(1 / 3, 1 / 3, 1 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3)):
        tracker.note(t, pitch, velocity)
    tracker.flush()
    assert tracker.bpm == pytest.approx(80, rel=0.04) and tracker.division == 3
    # a guess the tracker cannot hear (under 40 bpm) only leans its prior: a phrase at 100 is heard at 100
    tracker = PointerTracker(30)
    for t, pitch, velocity in played(100, 24):
        tracker.note(t, pitch, velocity)
    tracker.flush()
    assert tracker.bpm == pytest.approx(100, rel=0.04) and tracker.confidence() > 0.25


def test_the_beats_it_says_are_causal_and_on_the_players_grid():
    notes = played(100, 32, seed=3)
    beats = track(notes, tracker=PointerTracker)
    truth = np.arange(32) * 0.6
    late = [b.time for b in beats if b.time > 6.0]
    assert late and np.median([np.min(np.abs(truth - t)) for t in late]) < 0.04
    # causal: the beats said before 10 s do not change when the notes after 10 s change
    other = notes[: sum(1 for n in notes if n[0] < 10.0)] + played(70, 20, start=10.0, seed=9)
    before = [round(b.time, 6) for b in beats if b.time < 10.0]
    again = [round(b.time, 6) for b in track(other, tracker=PointerTracker) if b.time < 10.0]
    assert before == again


def test_free_time_has_less_confidence_than_a_steady_beat():
    rng = np.random.default_rng(1)
    free = np.cumsum(rng.exponential(0.45, 60))
    loose, steady = PointerTracker(), PointerTracker()
    for t in free:
        loose.note(float(t), 60, 80)
    for t, pitch, velocity in played(100, 40):
        steady.note(t, pitch, velocity)
    loose.flush(), steady.flush()
    assert loose.confidence() < steady.confidence()
    assert steady.confidence(now=100.0) == 0.0  # the player stopped long ago: no beat


def test_a_jig_s_beat_is_heard_in_thirds_and_the_jam_counts_it_in_quarter_notes():
    """6/8 at 100 dotted quarters a minute, mostly eighths (thirds of the beat): the tracker hears the
    beat divided in three, and the jam's beat is the quarter note the models count in (two thirds of
    it), its bar 3 of them. A 2/4 tune of eighths and sixteenths is heard in halves."""
    from segue.daemon.live.heard import HeardBeat

    now = [0.0]
    jig = played(100, 48, pattern=(1 / 3, 1 / 3, 1 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3))
    reel = played(100, 48, pattern=(0.5, 0.25, 0.25, 0.5, 0.5))
    for notes, division in ((jig, 3), (reel, 2)):
        heard = HeardBeat(lambda: now[0])
        for t, pitch, velocity in notes:
            now[0] = t
            heard.hear(t, pitch, velocity)
        now[0] += 0.1
        tracker = heard.tracker
        assert tracker.bpm == pytest.approx(100, rel=0.04)
        assert tracker.division == division
        assert heard.beat_seconds == pytest.approx(tracker.beat_seconds * (2 / 3 if division == 3 else 1))


def test_a_fast_jig_played_by_hand_is_heard_in_thirds_and_a_hornpipe_in_halves():
    """At 132 dotted quarters a minute a jig's eighths are 38 ms from a quarter of the beat, and 20 ms
    of jitter puts many of them nearer: judged on the whole recent window on the fitted grid, every
    one of ten takes is heard in thirds (judged onset by onset on the belief of the moment, none
    was); a hornpipe's dotted rhythm (3/4 of the beat) stays in halves."""
    jig, hornpipe = (1 / 3, 1 / 3, 1 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3), (0.75, 0.25, 0.75, 0.25, 0.5, 0.5, 1)
    for pattern, division in ((jig, 3), (hornpipe, 2)):
        for seed in range(10):
            tracker = PointerTracker()
            for t, pitch, velocity in played(132, 32, jitter=0.02, seed=seed, pattern=pattern):
                tracker.note(t, pitch, velocity)
            tracker.flush()
            assert tracker.bpm == pytest.approx(132, rel=0.04)
            assert tracker.division == division, f"seed {seed}"


def test_the_offline_pass_places_the_first_beats_too_and_finds_the_bar():
    """Smoothed both ways, the beats before the live tracker had locked are placed by the notes
    after them, and the one meter of the piece puts the bar lines on the accented beats."""
    notes = played(100, 32, seed=5, pattern=(1, 0.5, 0.5, 1, 1, 1))
    bar_starts = {round(i * 4 * 0.6, 3) for i in range(8)}
    notes = [(t, p, 120 if any(abs(t - b) < 0.05 for b in bar_starts) else v) for t, p, v in notes]
    truth = np.arange(32) * 0.6
    offline = track(notes, offline=True)
    causal = track(notes)
    early = [b.time for b in offline if b.time < 3.0]
    assert len(early) >= 4 and max(np.min(np.abs(truth - t)) for t in early) < 0.04
    assert np.median([np.min(np.abs(truth - b.time)) for b in offline]) <= \
        np.median([np.min(np.abs(truth - b.time)) for b in causal]) + 0.005
    downs = [b.time for b in offline if b.downbeat]
    assert downs and all(min(abs(t - b) for b in bar_starts) < 0.05 for t in downs if t < 19.0)


def test_the_beat_is_fitted_to_the_onsets_between_the_grid_s_tempo_steps():
    """The belief's grid moves in 3 % tempo steps; the beat said is fitted to the recent onsets:
    over 30 phrases with 15 ms of jitter its period is within 0.5 % of the player's on average, and
    its next beat within 15 ms of the player's."""
    ratios, misses = [], []
    for seed in range(30):
        period = 60 / 77  # between two of the grid's tempi
        tracker = PointerTracker()
        for t, pitch, velocity in played(77, 24, jitter=0.015, seed=seed):
            tracker.note(t, pitch, velocity)
        tracker.flush()
        ratios.append(tracker.beat_seconds / period)
        misses.append(abs(tracker.next_beat(24 * period - 0.3) - 24 * period))
    assert abs(np.mean(ratios) - 1) < 0.005 and np.std(ratios) < 0.01
    assert np.median(misses) < 0.015


def test_the_live_bar_lines_fall_on_the_accented_beats_once_heard():
    """4/4 at 100 bpm, quarters and eighths (half the onsets off the beat), the first of each bar
    louder: after four bars every downbeat the live tracker says is on a bar line. (The beats were
    once counted from each onset's phase, so an onset on an off-beat could count a beat twice or not
    at all, and the bar wandered.)"""
    notes = played(100, 48, seed=7, pattern=(0.5, 0.5, 1, 0.5, 0.5, 1))
    bar_starts = np.arange(12) * 4 * 0.6
    notes = [(t, p, 124 if np.min(np.abs(t - bar_starts)) < 0.05 else 64) for t, p, v in notes]
    downs = [b.time for b in track(notes) if b.downbeat and b.time > 4 * 4 * 0.6]
    assert len(downs) >= 6
    assert all(np.min(np.abs(bar_starts - t)) < 0.05 for t in downs), downs


def bass_and_eighths(bpm, beats, seed=0):
    """A left hand on every beat (a low note) under a right hand in running eighths, all at one
    loudness: only the bass says where the beat is."""
    rng = np.random.default_rng(seed)
    period, notes = 60.0 / bpm, []
    for k in range(beats * 2):
        t = k * period / 2 + rng.normal(0, 0.01)
        if k % 2 == 0:
            notes.append((t, 40 + (k // 2) % 5, 80))
        notes.append((t + 0.005, 72 + (k * 5) % 9, 80))
    return sorted(notes)


def test_the_learned_salience_hears_the_bass_under_running_eighths_as_the_beat():
    from segue.daemon.models.beat import onsets
    from segue.daemon.models.salience import OnsetFeatures, SalienceModel

    notes = bass_and_eighths(80, 24)
    ear, features = SalienceModel.shared().stream(), OnsetFeatures()
    chances = {True: [], False: []}
    for onset in onsets(notes):  # (time, loudness, lowest, highest key, notes)
        chances[onset[2] < 60].append(ear(features(*onset)))
    assert len(chances[True]) == len(chances[False]) == 24
    assert np.median(chances[True][4:]) > 0.5 > np.median(chances[False][4:])
    assert track(notes, tracker=PointerTracker)[-1].bpm == pytest.approx(80, rel=0.05)  # the beat, not the eighths


def test_the_shipped_ear_reads_and_a_file_of_another_kind_is_refused_in_one_sentence():
    from segue.daemon.cli import main
    from segue.daemon.models.accompanist import AccompanistModel
    from segue.daemon.models.file import ModelFileError
    from segue.daemon.models.salience import SalienceModel

    assert SalienceModel("beat").hidden > 0
    with pytest.raises(ModelFileError, match="an event model, but the beat tracker needs an onset salience model"):
        SalienceModel("folk")
    with pytest.raises(ModelFileError, match="the beat tracker's onset salience model, but this needs an accompanist"):
        AccompanistModel("beat")
    assert main(["generate", "--model", "beat", "--events", "8"]) == 1
