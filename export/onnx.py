"""Checkpoint -> one self-describing ONNX streaming step, checked against torch."""
from __future__ import annotations

import json
import logging
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import torch
from segue.daemon.models.event import INPUTS, OUTPUT, EventModel
from segue.daemon.models.file import FORMAT_VERSION, WEIGHTS, graph_digest
from segue.training.train import Checkpoint, load_checkpoint

log = logging.getLogger(__name__)
STATE = ("h", "c")
OPSET = 18


class _Step(torch.nn.Module):
    """The graph's signature: (pitch, velocity, time, h, c) -> (logits, h_next, c_next)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pitch, velocity, time, h, c):
        return self.model.step(pitch, velocity, time, h, c)


def export_step(step: torch.nn.Module, example: tuple, out: str | Path, inputs: list[str], outputs: list[str],
                batch_axes: dict[str, int]) -> Path:
    """Write `step` (a streaming step: tensors in, tensors out) as an ONNX graph with torch's
    torch.export-based exporter (the TorchScript one is deprecated). `example`: one tensor per input,
    each its own tensor (torch.export takes one tensor passed twice for one input: a tuple like
    `(zeros,) * 3` would leave a single input in the graph), with a batch of 2 (a batch of 1 would
    be specialised); `batch_axes`: each input's batch axis, dynamic in the graph."""
    assert len({id(t) for t in example}) == len(example), "example inputs must be distinct tensors"
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    shapes = tuple({batch_axes[name]: batch} if name in batch_axes else None for name in inputs)
    quiet = logging.getLogger("torch.onnx")  # its registry warns of every torchvision op it will not need
    level, quiet.level = quiet.level, logging.ERROR
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(step, example, input_names=list(inputs), output_names=list(outputs),
                                        dynamic_shapes=shapes, opset_version=OPSET, dynamo=True, verbose=False,
                                        external_data=False)
            program.save(str(out), external_data=False)
    finally:
        quiet.setLevel(level)
    _fold(Path(out))
    return Path(out)


def _fold(path: Path) -> None:
    """Fold the graph's constant parts in place (onnxruntime's basic, standard-op rewrites). The
    exporter leaves an LSTM's weights behind Slice/Concat chains that reorder its gates on every
    step; folded, they are plain initializers again, and int8 quantisation can reach them."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    folded = path.with_name(path.name + ".folded")
    options.optimized_model_filepath = str(folded)
    try:
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        folded.replace(path)
    finally:
        folded.unlink(missing_ok=True)


def export_melody(checkpoint: str | Path, out: str | Path, command: str = "") -> Path:
    """Write `out` (.onnx): the streaming step plus segue metadata (codec, state, training)."""
    ckpt = load_checkpoint(checkpoint)
    model, cfg = ckpt.model.eval(), ckpt.model.config
    batch = 2  # traced with 2 so nothing specialises on a batch of 1; the axis is dynamic
    args = (*(torch.zeros(batch, dtype=torch.long) for _ in INPUTS),
            *(torch.zeros(cfg.layers, batch, cfg.hidden) for _ in STATE))
    export_step(_Step(model), args, out, [*INPUTS, *STATE], [OUTPUT, *(f"{s}_next" for s in STATE)],
                {name: 0 for name in INPUTS} | {name: 1 for name in STATE})
    return stamp(out, metadata_for(ckpt, command), "segue event model: one streaming step (see segue.daemon.models.event)")


def stamp(path: str | Path, metadata: dict[str, str], doc: str) -> Path:
    """Replace an exported graph's metadata_props with segue's, check the model, save it."""
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = doc
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return seal(path)


def seal(path: str | Path) -> Path:
    """Write the checksum of the file's graph (weights included) into its metadata, which the runtime
    checks at every load (segue.daemon.models.file.check_weights)."""
    digest = graph_digest(Path(path).read_bytes())
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props if p.key != WEIGHTS}
    del proto.metadata_props[:]
    for key, value in {**meta, WEIGHTS: digest}.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))
    if graph_digest(Path(path).read_bytes()) != digest:
        raise RuntimeError(f"{path}: the graph changed when its metadata was written")
    return Path(path)


def metadata_for(ckpt: Checkpoint, command: str) -> dict[str, str]:
    cfg = ckpt.model.config
    return {
        "segue.format": str(FORMAT_VERSION),
        "segue.kind": "events",
        "segue.codec": ckpt.codec.to_json(),
        "segue.state": json.dumps({name: [cfg.layers, cfg.hidden] for name in STATE}),
        "segue.training": json.dumps({
            "model": cfg.to_dict(), "train": asdict(ckpt.train),
            "data": ckpt.data, "metrics": ckpt.metrics, "command": command,
            "train_command": ckpt.data.get("command", ""),
        }),
    }


def parity(checkpoint: str | Path, onnx_path: str | Path, events: np.ndarray) -> dict[str, float]:
    """Stream `events` (N, 3) through torch and onnxruntime side by side; the largest differences."""
    return _stream_parity(load_checkpoint(checkpoint).model.eval(), onnx_path, events)


@torch.no_grad()
def _stream_parity(model, onnx_path: str | Path, events: np.ndarray) -> dict[str, float]:
    """`events` (N, 3 + the model's input-only features) through the torch step and the file's."""
    runtime = EventModel(onnx_path)
    cfg = model.config
    h = torch.zeros(cfg.layers, 1, cfg.hidden)
    c = torch.zeros_like(h)
    state = runtime.initial_state()
    worst = {"logits": 0.0, "probs": 0.0, "state": 0.0}
    for row in np.asarray(events, np.int64):
        t = torch.from_numpy(row)
        logits, h, c = model.step(t[0:1], t[1:2], t[2:3], h, c, *(t[i:i + 1] for i in range(3, len(row))))
        r_logits, state = runtime.step(row[None], state)
        worst["logits"] = max(worst["logits"], float(np.abs(logits.numpy() - r_logits).max()))
        probs = [torch.softmax(p, -1).numpy() for p in logits.split(cfg.sizes, -1)]
        r_probs = [_softmax(p) for p in runtime.heads(r_logits)]
        worst["probs"] = max(worst["probs"], max(float(np.abs(a - b).max()) for a, b in zip(probs, r_probs)))
        worst["state"] = max(worst["state"], float(np.abs(h.numpy() - state["h"]).max()),
                             float(np.abs(c.numpy() - state["c"]).max()))
    return worst


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class _MetricalStep(torch.nn.Module):
    """(pitch, velocity, time, h, c, absolute, position, meter) -> (logits, h_next, c_next)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pitch, velocity, time, h, c, absolute, position, meter):
        return self.model.step(pitch, velocity, time, h, c, absolute, position, meter)


