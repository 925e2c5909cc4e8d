"""The counting experiment's data and a tiny model that learns to count (experiments/counting.py; run with python -m pytest experiments)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import counting_model as counting
from counting_model import END, ONE, START, ZERO


def test_strings_are_start_zeros_ones_and_targets_shifted_by_one():
    x, y = counting.string(3)
    assert x.tolist() == [START, ZERO, ZERO, ZERO, ONE, ONE, ONE]
    assert y.tolist() == [ZERO, ZERO, ZERO, ONE, ONE, ONE, END]
    for n in (1, 7, 20):
        x, y = counting.string(n)
        assert len(x) == len(y) == 2 * n + 1 and np.array_equal(x[1:], y[:-1])
        assert (y == ZERO).sum() == (y == ONE).sum() == n and y[-1] == END
    with pytest.raises(ValueError):
        counting.string(0)


def test_batches_are_padded_and_masked():
    x, y, mask = counting.batch([1, 3])
    assert x.shape == y.shape == mask.shape == (2, 7)
    assert mask.sum(1).tolist() == [3, 7]
    assert y[0, :3].tolist() == [ZERO, ONE, END]


def test_the_table_counts_wrong_positions_after_the_first_one():
    model = counting.Counter("rnn", 2)
    with torch.no_grad():  # a model that always says "1": right on the ones, wrong on the end
        for p in model.parameters():
            p.zero_()
        model.out.bias[ONE] = 1.0
    assert counting.after_first_one(model, 4) == ("111E", "1111", 1)
    assert counting.correct_up_to(model, 5) == (0, [1, 1, 1, 1, 1])


def test_a_tiny_lstm_learns_to_count_over_its_training_range():
    config = counting.CountingConfig(cell="lstm", hidden=4, train_max_n=6, steps=1000, lr=0.03, forget_bias=2.0, seed=0)
    untrained = counting.Counter("lstm", 4)
    assert counting.correct_up_to(untrained, 6)[0] < 6
    model, losses = counting.train(config)
    assert losses[-1] < math.log(6) + 0.1  # the floor: which n it is cannot be known from the zeros
    upto, wrong = counting.correct_up_to(model, 6)
    assert upto == 6 and wrong == [0] * 6


def test_lstm_gates_are_traced_step_by_step():
    model = counting.Counter("lstm", 1)
    trace = counting.trajectory(model, 5)
    assert trace["c"].shape == (11, 1) and set(trace) >= {"i", "f", "o", "g", "c", "h"}
    _, states = model(torch.from_numpy(counting.string(5)[0])[None])
    assert np.allclose(trace["h"], states[0].detach().numpy(), atol=1e-6)  # the hand-written cell is PyTorch's
