"""The model-file contract every segue model shares: finding a file, opening it, its format version.

A segue model file is one ONNX graph of a single streaming step whose metadata_props say what it
is (`segue.format`, `segue.kind`, and the kind's own codec and state). Each kind's runtime
(models/event.py, roll.py, lyric.py) checks the rest.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable

import onnxruntime as ort

FORMAT_VERSION = 1
DEFAULT_MODEL = "folk.onnx"  # the metrical melody model (docs/models/folk.md)


class ModelFileError(ValueError):
    """A file that is not a usable segue model."""


KIND_NAMES = {"events": "an event model", "piano-roll": "a piano-roll model", "characters": "a lyric model"}
PLAYABLE = "event models (folk, melody) and piano-roll models (RNN-RBM or LSTM-NADE files: chorale, chorale-nade)"


def kind_name(kind: str | None) -> str:
    """A model kind in words, for messages: "an event model"."""
    return KIND_NAMES.get(kind, f"a model of unknown kind {kind!r}")


SHIPPED = ("folk", "melody", "chorale", "chorale-nade", "songci")  # in segue/daemon/models, usable by name: --model chorale


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


def new_session(path: Path, options: ort.SessionOptions) -> ort.InferenceSession:
    with c_stderr(keep=_not_schema_noise):
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


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
    try:
        session = new_session(path, session_options(threads))
    except Exception as err:  # onnxruntime raises its own classes for every parse failure
        raise ModelFileError(f"{path}: not a loadable ONNX model") from err
    meta = session.get_modelmeta().custom_metadata_map
    check_format(meta, path)
    return session, meta


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
