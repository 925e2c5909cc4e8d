"""Headless generation: repeatable, and never a hanging note whatever the model emits."""
from pathlib import Path

import mido
import numpy as np
import pytest
from segue.daemon.formats.midifile import read_notes
from segue.daemon.models.continuation import continue_events
from segue.daemon.options import GenerateConfig
from segue.daemon.models.event import EventModel
from segue.daemon.models.sampling import Sampling
from segue.daemon.offline.generate import default_prime, generate_file


def hanging_notes(path):
    """Note-ons never released, and releases of silent pitches, in a written file."""
    sounding, stray = set(), 0
    for msg in mido.MidiFile(path):
        if msg.type == "note_on" and msg.velocity > 0:
            assert (msg.channel, msg.note) not in sounding, "note struck twice without release"
            sounding.add((msg.channel, msg.note))
        elif msg.type in ("note_on", "note_off"):
            if (msg.channel, msg.note) in sounding:
                sounding.remove((msg.channel, msg.note))
            else:
                stray += 1
    return len(sounding), stray


def longest_note(path):
    starts, longest = {}, 0.0
    t = 0.0
    for msg in mido.MidiFile(path):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            starts[msg.note] = t
        elif msg.type == "note_on":
            longest = max(longest, t - starts.pop(msg.note))
    return longest


@pytest.mark.parametrize("sampling, constrain", [
    (Sampling(), True), (Sampling(temperature=3.0), False), (Sampling(top_k=3, top_p=0.9), True),
])
def test_no_hanging_notes(small_model, krebs, tmp_path, sampling, constrain):
    out = tmp_path / "out.mid"
    report = generate_file(out, GenerateConfig(events=400, sampling=sampling, seed=3, max_note=2.0,
                                               constrain=constrain), model=small_model, prime=krebs)
    assert hanging_notes(out) == (0, 0)
    assert longest_note(out) <= 2.0 + 0.002  # one tick of rounding
    assert report.notes > 50


def test_constrained_sampling_keeps_the_codec_invariant(small_model):
    """Constrained: no release of a silent pitch, no strike of a sounding one; free: both happen."""
    model = EventModel(small_model)
    prime = model.codec.encode(default_prime())
    free = continue_events(model, prime, GenerateConfig(events=600, seed=1, constrain=False, sampling=Sampling(2.0)))
    held = continue_events(model, prime, GenerateConfig(events=600, seed=1, constrain=True, sampling=Sampling(2.0)))
    assert held.counts.dropped_releases == 0 and held.counts.retriggers == 0
    assert free.counts.dropped_releases > 0 and free.counts.retriggers > 0  # a hot, barely trained model


def test_same_seed_same_file(small_model, krebs, tmp_path):
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        generate_file(tmp_path / f"{name}.mid", GenerateConfig(events=100, seed=seed), model=small_model, prime=krebs)
    a, b, c = ((tmp_path / f"{n}.mid").read_bytes() for n in "abc")
    assert a == b and a != c


def test_prime_is_stepped_into_the_state(small_model, krebs):
    """What the model heard changes what it predicts next."""
    model = EventModel(small_model)
    krebs_events = model.codec.encode(read_notes(krebs, channel=0))
    after_krebs = model.stream().prime(krebs_events).copy()
    after_motif = model.stream().prime(model.codec.encode(default_prime())).copy()
    assert np.abs(after_krebs - after_motif).max() > 1e-2  # a barely trained model: small but real
    np.testing.assert_array_equal(model.stream().prime(krebs_events), after_krebs)


