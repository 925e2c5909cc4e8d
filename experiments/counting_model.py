"""The seeds' counting experiment: can a tiny RNN, GRU or LSTM learn 0^n 1^n? (SEEDS.md section 3)

Inputs are one-hot symbols 0, 1, END (2) and START (3); outputs are 0, 1, END. A string of order n
is read as START 0^n 1^n and the targets are the same string shifted by one: 0^n 1^n END. The
loss is the per-step cross-entropy summed over the sequence (and averaged over the strings of a
batch). While zeros come in, the next symbol is genuinely uncertain (another 0, or the first 1);
from the first 1 on it is determined: n - 1 more ones, then END, which is where counting shows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

ZERO, ONE, END, START = 0, 1, 2, 3
SYMBOLS = 4  # inputs
OUTPUTS = 3  # predictions: 0, 1, END
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def string(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) for 0^n 1^n: START 0^n 1^n -> 0^n 1^n END, each of length 2n + 1."""
    if n < 1:
        raise ValueError("n must be >= 1")
    body = np.array([ZERO] * n + [ONE] * n, np.int64)
    return np.concatenate([[START], body]), np.concatenate([body, [END]])


def batch(ns) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Strings of orders `ns`, padded: inputs (B, T), targets (B, T), mask (B, T)."""
    ns = list(ns)
    longest = 2 * max(ns) + 1
    x = np.full((len(ns), longest), END, np.int64)
    y = np.full((len(ns), longest), END, np.int64)
    mask = np.zeros((len(ns), longest), bool)
    for row, n in enumerate(ns):
        xi, yi = string(n)
        x[row, : len(xi)], y[row, : len(yi)], mask[row, : len(yi)] = xi, yi, True
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)


@dataclass(frozen=True)
class CountingConfig:
    cell: str = "rnn"
    hidden: int = 2
    train_max_n: int = 10
    steps: int = 3000  # full-batch optimiser steps over n = 1 .. train_max_n
    lr: float = 0.02  # Adam, annealed to zero on a cosine over `steps`
    clip: float = 1.0
    forget_bias: float = 0.0  # LSTM: added to the forget gate bias at the start (Gers et al. 2000 open it)
    seed: int = 0

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}")
        if min(self.hidden, self.train_max_n, self.steps) < 1 or not self.lr > 0:
            raise ValueError("hidden, train-max-n and steps must be >= 1, lr > 0")


class Counter(nn.Module):
    def __init__(self, cell: str, hidden: int, forget_bias: float = 0.0):
        super().__init__()
        self.cell = cell
        self.rnn = CELLS[cell](SYMBOLS, hidden, batch_first=True)
        self.out = nn.Linear(hidden, OUTPUTS)
        if cell == "lstm" and forget_bias:
            with torch.no_grad():  # PyTorch's gate order is input, forget, cell, output
                self.rnn.bias_ih_l0[hidden:2 * hidden] += forget_bias

    def forward(self, x: torch.Tensor):
        states, _ = self.rnn(nn.functional.one_hot(x, SYMBOLS).float())
        return self.out(states), states


def loss_of(model: Counter, x, y, mask) -> torch.Tensor:
    """Sum of per-step cross-entropies over each string, averaged over the strings."""
    logits, _ = model(x)
    ce = nn.functional.cross_entropy(logits.reshape(-1, OUTPUTS), y.reshape(-1), reduction="none").view(y.shape)
    return (ce * mask).sum(1).mean()


def train(config: CountingConfig) -> tuple[Counter, list[float]]:
    torch.manual_seed(config.seed)
    model = Counter(config.cell, config.hidden, config.forget_bias)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps)
    x, y, mask = batch(range(1, config.train_max_n + 1))
    losses = []
    for _ in range(config.steps):
        loss = loss_of(model, x, y, mask)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
    return model, losses


@torch.no_grad()
def after_first_one(model: Counter, n: int) -> tuple[str, str, int]:
    """(target, greedy prediction, wrong positions) for the n symbols that follow the first 1:
    n - 1 ones and END. The model reads the true string (teacher forcing), as the seeds do."""
    x, y = string(n)
    logits, _ = model(torch.from_numpy(x)[None])
    predicted = logits[0].argmax(-1).numpy()
    first_one = n + 1  # input position of the first 1 (after START and n zeros)
    target, guess = y[first_one:], predicted[first_one:]
    show = "01E"
    return "".join(show[t] for t in target), "".join(show[g] for g in guess), int((target != guess).sum())


def correct_up_to(model: Counter, limit: int) -> tuple[int, list[int]]:
    """The largest N with every n <= N fully correct, and the wrong positions for n = 1 .. limit."""
    wrong = [after_first_one(model, n)[2] for n in range(1, limit + 1)]
    upto = next((n - 1 for n, w in enumerate(wrong, 1) if w), limit)
    return upto, wrong


@torch.no_grad()
def trajectory(model: Counter, n: int) -> dict[str, np.ndarray]:
    """The hidden state at every step of 0^n 1^n, and for an LSTM its gates and cell state."""
    x, _ = string(n)
    onehot = nn.functional.one_hot(torch.from_numpy(x), SYMBOLS).float()
    if model.cell != "lstm":
        _, states = model(torch.from_numpy(x)[None])
        return {"input": x, "h": states[0].numpy()}
    rnn = model.rnn
    H = rnn.hidden_size
    h, c = torch.zeros(H), torch.zeros(H)
    rows = {k: [] for k in ("i", "f", "g", "o", "c", "h")}
    for v in onehot:  # PyTorch's LSTM gate order: input, forget, cell candidate, output
        z = rnn.weight_ih_l0 @ v + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
        i, f, g, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]), torch.tanh(z[2 * H:3 * H]), torch.sigmoid(z[3 * H:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        for k, val in zip(rows, (i, f, g, o, c, h)):
            rows[k].append(val.numpy().copy())
    return {"input": x, **{k: np.array(v) for k, v in rows.items()}}

