"""The RNN-RBM: its AIS estimator against exact partition functions, training, and its checkpoints."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from segue.daemon.cli import cli
from segue.training import polyphony
from segue.training.rnnrbm import (
    RNNRBM,
    RBMConfig,
    log_partition_ais,
    log_partition_exact,
)

from tests.conftest import DATA, check_roll_model_plays

JSB = DATA / "polyphonic" / "jsb_chorales.json"


def test_ais_matches_the_exact_partition_function():
    """Small RBMs (12 visible, 20 hidden) whose Z is summed over all 4096 visible states."""
    torch.manual_seed(1)
    W = torch.randn(12, 20) * 0.8
    bv, bh = torch.randn(6, 12) - 1.0, torch.randn(6, 20) - 0.5
    exact = log_partition_exact(W, bv, bh)
    estimate = log_partition_ais(W, bv, bh, runs=100, betas=500, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(estimate, exact, atol=0.05), (estimate - exact)
    rough = log_partition_ais(W, bv, bh, runs=2, betas=2, generator=torch.Generator().manual_seed(0))
    assert (rough - exact).abs().max() > 0.05  # the tolerance above is not loose enough to pass anything


def test_a_frame_likelihood_is_a_normalised_probability():
    """With exact Z, the probabilities of all 2^V frames of a small conditional RBM sum to 1."""
    model = RNNRBM(RBMConfig(visible=10, hidden=6, recurrent=4))
    with torch.no_grad():
        model.W.normal_(0, 0.5)
        bv, bh = model.biases(model.u0[None])
        states = ((torch.arange(1024)[:, None] >> torch.arange(10)) & 1).float()
        log_p = -model.free_energy(states, bv, bh) - log_partition_exact(model.W, bv, bh)
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-4)


def test_training_learns_and_is_repeatable(small_rbm, tmp_path):
    out, record = small_rbm
    model, _ = polyphony.load(out)
    rolls = polyphony.read_data([JSB])["valid"][:8]
    untrained = RNNRBM(RBMConfig(hidden=40, recurrent=30))
    before = polyphony.evaluate(untrained, rolls, runs=5, betas=50)
    after = polyphony.evaluate(model, rolls, runs=5, betas=50)
    assert after["ll"] > before["ll"] + 3.0 and after["accuracy"] > before["accuracy"]
    again = polyphony.train_rnnrbm([JSB], tmp_path / "again.pt", polyphony.RBMTrainConfig(**record["config"]),
                                   progress=False)
    same = lambda m: {k: v for k, v in m.items() if k not in ("seconds", "examples_per_s")}  # noqa: E731
    assert same(again["metrics"]) == same(record["metrics"])
    model_again, _ = polyphony.load(tmp_path / "again.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model_again.state_dict().values()))


def test_eval_command_prints_the_papers_measures(small_rbm):
    out, _ = small_rbm
    result = CliRunner().invoke(cli, ["eval", "rnnrbm", str(out), str(JSB), "--split", "valid", "--runs", "2",
                                      "--betas", "10"])
    assert result.exit_code == 0, result.output
    assert "4602 frames, log-likelihood -" in result.output and "frame accuracy" in result.output
    result = CliRunner().invoke(cli, ["eval", "rnnrbm", str(out), str(JSB), "--runs", "2", "--betas", "10",
                                      "--chain-steps", "4", "--chain-keep", "2", "--temperatures", "3"])
    assert result.exit_code == 0, result.output
    assert "expected-accuracy decoding" in result.output and "4 steps, the last 2 averaged, replica exchange over " \
        "3 temperatures down to 0.5]" in result.output


def test_wrong_checkpoints_are_one_line_errors(small_checkpoint, tmp_path):
    result = CliRunner().invoke(cli, ["eval", "rnnrbm", str(small_checkpoint), str(JSB)])
    assert result.exit_code == 1 and "not an RNN-RBM checkpoint" in result.output
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(cli, ["eval", "rnnrbm", str(junk), str(JSB)])
    assert result.exit_code == 1 and "not a segue checkpoint" in result.output and len(result.output.splitlines()) == 1


def test_export_matches_torch_and_generates_a_midi_file(small_rbm, tmp_path, krebs):
    from segue.export.rnnrbm import export_rnnrbm, parity

    out, _ = small_rbm
    model_file = export_rnnrbm(out, tmp_path / "roll.onnx", gibbs=10)
    roll = polyphony.read_data([JSB])["test"][0]
    worst = parity(out, model_file, roll[:40])
    assert worst["bias"] < 1e-4 and worst["state"] < 1e-5 and worst["sample_units"] == 0
    check_roll_model_plays(model_file, roll, krebs, tmp_path)
    result = CliRunner().invoke(cli, ["jam", "--model", str(model_file), "--mode", "continuous"])
    assert result.exit_code == 1 and "a piano-roll model plays --mode call or harmonize, not continuous" in result.output
    result = CliRunner().invoke(cli, ["jam", "--mode", "harmonize", "--model", "melody"])  # the shipped event model
    assert result.exit_code == 1 and "--mode harmonize needs a piano-roll model" in result.output
    result = CliRunner().invoke(cli, ["generate", "--model", "chorale", "--frames", "4", "--seed", "1",
                                      "--out", str(tmp_path / "shipped.mid")])  # a shipped model by name
    assert result.exit_code == 0 and "frames of 1 beat " in result.output
    result = CliRunner().invoke(cli, ["info", str(model_file)])
    assert result.exit_code == 0 and "kind: piano-roll (RNN-RBM); keys 21..108, a frame is 1 beat;" in result.output


def test_harmoniser_plays_around_the_held_chord_on_the_grid(small_roll_model):
    import mido
    from clocks import FakeClock, drive
    from segue.daemon.formats.notes import still_sounding
    from segue.daemon.options import JamConfig
    from segue.daemon.live.engine import Engine
    from segue.daemon.live.harmony import Harmonize
    from segue.daemon.live.scheduler import Scheduler
    from segue.daemon.models.roll import RollModel

    sent, dues, clock = [], [], FakeClock()
    sched = Scheduler(sent.append, trace=lambda due, at, msg: dues.append(due), clock=clock, thread=False)
    eng = Engine(RollModel(small_roll_model), sched, Harmonize(), JamConfig(seed=1, bpm=240, channel=1),
                     voicing=(48, 84), clock=clock)
    for p in (60, 64, 67):
        eng.on_message(mido.Message("note_on", note=p, velocity=90))
    drive(eng, clock.now + 1.2)  # a frame every 0.25 s
    for p in (60, 64, 67):
        eng.on_message(mido.Message("note_off", note=p))
    drive(eng, clock.now + 0.6)
    sched.close()
    machine = [m for m in sent if m.type == "note_on" and m.velocity]
    assert eng.voice("harmony").frames >= 3 and machine, "no harmony"
    assert all(m.channel == 1 and 48 <= m.note <= 84 and m.note not in (60, 64, 67) for m in machine)
    beats = [(due - eng.timeline.tempo.internal.origin) / 0.25 for due in dues]
    assert all(abs(b - round(b)) < 1e-6 for b in beats), "a harmony note off the grid"
    assert not still_sounding(sent), "the machine kept playing after the player let go"


def test_call_and_response_in_chords(small_roll_model):
    """A piano-roll model in --mode call: after the silence it answers a number of frames, then stops."""
    import mido
    from clocks import FakeClock, drive
    from segue.daemon.formats.notes import still_sounding
    from segue.daemon.options import JamConfig
    from segue.daemon.live.engine import Engine
    from segue.daemon.live.policy import CallAndResponse
    from segue.daemon.live.scheduler import Scheduler
    from segue.daemon.models.roll import RollModel

    sent, answers, clock = [], [], FakeClock()
    sched = Scheduler(sent.append, clock=clock, thread=False)
    eng = Engine(RollModel(small_roll_model), sched, CallAndResponse(0.2), JamConfig(seed=1, length=4, bpm=240),
                     trace=lambda *a: answers.append(a), clock=clock)
    for chord in ((60, 64, 67), (62, 65, 69)):
        for p in chord:
            eng.on_message(mido.Message("note_on", note=p, velocity=90))
        drive(eng, clock.now + 0.25)
        for p in chord:
            eng.on_message(mido.Message("note_off", note=p))
    drive(eng, clock.now + 0.2 + 0.25 + 4 * 0.25 + 0.2)  # silence, the next grid line, four frames
    sched.close()
    (due, start, end), = answers
    assert end - start == pytest.approx(4 * 0.25) and start >= due
    assert any(m.type == "note_on" for m in sent) and not still_sounding(sent)


def test_pretraining_fits_an_rbm_to_the_frames():
    """The paper's initialisation: after two epochs of RBM pretraining, the frames are far more likely."""
    data = polyphony.read_data([JSB])
    rolls = data["valid"][:8]
    config = polyphony.RBMTrainConfig(hidden=40, recurrent=30, k=5, pretrain=2, lr=3e-3)
    model = RNNRBM(RBMConfig(hidden=40, recurrent=30, k=5))
    before = polyphony.evaluate(model, rolls, runs=5, betas=50)
    polyphony.pretrain_rbm(model, data["train"][:80], config, torch.Generator().manual_seed(0), np.random.default_rng(0))
    after = polyphony.evaluate(model, rolls, runs=5, betas=50)
    assert after["ll"] > before["ll"] + 10, (before["ll"], after["ll"])
    with pytest.raises(ValueError, match="cannot go with --init"):
        polyphony.train_rnnrbm([JSB], "unused.pt", config, progress=False, init="any.pt")


