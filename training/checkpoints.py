"""What a training checkpoint says about itself, for `segue info CKPT.pt`: its kind and sizes, the
data, the best validation and its epoch, how far the run got, how it was run, and the command."""
from __future__ import annotations

import json
from pathlib import Path

import torch

NAMES = {"melody": "event LSTM (segue train melody)", "metrical": "metrical melody model (segue train metrical)",
         "rnnrbm": "RNN-RBM (segue train rnnrbm)", "rnnnade": "LSTM-NADE (segue train rnnnade)",
         "lyrics": "character model (segue train lyrics)"}
# The figure a kind's best epoch is chosen on, and how to say it.
BEST = {"melody": ("valid_nll", "held-out NLL {:.3f} nats/event"),
        "metrical": ("valid_pitch_nll", "valid pitch {:.3f} nats/note-on"),
        "rnnrbm": ("valid_ll", "validation log-likelihood {:.3f} nats/frame (AIS)"),
        "rnnnade": ("valid_ll", "validation log-likelihood {:.3f} nats/frame (exact)"),
        "lyrics": ("valid_bpc", "validation {:.3f} bits/char")}


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def read(path: str | Path) -> dict:
    """A checkpoint's parts as plain values: kind, model, train (its config), metrics, history, data, resume."""
    path = Path(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except Exception as err:
        raise ValueError(f"{path}: neither an ONNX model nor a torch checkpoint segue can read "
                         f"({str(err).splitlines()[0][:100]})") from None
    if not isinstance(raw, dict) or not ("kind" in raw or raw.get("format") == 1):
        raise ValueError(f"{path}: a torch file, but not a segue checkpoint")
    kind = raw.get("kind", "melody")
    if kind in ("rnnrbm", "rnnnade"):
        record = _json(raw.get("record", "{}"))
        return {"kind": kind, "model": raw.get("config", {}), "train": record.get("config", {}),
                "metrics": record.get("metrics") or {}, "history": record.get("history", []),
                "data": {"files": record.get("files", []), "command": record.get("command"), "run": record.get("run")},
                "resume": raw.get("resume")}
    return {"kind": kind, "model": _json(raw.get("model", {})), "train": _json(raw.get("train", {})),
            "metrics": _json(raw.get("metrics")) or {}, "history": _json(raw.get("history", [])),
            "data": _json(raw.get("data", {})), "resume": raw.get("resume")}


def describe(path: str | Path) -> list[str]:
    """`segue info`'s lines for a checkpoint."""
    c = read(path)
    kind, model, train, metrics, data = c["kind"], c["model"], c["train"], c["metrics"], c["data"]
    sizes = ", ".join(f"{k} {model[k]}" for k in ("cell", "hidden", "recurrent", "layers", "k", "vocab") if k in model)
    lines = [str(path), f"  kind: {NAMES.get(kind, kind)} checkpoint; {sizes or 'sizes not recorded'}"]
    source = data.get("corpus") or ", ".join(data.get("files", [])[:4]) + (" ..." if len(data.get("files", [])) > 4 else "")
    key, said = BEST.get(kind, ("", ""))
    epochs = [h["epoch"] for h in c["history"]]
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
    resume = c["resume"]
    if resume:
        where = (f"inside epoch {resume['epoch']} after {resume['done']} batches" if resume["done"]
                 else f"at the start of epoch {resume['epoch']}")
        lines.append(f"  resume: --resume {path} goes on {where} (saved by {resume['world_size']} process(es))")
    else:
        lines.append("  resume: no resume record (saved before segue kept one)")
    seconds = c["history"][-1].get("seconds") if c["history"] else None
    if seconds is not None:
        lines.append(f"  wall time: {seconds:.0f} s")
    lines.append(f"  trained by: {data.get('command') or '?'}")
    return lines
