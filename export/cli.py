"""`segue export`: a checkpoint to a self-describing ONNX model file (the training extra's command)."""
from __future__ import annotations

import os
from pathlib import Path

import click

from segue.daemon.cli_options import OUT
from segue.daemon.formats.midifile import read_notes
from segue.daemon.models import roll as rollmodel
from segue.daemon.models.event import EventModel
from segue.training.cli import PARITY, _command_line


@click.command("export")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=OUT)
@click.option("--quantize", type=OUT, help="Also write an int8 (dynamic) copy here.")
@click.option("--check", type=click.Path(),
              help="MIDI file (a text file for lyric models, a melody corpus folder for metrical models) to stream through torch and onnxruntime side by side.")
@click.option("--gibbs", type=click.IntRange(1, 1000), default=25, show_default=True,
              help="Gibbs steps per frame (RNN-RBM checkpoints).")
@click.option("--beats", type=click.FloatRange(0, None, min_open=True),
              help="Frame length in beats, stored in a piano-roll model file (default: the one trained with; "
                   "benchmark JSON does not say it: JSB's frames are quarter notes, 1, Nottingham's eighth notes, 0.5).")
@click.option("--temperatures", type=click.IntRange(1, 16), default=1, show_default=True,
              help="RNN-RBM checkpoints: run each frame's chain as a replica exchange over this many "
                   "temperatures (1: a plain chain), for sharp models whose plain chains do not mix ...")
@click.option("--lowest", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
              help="... the hottest copy at this inverse temperature.")
def export_cmd(checkpoint, out, quantize, check, gibbs, beats, temperatures, lowest):
    """Export a checkpoint to a self-describing ONNX step graph.

    The file is written beside OUT as OUT.part and takes OUT's name only once it is whole and, with
    --check, matches torch: a failed export or check leaves no file under OUT's name.
    """
    from segue.training.checkpoints import kind_of  # torch: imported when the command runs, not for --help

    kind = kind_of(checkpoint)
    if temperatures > 1 and kind != "rnnrbm":
        raise click.UsageError("--temperatures is for RNN-RBM checkpoints: an LSTM-NADE samples exactly, key by key")
    if quantize and kind in ("rnnrbm", "rnnnade"):
        raise click.UsageError("--quantize is for event and lyric models, not piano-roll models")
    part = Path(out).with_name(Path(out).name + ".part")
    try:
        report = _export(kind, checkpoint, part, check, gibbs=gibbs, beats=beats, temperatures=temperatures,
                         lowest=lowest)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    click.echo(f"wrote {out}" + (f"; {report}" if report else ""))
    if quantize:
        from .quantize import quantize as int8

        int8(out, quantize)
        click.echo(f"wrote {quantize} (int8 weights)")


def _export(kind: str, checkpoint, out: Path, check, *, gibbs, beats, temperatures, lowest) -> str:
    """Write the model file to `out` and, given a `check` file, compare it with torch: the parity
    line, or an error when the two differ by more than PARITY."""
    if kind == "lyrics":
        from . import lyrics as exporter
        exporter.export_lyrics(checkpoint, out, command=_command_line())
        if not check:
            return ""
        from segue.daemon.formats.text import read_corpus

        worst = exporter.parity(checkpoint, out, read_corpus(check)[:500])
        return _parity(f"parity over {worst['steps']} characters: max |logit diff| {worst['logits']:.2e}",
                       worst["logits"])
    if kind in ("rnnrbm", "rnnnade"):  # piano-roll models: an RNN-RBM, or an LSTM-NADE (`--gibbs` unused)
        if kind == "rnnrbm":
            from . import rnnrbm as exporter
            exporter.export_rnnrbm(checkpoint, out, gibbs=gibbs, beats=beats, command=_command_line(),
                                   temperatures=temperatures, lowest=lowest)
        else:
            from . import nade as exporter
            exporter.export_nade(checkpoint, out, beats=beats, command=_command_line())
        if not check:
            return ""
        from segue.daemon.formats import pianoroll

        roll = pianoroll.from_midi(check, beats=rollmodel.RollModel(out).beats)[:200]
        worst = exporter.parity(checkpoint, out, roll)
        return _parity(f"parity: max |bias diff| {worst['bias']:.2e}, max |state diff| {worst['state']:.2e}, "
                       f"sampled units that differ per frame (same noise): {worst['sample_units']}",
                       max(worst["bias"], worst["state"]))
    if kind == "beats":  # the beat tracker's onset salience: its parity runs on random onsets, with or without --check
        from . import beats as exporter
        exporter.export_salience(checkpoint, out, command=_command_line())
        worst = exporter.parity(checkpoint, out)
        return _parity(f"parity over {worst['steps']} onsets: max |logit diff| {worst['logits']:.2e}, "
                       f"max |state diff| {worst['state']:.2e}", max(worst["logits"], worst["state"]))
    if kind == "chords":  # the accompanist: its parity runs on random melody beats, with or without --check
        from . import accompanist as exporter
        exporter.export_accompanist(checkpoint, out, command=_command_line())
        worst = exporter.parity(checkpoint, out)
        return _parity(f"parity over {worst['steps']} beats: max |logit diff| {worst['logits']:.2e}, "
                       f"max |state diff| {worst['state']:.2e}", max(worst["logits"], worst["state"]))
    from . import onnx as exporter
    if kind == "metrical":
        exporter.export_metrical(checkpoint, out, command=_command_line())
        if not check:
            return ""
        from segue.daemon.formats.corpus import load, metrical_events

        net = EventModel(out)
        events = metrical_events(load(check, "valid")[0], net.codec, net.info.sounding)
        worst = exporter.parity_metrical(checkpoint, out, events[:500])
        return _parity(f"parity over {min(len(events), 500)} events of {check}'s first valid piece: max |logit diff| "
                       f"{worst['logits']:.2e}, max |state diff| {worst['state']:.2e}", max(worst["logits"], worst["state"]))
    exporter.export_melody(checkpoint, out, command=_command_line())
    if not check:
        return ""
    events = EventModel(out).codec.encode(read_notes(check))[:500]
    worst = exporter.parity(checkpoint, out, events)
    return _parity(f"parity over {len(events)} events: max |logit diff| {worst['logits']:.2e}, "
                   f"max |prob diff| {worst['probs']:.2e}, max |state diff| {worst['state']:.2e}",
                   max(worst["logits"], worst["state"]))


def _parity(line: str, worst: float) -> str:
    if not worst <= PARITY:  # NaN fails too
        raise RuntimeError(f"export check failed, nothing written: {line} (more than {PARITY:g})")
    return line
