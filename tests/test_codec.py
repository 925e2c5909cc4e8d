"""The event codec: round trips over the shared MIDI files, bounded timing error, the seed's drift."""
import mido
import numpy as np
import pytest
from segue.daemon.formats.codec import EventCodec, log_time_values
from segue.daemon.formats.midifile import NoteMessage, read_notes, write_notes
from segue.daemon.formats.notes import note_spans


def onset_errors(codec, notes):
    """Absolute onset error (s) of every encoded event after decoding, and each event's bin width."""
    events, played = codec.encode_timed(notes)
    decoded = codec.decode(events, start=played[0])
    err = np.abs(np.array([d.time for d in decoded]) - played)
    widths = np.array([codec.bin_width(int(c)) for c in events[:, 2]])
    return err, widths, decoded


@pytest.mark.parametrize("name", ["krebs", "allegro"])
def test_round_trip_keeps_pitches_and_bounds_timing(name, request):
    notes = read_notes(request.getfixturevalue(name), channel=0)
    codec = EventCodec()
    err, widths, decoded = onset_errors(codec, notes)
    assert [d.pitch for d in decoded] == [codec.fold_pitch(n.pitch) for n in notes]
    assert [d.velocity == 0 for d in decoded] == [n.velocity == 0 for n in notes]
    # Error diffusion: an onset is within its own bin's width of the truth, wherever it is in the
    # piece; a simultaneous event (class 0) inherits the error of the event it sounds with.
    gaps = np.diff([n.time for n in notes], prepend=notes[0].time)
    bound = np.empty_like(widths)
    for i, cls in enumerate(codec.encode(notes)[:, 2]):
        bound[i] = widths[i] if cls or i == 0 else max(widths[i], bound[i - 1])
        if gaps[i] > codec.time_values[-1]:  # a pause longer than the top class is carried on
            bound[i] = np.inf
    assert (err <= bound + 1e-9).all(), err[err > bound][:5]


@pytest.mark.parametrize("name", ["krebs", "allegro"])
def test_round_trip_through_a_file(name, request, tmp_path):
    """Decoded events written to a file and read back are the same notes, within one tick."""
    notes = read_notes(request.getfixturevalue(name), channel=0)
    codec = EventCodec()
    decoded = codec.decode(codec.encode(notes))
    write_notes(tmp_path / "out.mid", decoded)  # 480 ticks per beat at 120 bpm: 1.04 ms a tick
    before, after = note_spans(decoded), note_spans(read_notes(tmp_path / "out.mid"))
    assert [s[2:] for s in before] == [s[2:] for s in after]  # pitch and velocity, in onset order
    assert np.abs(np.array([s[:2] for s in before]) - np.array([s[:2] for s in after])).max() < 0.00053


def test_seed_codec_drifts_where_segue_does_not(allegro):
    notes = read_notes(allegro)
    seed_err, _, _ = onset_errors(EventCodec.seed(notes), notes)
    segue_err, _, _ = onset_errors(EventCodec(), notes)
    assert seed_err.max() > 10 * segue_err.max()
    assert segue_err.max() < 0.25


def test_velocity_classes_cover_midi_range():
    codec = EventCodec(velocity_classes=32)
    classes = [codec.velocity_class(v) for v in range(128)]
    assert classes[0] == 0 and min(classes[1:]) == 1 and max(classes) == 31
    assert all(codec.velocity_class(codec.velocity_value(c)) == c for c in range(32))
    seed = EventCodec(velocity_classes=128)
    assert all(seed.velocity_value(seed.velocity_class(v)) == v for v in range(128))


def test_pitches_fold_into_range():
    codec = EventCodec()
    assert codec.fold_pitch(12) == 24 and codec.fold_pitch(127) == 103 and codec.fold_pitch(60) == 60


def test_doubled_channels_merge_into_one_line():
    on = [NoteMessage(0.0, 60, 90, 0), NoteMessage(0.0, 60, 90, 1), NoteMessage(0.5, 60, 0, 0),
          NoteMessage(0.6, 60, 0, 1)]
    events = EventCodec().encode(on)
    assert events[:, 1].tolist() == [EventCodec().velocity_class(90), 0]


def test_retrigger_on_one_channel_releases_first():
    notes = [NoteMessage(0.0, 60, 90, 0), NoteMessage(0.5, 60, 90, 0), NoteMessage(1.0, 60, 0, 0)]
    events = EventCodec().encode(notes)
    assert (events[:, 1] > 0).tolist() == [True, False, True, False]


def test_time_classes_are_fixed_and_stored():
    codec = EventCodec()
    assert codec.time_values == log_time_values()
    assert EventCodec.from_json(codec.to_json()) == codec
    assert codec.time_class(0.0) == 0 and codec.time_class(0.004) == 0 and codec.time_class(0.01) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"low": 60, "high": 50}, "pitch range"),
    ({"velocity_classes": 1}, "velocity_classes"),
    ({"time_values": (0.1, 0.2)}, "time_values"),
    ({"time_values": (0.0, 0.2, 0.1)}, "time_values"),
])
def test_codec_validates_itself(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EventCodec(**kwargs)


def test_tempo_changes_are_honoured(tmp_path):
    """Two quarter notes at 120 bpm, then a tempo change to 60 bpm: the third note is 1 s later."""
    midi = mido.MidiFile(type=1, ticks_per_beat=100)
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0),
                            mido.MetaMessage("set_tempo", tempo=1_000_000, time=200)])
    notes = mido.MidiTrack()
    for i in range(3):
        notes += [mido.Message("note_on", note=60 + i, velocity=80, time=0 if i == 0 else 0),
                  mido.Message("note_off", note=60 + i, velocity=0, time=100)]
    midi.tracks += [tempo, notes]
    midi.save(tmp_path / "tempo.mid")
    onsets = [n.time for n in read_notes(tmp_path / "tempo.mid") if n.velocity > 0]
    assert onsets == pytest.approx([0.0, 0.5, 1.0])
    releases = [n.time for n in read_notes(tmp_path / "tempo.mid") if n.velocity == 0]
    assert releases == pytest.approx([0.5, 1.0, 2.0])  # the last quarter is at 60 bpm


def test_drum_channel_is_skipped_unless_chosen(tmp_path):
    midi = mido.MidiFile(type=0)
    midi.tracks.append(mido.MidiTrack([
        mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
        mido.Message("note_on", channel=0, note=60, velocity=100, time=10),
        mido.Message("note_off", channel=9, note=36, time=10),
        mido.Message("note_off", channel=0, note=60, time=10),
    ]))
    midi.save(tmp_path / "drums.mid")
    assert {n.pitch for n in read_notes(tmp_path / "drums.mid")} == {60}
    assert {n.pitch for n in read_notes(tmp_path / "drums.mid", channel=9)} == {36}


def test_mutated_files_fail_with_midifileerror_only(krebs, tmp_path):
    """Random byte damage to a real file: read_notes either succeeds or raises MidiFileError."""
    import random

    from segue.daemon.formats.midifile import MidiFileError

    data, rng, path = krebs.read_bytes(), random.Random(0), tmp_path / "damaged.mid"
    failures = 0
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path.write_bytes(bytes(damaged[: rng.randrange(len(damaged))] if rng.random() < 0.3 else damaged))
        try:
            read_notes(path)
        except MidiFileError:
            failures += 1
    assert failures > 100  # the damage is real: most files do not parse