def test_rnn_pretraining_learns_to_predict_frames():
    """The paper's second step: the RNN-RBM's recurrence, trained as a next-frame predictor, beats
    the same predictor with the recurrence switched off (its output bias alone, each key's frequency)."""
    data = polyphony.read_data([JSB])
    config = polyphony.RBMTrainConfig(hidden=40, recurrent=30, pretrain_rnn=4, lr=1e-2, batch=4)
    model = RNNRBM(RBMConfig(hidden=40, recurrent=30))
    train, valid = polyphony.chunks(data["train"][:60], 100), data["valid"][:10]
    before = model.Wuu.detach().clone()
    scores = polyphony.pretrain_rnn(model, train, valid, config, np.random.default_rng(0))
    unconditional = polyphony.FramePredictor(RNNRBM(RBMConfig(hidden=40, recurrent=30)), train)
    with torch.no_grad():
        unconditional.model.Wuv.zero_()
        baseline = float(torch.cat([unconditional.log_likelihood(torch.from_numpy(r.astype(np.float32))[None])[0]
                                    for r in valid]).mean())
    assert scores[-1] > baseline + 1.0, (baseline, scores)
    assert not torch.equal(model.Wuu, before)  # it trained the RNN-RBM's own recurrence


def test_transposition_keeps_every_key_on_the_keyboard():
    roll = np.zeros((4, 88), bool)
    roll[0, 3], roll[2, 84], roll[3, 40] = True, True, True
    rng = np.random.default_rng(0)
    shifts = set()
    for _ in range(200):
        out = polyphony.transposed(roll, 6, rng)
        assert out.sum() == 3 and out.shape == roll.shape
        shift = int(np.flatnonzero(out[3])[0]) - 40
        assert np.array_equal(np.flatnonzero(out[0]), [3 + shift]) and np.array_equal(np.flatnonzero(out[2]), [84 + shift])
        shifts.add(shift)
    assert shifts == set(range(-3, 4))  # -6..6, limited to what stays inside 0..87
    assert polyphony.transposed(np.zeros((2, 88), bool), 6, rng).sum() == 0
    assert np.array_equal(np.flatnonzero(polyphony.shifted(roll, -3)[0]), [0])
    with pytest.raises(ValueError, match="takes keys off the 88-key keyboard"):
        polyphony.shifted(roll, 4)


