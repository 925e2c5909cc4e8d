"""One checkpoint format for every model family, and what a checkpoint says about itself.

A checkpoint is a torch file of tensors and JSON strings only (so `torch.load(weights_only=True)`
reads it back without unpickling anything): the family (`kind`), the model's configuration, the
weights, the training settings, the validation figures, the history, the data and how the run
went, the codec where the family has one, and the run's resume record. `save` writes it whole or
not at all; `read` reads it, and also the layouts segue wrote before this one (each family had its
own), so old checkpoints still load, export and resume. `describe` is `segue info CKPT.pt`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

FORMAT = 2
NAMES = {"melody": "event LSTM (segue train melody)", "metrical": "metrical melody model (segue train metrical)",
         "rnnrbm": "RNN-RBM (segue train rnnrbm)", "rnnnade": "LSTM-NADE (segue train rnnnade)",
         "lyrics": "character model (segue train lyrics)",
         "chords": "accompanist's chord model (segue train chords)",
         "beats": "beat tracker's onset salience (segue train beats)"}
ARTICLED = {"melody": "a segue melody", "metrical": "a metrical melody", "rnnrbm": "an RNN-RBM",
            "rnnnade": "an LSTM-NADE", "lyrics": "a lyrics", "chords": "an accompanist's chord",
            "beats": "an onset salience"}
# The figure a kind's best epoch is chosen on, and how to say it.
BEST = {"melody": ("valid_nll", "held-out NLL {:.3f} nats/event"),
        "metrical": ("valid_pitch_nll", "valid pitch {:.3f} nats/note-on"),
        "rnnrbm": ("valid_ll", "validation log-likelihood {:.3f} nats/frame (AIS)"),
        "rnnnade": ("valid_ll", "validation log-likelihood {:.3f} nats/frame (exact)"),
        "lyrics": ("valid_bpc", "validation {:.3f} bits/char"),
        "chords": ("nll", "valid {:.3f} nats/beat"),
        "beats": ("bce", "valid {:.4f} nats/onset (on a beat or not)")}


@dataclass
class Saved:
    """A checkpoint's parts as plain values."""

    kind: str
    model: dict  # the model's configuration
    state: dict  # the weights
    train: dict  # the training settings
    metrics: dict
    history: list
    data: dict  # what it was trained on, the command, how the run went
    codec: str | None = None  # the family's codec as JSON (event and lyric models)
    resume: dict | None = None


def save(path, kind: str, *, model: dict, state: dict, train: dict, metrics: dict | None, history: list, data: dict,
         codec: str | None = None, resume: dict | None = None) -> None:
    """Write a checkpoint beside `path` first, then under its name: a run stopped mid-write keeps its
    last whole checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save({"format": FORMAT, "kind": kind, "model": json.dumps(model), "state": state,
                "train": json.dumps(train), "metrics": json.dumps(metrics or {}), "history": json.dumps(history),
                "data": json.dumps(data), "codec": codec, "resume": resume}, tmp)
    tmp.replace(path)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def read(path: str | Path, kind: str | None = None) -> Saved:
    """The checkpoint at `path` (of `kind`, when given); one sentence when it is not one."""
    path = Path(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such checkpoint") from None
    except Exception as err:  # torch raises many classes, with pages of advice
        raise ValueError(f"{path}: not a segue checkpoint (torch.load refused it: "
                         f"{str(err).splitlines()[0][:100]})") from None
    if not isinstance(raw, dict) or not ("kind" in raw or raw.get("format") == 1):
        raise ValueError(f"{path}: a torch file, but not a segue checkpoint")
    found = raw.get("kind", "melody")  # the first layout's melody checkpoints named no kind
    if kind is not None and found != kind:
        raise ValueError(f"{path}: not {ARTICLED[kind]} checkpoint (it holds {ARTICLED.get(found, repr(found))})")
    try:
        if raw.get("format") == FORMAT:
            return Saved(found, _json(raw["model"]), raw["state"], _json(raw["train"]), _json(raw["metrics"]),
                         _json(raw["history"]), _json(raw["data"]), raw.get("codec"), raw.get("resume"))
        if found in ("rnnrbm", "rnnnade"):  # the piano-roll layout: the model's own dict and a record
            record = _json(raw.get("record", "{}"))
            return Saved(found, raw["config"], raw["state"], record.get("config", {}), record.get("metrics") or {},
                         record.get("history", []), {k: record.get(k) for k in ("files", "command", "run")},
                         None, raw.get("resume"))
        return Saved(found, _json(raw["model"]), raw.get("state_dict", raw.get("state")), _json(raw["train"]),
                     _json(raw.get("metrics")) or {}, _json(raw.get("history", [])), _json(raw.get("data", {})),
                     raw.get("codec"), raw.get("resume"))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: a broken segue checkpoint ({type(err).__name__}: {err})") from None


def kind_of(path: str | Path) -> str:
    """The family a checkpoint holds (one sentence when the file is none)."""
    return read(path).kind


def describe(path: str | Path) -> list[str]:
    """`segue info`'s lines for a checkpoint."""
    c = read(path)
    kind, model, train, metrics, data = c.kind, c.model, c.train, c.metrics, c.data
    sizes = ", ".join(f"{k} {model[k]}" for k in ("cell", "hidden", "recurrent", "layers", "k", "vocab") if k in model)
    lines = [str(path), f"  kind: {NAMES.get(kind, kind)} checkpoint; {sizes or 'sizes not recorded'}"]
    source = data.get("corpus") or ", ".join(data.get("files", [])[:4]) + (" ..." if len(data.get("files", [])) > 4 else "")
    key, said = BEST.get(kind, ("", ""))
    epochs = [h["epoch"] for h in c.history]
    if metrics and key in metrics:
        lines.append(f"  trained on {source or '?'}: best {said.format(metrics[key])} at epoch {metrics.get('epoch', '?')}"
                     f" of {max(epochs) if epochs else '?'} run ({train.get('epochs', '?')} asked)")
    else:
        lines.append(f"  trained on {source or '?'}: no validation yet ({len(epochs)} epochs run)")
    run = data.get("run")
    if run:
        amp = ", bf16" if run.get("amp") else ""
        backend = f", {run['backend']}" if run.get("backend") else ""
        lines.append(f"  run: {run.get('world_size', 1)} process(es) on {run.get('device', '?')}{backend}{amp}, "
                     f"torch {run.get('torch', '?')}" + (f"; resumed from {run['resumed_from']}" if run.get("resumed_from") else ""))
    resume = c.resume
    if resume:
        where = (f"inside epoch {resume['epoch']} after {resume['done']} batches" if resume["done"]
                 else f"at the start of epoch {resume['epoch']}")
        lines.append(f"  resume: --resume {path} goes on {where} (saved by {resume['world_size']} process(es))")
    elif kind == "chords":
        lines.append("  resume: none (the chord trainer does not resume; a stopped run keeps its best epoch)")
    else:
        lines.append("  resume: no resume record (saved before segue kept one)")
    seconds = c.history[-1].get("seconds") if c.history else None
    if seconds is not None:
        lines.append(f"  wall time: {seconds:.0f} s")
    lines.append(f"  trained by: {data.get('command') or '?'}")
    return lines
