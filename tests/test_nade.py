"""The LSTM-NADE: its frame probabilities are exact and normalised, it trains, its CLI measures it."""
import math

import pytest
import torch
from click.testing import CliRunner
from segue.daemon.cli import cli
from segue.training import nade_training, polyphony
from segue.training.nade import KEYS, RNNNADE, NADEConfig

from tests.conftest import DATA, check_roll_model_plays

JSB = DATA / "polyphonic" / "jsb_chorales.json"


def test_a_frame_probability_is_normalised():
    """Keys 10..87 are pinned silent (bias -40): the 1024 states of keys 0..9 then hold all the mass."""
    torch.manual_seed(0)
    model = RNNNADE(NADEConfig(hidden=7, recurrent=5, dropout=0.0)).eval()
    with torch.no_grad():
        model.W.normal_(0, 1.0), model.V.normal_(0, 1.0)
        bv, bh = model.biases(torch.zeros(1, 1, KEYS))
        bv[..., 10:] = -40.0
        states = torch.zeros(1024, KEYS)
        states[:, :10] = ((torch.arange(1024)[:, None] >> torch.arange(10)) & 1).float()
        logits = model.logits(states, bv[0].expand(1024, -1), bh[0].expand(1024, -1))
        log_p = -torch.nn.functional.binary_cross_entropy_with_logits(logits, states, reduction="none").sum(-1)
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-5)


def test_greedy_prediction_follows_the_models_own_conditionals():
    torch.manual_seed(1)
    model = RNNNADE(NADEConfig(hidden=9, recurrent=6, dropout=0.0)).eval()
    with torch.no_grad():
        model.W.normal_(0, 2.0), model.V.normal_(0, 2.0)
        bv, bh = torch.randn(5, KEYS), torch.randn(5, 9)
        frame = model.predict(bv, bh)
        assert torch.equal(frame, (model.logits(frame, bv, bh) > 0).float())
        assert 0 < frame.sum() < frame.numel()  # not a trivial all-off or all-on answer


def test_training_learns_and_is_repeatable(small_nade, tmp_path):
    out, record = small_nade
    model, _ = polyphony.load(out, kind="rnnnade")
    rolls = polyphony.read_data([JSB])["valid"][:8]
    untrained = RNNNADE(NADEConfig(hidden=24, recurrent=24))
    with torch.no_grad():
        untrained.to_bv.bias.copy_(polyphony.frequency_logits(polyphony.read_data([JSB])["train"]))  # as training starts
    before = nade_training.evaluate_nade(untrained, rolls)
    after = nade_training.evaluate_nade(model, rolls)
    assert after["ll"] > before["ll"] + 1.5 and after["accuracy"] > before["accuracy"] + 0.03
    again = nade_training.train_rnnnade([JSB], tmp_path / "again.pt", nade_training.NADETrainConfig(**record["config"]),
                                    progress=False)
    same = lambda m: {k: v for k, v in m.items() if k not in ("seconds", "examples_per_s")}  # noqa: E731
    assert same(again["metrics"]) == same(record["metrics"])


def test_a_mixture_of_nades_has_an_exact_likelihood(small_nade):
    """The frame-level mixture: a model mixed with itself is that model; mixed with another, each
    frame scores the log of the mean of the two probabilities, which is above the mean of the logs."""
    model, _ = polyphony.load(small_nade[0], kind="rnnnade")
    other = RNNNADE(NADEConfig(hidden=24, recurrent=24))
    with torch.no_grad():
        other.to_bv.bias.copy_(polyphony.frequency_logits(polyphony.read_data([JSB])["train"]))
    rolls = polyphony.read_data([JSB])["valid"][:8]
    alone, self_mixed = (nade_training.evaluate_nade(m, rolls, accuracy=False)["ll"] for m in (model, [model, model]))
    assert abs(alone - self_mixed) < 1e-5
    mixed = nade_training.evaluate_nade([model, other], rolls)
    with torch.no_grad():
        lls = [nade_training.nade_frames(m.eval(), rolls)[0] for m in (model, other)]
    assert abs(mixed["ll"] - float((torch.logaddexp(*lls) - math.log(2)).mean())) < 1e-5
    assert mixed["ll"] > float(torch.stack(lls).mean()) + 0.1
    assert 0 < mixed["accuracy"] < 1 and "accuracy_greedy" not in mixed