def test_plot_writes_a_png(small_model, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib: pip install 'segue[plot]'")
    generate_file(tmp_path / "o.mid", GenerateConfig(events=60, seed=0), model=small_model, plot=tmp_path / "o.png")
    assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("kwargs, message", [
    ({"events": 0}, "events"), ({"max_note": 0}, "max-note"), ({"channel": 16}, "channel"),
])
def test_config_validates_itself(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GenerateConfig(**kwargs)


def _note_ticks(path):
    """(onset tick, release tick, pitch) of every note in a type 0 file."""
    tick, open_, spans = 0, {}, []
    for msg in mido.MidiFile(path).tracks[0]:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity:
            open_[msg.note] = tick
        elif msg.type in ("note_on", "note_off") and msg.note in open_:
            spans.append((open_.pop(msg.note), tick, msg.note))
    return spans


@pytest.fixture
def waltz(tmp_path, krebs):
    """krebs.mid's first notes rewritten at 90 bpm in 3/4."""
    from segue.daemon.formats.midifile import write_notes

    notes = [n for n in read_notes(krebs, channel=0) if n.time < 6.0]
    path = tmp_path / "waltz.mid"
    write_notes(path, notes, bpm=90, time_signature=(3, 4))
    return path


def test_the_file_keeps_the_primes_tempo_and_time_signature(small_model, waltz, tmp_path):
    generate_file(tmp_path / "out.mid", GenerateConfig(events=60, seed=1), model=small_model, prime=waltz)
    meta = {m.type: m for m in mido.MidiFile(tmp_path / "out.mid").tracks[0] if m.is_meta}
    assert round(mido.tempo2bpm(meta["set_tempo"].tempo)) == 90
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (3, 4)


def test_the_continuation_follows_the_prime_after_the_gap_the_model_chose(small_model, waltz, tmp_path):
    config = GenerateConfig(events=80, seed=3)
    alone, joined = tmp_path / "alone.mid", tmp_path / "joined.mid"
    generate_file(alone, config, model=small_model, prime=waltz)
    generate_file(joined, config, model=small_model, prime=waltz, with_prime=True)
    from collections import Counter

    def messages(notes, shift=0.0):
        return Counter((round((n.time + shift) * 720), n.pitch, n.velocity) for n in notes)  # ticks at 90 bpm

    prime, continuation = read_notes(waltz), read_notes(alone)
    # The joined file is the prime, then the continuation moved to the prime's end: the same gap.
    assert messages(read_notes(joined)) == messages(prime) + messages(continuation, prime[-1].time)
    gaps = [next(n.time for n in read_notes(generate_file(tmp_path / f"{s}.mid", GenerateConfig(events=20, seed=s),
                                                          model=small_model, prime=waltz).out) if n.velocity)
            for s in range(8)]
    assert any(g > 0 for g in gaps)  # the first gap is not dropped


def test_no_note_is_struck_and_released_on_the_same_tick(small_model, krebs, tmp_path):
    for seed in range(5):
        out = tmp_path / f"{seed}.mid"
        generate_file(out, GenerateConfig(events=500, seed=seed, sampling=Sampling(temperature=1.3)),
                      model=small_model, prime=krebs)
        spans = _note_ticks(out)
        assert spans and not [s for s in spans if s[1] <= s[0]], seed


def test_the_session_model_pulls_the_continuation_toward_the_primes_own_intervals(tmp_path):
    from segue.daemon.formats.midifile import NoteMessage, write_notes

    motif = [60, 64, 67, 60]  # steps +4, +3, -7, round and round
    notes = []
    for i, p in enumerate(motif * 8):
        notes += [NoteMessage(i * 0.25, p, 90), NoteMessage(i * 0.25 + 0.2, p, 0)]
    prime = tmp_path / "riff.mid"
    write_notes(prime, notes)

    def share(weight):
        hits = total = 0
        for seed in range(4):
            out = tmp_path / f"{weight}-{seed}.mid"
            generate_file(out, GenerateConfig(events=120, seed=seed, session_weight=weight), prime=prime)
            pitches = [n.pitch for n in read_notes(out) if n.velocity]
            steps = np.diff(pitches)
            hits, total = hits + int(np.isin(steps, [4, 3, -7]).sum()), total + len(steps)
        return hits / total

    assert share(0.9) > share(0.0) + 0.2
    with pytest.raises(ValueError, match="--session-weight must be from 0 to less than 1"):
        GenerateConfig(session_weight=1.0)


def _messages(path):
    return [(m.type, getattr(m, "note", None), getattr(m, "velocity", None), m.time)
            for m in mido.MidiFile(path).tracks[0] if not m.is_meta or m.type in ("set_tempo", "time_signature")]


def test_the_file_written_as_it_goes_holds_what_the_whole_one_does(small_model, krebs, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib: pip install 'segue[plot]'")
    """Without --plot (or lyrics) the output is written while sampling; the messages are the same."""
    config = GenerateConfig(events=1500, seed=3)
    streamed = generate_file(tmp_path / "a.mid", config, model=small_model, prime=krebs, with_prime=True)
    whole = generate_file(tmp_path / "b.mid", config, model=small_model, prime=krebs, with_prime=True,
                          plot=tmp_path / "b.png")
    assert _messages(tmp_path / "a.mid") == _messages(tmp_path / "b.mid")
    assert streamed.notes == whole.notes > 0


def test_a_long_prime_is_stepped_from_its_last_events_only(small_model, tmp_path):
    from segue.daemon.formats.midifile import NoteMessage, write_notes
    from segue.daemon.models.continuation import PRIME_EVENTS

    notes = [NoteMessage(i * 0.05 + d, 48 + i % 24, 0 if d else 80, 0) for i in range(3000) for d in (0.0, 0.04)]
    write_notes(tmp_path / "long.mid", notes)
    report = generate_file(tmp_path / "o.mid", GenerateConfig(events=50, seed=1), model=small_model,
                           prime=tmp_path / "long.mid")
    assert report.prime_events == PRIME_EVENTS < 6000


FOLK = Path(__file__).resolve().parents[1] / "daemon" / "models" / "folk.onnx"


def test_a_performance_with_no_useful_tempo_in_its_file_gets_the_beat_heard_in_its_notes(krebs, tmp_path):
    """A take played at 87 bpm but written at the file's default 120 bpm (its notes off that file's
    grid): the continuation is written at the tempo the tracker hears. A file whose notes sit on
    its own grid keeps its tempo, even where the tracker would hear another (krebs.mid's notes, 195
    beats a minute, written as sixteenths at 48.75 bpm)."""
    from segue.daemon.formats.midifile import NoteMessage, write_notes

    rng, beat, notes = np.random.default_rng(0), 60 / 87, []
    for bar in range(6):
        for i, b in enumerate((0, 1, 1.5, 2, 3)):
            t = (bar * 4 + b) * beat + rng.normal(0, 0.012)
            notes += [NoteMessage(t, 62 + 2 * i, 100 if b == int(b) else 60), NoteMessage(t + 0.2, 62 + 2 * i, 0)]
    take = tmp_path / "take.mid"
    write_notes(take, sorted(notes, key=lambda n: n.time), bpm=120)
    slow = tmp_path / "slow.mid"
    write_notes(slow, [n for n in read_notes(krebs, channel=0) if n.time < 6.0], bpm=48.75)
    for prime, bpm in ((take, 87), (slow, 48.75)):
        generate_file(tmp_path / "out.mid", GenerateConfig(events=40, seed=1), model=FOLK, prime=prime)
        tempo = next(m.tempo for m in mido.MidiFile(tmp_path / "out.mid").tracks[0] if m.type == "set_tempo")
        assert mido.tempo2bpm(tempo) == pytest.approx(bpm, rel=0.03)
