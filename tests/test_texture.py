"""The accompanist's vocabulary and texture: chord classes, melody features per beat, and a bar of
a real piano part played on another chord (its tones moved to the new chord's, cut at a change)."""
import numpy as np
from segue.daemon.formats.chords import CLASSES, chord_class, chord_of, chord_name, melody_features, pitch_classes, transpose
from segue.daemon.models.texture import Pattern, realise


def test_chord_classes_round_trip_and_transpose():
    assert CLASSES == 181 and chord_class(-1, "N") == 0
    for cls in range(CLASSES):
        assert chord_class(*chord_of(cls)) == cls
    a_minor = chord_class(9, "min")
    assert pitch_classes(a_minor) == {9, 0, 4} and chord_name(a_minor) == "Am"
    features = melody_features(np.array([0.0, 1.5]), np.array([1.0, 2.0]), np.array([69, 72]), 3)
    assert features[0, 9] == 1.0 and features[1, 0] == 0.5 and features[1, 12] == 0.5 and features[2, 12] == 1.0
    moved, f = transpose(np.array([a_minor]), features, 3)
    assert chord_of(int(moved[0])) == (0, "min") and f[0, 0] == 1.0


def test_a_bar_on_another_chord_keeps_its_rhythm_and_plays_the_new_chord_s_tones():
    # C major: bass C2, then E4 G4 C5 on the off-beats, a passing D
    bar = Pattern(0, "maj", np.array([0, 2, 2, 2, 6]), np.array([8, 2, 2, 2, 1]),
                  np.array([36, 64, 67, 72, 62]), np.array([90, 60, 60, 60, 50]))
    a_minor = chord_class(9, "min")
    notes = realise(bar, [a_minor] * 16)
    assert [n[0] for n in notes] == [0, 2, 2, 2, 6] and [n[1] for n in notes] == [8, 2, 2, 2, 1]
    pitches = [n[2] for n in notes]
    assert pitches[:4] == [33, 60, 64, 69]  # A1, then C E A: each tone the one it stood for, moved by -3
    assert all(p % 12 in {9, 0, 4} for p in pitches[:4])
    change = [a_minor] * 4 + [chord_class(7, "7")] * 12  # G7 from the second beat
    notes = realise(bar, change)
    assert notes[0][1] == 4  # the bass is cut where the chord changes under it
    assert notes[-1][2] % 12 in {7, 11, 2, 5, 9}  # struck after the change: on G7 (the passing tone kept above the root)