def test_eval_command_and_wrong_kinds(small_nade, small_rbm):
    out, _ = small_nade
    result = CliRunner().invoke(cli, ["eval", "rnnnade", str(out), str(JSB), "--split", "valid"])
    assert result.exit_code == 0, result.output
    plain = result.output
    assert "4602 frames, log-likelihood -" in result.output and "(exact)" in result.output
    assert "expected-accuracy" not in result.output  # its threshold comes from the valid split itself
    result = CliRunner().invoke(cli, ["eval", "rnnnade", str(out), str(JSB)])
    assert result.exit_code == 0 and "4725 frames" in result.output, result.output
    assert "expected-accuracy decoding (keys above p = 0." in result.output
    result = CliRunner().invoke(cli, ["eval", "rnnnade", str(out), str(JSB), "--split", "valid", "--transpose", "2"])
    assert result.exit_code == 0 and "4602 frames" in result.output, result.output
    assert result.output.split("log-likelihood")[1][:8] != plain.split("log-likelihood")[1][:8]  # other music
    result = CliRunner().invoke(cli, ["eval", "rnnnade", str(out), str(JSB), "--transpose", "60"])
    assert result.exit_code == 1 and "takes keys off the 88-key keyboard" in result.output
    result = CliRunner().invoke(cli, ["eval", "rnnnade", str(small_rbm[0]), str(JSB)])
    assert result.exit_code == 1 and "not an LSTM-NADE checkpoint" in result.output
    result = CliRunner().invoke(cli, ["eval", "rnnnade", str(out), str(JSB), "--split", "valid", "--mix", str(out)])
    assert result.exit_code == 0 and "(a mixture of 2 LSTM-NADEs): 4602 frames" in result.output, result.output
    assert result.output.split("log-likelihood")[1][:8] == plain.split("log-likelihood")[1][:8]
    result = CliRunner().invoke(cli, ["eval", "rnnnade", str(out), str(JSB), "--mix", str(small_rbm[0])])
    assert result.exit_code == 1 and "not an LSTM-NADE checkpoint" in result.output
    result = CliRunner().invoke(cli, ["eval", "rnnrbm", str(out), str(JSB)])
    assert result.exit_code == 1 and "not an RNN-RBM checkpoint" in result.output


def test_marginals_match_enumeration():
    """Keys 10..87 pinned silent: each key's exact probability of sounding, summed over the 1024 states
    of keys 0..9, against the sampled estimate of `marginals`."""
    torch.manual_seed(2)
    model = RNNNADE(NADEConfig(hidden=7, recurrent=5, dropout=0.0)).eval()
    with torch.no_grad():
        model.W.normal_(0, 1.5), model.V.normal_(0, 1.5)
        bv, bh = torch.randn(1, KEYS), torch.randn(1, 7)
        bv[:, 10:] = -40.0
        states = torch.zeros(1024, KEYS)
        states[:, :10] = ((torch.arange(1024)[:, None] >> torch.arange(10)) & 1).float()
        logits = model.logits(states, bv.expand(1024, -1), bh.expand(1024, -1))
        p = torch.exp(-torch.nn.functional.binary_cross_entropy_with_logits(logits, states, reduction="none").sum(-1))
        exact = (p[:, None] * states).sum(0)
    estimate = model.marginals(bv, bh, samples=20_000, generator=torch.Generator().manual_seed(0))[0]
    assert torch.allclose(estimate, exact, atol=0.015), (estimate[:10], exact[:10])
    assert ((exact[:10] > 0.1) & (exact[:10] < 0.9)).sum() >= 5  # not a trivial, all-certain frame


