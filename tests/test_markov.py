"""The variable-order Markov model: Witten-Bell by hand, and a session model whose memory stays flat."""
from __future__ import annotations

import numpy as np
import pytest
from segue.daemon.models.markov import VariableOrderMarkov, interval_symbol


def test_witten_bell_by_hand():
    m = VariableOrderMarkov(symbols=3, order=1)
    for s in [0, 1, 0, 1, 0, 2]:
        m.observe(s)
    assert np.allclose(m.distribution(()), np.array([4, 3, 2]) / 9)  # add-one unigram
    assert np.allclose(m.distribution((0,)), np.array([8, 24, 13]) / 45)
    assert np.allclose(m.distribution((2,)), np.array([4, 3, 2]) / 9)  # never seen: the unigram


def test_distributions_sum_to_one_at_every_order():
    rng = np.random.default_rng(0)
    m = VariableOrderMarkov(order=5)
    for s in rng.integers(30, 45, 2000):
        m.observe(int(s))
        assert abs(m.distribution().sum() - 1) < 1e-9


def test_a_session_model_forgets_what_left_its_window_and_stays_bounded():
    window, order = 200, 4
    m = VariableOrderMarkov(order=order, window=window)
    riff = [interval_symbol(x) for x in (2, 2, 1, -5)]
    other = [interval_symbol(x) for x in (7, -3, -4)]
    for _ in range(2000):
        for s in riff:
            m.observe(s)
    sizes = []
    for _ in range(1000):
        for s in other:
            m.observe(s)
        sizes.append(len(m))
    assert max(sizes) <= window * order and len(set(sizes[-100:])) == 1  # flat
    assert all(s in other for s in np.nonzero(m.unigram > 1)[0])  # the riff's counts are gone
    fresh = VariableOrderMarkov(order=order)
    for _ in range(1000):
        for s in other:
            fresh.observe(s)
    assert np.argmax(m.distribution()) == np.argmax(fresh.distribution()) == other[(3000) % 3]


def test_bad_orders_and_windows_are_refused():
    with pytest.raises(ValueError, match="order must be in range 1..8"):
        VariableOrderMarkov(order=0)
    with pytest.raises(ValueError, match="window must hold more than 3"):
        VariableOrderMarkov(order=3, window=3)


def test_the_session_model_helps_on_a_piece_that_repeats_itself():
    from segue.daemon.offline.melody_eval import score_markov, train_markov

    rng = np.random.default_rng(1)
    walk = lambda n: {"collection": "test", "pitch": 60 + np.cumsum(rng.integers(-2, 3, n))}  # noqa: E731
    corpus = train_markov([walk(200) for _ in range(20)], order=3)
    motif = [0, 4, 7, 5, 4, 2, 0, -3]
    tune = {"collection": "test", "pitch": np.array([60 + x for x in motif * 12])}
    alone = score_markov(corpus, [tune])["test"]
    helped = score_markov(corpus, [tune], session_weight=0.5)["test"]
    assert alone.notes == helped.notes == len(tune["pitch"]) - 1
    assert helped.nll < alone.nll - 0.5 * alone.notes  # at least half a nat a note better