def _random_small_rbm():
    """A 10-key conditional RBM with strong random couplings, and each key's exact probability of
    sounding (all 1024 states enumerated)."""
    torch.manual_seed(3)
    model = RNNRBM(RBMConfig(visible=10, hidden=8, recurrent=4))
    with torch.no_grad():
        model.W.normal_(0, 0.8)
        bv, bh = torch.randn(1, 10), torch.randn(1, 8)
    return model, bv, bh, _exact_marginals(model, bv, bh)


def _exact_marginals(model, bv, bh):
    with torch.no_grad():
        states = ((torch.arange(1024)[:, None] >> torch.arange(10)) & 1).float()
        log_p = -model.free_energy(states, bv, bh) - log_partition_exact(model.W, bv, bh)
        return (log_p.exp()[:, None] * states).sum(0)


def test_rbm_marginals_match_enumeration():
    """Exact marginals of a small RBM against the Gibbs-chain estimate of `marginals`, started from silence."""
    model, bv, bh, exact = _random_small_rbm()
    estimate = model.marginals(torch.zeros(1, 10), bv, bh, steps=60, chains=4000, keep=40,
                               generator=torch.Generator().manual_seed(0))[0]
    assert torch.allclose(estimate, exact, atol=0.02), (estimate, exact)
    assert ((exact > 0.1) & (exact < 0.9)).sum() >= 5


def _two_chord_rbm():
    """Two competing chords, keys 0-4 or keys 5-9, each with its own hidden unit: (10-key RBM, bv,
    bh, exact marginals)."""
    model = RNNRBM(RBMConfig(visible=10, hidden=2, recurrent=4))
    with torch.no_grad():
        model.W.copy_(torch.tensor([[6.0, -6.0]] * 5 + [[-6.0, 6.0]] * 5))
        bv, bh = torch.full((1, 10), -0.5), torch.full((1, 2), -26.0)
    return model, bv, bh, _exact_marginals(model, bv, bh)


