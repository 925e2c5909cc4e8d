"""The beat tracker's onset salience (training/beats.py) -> one ONNX step an onset
(daemon/models/salience.py reads it)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from segue.daemon.models.file import FORMAT_VERSION
from segue.daemon.models.salience import FEATURES, INPUTS, KIND, OUTPUTS, SalienceModel

from .onnx import export_step, stamp


class _Step(torch.nn.Module):
    """(onset (B, FEATURES), h (1, B, H)) -> (logit (B, 1): on a beat, h_next)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, onset, h):
        logits, h_next = self.net(onset[:, None], h)
        return logits[:, 0, :1], h_next


def export_salience(checkpoint: str | Path, out: str | Path, command: str = "") -> Path:
    from segue.training.beats import load_model

    net, saved = load_model(checkpoint)
    hidden = net.config.hidden
    args = (torch.zeros(2, FEATURES), torch.zeros(1, 2, hidden))
    export_step(_Step(net), args, out, list(INPUTS), list(OUTPUTS), {"onset": 0, "h": 1})
    metadata = {
        "segue.format": str(FORMAT_VERSION),
        "segue.kind": KIND,
        "segue.codec": json.dumps({"features": FEATURES}),
        "segue.state": json.dumps({"h": [1, hidden]}),
        "segue.training": json.dumps({"model": saved.model, "train": saved.train, "metrics": saved.metrics,
                                      "data": saved.data, "command": command,
                                      "train_command": saved.data.get("command", "")}),
    }
    return stamp(out, metadata, "segue onset salience: the beat tracker's step, one an onset (see segue.daemon.models.salience)")


@torch.no_grad()
def parity(checkpoint: str | Path, onnx_path: str | Path, onsets: int = 300, seed: int = 0) -> dict[str, float]:
    """Random onsets through torch and onnxruntime side by side: the largest differences."""
    from segue.training.beats import load_model

    net = load_model(checkpoint)[0]
    runtime = SalienceModel(onnx_path)
    rng = np.random.default_rng(seed)
    h, state = None, runtime.initial_state()
    worst = {"logits": 0.0, "state": 0.0, "steps": onsets}
    for _ in range(onsets):
        x = rng.normal(0, 1, FEATURES).astype(np.float32)
        logits, h = net(torch.from_numpy(x)[None, None], h)
        logit, state = runtime._run(x, state)
        worst["logits"] = max(worst["logits"], float(abs(logits[0, 0, 0] - float(logit[0, 0]))))
        worst["state"] = max(worst["state"], float(np.abs(h.numpy() - state).max()))
    return worst
