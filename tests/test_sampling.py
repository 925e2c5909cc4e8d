"""Sampling: the distribution drawn from is the one asked for."""
import numpy as np
import pytest
from segue.daemon.models.sampling import GumbelNoise, Sampling

LOGITS = np.log(np.array([0.5, 0.25, 0.15, 0.07, 0.03], np.float32))


def frequencies(sampling, n=40000, banned=None):
    noise = GumbelNoise(1)
    draws = [sampling.draw(LOGITS, noise, banned) for _ in range(n)]
    return np.bincount(draws, minlength=len(LOGITS)) / n


def test_plain_draws_follow_the_softmax():
    assert frequencies(Sampling()) == pytest.approx([0.5, 0.25, 0.15, 0.07, 0.03], abs=0.01)


def test_temperature_sharpens_and_flattens():
    cold, hot = frequencies(Sampling(temperature=0.5)), frequencies(Sampling(temperature=2.0))
    assert cold[0] > 0.6 and hot[0] < 0.4
    assert cold == pytest.approx(Sampling(temperature=0.5).probabilities(LOGITS), abs=0.01)


def test_top_k_and_top_p_cut_the_tail():
    assert frequencies(Sampling(top_k=2))[2:].sum() == 0
    assert frequencies(Sampling(top_k=2))[:2] == pytest.approx([2 / 3, 1 / 3], abs=0.01)
    assert frequencies(Sampling(top_p=0.7))[2:].sum() == 0  # 0.5 + 0.25 covers 0.7
    assert frequencies(Sampling(top_p=0.8))[3:].sum() == 0


def test_banned_class_is_never_drawn():
    f = frequencies(Sampling(), banned=0)
    assert f[0] == 0 and f[1] == pytest.approx(0.5, abs=0.01)


def test_same_seed_same_draws():
    a = [Sampling().draw(LOGITS, n) for n in [GumbelNoise(3)] for _ in range(100)]
    b = [Sampling().draw(LOGITS, n) for n in [GumbelNoise(3)] for _ in range(100)]
    assert a == b


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": 0}, "temperature"), ({"temperature": -1}, "temperature"),
    ({"top_k": -1}, "top-k"), ({"top_p": 0}, "top-p"), ({"top_p": 1.5}, "top-p"),
])
def test_options_out_of_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Sampling(**kwargs)
