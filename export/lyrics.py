"""Lyric checkpoint -> one ONNX character step with the vocabulary in its metadata; parity with torch."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from segue.daemon.models.file import FORMAT_VERSION
from segue.daemon.models.lyric import INPUT, KIND, OUTPUT, LyricModel
from segue.training.lyrics import CharRNN, load

from .onnx import export_step, stamp


class _Step(torch.nn.Module):
    """(char (B,), h [, c]) -> (logits (B, V), h_next [, c_next])."""

    def __init__(self, model: CharRNN):
        super().__init__()
        self.model = model

    def forward(self, char, h, c=None):
        state = (h, c) if c is not None else h
        logits, nxt = self.model(char[:, None], state)
        return (logits[:, 0], *nxt) if c is not None else (logits[:, 0], nxt)


def export_lyrics(checkpoint: str | Path, out: str | Path, command: str = "") -> Path:
    ckpt = load(checkpoint)
    model, cfg = ckpt.model.eval(), ckpt.model.config
    names = cfg.state
    batch = 2  # traced with 2 so nothing specialises on a batch of 1; the axis is dynamic
    args = (torch.zeros(batch, dtype=torch.long), *(torch.zeros(cfg.layers, batch, cfg.hidden) for _ in names))
    export_step(_Step(model), args, out, [INPUT, *names], [OUTPUT, *(f"{n}_next" for n in names)],
                {INPUT: 0} | {n: 1 for n in names})
    metadata = {
        "segue.format": str(FORMAT_VERSION),
        "segue.kind": KIND,
        "segue.codec": ckpt.codec.to_json(),
        "segue.state": json.dumps({n: [cfg.layers, cfg.hidden] for n in names}),
        "segue.training": json.dumps({"model": asdict(cfg), "train": asdict(ckpt.train), "data": ckpt.data,
                                      "metrics": ckpt.metrics, "command": command,
                                      "train_command": ckpt.data.get("command", "")}, ensure_ascii=False),
    }
    return stamp(out, metadata, "segue lyric model: one character step (see segue.daemon.models.lyric)")


@torch.no_grad()
def parity(checkpoint: str | Path, onnx_path: str | Path, text: str) -> dict[str, float]:
    """Step `text` through torch and onnxruntime side by side: the largest logit and state differences."""
    ckpt = load(checkpoint)
    model = ckpt.model.eval()
    runtime = LyricModel(onnx_path)
    ids = ckpt.codec.encode(text)
    logits, _ = model(torch.from_numpy(ids)[None])  # the whole sequence at once on the torch side
    state = runtime.initial_state()
    worst = {"logits": 0.0, "steps": len(ids)}
    for t, i in enumerate(ids):
        r_logits, state = runtime.step(np.array([i]), state)
        worst["logits"] = max(worst["logits"], float(np.abs(logits[0, t].numpy() - r_logits[0]).max()))
    return worst
