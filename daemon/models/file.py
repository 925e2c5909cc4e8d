"""The model-file contract every segue model shares: finding a file, opening it, its format version.

A segue model file is one ONNX graph of a single streaming step whose metadata_props say what it
is (`segue.format`, `segue.kind`, and the kind's own codec and state). Each kind's runtime
(models/event.py, roll.py, lyric.py) checks the rest.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable

import onnxruntime as ort

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
WEIGHTS = "segue.weights"  # metadata: "sha256:<hex>" of the graph (weights included), written by the exporter
DEFAULT_MODEL = "folk.onnx"  # the metrical melody model (docs/models/folk.md)


class ModelFileError(ValueError):
    """A file that is not a usable segue model."""


KIND_NAMES = {"events": "an event model", "piano-roll": "a piano-roll model", "characters": "a lyric model",
              "accompaniment": "an accompanist", "onsets": "the beat tracker's onset salience model"}


def kind_name(kind: str | None) -> str:
    """A model kind in words, for messages: "an event model"."""
    return KIND_NAMES.get(kind, f"a model of unknown kind {kind!r}")


SHIPPED = ("folk", "melody", "chorale", "chorale-nade", "songci", "pop", "keys", "beat")  # in segue/daemon/models, usable by name: --model chorale


def default_model_path(name: str = DEFAULT_MODEL) -> Path:
    return Path(str(resources.files("segue.daemon.models") / name))


def resolve_model(path: str | Path | None, default: str = DEFAULT_MODEL) -> Path:
    """A model file: the path given, a shipped model by name ("chorale"), or the default."""
    if path is None:
        return default_model_path(default)
    if not Path(path).exists() and str(path) in SHIPPED:
        return default_model_path(f"{path}.onnx")
    return Path(path)


@contextlib.contextmanager
def c_stderr(keep: Callable[[str], bool] = lambda line: False):
    """What C libraries print on file descriptor 2 meanwhile, passed on only where `keep(line)`:
    Debian's onnxruntime prints some 500 "Schema error: Trying to register schema ..." lines on its
    first session, and libjack and alsa-lib print their own messages for what segue says in one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if line.strip() and keep(line)))


def _not_schema_noise(line: str) -> bool:
    return not line.startswith("Schema error:")


def new_session(source: Path | bytes, options: ort.SessionOptions) -> ort.InferenceSession:
    """A session on a model file, or on its bytes already read."""
    with c_stderr(keep=_not_schema_noise):
        return ort.InferenceSession(source if isinstance(source, bytes) else str(source), options,
                                    providers=["CPUExecutionProvider"])


def session_options(threads: int = 1) -> ort.SessionOptions:
    """One thread: a step is microseconds of work, and thread hand-offs cost more than they save."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


def open_session(path: Path, threads: int = 1) -> tuple[ort.InferenceSession, dict[str, str]]:
    """An onnxruntime session on a segue model file and its metadata, the format version checked;
    the caller checks the kind. One sentence per way the file can be unusable."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    data = path.read_bytes()  # once: for the session and for the checksum
    try:
        session = new_session(data, session_options(threads))
    except Exception as err:  # onnxruntime raises its own classes for every parse failure
        raise ModelFileError(f"{path}: not a loadable ONNX model") from err
    meta = session.get_modelmeta().custom_metadata_map
    check_format(meta, path)
    check_weights(data, meta, path)
    return session, meta


def trial_run(path: Path, run: Callable, want: dict[str, tuple[int, ...]]) -> None:
    """One step on zeros shaped as the metadata says, at load: a file whose metadata and graph
    disagree (a hidden size, a vocabulary, a state layout) fails here in one sentence instead of
    mid-session. `run()` returns {output name: array}; `want` the shapes they must have."""
    try:
        got = run()
    except Exception as err:  # onnxruntime's own errors ("Got invalid dimensions for input: h")
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelFileError(f"{path}: its graph does not run with the shapes its metadata gives ({first[:200]})") from None
    for name, shape in want.items():
        if tuple(got[name].shape) != tuple(shape):
            raise ModelFileError(f"{path}: its graph gives {name} of shape {tuple(got[name].shape)}, its metadata "
                                 f"says {tuple(shape)}")


def graph_digest(data: bytes) -> str | None:
    """sha256 of the serialized graph (ModelProto field 7: nodes and weights, not the metadata) of an
    ONNX file's bytes; None if there is none. A walk over the top-level protobuf fields, here rather
    than the onnx package, which the runtime does not install."""
    at, size = 0, len(data)
    while at < size:
        key, at = _varint(data, at)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(data, at)
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        elif wire == 2:
            length, at = _varint(data, at)
            if field == 7:
                return "sha256:" + hashlib.sha256(data[at:at + length]).hexdigest()
            at += length
        else:
            return None
    return None


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ModelFileError("a damaged ONNX file")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


_UNSEALED: set[Path] = set()


def check_weights(data: bytes, meta: dict[str, str], path: Path) -> None:
    """The graph against the checksum its exporter wrote; a file from before checksums loads with a warning."""
    want = meta.get(WEIGHTS)
    if want is None:
        if path not in _UNSEALED:
            _UNSEALED.add(path)
            log.warning("%s has no weight checksum (exported before segue wrote one): it cannot be checked", path)
        return
    if graph_digest(data) != want:
        raise ModelFileError(f"{path}: its weights do not match the checksum its exporter wrote (a damaged or "
                             "altered file; export it again)")


def check_format(meta: dict[str, str], path: Path) -> None:
    if "segue.format" not in meta:
        raise ModelFileError(f"{path}: an ONNX file without segue metadata (no segue.format)")
    try:
        version = int(meta["segue.format"])
    except ValueError:
        raise ModelFileError(f"{path}: segue.format is not a number") from None
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format {version} is unknown (this segue reads {FORMAT_VERSION})")


def model_kind(path: str | Path | None) -> str:
    """The kind a model file says it is ("events" for the default)."""
    if path is None:
        return "events"
    path = resolve_model(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        session = new_session(path, session_options(1))
    except Exception as err:
        raise ModelFileError(f"{path}: not a loadable ONNX model") from err
    return session.get_modelmeta().custom_metadata_map.get("segue.kind", "?")


def trained_in(run: dict | None) -> list[str]:
    """`segue info`'s line on how a model was trained (files made before segue recorded it: none)."""
    if not run:
        return []
    backend = f", {run['backend']}" if run.get("backend") else ""
    return [f"  trained in: {run.get('world_size', 1)} process(es) on {run.get('device', '?')}{backend}"
            f"{', bf16' if run.get('amp') else ''}"]
