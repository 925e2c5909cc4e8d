"""The RNN-RBM (Boulanger-Lewandowski et al. 2012): an RNN that sets the biases of one RBM per frame.

    bv(t) = bv + Wuv u(t-1)      bh(t) = bh + Wuh u(t-1)
    u(t)  = tanh(bu + Wuu u(t-1) + Wvu v(t))

Training runs the RNN over the true frames, then CD-k on every frame's RBM; the gradient of the
free-energy difference F(v) - F(v~) (v~ held constant) flows back through the biases into the
RNN, as in the deeplearning.net tutorial. Unlike the tutorial (one sequence per SGD step, a day
on Nottingham), sequences are cut into chunks and trained in minibatches with Adam.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class RBMConfig:
    visible: int = 88
    hidden: int = 150  # RBM hidden units
    recurrent: int = 100  # RNN units
    k: int = 15  # CD-k Gibbs steps in training


def swap_pairs(copies: int, first: int) -> list[int]:
    """The lower copy of each pair that a round of replica exchange starting at `first` (0 or 1)
    tries to swap: (first, first + 1), (first + 2, first + 3), ... A python list, so that the
    exported graph's indices stay constants."""
    return list(range(first, copies - 1, 2))


class RNNRBM(nn.Module):
    def __init__(self, config: RBMConfig = RBMConfig()):
        super().__init__()
        self.config = config
        v, h, u = config.visible, config.hidden, config.recurrent
        # The tutorial's initialisation: W ~ N(0, 0.01), recurrent matrices ~ N(0, 1e-4), zero biases.
        self.W = nn.Parameter(torch.randn(v, h) * 0.01)
        self.bv = nn.Parameter(torch.zeros(v))
        self.bh = nn.Parameter(torch.zeros(h))
        self.Wuh = nn.Parameter(torch.randn(u, h) * 1e-4)
        self.Wuv = nn.Parameter(torch.randn(u, v) * 1e-4)
        self.Wvu = nn.Parameter(torch.randn(v, u) * 1e-4)
        self.Wuu = nn.Parameter(torch.randn(u, u) * 1e-4)
        self.bu = nn.Parameter(torch.zeros(u))
        self.u0 = nn.Parameter(torch.zeros(u))

    # -- the recurrence ------------------------------------------------------------------------
    def run(self, v: torch.Tensor) -> torch.Tensor:
        """u(t-1) for every frame t of v (B, T, V): (B, T, U); u(-1) is the learned u0."""
        batch, steps, _ = v.shape
        u = self.u0.expand(batch, -1)
        inputs = v @ self.Wvu + self.bu  # the input part of every step at once
        before = []
        for t in range(steps):
            before.append(u)
            u = torch.tanh(inputs[:, t] + u @ self.Wuu)
        return torch.stack(before, 1)

    def biases(self, u_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.bv + u_prev @ self.Wuv, self.bh + u_prev @ self.Wuh

    # -- the conditional RBMs ------------------------------------------------------------------
    def free_energy(self, v: torch.Tensor, bv: torch.Tensor, bh: torch.Tensor) -> torch.Tensor:
        """F(v) = -v.bv - sum softplus(v W + bh), per frame."""
        return -(v * bv).sum(-1) - F.softplus(v @ self.W + bh).sum(-1)

    def gibbs(self, v: torch.Tensor, bv: torch.Tensor, bh: torch.Tensor, steps: int,
              clamp: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """`steps` rounds of block Gibbs sampling from v; `clamp` (bool, like v) keeps those units as they are."""
        fixed = v
        for _ in range(steps):
            h = torch.bernoulli(torch.sigmoid(v @ self.W + bh), generator=generator)
            v = torch.bernoulli(torch.sigmoid(h @ self.W.T + bv), generator=generator)
            if clamp is not None:
                v = torch.where(clamp, fixed, v)
        return v

    @torch.no_grad()
    def marginals(self, start: torch.Tensor, bv: torch.Tensor, bh: torch.Tensor, steps: int = 25,
                  chains: int = 20, keep: int = 10, temperatures: int = 1, lowest: float = 0.5,
                  generator: torch.Generator | None = None, tick=None) -> torch.Tensor:
        """Each key's probability of sounding, per frame (N, V): `chains` Gibbs chains from `start`,
        `steps` steps each, averaging p(v | h) over the last `keep` steps of every chain.

        With `temperatures` > 1 every chain is a replica exchange (parallel tempering): copies run
        at inverse temperatures beta from 1 down to `lowest`, where the coupling and the hidden
        biases are scaled by beta as in AIS (`log_partition_ais`), so the hot copies cross
        between a sharp RBM's modes that a chain at beta = 1 cannot leave. After every step,
        neighbouring copies (even pairs, then odd) swap frames with the Metropolis probability
        of their free energies; only beta = 1 is averaged.
        """
        rows, keys = start.shape
        betas = torch.linspace(1.0, lowest, temperatures) if temperatures > 1 else torch.ones(1)
        copies = chains * len(betas)
        beta = betas.repeat(rows * chains)[:, None]  # (rows * chains * K, 1), K copies per chain
        v = start.repeat_interleave(copies, 0)
        bv_r, bh_r = bv.repeat_interleave(copies, 0), bh.repeat_interleave(copies, 0)
        total = torch.zeros(rows * chains, keys)
        for step in range(steps):
            h = torch.bernoulli(torch.sigmoid(beta * (v @ self.W + bh_r)), generator=generator)
            p = torch.sigmoid(bv_r + beta * (h @ self.W.T))
            if step >= steps - keep:
                total += p[::len(betas)]
            v = torch.bernoulli(p, generator=generator)
            pairs = swap_pairs(len(betas), step % 2)
            if pairs:
                noise = torch.rand((rows * chains, len(pairs)), generator=generator).log()
                v = self._swap(v.view(-1, len(betas), keys), bh_r.view(-1, len(betas), bh_r.shape[-1]),
                               betas, step % 2, noise).view(-1, keys)
            if tick is not None:
                tick()
        return (total / min(keep, steps)).view(rows, chains, keys).mean(1)

    def _swap(self, v, bh, betas, first, log_noise):
        """One round of replica exchange between copies (first, first+1), (first+2, first+3), ...
        of every chain: v is (chains, K, V), the K temperatures of each chain, bh their hidden
        biases (broadcast to it); a pair swaps when its entry of `log_noise` (chains, pairs), the
        log of uniform noise, is below the log Metropolis ratio. The exported graph runs it too
        (export/rnnrbm.py), its noise an input; python-list indices keep the graph's constant."""
        k = betas.shape[0]
        partner, pair_of = list(range(k)), [0] * k
        for n, i in enumerate(swap_pairs(k, first)):
            partner[i], partner[i + 1], pair_of[i], pair_of[i + 1] = i + 1, i, n, n
        act = v @ self.W + bh  # each copy's hidden input
        beta = betas[:, None]
        # Swapping copies i and j: the visible biases are not tempered and cancel, leaving
        # sum over hidden units of sp(b_i a_j) - sp(b_i a_i) + sp(b_j a_i) - sp(b_j a_j), sp = softplus:
        # one half per copy, the ratio the sum of a copy's half and its partner's. A copy in no
        # pair is its own partner: its ratio is 0, above any log noise, and it "swaps" with itself.
        half = (F.softplus(beta * act[:, partner]) - F.softplus(beta * act)).sum(-1)  # (chains, K)
        swap = log_noise[:, pair_of] < half + half[:, partner]
        return torch.where(swap[..., None], v[:, partner], v)

    def cd_loss(self, v: torch.Tensor, mask: torch.Tensor, k: int | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean over real frames of F(v) - F(v~), v~ after k Gibbs steps from v (held constant)."""
        bv, bh = self.biases(self.run(v))
        with torch.no_grad():
            negative = self.gibbs(v, bv, bh, k or self.config.k, generator=generator)
        gap = self.free_energy(v, bv, bh) - self.free_energy(negative, bv, bh)
        return (gap * mask).sum() / mask.sum()

    def rbm_loss(self, v: torch.Tensor, k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """CD-k on frames (N, V) taken one by one, without the RNN: the plain RBM of the pretraining."""
        with torch.no_grad():
            negative = self.gibbs(v, self.bv, self.bh, k or self.config.k, generator=generator)
        return (self.free_energy(v, self.bv, self.bh) - self.free_energy(negative, self.bv, self.bh)).mean()

    def to_checkpoint(self) -> dict:
        return {"kind": "rnnrbm", "config": asdict(self.config), "state": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, data: dict) -> "RNNRBM":
        model = cls(RBMConfig(**data["config"]))
        model.load_state_dict(data["state"])
        return model


# -- log-likelihood: annealed importance sampling for every frame's RBM --------------------------
def log_partition_ais(W: torch.Tensor, bv: torch.Tensor, bh: torch.Tensor, runs: int = 100,
                      betas: int = 1000, generator: torch.Generator | None = None) -> torch.Tensor:
    """log Z of N RBMs sharing W, with biases bv (N, V), bh (N, H); AIS as Salakhutdinov & Murray (2008).

    The base model has the same visible biases and no coupling: independent units, so
    log Z_A = sum softplus(bv) + H log 2. The intermediate models multiply in the coupling
    with strength beta: p_b(v) ~ exp(v.bv) prod_j (1 + exp(b (vW + bh)_j)), hidden summed out.
    Returns the estimate per RBM: log Z_A + log mean over runs of the importance weights.
    """
    n, visible = bv.shape
    hidden = bh.shape[-1]
    schedule = torch.linspace(0.0, 1.0, betas + 1, dtype=W.dtype)
    bv_r = bv.repeat_interleave(runs, 0)  # (N*R, V)
    bh_r = bh.repeat_interleave(runs, 0)
    v = torch.bernoulli(torch.sigmoid(bv_r), generator=generator)
    log_w = torch.zeros(n * runs, dtype=W.dtype)
    for previous, beta in zip(schedule[:-1], schedule[1:]):
        act = v @ W + bh_r
        log_w += F.softplus(beta * act).sum(-1) - F.softplus(previous * act).sum(-1)  # v.bv cancels
        h = torch.bernoulli(torch.sigmoid(beta * act), generator=generator)
        v = torch.bernoulli(torch.sigmoid(bv_r + beta * (h @ W.T)), generator=generator)
    log_za = F.softplus(bv).sum(-1) + hidden * math.log(2.0)
    log_w = log_w.view(n, runs)
    return log_za + torch.logsumexp(log_w, 1) - math.log(runs)


def log_partition_exact(W: torch.Tensor, bv: torch.Tensor, bh: torch.Tensor) -> torch.Tensor:
    """log Z by enumerating every visible state (for checking AIS on small RBMs; V <= 20)."""
    visible = W.shape[0]
    if visible > 20:
        raise ValueError("exact partition functions only for <= 20 visible units")
    states = ((torch.arange(2 ** visible)[:, None] >> torch.arange(visible)) & 1).to(W.dtype)  # (S, V)
    neg_free = states @ bv.T + F.softplus((states @ W)[:, None, :] + bh[None]).sum(-1)  # (S, N)
    return torch.logsumexp(neg_free, 0)
