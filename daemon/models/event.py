"""Event models on onnxruntime: the model-file contract and the streaming step.

A segue model file is one ONNX graph of a single step,
    (pitch, velocity, time: int64 (B,), state...: float32) -> (logits (B, P+V+T), next state...),
whose metadata_props carry everything else (see MODEL_CONTRACT below).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats.codec import EventCodec
from .file import (
    ModelFileError,
    check_format,
    kind_name,
    open_session,
    resolve_model,
    trained_in,
    trial_run,
)

log = logging.getLogger(__name__)

KINDS = ("events",)  # piano-roll and character models come with their own codecs
MODEL_CONTRACT = {
    "segue.format": "model-file format version (int); this runtime reads 1",
    "segue.kind": "events",
    "segue.codec": "EventCodec as JSON (pitch range, velocity classes, time values in seconds)",
    "segue.state": 'JSON {"name": [layers, hidden]}: each state input `name` has output `name_next`',
    "segue.inputs": 'optional JSON {"name": classes}: int64 (B,) input-only features after the three classes '
                    "(the metrical model: absolute, position, meter)",
    "segue.training": "JSON: data, command, configuration and held-out metrics",
}
INPUTS = ("pitch", "velocity", "time")
OUTPUT = "logits"


@dataclass(frozen=True)
class ModelInfo:
    kind: str
    codec: EventCodec
    state: dict[str, tuple[int, int]]
    training: dict
    inputs: dict[str, int] = field(default_factory=dict)  # input-only features and their class counts
    polyphonic: bool = False  # learnt from parts with notes struck together (a keyboard), not single lines
    grid: int | None = None  # the notes it learnt on start and end on this division of the beat

    @property
    def sounding(self) -> bool:
        """Whether the model hears how many notes sound (a keyboard model's 4th input)."""
        return "sounding" in self.inputs


def read_metadata(meta: dict[str, str], path: Path) -> ModelInfo:
    """Check a model's metadata against the contract; one sentence per way it can fail."""
    check_format(meta, path)
    kind = meta.get("segue.kind")
    if kind not in KINDS:
        raise ModelFileError(f"{path}: {kind_name(kind)}, but this needs an event model")
    try:
        codec = EventCodec.from_json(meta["segue.codec"])
        state = {k: tuple(v) for k, v in json.loads(meta["segue.state"]).items()}
        training = json.loads(meta.get("segue.training", "{}"))
        inputs = {str(k): int(v) for k, v in json.loads(meta.get("segue.inputs", "{}")).items()}
        grid = int(meta["segue.grid"]) if meta.get("segue.grid") else None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ModelFileError(f"{path}: broken segue metadata ({err})") from err
    if any(v < 1 for v in inputs.values()) or set(inputs) & {*INPUTS, *state}:
        raise ModelFileError(f"{path}: broken segue metadata (segue.inputs)")
    if grid is not None and not 1 <= grid <= 48:
        raise ModelFileError(f"{path}: broken segue metadata (segue.grid {grid}: 1..48 parts of a beat)")
    return ModelInfo(kind, codec, state, training, inputs, meta.get("segue.polyphonic") == "1", grid)


class EventModel:
    """A loaded event model: `step` advances a recurrent state by one event."""

    def __init__(self, path: str | Path | None = None, threads: int = 1):
        self.path = resolve_model(path)
        self.session, meta = open_session(self.path, threads)
        self.info = read_metadata(meta, self.path)
        self.codec = self.info.codec
        self._check_graph()
        self._outputs = [OUTPUT, *(f"{name}_next" for name in self.info.state)]
        sizes = np.cumsum(self.codec.sizes)
        self._split = (int(sizes[0]), int(sizes[1]))
        trial_run(self.path, self._trial, {OUTPUT: (1, int(sizes[-1])), **{
            f"{n}_next": (layers, 1, hidden) for n, (layers, hidden) in self.info.state.items()}})

    def _trial(self) -> dict[str, np.ndarray]:
        logits, nxt = self.step(np.zeros((1, 3 + len(self.info.inputs)), np.int64), self.initial_state(1))
        return {OUTPUT: logits, **{f"{n}_next": v for n, v in nxt.items()}}

    def _check_graph(self) -> None:
        inputs = {i.name for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        want_in = {*INPUTS, *self.info.inputs, *self.info.state}
        want_out = {OUTPUT, *(f"{name}_next" for name in self.info.state)}
        if not (want_in <= inputs and want_out <= outputs):
            raise ModelFileError(
                f"{self.path}: graph inputs/outputs {sorted(inputs)}/{sorted(outputs)} "
                f"do not match its metadata ({sorted(want_in)}/{sorted(want_out)})"
            )

    def initial_state(self, batch: int = 1) -> dict[str, np.ndarray]:
        return {name: np.zeros((layers, batch, hidden), np.float32) for name, (layers, hidden) in self.info.state.items()}

    def step(self, events: np.ndarray, state: dict[str, np.ndarray]):
        """events: int64 (B, 3 + input-only features) -> (logits float32 (B, P+V+T), next state)."""
        names = (*INPUTS, *self.info.inputs)
        feed = {name: events[:, i] for i, name in enumerate(names)} | state
        logits, *nxt = self.session.run(self._outputs, feed)
        return logits, dict(zip(self.info.state, nxt))

    def heads(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split (..., P+V+T) logits into the pitch, velocity and time heads (views, no copy)."""
        a, b = self._split
        return logits[..., :a], logits[..., a:b], logits[..., b:]

    def about(self) -> list[str]:
        """What `segue info` says of the file."""
        c, t = self.codec, self.info.training
        unit = "beats" if c.time_unit == "beats" else "s"
        pitch = (f"intervals within {c.pitch_classes // 2} semitones" if c.pitch_mode == "interval"
                 else f"pitch {c.low}..{c.high}")
        lines = [f"{self.path}", f"  kind: {self.info.kind}; state: {self.info.state}",
                 f"  codec: {pitch}, {c.velocity_classes} velocity classes, {c.time_classes} time classes up to "
                 f"{c.time_values[-1]:g} {unit}"]
        if self.info.inputs:
            lines.append("  also hears: " + ", ".join(f"{k} ({v} classes)" for k, v in self.info.inputs.items()))
        if not t:
            return lines
        m, d = t.get("metrics", {}), t.get("data", {})
        if "corpus" in d:  # a metrical model, trained on a melody corpus
            lines.append(f"  trained on the melody corpus {d['corpus']} ({d.get('train_pieces', '?')} pieces; best "
                         f"epoch {m.get('epoch', '?')}): valid pitch {m.get('valid_pitch_nll', float('nan')):.3f} "
                         f"nats/note-on (top-1 {m.get('valid_pitch_top1', 0):.3f}), time "
                         f"{m.get('valid_time_nll', float('nan')):.3f} nats/event")
        else:
            lines.append(f"  trained on {', '.join(d.get('files', []))}: held-out NLL "
                         f"{m.get('valid_nll', float('nan')):.3f} nats/event, accuracy pitch "
                         f"{m.get('valid_acc_pitch', 0):.3f} velocity {m.get('valid_acc_velocity', 0):.3f} "
                         f"time {m.get('valid_acc_time', 0):.3f}")
        return lines + [f"  trained by: {t.get('train_command') or '?'}", f"  exported by: {t.get('command') or '?'}",
                        *trained_in(d.get("run"))]

    def stream(self) -> "EventStream":
        return EventStream(self)


class EventStream:
    """One voice stepping event by event, with buffers bound to onnxruntime once (batch 1).

    IOBinding lets every step read its inputs from, and write its outputs into, the same
    numpy arrays, which saves about a quarter of a step's cost over `session.run`.
    """

    def __init__(self, model: EventModel):
        self.model = model
        self._event = np.zeros((3 + len(model.info.inputs), 1), np.int64)
        self.state = model.initial_state(1)
        self._next = model.initial_state(1)
        self.logits = np.zeros((1, sum(model.codec.sizes)), np.float32)
        self._binding = model.session.io_binding()
        for i, name in enumerate((*INPUTS, *model.info.inputs)):
            self._binding.bind_cpu_input(name, self._event[i])
        for name in self.state:
            self._binding.bind_cpu_input(name, self.state[name])
        self._bind_output(OUTPUT, self.logits)
        for name, array in self._next.items():
            self._bind_output(f"{name}_next", array)

    def _bind_output(self, name: str, array: np.ndarray) -> None:
        self._binding.bind_output(name, "cpu", 0, array.dtype, list(array.shape), array.ctypes.data)

    def advance(self, pitch: int, velocity: int, time: int, *heard: int) -> np.ndarray:
        """Step one event (and its input-only features, `heard`); returns the logits (P+V+T,) for the
        next one (a view, valid until the next call)."""
        self._event[:, 0] = pitch, velocity, time, *heard
        self.model.session.run_with_iobinding(self._binding)
        for name, array in self._next.items():
            self.state[name][...] = array
        return self.logits[0]

    def prime(self, events: np.ndarray) -> np.ndarray | None:
        """Step a whole (N, 3 + input-only features) event sequence; returns the last logits (None for
        no events)."""
        logits = None
        for row in np.asarray(events, dtype=np.int64).reshape(-1, len(self._event)):
            logits = self.advance(*row)
        return logits
