"""An LSTM-NADE over piano-roll frames: the "model of our choice" set against the paper's best row.

Boulanger-Lewandowski et al. (2012) replace the RNN-RBM's per-frame RBM by a NADE (the RNN-NADE)
because a NADE gives each frame's probability exactly, with no partition function:

    p(v_t | past) = prod_i p(v_t,i | v_t,<i, past)
    p(v_t,i = 1 | ...) = sigmoid(b_i(t) + V_i . sigmoid(c(t) + W_<i v_t,<i))

Here the recurrence is an LSTM (the paper's RNN-NADE used a plain RNN trained with
Hessian-free optimisation), stepped on the previous frame; b(t) and c(t) are linear in its state.
Log-likelihoods are therefore exact, per frame, in nats.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

KEYS = 88


@dataclass(frozen=True)
class NADEConfig:
    hidden: int = 150  # NADE hidden units
    recurrent: int = 150  # LSTM units
    dropout: float = 0.3  # on the LSTM's state before it sets the biases (training only)

    def __post_init__(self):
        if min(self.hidden, self.recurrent) < 1 or not 0 <= self.dropout < 1:
            raise ValueError("hidden and recurrent must be >= 1, dropout in [0, 1)")


class RNNNADE(nn.Module):
    def __init__(self, config: NADEConfig = NADEConfig()):
        super().__init__()
        self.config = config
        self.rnn = nn.LSTM(KEYS, config.recurrent, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.W = nn.Parameter(torch.randn(KEYS, config.hidden) * 0.01)  # input -> NADE hidden
        self.V = nn.Parameter(torch.randn(KEYS, config.hidden) * 0.01)  # NADE hidden -> output i
        self.to_bv = nn.Linear(config.recurrent, KEYS)
        self.to_bh = nn.Linear(config.recurrent, config.hidden)

    def biases(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, 88) frames -> each frame's visible and hidden biases, given the frames before it."""
        past = torch.cat([torch.zeros_like(v[:, :1]), v[:, :-1]], dim=1)
        state, _ = self.rnn(past)
        state = self.drop(state)
        return self.to_bv(state), self.to_bh(state)

    def logits(self, v: torch.Tensor, bv: torch.Tensor, bh: torch.Tensor) -> torch.Tensor:
        """logit p(v_i = 1 | v_<i) for every key of every frame (teacher forcing within the frame)."""
        contrib = v.unsqueeze(-1) * self.W  # (..., 88, H)
        a = bh.unsqueeze(-2) + torch.cumsum(contrib, dim=-2) - contrib  # c + sum_{j<i} v_j W_j
        return bv + (torch.sigmoid(a) * self.V).sum(-1)

    def log_likelihood(self, v: torch.Tensor, biases: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Exact log p(v_t | v_<t) for each frame: (B, T); `biases`: from `self.biases(v)`, if already run."""
        logits = self.logits(v, *(biases or self.biases(v)))
        return -nn.functional.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(-1)

    @torch.no_grad()
    def predict(self, bv: torch.Tensor, bh: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One frame per row of biases (N, 88), key by key: sampled, or greedy (p > 0.5) without a generator."""
        v = torch.zeros_like(bv)
        a = bh.clone()
        for i in range(KEYS):
            p = torch.sigmoid(bv[:, i] + (torch.sigmoid(a) * self.V[i]).sum(-1))
            v[:, i] = (torch.rand(p.shape, generator=generator) < p).float() if generator is not None else (p > 0.5).float()
            a = a + v[:, i:i + 1] * self.W[i]
        return v

    @torch.no_grad()
    def marginals(self, bv: torch.Tensor, bh: torch.Tensor, samples: int = 100,
                  generator: torch.Generator | None = None, rows: int = 20_000, tick=None) -> torch.Tensor:
        """Each key's probability of sounding, per row of biases (N, 88): the mean over `samples`
        frames sampled key by key of each key's conditional (Rao-Blackwellised, lower variance
        than counting the sampled keys)."""
        out = []
        for start in range(0, len(bv), max(1, rows // samples)):
            b, c = (x[start:start + max(1, rows // samples)].repeat_interleave(samples, 0) for x in (bv, bh))
            total = torch.zeros_like(b)
            a = c.clone()
            for i in range(KEYS):
                p = torch.sigmoid(b[:, i] + (torch.sigmoid(a) * self.V[i]).sum(-1))
                total[:, i] = p
                a = a + (torch.rand(p.shape, generator=generator) < p).float()[:, None] * self.W[i]
            out.append(total.view(-1, samples, KEYS).mean(1))
            if tick is not None:
                tick(len(out[-1]))
        return torch.cat(out)

    def to_checkpoint(self) -> dict:
        return {"kind": "rnnnade", "config": asdict(self.config), "state": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, data: dict) -> "RNNNADE":
        model = cls(NADEConfig(**data["config"]))
        model.load_state_dict(data["state"])
        return model