def test_replica_exchange_crosses_between_modes_that_a_plain_chain_cannot():
    """Two competing chords (keys 0-4 or keys 5-9, each with its own hidden unit): chains started
    on the first stay there for 60 steps, so their estimate of each key's probability is off by
    more than 0.08; the same chains as replica exchanges over 4 temperatures come within 0.03."""
    model, bv, bh, exact = _two_chord_rbm()
    first_chord = torch.cat([torch.ones(1, 5), torch.zeros(1, 5)], 1)
    errors = {}
    for temperatures in (1, 4):
        estimate = model.marginals(first_chord, bv, bh, steps=60, chains=500, keep=40, temperatures=temperatures,
                                   lowest=0.5, generator=torch.Generator().manual_seed(0))[0]
        errors[temperatures] = float((estimate - exact).abs().max())
    assert errors[1] > 0.08 and errors[4] < 0.03, errors


def test_replica_exchange_marginals_match_enumeration():
    """The tempered estimator is unbiased too (the RBM of the plain-chain test)."""
    model, bv, bh, exact = _random_small_rbm()
    estimate = model.marginals(torch.zeros(1, 10), bv, bh, steps=60, chains=2000, keep=40, temperatures=3,
                               lowest=0.3, generator=torch.Generator().manual_seed(0))[0]
    assert torch.allclose(estimate, exact, atol=0.02), (estimate, exact)


def _two_chord_model_file(tmp_path, temperatures: int, gibbs: int = 40):
    """The two-chord RBM on keys 0-9 of a full 88-key RNN-RBM (the rest silent, no recurrence into
    the biases), written as a checkpoint and a model file; (checkpoint, file, exact marginals of keys 0-9)."""
    from segue.export.rnnrbm import export_rnnrbm

    small, bv, bh, exact = _two_chord_rbm()
    model = RNNRBM(RBMConfig(hidden=2, recurrent=4))
    with torch.no_grad():
        model.W.zero_(), model.W[:10].copy_(small.W), model.bh.copy_(bh[0])
        model.bv.fill_(-40.0), model.bv[:10].copy_(bv[0]), model.Wuv.zero_(), model.Wuh.zero_()
    checkpoint = tmp_path / f"two_chords_{temperatures}.pt"
    polyphony.save(checkpoint, model, RBMConfig(hidden=2, recurrent=4), {}, [], "test", [])
    out = export_rnnrbm(checkpoint, tmp_path / f"two_chords_{temperatures}.onnx", gibbs=gibbs,
                        temperatures=temperatures, lowest=0.5)
    return checkpoint, out, exact


def test_a_tempered_model_file_samples_both_chords(tmp_path, krebs, rewrite_metadata):
    """`segue export --temperatures`: the graph's replica exchange equals torch's given the same noise,
    and its samples, started on one chord, reach the exact marginals, which the plain graph's do not."""
    import numpy as np
    from segue.daemon.models.roll import RollModel
    from segue.export.rnnrbm import parity

    errors = {}
    for temperatures in (1, 4):
        checkpoint, out, exact = _two_chord_model_file(tmp_path, temperatures)
        net = RollModel(out)
        assert net.temperatures == temperatures and ("replica exchange over 4" in net.describe()) == (temperatures > 1)
        roll = np.zeros((10, 88), bool)
        roll[::2, :5], roll[1::2, 5:10] = True, True
        worst = parity(checkpoint, out, roll)
        assert worst["bias"] < 1e-5 and worst["sample_units"] == 0, worst
        first_chord = np.zeros((4000, 88), np.float32)
        first_chord[:, :5] = 1.0
        feed = net.feed(first_chord, np.zeros((4000, 4), np.float32), start=True, rng=np.random.default_rng(0))
        sample = net.session.run(["sample"], feed)[0]
        assert not sample[:, 10:].any()
        errors[temperatures] = float(np.abs(sample[:, :10].mean(0) - exact.numpy()).max())
    check_roll_model_plays(out, roll, krebs, tmp_path)  # the tempered file generates and harmonises
    from segue.daemon.models.file import ModelFileError

    for rbm in ('{"hidden": 2, "gibbs": 40, "temperatures": 1000000000, "lowest": 0.5}',  # hostile sizes
                '{"hidden": 2, "gibbs": 40}'):  # says plain, but the graph wants swap noise
        bad = rewrite_metadata(out, tmp_path / "bad.onnx", {"segue.rbm": rbm})
        with pytest.raises(ModelFileError, match="bad.onnx: (broken segue metadata|graph inputs/outputs)"):
            RollModel(bad)
    assert errors[1] > 0.08 and errors[4] < 0.04, errors
