"""LSTM-NADE checkpoint -> a piano-roll model file: one LSTM step plus the NADE's key-by-key sampler.

The graph (opset 17) keeps the RNN-RBM's contract (export/rnnrbm.py) so that generation and the
live harmoniser run either model unchanged:
    (frame v(t-1), u = [h, c] after v(t-2), start, clamp, fixed, noise_v (1, B, 88))
      -> (sample v(t), bv(t), bh(t), u_next = [h, c] after v(t-1), log_weight)
`start` = 1 for the first frame of a piece: the LSTM then steps from a zero state on a silent
frame, as in training. Keys are sampled from the lowest up, each from p(v_i | v_<i, past); a
clamped key takes its `fixed` value instead, and the keys above it are conditioned on that, so
the keys above it are conditioned on it. Keys below a held note cannot see it (a NADE's order is
fixed), so the graph also returns log_weight = sum over clamped keys of log p(v_i = fixed_i |
v_<i, past): with a batch of candidates, resampling one in proportion to exp(log_weight) draws
from the model's conditional given all held keys (sampling-importance-resampling; the runtime
does this, daemon/models/roll.py). No RBM hidden noise: the file has no `noise_h` input.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from segue.daemon.formats.pianoroll import HIGH, KEYS, LOW
from segue.daemon.models.file import FORMAT_VERSION
from segue.daemon.models.roll import NADE_INPUTS, NADE_OUTPUTS
from segue.training.nade import RNNNADE
from segue.training.polyphony import load
from torch import nn


class _Step(nn.Module):
    def __init__(self, model: RNNNADE):
        super().__init__()
        self.m = model
        self.units = model.config.recurrent

    def forward(self, frame, u, start, clamp, fixed, noise_v):
        m, n = self.m, self.units
        keep = 1.0 - start
        x, h, c = frame * keep, u[:, :n] * keep, u[:, n:] * keep
        lstm = m.rnn  # gates in torch's order: input, forget, cell, output
        gates = x @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + h @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        bv, bh = m.to_bv(h), m.to_bh(h)
        # Key i sounds when noise_i < p_i, i.e. logit(noise_i) < logit_i. A clamped key gets a noise
        # logit of -1e9 (held on) or +1e9 (held off) instead, so one comparison serves both, and the
        # graph stays at seven small nodes per key (its cost is the number of nodes, not arithmetic).
        noise = torch.log(noise_v[0]) - torch.log1p(-noise_v[0])
        noise = clamp * (1e9 - 2e9 * fixed) + (1.0 - clamp) * noise
        a, keys, logits = bh, [], []
        for key, (b, n) in enumerate(zip(bv.split(1, -1), noise.split(1, -1))):
            logit = b + torch.sigmoid(a) @ m.V[key].unsqueeze(-1)
            v = (n < logit).float()
            a = a + v * m.W[key]
            keys.append(v), logits.append(logit)
        logits = torch.cat(logits, -1)
        # log sigmoid(z), written out so that it stays finite: torch's logsigmoid exports as
        # Log(Sigmoid(z)), which is -inf once sigmoid(z) underflows (z < -88 in float32; a held key
        # the model thinks impossible), and then NaN where a free key's clamp of 0 multiplies it.
        z = (2.0 * fixed - 1.0) * logits
        log_sigmoid = torch.minimum(z, torch.zeros_like(z)) - torch.log(1.0 + torch.exp(-z.abs()))
        log_weight = (clamp * log_sigmoid).sum(-1, keepdim=True)
        return torch.cat(keys, -1), bv, bh, torch.cat([h, c], -1), log_weight


def export_nade(checkpoint: str | Path, out: str | Path, beats: float | None = None, command: str = "") -> Path:
    """Write the model file; `beats`: frame length in beats (default: the training config's)."""
    model, record = load(checkpoint, kind="rnnnade")
    model.eval()
    config = record.get("config", {})
    beats = beats or config.get("beats", 1.0)
    state = 2 * model.config.recurrent
    example = (torch.zeros(2, KEYS), torch.zeros(2, state), torch.ones(2, 1), torch.zeros(2, KEYS),
               torch.zeros(2, KEYS), torch.rand(1, 2, KEYS))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from .onnx import export_step, stamp

    export_step(_Step(model), example, out, list(NADE_INPUTS), list(NADE_OUTPUTS),
                {name: 0 for name in NADE_INPUTS[:5]} | {"noise_v": 1})

    meta = {
        "segue.format": str(FORMAT_VERSION),
        "segue.kind": "piano-roll",
        "segue.codec": json.dumps({"low": LOW, "high": HIGH, "beats": beats}),
        "segue.state": json.dumps({"u": state}),
        "segue.nade": json.dumps({"hidden": model.config.hidden, "recurrent": model.config.recurrent}),
        "segue.training": json.dumps({**record, "export_command": command}),
    }
    stamp(out, meta, "segue piano-roll model: one LSTM step with its NADE sampler (see segue.daemon.models.roll)")
    return out


def parity(checkpoint: str | Path, model_file: str | Path, roll: np.ndarray, seed: int = 0) -> dict:
    """Step a piece through torch and onnxruntime with the same noise; the largest differences, the
    graph's biases also compared with `RNNNADE.biases` (the trained model run over the whole piece)."""
    from segue.daemon.models.roll import RollModel

    from .rnnrbm import step_parity

    model, _ = load(checkpoint, kind="rnnnade")
    model.eval()
    with torch.no_grad():
        trained = [x[0].numpy() for x in model.biases(torch.from_numpy(np.asarray(roll, np.float32))[None])]
    return step_parity(_Step(model), RollModel(model_file), roll, seed, biases=trained)
