"""RNN-RBM checkpoint -> a piano-roll model file: one step of the recurrence plus k Gibbs steps.

The graph (opset 17):
    (frame v(t-1), u(t-2), start, clamp, fixed, noise_h (k, B, H), noise_v (k, B, 88))
      -> (sample v(t), bv(t), bh(t), u_next = u(t-1))
`start` = 1 for the first frame of a piece (u(-1) is the learned u0; `frame` is then ignored).
Gibbs runs k block steps starting from the previous frame (clamped units set to `fixed`), and
keeps clamped units at `fixed` (the live harmoniser's held notes). Chains started from zeros
mix too slowly in 25 steps (benchmarks/accuracy.py: 26 % against 63 % frame accuracy on
Nottingham). Random numbers come in as uniform noise from the runtime's seeded
numpy generator, so a seed gives the same music on every machine.

`temperatures` > 1 (`segue export --temperatures T --lowest L`) makes each frame's chain a replica
exchange, for sharp models whose plain chains stay in one mode (docs/notes/polyphony.md): T copies at
inverse temperatures 1 .. L, swapping neighbours with `RNNRBM._swap`, the code the evaluation
uses; the graph then takes noise_h (k, B, T, H), noise_v (k, B, T, 88) and noise_swap (k, B, T - 1).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from segue.daemon.formats.pianoroll import HIGH, KEYS, LOW
from segue.daemon.models.file import FORMAT_VERSION
from segue.daemon.models.roll import INPUTS, OUTPUTS, TEMPERED_INPUTS
from segue.training.polyphony import load
from segue.training.rnnrbm import RNNRBM, swap_pairs
from torch import nn


class _Step(nn.Module):
    def __init__(self, model: RNNRBM, gibbs: int):
        super().__init__()
        self.m, self.gibbs = model, gibbs

    def biases(self, frame, u, start):
        m = self.m
        u_next = start * m.u0 + (1.0 - start) * torch.tanh(m.bu + u @ m.Wuu + frame @ m.Wvu)
        return m.bv + u_next @ m.Wuv, m.bh + u_next @ m.Wuh, u_next

    def forward(self, frame, u, start, clamp, fixed, noise_h, noise_v):
        m = self.m
        bv, bh, u_next = self.biases(frame, u, start)
        held = clamp * fixed
        v = held + (1.0 - clamp) * frame  # the chain starts from the previous frame: 25 steps from zeros mix poorly
        for k in range(self.gibbs):
            h = (noise_h[k] < torch.sigmoid(v @ m.W + bh)).float()
            v = (noise_v[k] < torch.sigmoid(h @ m.W.T + bv)).float()
            v = held + (1.0 - clamp) * v
        return v, bv, bh, u_next


class _TemperedStep(_Step):
    """The same step, its chain a replica exchange (`RNNRBM.marginals` with temperatures > 1): T
    copies of each row at inverse temperatures 1 .. `lowest` (coupling and hidden biases scaled by
    beta), neighbours (even pairs after even steps, odd after odd) swapping frames with the
    Metropolis probability of their tempered free energies; the beta = 1 copy is the sample.
    Noise: noise_h (k, B, T, H), noise_v (k, B, T, 88), noise_swap (k, B, T - 1)."""

    def __init__(self, model: RNNRBM, gibbs: int, temperatures: int, lowest: float):
        super().__init__(model, gibbs)
        self.betas = torch.linspace(1.0, lowest, temperatures)
        self.temperatures = temperatures

    def forward(self, frame, u, start, clamp, fixed, noise_h, noise_v, noise_swap):
        m, t = self.m, self.temperatures
        bv, bh, u_next = self.biases(frame, u, start)
        held, free = (clamp * fixed)[:, None], (1.0 - clamp)[:, None]  # (B, 1, 88): the same in every copy
        bv3, bh3 = bv[:, None], bh[:, None]
        beta = self.betas[:, None]  # (T, 1), against each row's (T, units)
        v = (held + free * frame[:, None]).expand(-1, t, -1)  # (B, T, 88)
        for k in range(self.gibbs):
            h = (noise_h[k] < torch.sigmoid(beta * (v @ m.W + bh3))).float()
            v = (noise_v[k] < torch.sigmoid(bv3 + beta * (h @ m.W.T))).float()
            v = held + free * v
            pairs = swap_pairs(t, k % 2)  # RNNRBM.marginals' schedule: even pairs after even steps, odd after odd
            if pairs:
                log_noise = torch.log(noise_swap[k][:, pairs])
                v = m._swap(v, bh3, self.betas, k % 2, log_noise)
        return v[:, 0], bv, bh, u_next


def export_rnnrbm(checkpoint: str | Path, out: str | Path, gibbs: int = 25, beats: float | None = None,
                  command: str = "", temperatures: int = 1, lowest: float = 0.5) -> Path:
    """Write the model file; `beats`: frame length in beats (default: the training config's);
    `temperatures` > 1: the chain is a replica exchange down to inverse temperature `lowest`."""
    model, record = load(checkpoint)
    model.eval()
    config = record.get("config", {})
    beats = beats or config.get("beats", 1.0)
    hidden, recurrent = model.config.hidden, model.config.recurrent
    batch = 2
    example = (torch.zeros(batch, KEYS), torch.zeros(batch, recurrent), torch.ones(batch, 1),
               torch.zeros(batch, KEYS), torch.zeros(batch, KEYS))
    if temperatures > 1:
        step, inputs = _TemperedStep(model, gibbs, temperatures, lowest), TEMPERED_INPUTS
        example += (torch.rand(gibbs, batch, temperatures, hidden), torch.rand(gibbs, batch, temperatures, KEYS),
                    torch.rand(gibbs, batch, temperatures - 1))
    else:
        step, inputs = _Step(model, gibbs), INPUTS
        example += (torch.rand(gibbs, batch, hidden), torch.rand(gibbs, batch, KEYS))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from .onnx import export_step, stamp

    export_step(step, example, out, list(inputs), list(OUTPUTS),
                {name: 0 for name in INPUTS[:5]} | {name: 1 for name in inputs[5:]})

    meta = {
        "segue.format": str(FORMAT_VERSION),
        "segue.kind": "piano-roll",
        "segue.codec": json.dumps({"low": LOW, "high": HIGH, "beats": beats}),
        "segue.state": json.dumps({"u": recurrent}),
        "segue.rbm": json.dumps({"hidden": hidden, "gibbs": gibbs,
                                 **({"temperatures": temperatures, "lowest": lowest} if temperatures > 1 else {})}),
        "segue.training": json.dumps({**record, "export_command": command}),
    }
    stamp(out, meta, "segue piano-roll model: one frame step with its Gibbs sampler (see segue.daemon.models.roll)")
    return out


def parity(checkpoint: str | Path, model_file: str | Path, roll: np.ndarray, seed: int = 0) -> dict:
    """Step a piece through torch and onnxruntime with the same noise; the largest differences."""
    from segue.daemon.models.roll import RollModel

    model, _ = load(checkpoint)
    net = RollModel(model_file)
    step = _TemperedStep(model, net.gibbs, net.temperatures, net.lowest) if net.temperatures > 1 else _Step(model, net.gibbs)
    return step_parity(step, net, roll, seed)


def step_parity(step: nn.Module, net, roll: np.ndarray, seed: int = 0, biases: tuple | None = None) -> dict:
    """Step `roll` through a piano-roll model file (`net`, a RollModel) and its torch `step` with the
    same noise: the largest bias and state differences, and the most sampled units that differ in a
    frame. `biases`: each frame's (bv, bh) from the trained model, which the graph's must equal too."""
    rng = np.random.default_rng(seed)
    u = np.zeros((1, net.recurrent), np.float32)
    worst = {"bias": 0.0, "state": 0.0, "sample_units": 0}
    previous = np.zeros((1, KEYS), np.float32)
    for t, frame in enumerate(np.asarray(roll, np.float32)):
        feed = net.feed(previous, u, start=t == 0, rng=rng)
        ours = net.session.run(list(net.outputs), feed)
        with torch.no_grad():
            theirs = [x.numpy() for x in step(*(torch.from_numpy(feed[name]) for name in net.inputs))]
        pairs = [(ours[1], theirs[1]), (ours[2], theirs[2])]
        if biases is not None:
            pairs += [(ours[1], biases[0][t]), (ours[2], biases[1][t])]
        worst["bias"] = max(worst["bias"], *(float(np.abs(a - b).max()) for a, b in pairs))
        worst["state"] = max(worst["state"], float(np.abs(ours[3] - theirs[3]).max()))
        worst["sample_units"] = max(worst["sample_units"], int(np.sum(ours[0] != theirs[0])))
        u, previous = ours[3], frame[None]
    return worst