class _KeyboardStep(_MetricalStep):
    """... and `sounding`, how many notes sound (a keyboard model)."""

    def forward(self, pitch, velocity, time, h, c, absolute, position, meter, sounding):
        return self.model.step(pitch, velocity, time, h, c, absolute, position, meter, sounding)


METRICAL_INPUTS = ("absolute", "position", "meter", "sounding")  # the metrical model's input-only features, in order


def export_metrical(checkpoint: str | Path, out: str | Path, command: str = "") -> Path:
    """The metrical model (training/metrical.py) as an event model file with its input-only features
    (three; a keyboard model's four)."""
    from segue.training.metrical import corpus_grid, load_model

    model, codec, record = load_model(checkpoint)
    cfg = model.config
    batch = 2
    names = [*INPUTS, *STATE, *METRICAL_INPUTS[:len(cfg.inputs)]]
    args = tuple(torch.zeros(cfg.layers, batch, cfg.hidden) if name in STATE else torch.zeros(batch, dtype=torch.long)
                 for name in names)
    step = (_KeyboardStep if len(cfg.inputs) == 4 else _MetricalStep)(model.eval())
    export_step(step, args, out, names, [OUTPUT, *(f"{s}_next" for s in STATE)],
                {name: 1 if name in STATE else 0 for name in names})
    metadata = {
        "segue.format": str(FORMAT_VERSION),
        "segue.kind": "events",
        "segue.codec": codec.to_json(),
        "segue.state": json.dumps({name: [cfg.layers, cfg.hidden] for name in STATE}),
        "segue.inputs": json.dumps(dict(zip(METRICAL_INPUTS, cfg.inputs))),
        "segue.polyphonic": "1" if _polyphonic(record["data"]) else "0",
        "segue.grid": str(record["data"].get("grid") or corpus_grid(record["data"].get("corpus", "")) or ""),
        "segue.training": json.dumps({"model": cfg.to_dict(), "train": record["train"], "data": record["data"],
                                      "metrics": record["metrics"], "command": command,
                                      "train_command": record["data"].get("command", "")}),
    }
    return stamp(out, metadata, "segue metrical melody model: one streaming step (see training/metrical.py)")


def _polyphonic(data: dict) -> bool:
    """The training corpus had notes struck together (as the checkpoint says; a checkpoint from
    before it said so: its corpus, when it is still there)."""
    if "polyphonic" in data:
        return bool(data["polyphonic"])
    from segue.daemon.formats.corpus import CorpusError, load
    from segue.training.metrical import polyphonic

    try:
        return polyphonic(load(data.get("corpus", ""), "train"))
    except CorpusError:
        return False


def parity_metrical(checkpoint: str | Path, onnx_path: str | Path, events: np.ndarray) -> dict[str, float]:
    """Stream (N, 6) metrical events through torch and onnxruntime side by side; the largest differences."""
    from segue.training.metrical import load_model

    return _stream_parity(load_model(checkpoint)[0], onnx_path, events)
