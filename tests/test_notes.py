"""NoteGuard: whatever comes in, every note-on goes out released."""
import numpy as np
import pytest
from segue.daemon.formats.midifile import NoteMessage
from segue.daemon.formats.notes import NoteGuard, playable


def balanced(notes):
    """True when every note-on is released and nothing is released twice, in time order."""
    sounding = set()
    for n in sorted(notes, key=lambda n: n.time):
        key = (n.channel, n.pitch)
        if n.velocity:
            if key in sounding:
                return False
            sounding.add(key)
        else:
            if key not in sounding:
                return False
            sounding.remove(key)
    return not sounding


def test_release_of_a_silent_pitch_is_dropped():
    out, counts = playable([NoteMessage(0.0, 60, 0), NoteMessage(0.1, 62, 80), NoteMessage(0.2, 62, 0)])
    assert [(n.pitch, n.velocity) for n in out] == [(62, 80), (62, 0)]
    assert counts.dropped_releases == 1


def test_restruck_pitch_is_released_first():
    out, counts = playable([NoteMessage(0.0, 60, 80), NoteMessage(0.5, 60, 90)])
    assert [(n.time, n.velocity) for n in out] == [(0.0, 80), (0.5, 0), (0.5, 90), (0.5, 0)]
    assert counts.retriggers == 1 and counts.closing_releases == 1


def test_long_notes_are_cut_at_max_length():
    out, counts = playable([NoteMessage(0.0, 60, 80), NoteMessage(10.0, 64, 80)], max_length=2.0, end=11.0)
    assert (2.0, 60, 0) in [(n.time, n.pitch, n.velocity) for n in out]
    assert counts.forced_releases == 1 and balanced(out)


def test_forced_release_skips_a_note_that_was_restruck():
    guard = NoteGuard(max_length=1.0)
    guard.feed(NoteMessage(0.0, 60, 80))
    guard.feed(NoteMessage(0.8, 60, 80))  # re-struck: the 0.0 deadline must not cut the new note
    assert guard.release_due(1.2) == []
    assert [(n.time, n.velocity) for n in guard.release_due(1.8)] == [(1.8, 0)]


def test_random_streams_always_come_out_balanced():
    rng = np.random.default_rng(7)
    for _ in range(50):
        t = np.cumsum(rng.exponential(0.2, 300))
        notes = [NoteMessage(float(t[i]), int(rng.integers(60, 66)), int(rng.choice([0, 0, 64])),
                             int(rng.integers(0, 2))) for i in range(300)]
        out, _ = playable(notes, max_length=1.0)
        assert balanced(out)
        durations = {}
        for n in out:
            if n.velocity:
                durations[(n.channel, n.pitch)] = n.time
            else:
                assert n.time - durations.pop((n.channel, n.pitch)) <= 1.0 + 1e-9


def test_max_length_must_be_positive():
    with pytest.raises(ValueError, match="max_length"):
        NoteGuard(max_length=0)