def test_expected_accuracy_picks_a_threshold_below_one_half():
    """Calibrated probabilities, keys drawn from them: the threshold chosen on one half of the frames
    scores better on the other half than 0.5 does, and sits near J / (1 + J)."""
    import numpy as np
    from segue.daemon.formats import pianoroll

    rng = np.random.default_rng(0)
    marginals = rng.beta(0.3, 2.0, size=(4000, KEYS))
    target = rng.random(marginals.shape) < marginals
    scores = pianoroll.expected_accuracy(marginals[2000:], target[2000:], ([target[:2000]], marginals[:2000]))
    at_half = pianoroll.frame_accuracy(marginals[2000:] > 0.5, target[2000:])
    j = scores["accuracy_expected"]
    assert j > at_half + 0.02, (j, at_half)
    assert abs(scores["threshold"] - j / (1 + j)) < 0.05, scores


def test_export_matches_torch_generates_and_harmonises(small_nade, tmp_path, krebs):
    """The exported step equals torch's (biases, state, and every sampled key given the same noise),
    equals the trained model's own biases, keeps held keys, and runs `generate` and `info`."""
    from segue.daemon.models.roll import RollModel
    from segue.export.nade import parity

    out, _ = small_nade
    model_file = tmp_path / "nade.onnx"
    result = CliRunner().invoke(cli, ["export", str(out), "--out", str(model_file)])
    assert result.exit_code == 0, result.output
    roll = polyphony.read_data([JSB])["test"][0]
    worst = parity(out, model_file, roll[:40])
    assert worst["bias"] < 1e-4 and worst["state"] < 1e-5 and worst["sample_units"] == 0, worst
    assert RollModel(model_file).sampler == "nade"
    check_roll_model_plays(model_file, roll, krebs, tmp_path)
    result = CliRunner().invoke(cli, ["info", str(model_file)])
    assert result.exit_code == 0 and "kind: piano-roll (LSTM-NADE)" in result.output and "NADE 24 hidden" in result.output
    result = CliRunner().invoke(cli, ["export", str(out), "--out", str(tmp_path / "eighths.onnx"), "--beats", "0.5"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["info", str(tmp_path / "eighths.onnx")])  # e.g. Nottingham's eighth-note frames
    assert result.exit_code == 0 and "a frame is 0.5 beats" in result.output, result.output
    result = CliRunner().invoke(cli, ["export", str(out), "--out", str(tmp_path / "t.onnx"), "--temperatures", "4"])
    assert result.exit_code == 2 and "--temperatures is for RNN-RBM checkpoints" in result.output, result.output
    result = CliRunner().invoke(cli, ["generate", "--model", "chorale-nade", "--frames", "4", "--seed", "1",
                                      "--out", str(tmp_path / "shipped.mid")])  # the shipped NADE, by name
    assert result.exit_code == 0 and "frames of 1 beat " in result.output, result.output


def test_init_trains_on_from_a_checkpoint(small_nade, tmp_path):
    out, record = small_nade
    config = nade_training.NADETrainConfig(**{**record["config"], "epochs": 1})
    fresh = nade_training.train_rnnnade([JSB], tmp_path / "fresh.pt", config, progress=False)
    more = nade_training.train_rnnnade([JSB], tmp_path / "more.pt", config, progress=False, init=out)
    assert more["metrics"]["valid_ll"] > max(fresh["metrics"]["valid_ll"], record["metrics"]["valid_ll"] - 0.05)
    with pytest.raises(ValueError, match="differ from this run's"):
        nade_training.train_rnnnade([JSB], tmp_path / "x.pt", nade_training.NADETrainConfig(hidden=8, recurrent=8, epochs=1),
                                progress=False, init=out)


def test_clamped_sampling_reweights_to_the_exact_conditional(tmp_path):
    """Key 5 held: keys 0..4 are sampled before the NADE sees it, so the graph's log_weight must
    correct them. The weighted average of many candidate frames equals each key's exact probability
    given the held key (the 2^9 states of keys 0..9 enumerated; keys 10..87 pinned silent)."""
    import numpy as np
    from segue.daemon.models.roll import NADE_OUTPUTS, RollModel
    from segue.export.nade import export_nade

    torch.manual_seed(3)
    model = RNNNADE(NADEConfig(hidden=7, recurrent=5, dropout=0.0)).eval()
    with torch.no_grad():
        model.W.normal_(0, 1.0), model.V.normal_(0, 1.0)
        model.W[:5] *= 3.0  # keys 0..4 move the hidden units that key 5 reads strongly:
        model.V[5] *= 4.0  # holding key 5 changes what is likely below it
        model.to_bv.weight[10:] = 0.0
        model.to_bv.bias[10:] = -40.0
    checkpoint = tmp_path / "tiny.pt"
    torch.save(model.to_checkpoint(), checkpoint)
    net = RollModel(export_nade(checkpoint, tmp_path / "tiny.onnx"))
    rows = 40_000
    clamp = np.zeros((rows, KEYS), np.float32)
    clamp[:, 5] = 1.0
    feed = net.feed(np.zeros((rows, KEYS), np.float32), np.zeros((rows, net.recurrent), np.float32), start=True,
                    rng=np.random.default_rng(0), clamp=clamp, fixed=clamp)
    sample, bv, bh, _, log_weight = net.session.run(list(NADE_OUTPUTS), feed)
    w = np.exp(log_weight[:, 0] - log_weight.max())
    estimate = (w[:, None] * sample[:, :10]).sum(0) / w.sum()
    with torch.no_grad():
        states = torch.zeros(1024, KEYS)
        states[:, :10] = ((torch.arange(1024)[:, None] >> torch.arange(10)) & 1).float()
        logits = model.logits(states, torch.from_numpy(bv[:1]).expand(1024, -1), torch.from_numpy(bh[:1]).expand(1024, -1))
        p = torch.exp(-torch.nn.functional.binary_cross_entropy_with_logits(logits, states, reduction="none").sum(-1))
        p = p * states[:, 5]
        exact = ((p[:, None] * states).sum(0) / p.sum())[:10].numpy()
        unweighted = sample[:, :10].mean(0)
    assert np.abs(estimate - exact).max() < 0.02, (estimate, exact)
    assert np.abs(unweighted - exact)[:5].max() > 0.1  # without the weights, the keys below are wrong


def test_a_held_key_the_model_thinks_impossible_keeps_a_finite_weight(tmp_path):
    """Key 0's logit is -300: the graph's log_weight for holding it is -300, not -inf, and equals
    torch's frame log-probability; and a stream asked to hold such keys with a file whose weights
    are all -inf or NaN (as files exported before the fix give) still plays, the held keys kept."""
    import numpy as np
    from segue.daemon.models.roll import RollModel, resampling, score_rolls
    from segue.export.nade import export_nade

    torch.manual_seed(4)
    model = RNNNADE(NADEConfig(hidden=7, recurrent=5, dropout=0.0)).eval()
    with torch.no_grad():
        model.to_bv.weight[0] = 0.0
        model.to_bv.bias[0] = -300.0
    checkpoint = tmp_path / "impossible.pt"
    torch.save(model.to_checkpoint(), checkpoint)
    net = RollModel(export_nade(checkpoint, tmp_path / "impossible.onnx"))
    roll = np.zeros((3, KEYS), bool)
    roll[:, [0, 39, 43]] = True
    logs, _ = score_rolls(net, [roll], samples=2)
    with torch.no_grad():
        exact = nade_training.nade_frames(model, [roll])[0].numpy()
    assert np.isfinite(logs).all() and logs.max() < -290, logs
    assert np.allclose(logs, exact, rtol=1e-4), (logs, exact)
    assert np.allclose(resampling(np.array([-np.inf, np.nan, 0.0, np.log(3.0)])), [0, 0, 0.25, 0.75])
    assert np.allclose(resampling(np.array([-np.inf, np.nan])), [0.5, 0.5])
    stream = RollModel("chorale-nade").stream(seed=0)  # shipped before the fix: Log(Sigmoid) in its graph
    held = np.zeros(KEYS, bool)
    held[[0, 1, 2, 85, 86, 87]] = True  # the keyboard's ends, never in a chorale
    previous = None
    for _ in range(3):
        previous = stream.advance(previous, held=held)
        assert previous[held].all()


def test_a_model_file_is_measured_without_its_checkpoint(small_nade, small_nade_model, small_roll_model, tmp_path):
    """`segue eval roll`: the exported NADE's exact likelihood through onnxruntime equals torch's, its
    sampled key probabilities agree with the conditionals' means; an RNN-RBM file gets accuracy only,
    an event model a one-line error."""
    import json

    import numpy as np
    from segue.daemon.models.roll import RollModel, score_rolls

    model, _ = polyphony.load(small_nade[0], kind="rnnnade")
    data = polyphony.read_data([JSB])
    rolls = [data["valid"][0][:50]]
    logs, marginals = score_rolls(RollModel(small_nade_model), rolls, samples=2000, seed=0)
    with torch.no_grad():
        exact, bv, bh = nade_training.nade_frames(model.eval(), rolls)
        means = model.marginals(bv, bh, 2000, torch.Generator().manual_seed(0)).numpy()
    assert len(logs) == len(marginals) == sum(map(len, rolls))
    assert np.allclose(logs, exact.numpy(), atol=1e-4), np.abs(logs - exact.numpy()).max()
    assert np.abs(marginals - means).max() < 0.06 and ((means > 0.1) & (means < 0.9)).sum() > 10
    few = tmp_path / "few.json"  # a few pieces of each split, in the benchmark's format
    few.write_text(json.dumps({split: [[[int(k) + 21 for k in np.flatnonzero(f)] for f in r] for r in data[split][:8]]
                               for split in ("valid", "test")}))
    result = CliRunner().invoke(cli, ["eval", "roll", str(small_nade_model), str(few), "--samples", "20"])
    assert result.exit_code == 0, result.output
    frames = sum(map(len, data["test"][:8]))
    assert f"{frames} frames" in result.output and "(exact)" in result.output and "expected-accuracy decoding" in result.output
    torch_ll = nade_training.evaluate_nade(model, data["test"][:8], accuracy=False)["ll"]
    assert f"log-likelihood {torch_ll:.3f} nats/frame" in result.output, (torch_ll, result.output)
    moved = nade_training.evaluate_nade(model, [polyphony.shifted(r, 2) for r in data["test"][:8]], accuracy=False)["ll"]
    result = CliRunner().invoke(cli, ["eval", "roll", str(small_nade_model), str(few), "--samples", "5", "--transpose", "2"])
    assert result.exit_code == 0 and f"log-likelihood {moved:.3f} nats/frame" in result.output, (moved, result.output)
    result = CliRunner().invoke(cli, ["eval", "roll", str(small_nade_model), str(few), "--transpose", "60"])
    assert result.exit_code == 1 and "takes keys off the 88-key keyboard" in result.output
    result = CliRunner().invoke(cli, ["eval", "roll", str(small_roll_model), str(few), "--split", "valid", "--samples", "5"])
    assert result.exit_code == 0 and "no log-likelihood (an RNN-RBM's needs AIS" in result.output, result.output
    assert "expected-accuracy" not in result.output  # valid is the split its threshold would come from
    result = CliRunner().invoke(cli, ["eval", "roll", "melody", str(few)])
    assert result.exit_code == 1 and "needs a piano-roll model" in result.output and len(result.output.splitlines()) == 1
