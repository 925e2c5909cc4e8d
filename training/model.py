"""The event LSTM composer (the seed's architecture, made streamable)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Architecture; saved in every checkpoint so the model can be rebuilt without code changes."""

    sizes: tuple[int, int, int]  # classes of the pitch, velocity and time heads
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.2  # on the LSTM output, as the seed has it
    inputs: tuple[int, ...] = ()  # classes of input-only features (the metrical model: position, metre)

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        object.__setattr__(self, "inputs", tuple(int(s) for s in self.inputs))
        if len(self.sizes) != 3 or min(self.sizes) < 2:
            raise ValueError("sizes must be three class counts >= 2")
        if self.hidden < 1 or self.layers < 1:
            raise ValueError("hidden and layers must be >= 1")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in range [0, 1)")

    def to_dict(self) -> dict:
        return asdict(self)


class EventLSTM(nn.Module):
    """One-hot (pitch | velocity | time) -> LSTM -> dropout -> linear -> three log-softmax heads."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.lstm = nn.LSTM(sum(config.sizes) + sum(config.inputs), config.hidden, config.layers, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, sum(config.sizes))

    def encode(self, events: torch.Tensor, extras: torch.Tensor | None = None) -> torch.Tensor:
        """(..., 3) int64 classes (and (..., len(inputs)) input-only classes) -> float one-hots."""
        parts = [F.one_hot(events[..., i], n) for i, n in enumerate(self.config.sizes)]
        parts += [F.one_hot(extras[..., i], n) for i, n in enumerate(self.config.inputs)]
        return torch.cat(parts, -1).float()

    def forward(self, events: torch.Tensor, extras: torch.Tensor | None = None, state=None):
        """events (B, T, 3), extras (B, T, len(inputs)) -> logits (B, T, P+V+T), (h, c) each (layers, B, hidden)."""
        out, state = self.lstm(self.encode(events, extras), state)
        return self.head(self.drop(out)), state

    def step(self, pitch, velocity, time, h, c, *extras):
        """The exported streaming step: (B,) x3, (layers, B, hidden) x2 [, (B,) per input-only
        feature] -> logits (B, P+V+T), h, c.

        The same arithmetic as nn.LSTM, written out so the graph is small: the one-hot input
        times W_ih is three rows of W_ih^T, looked up instead of multiplied (a step costs
        about 25 % less in onnxruntime than the LSTM operator with a one-hot input).
        """
        p_size, v_size, _ = self.config.sizes
        hidden = self.config.hidden
        x, hs, cs = None, [], []
        for layer in range(self.config.layers):
            w_ih = getattr(self.lstm, f"weight_ih_l{layer}").t()  # (in, 4 * hidden)
            w_hh = getattr(self.lstm, f"weight_hh_l{layer}").t()  # (hidden, 4 * hidden)
            bias = getattr(self.lstm, f"bias_ih_l{layer}") + getattr(self.lstm, f"bias_hh_l{layer}")
            if layer == 0:  # slices of constants fold away in the exported graph
                w_p, w_v, w_t = w_ih[:p_size], w_ih[p_size : p_size + v_size], w_ih[p_size + v_size :]
                gates = w_p[pitch] + w_v[velocity] + w_t[time]
                start = sum(self.config.sizes)
                for value, size in zip(extras, self.config.inputs):
                    gates = gates + w_ih[start : start + size][value]
                    start += size
            else:
                gates = x @ w_ih
            gates = gates + h[layer] @ w_hh + bias  # (B, 4 * hidden), PyTorch order i, f, g, o
            i, f, g, o = gates.split(hidden, -1)
            c_next = torch.sigmoid(f) * c[layer] + torch.sigmoid(i) * torch.tanh(g)
            x = torch.sigmoid(o) * torch.tanh(c_next)
            hs.append(x)
            cs.append(c_next)
        if len(hs) == 1:  # one Unsqueeze instead of a Concat in the graph
            return self.head(x), hs[0][None], cs[0][None]
        return self.head(x), torch.stack(hs), torch.stack(cs)

    def head_log_probs(self, logits: torch.Tensor) -> list[torch.Tensor]:
        return [F.log_softmax(part, -1) for part in logits.split(self.config.sizes, -1)]


def head_losses(model: EventLSTM, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean NLL per head (3,), over every position of logits (..., P+V+T) / targets (..., 3)."""
    logps = model.head_log_probs(logits)
    return torch.stack([F.nll_loss(lp.reshape(-1, lp.shape[-1]), targets[..., i].reshape(-1))
                        for i, lp in enumerate(logps)])


def head_hits(model: EventLSTM, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Correct argmax predictions per head (3,), summed over positions."""
    parts = logits.split(model.config.sizes, -1)
    return torch.stack([(p.argmax(-1) == targets[..., i]).sum() for i, p in enumerate(parts)])
