"""The metrical melody model: corpus melodies as beat-timed events with their place in the bar."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from segue.daemon.formats.codec import (
    POSITIONS,
    EventCodec,
    meter_class,
    position_class,
)
from segue.daemon.formats.corpus import metrical_events
from segue.training import metrical


def piece(pitch, onset, duration, at, bar=3.0, collection="essen"):
    return {"collection": collection, "pitch": np.array(pitch), "onset": np.array(onset, float),
            "duration": np.array(duration, float), "bar_position": np.array(at, float),
            "bar_length": np.full(len(pitch), bar)}


def test_a_melody_becomes_beat_timed_events_that_know_the_bar():
    codec = EventCodec.beats()
    # a pick-up quaver on beat 3 of 3/4, then a crotchet and a dotted crotchet on the downbeat and beat 2
    events = metrical_events(piece([62, 67, 69], [0, 0.5, 1.5], [0.5, 1.0, 1.5], [2.5, 0, 1]), codec)
    strike, unison = codec.velocity_class(80), codec.pitch_classes // 2
    assert events[:, :4].tolist() == [
        [unison, strike, 0, 62 - 24],  # a first note: no interval
        [unison, 0, codec.time_class(0.5), 62 - 24], [unison + 5, strike, 0, 67 - 24],  # released; up a fourth
        [unison, 0, codec.time_class(1.0), 67 - 24], [unison + 2, strike, 0, 69 - 24],
        [unison, 0, codec.time_class(1.5), 69 - 24],
    ]
    assert events[:, 4].tolist() == [position_class(x) for x in (2.5, 0, 0, 1, 1, 2.5)]
    assert set(events[:, 5].tolist()) == {meter_class(3.0)}
    assert codec.decoded_seconds(events[:, :3]) == pytest.approx(3.0)  # beats, here


def test_transposition_stays_on_the_keyboard():
    w = np.array([[44, 1, 0, 80, 0, 0], [49, 1, 0, 85, 0, 0]])
    assert metrical.transposed(w, 5, 89)[:, 3].tolist() == [73, 78]  # +5 takes 85 past the top: -7 instead
    assert metrical.transposed(w, -3, 89)[:, 3].tolist() == [77, 82]
    assert metrical.transposed(w, -3, 89)[:, 0].tolist() == [44, 49]  # intervals do not move


def test_the_model_takes_position_and_metre_and_its_step_is_the_same_function():
    codec = EventCodec.beats()
    model = metrical.model_for(codec, metrical.MetricalConfig(hidden=16)).eval()
    events = metrical_events(piece([60, 62, 64, 65] * 3, np.arange(12) * 0.5, [0.5] * 12,
                                         (np.arange(12) * 0.5) % 3), codec)
    e = torch.from_numpy(events)
    with torch.no_grad():
        whole, _ = model(e[None, :, :3], e[None, :, 3:])
        h = torch.zeros(1, 1, 16)
        c = torch.zeros_like(h)
        for t in range(len(e)):
            step, h, c = model.step(e[t, 0:1], e[t, 1:2], e[t, 2:3], h, c, e[t, 3:4], e[t, 4:5], e[t, 5:6])
            assert torch.allclose(step[0], whole[0, t], atol=1e-5)
        hidden, _ = model(e[None, :, :3], torch.stack([e[:, 3], torch.full((len(e),), POSITIONS - 1),
                                                      torch.full((len(e),), 5)], -1)[None])
    assert not torch.allclose(hidden, whole)  # the metre is heard


def test_training_learns_a_corpus_and_keeps_its_best_checkpoint(tmp_path, monkeypatch):
    """A tiny corpus of one tune in many keys: the model learns it, the checkpoint reloads."""
    rng = np.random.default_rng(0)
    tune = [0, 2, 4, 5, 7, 5, 4, 2]
    pieces = [piece([60 + k + x for x in tune * 4], np.arange(32) * 0.5, [0.5] * 32, (np.arange(32) * 0.5) % 2,
                    bar=2.0) for k in rng.integers(-5, 6, 12)]
    monkeypatch.setattr(metrical, "load", lambda corpus, split: pieces[:10] if split == "train" else pieces[10:])
    config = metrical.MetricalConfig(hidden=32, length=32, stride=4, batch=8, epochs=30, lr=1e-2, patience=30)
    result = metrical.train_metrical("corpus", tmp_path / "m.pt", config, progress=False, log=lambda _: None)
    first = result["best"]
    model, codec, record = metrical.load_model(tmp_path / "m.pt")
    scores = metrical.evaluate(model, [(p["collection"], metrical_events(p, codec)) for p in pieces[10:]])
    assert scores["all"]["pitch_nll"] == pytest.approx(record["metrics"]["valid_pitch_nll"], abs=1e-4)
    assert scores["all"]["pitch_nll"] < 1.5 and scores["all"]["time_nll"] < 0.5, scores  # uniform: 4.5 and 3.8
    assert first["epoch"] >= 2  # it kept learning after the first epoch


def test_the_exported_file_streams_like_torch_and_loads_with_its_inputs(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from segue.daemon.cli import cli
    from segue.daemon.models.event import EventModel

    codec = EventCodec.beats()
    config = metrical.MetricalConfig(hidden=16, epochs=1, length=16, stride=8, batch=4)
    tune = piece([60, 62, 64, 65, 67, 65, 64, 62] * 3, np.arange(24) * 0.5, [0.5] * 24, (np.arange(24) * 0.5) % 3)
    monkeypatch.setattr(metrical, "load", lambda corpus, split: [tune])
    metrical.train_metrical("corpus", tmp_path / "m.pt", config, progress=False, log=lambda _: None)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    from segue.daemon.formats import corpus as corpus_format

    monkeypatch.setattr(corpus_format, "load", lambda folder, split=None: [tune])
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "m.pt"), "--out", str(tmp_path / "m.onnx"),
                                      "--check", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "parity over 48 events" in result.output
    net = EventModel(tmp_path / "m.onnx")
    assert net.info.inputs == {"absolute": codec.pitch_classes, "position": POSITIONS, "meter": 6}
    assert net.codec == codec
    stream = net.stream()
    events = metrical_events(tune, codec)
    assert stream.prime(events).shape == (sum(codec.sizes),)


@pytest.fixture
def metrical_file(tmp_path_factory):
    """A small metrical model trained on one tune and exported (the parity is checked above)."""
    import unittest.mock

    from segue.export.onnx import export_metrical

    folder = tmp_path_factory.mktemp("metrical")
    tune = piece([60, 62, 64, 65, 67, 65, 64, 62] * 4, np.arange(32) * 0.5, [0.5] * 32, (np.arange(32) * 0.5) % 3)
    config = metrical.MetricalConfig(hidden=16, epochs=3, length=16, stride=4, batch=4, lr=1e-2)
    with unittest.mock.patch.object(metrical, "load", lambda corpus, split: [tune]):
        metrical.train_metrical("corpus", folder / "m.pt", config, progress=False, log=lambda _: None)
    return export_metrical(folder / "m.pt", folder / "m.onnx")


def test_generate_continues_a_prime_on_its_beat_grid(metrical_file, tmp_path, krebs):
    from segue.daemon.formats.midifile import read_notes, write_notes
    from segue.daemon.options import GenerateConfig
    from segue.daemon.offline.generate import generate_file

    prime = tmp_path / "prime.mid"
    write_notes(prime, [n for n in read_notes(krebs, channel=0) if n.time < 4.0], bpm=90, time_signature=(3, 4))
    out = tmp_path / "out.mid"
    report = generate_file(out, GenerateConfig(events=120, seed=2), model=metrical_file, prime=prime)
    assert report.notes > 10
    notes = read_notes(out, beats=True)  # the file is at the prime's 90 bpm
    grid = np.array([n.time for n in notes]) * 24  # the model's finest step: a 24th of a beat
    assert np.abs(grid - np.round(grid)).max() < 0.05  # every onset and release on it
    on = {}
    for n in notes:
        if n.velocity:
            on[n.pitch] = n.time
        else:
            assert n.time > on.pop(n.pitch)  # no zero-length note
    assert not on  # every note released


def test_the_live_engine_answers_with_a_metrical_model_on_the_bpm_grid(metrical_file):
    """The engine feeds a metrical model what it hears (intervals, beats, the bar of --bpm) and its
    answer's notes fall on the model's grid of the internal tempo; a barge-in re-primes it."""
    import mido
    from segue.daemon.live.engine import Engine, JamConfig
    from segue.daemon.live.policy import CallAndResponse
    from segue.daemon.live.scheduler import Scheduler
    from segue.daemon.models.event import EventModel

    sent = []
    sched = Scheduler(sent.append, max_note=2.0)
    try:
        eng = Engine(EventModel(metrical_file), sched, CallAndResponse(silence=0.1),
                     JamConfig(length=24, seed=0, bpm=120, session_weight=0.3, max_note=2.0))
        origin = eng.timeline.tempo.internal.origin
        for i, pitch in enumerate([60, 62, 64, 65, 67, 65, 64, 62]):
            eng.hear(origin + i * 0.25, mido.Message("note_on", note=pitch, velocity=90))
            eng.hear(origin + i * 0.25 + 0.2, mido.Message("note_off", note=pitch))
        assert eng.context.cursor.reference == 62 and eng.context.cursor.bar_beats == 4.0
        eng.voice("answer").answer(eng.clock())
        machine = [n for n in eng.listener.window if n.channel < 0]
        assert sum(1 for n in machine if n.velocity) >= 3
        beats = np.array([(n.time - origin) / 0.5 for n in machine])
        assert np.abs(beats * 24 - np.round(beats * 24)).max() < 1e-3  # 24ths of a beat, from the bar line
        assert eng.context.cursor.session.unigram.sum() > eng.context.cursor.session.symbols  # it learnt the phrase
        eng.stop_answer(eng.clock())  # re-primed from the window, the session model kept
        assert eng.context.logits is not None and eng.context.cursor.session.unigram.sum() > eng.context.cursor.session.symbols
    finally:
        sched.close()


def test_a_model_file_is_scored_per_note_on_like_the_baseline_and_helped_by_the_session_model(metrical_file):
    from segue.daemon.models.event import EventModel
    from segue.daemon.offline.melody_eval import score_model

    net = EventModel(metrical_file)
    tune = piece([60, 64, 67, 72, 71, 67, 62, 59] * 6, np.arange(48) * 0.5, [0.5] * 48, (np.arange(48) * 0.5) % 3)
    alone = score_model(net, [tune])
    helped = score_model(net, [tune], session_weight=0.5)
    assert alone["pitch"]["all"].notes == helped["pitch"]["all"].notes == 47  # every note-on but the first
    assert alone["time"]["all"].notes == 2 * 48 - 1  # every event but the first
    assert helped["pitch"]["all"].nll < alone["pitch"]["all"].nll  # the tune repeats: the session model learns it
