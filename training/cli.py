"""`segue train` and `segue data`: the training side's commands (`segue eval`: training/cli_eval.py,
`segue export`: export/cli.py).

They join `segue` through the `segue.commands` entry points (pyproject.toml), only where the
training extra is installed. Each command imports its torch modules when it runs, so `segue --help`
stays quick.
"""
from __future__ import annotations

import functools
from dataclasses import replace
import os
import shlex
import sys
import time

import click

from segue.daemon.cli_options import CHANNEL, OUT, TRACK, Group

TRAIN_EXTRA = "pip install 'segue[train]' (in a clone of segue: pip install -e '.[train]')"
PARITY = 1e-3  # `export --check`: the largest logit, bias or state difference between torch and onnxruntime


class Duration(click.ParamType):
    """A wall-time budget: seconds, or with a unit (90s, 45m, 2h, 1h30m)."""

    name = "duration"

    def convert(self, value, param, ctx):
        import re

        text = str(value).strip().lower()
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
        if not text or parts is None or not any(parts.groups()):
            self.fail(f"{value!r}: not a duration (e.g. 3600, 45m, 2h, 1h30m)", param, ctx)
        seconds = sum(float(g) * u for g, u in zip(parts.groups(), (3600, 60, 1)) if g)
        if not 0 < seconds < 1e7:
            self.fail(f"{value!r}: must be more than 0 s and under 115 days", param, ctx)
        return seconds


def run_options(command):
    """How a training runs, the same on every trainer: device, bf16, processes, time limit, resume,
    progress bars. The command gets them as one `run` (RunOptions, see `_run`)."""

    @functools.wraps(command)
    def with_run(device, amp, time_limit, resume, nproc, quiet, **options):
        return command(run=_run(device, amp, time_limit, resume, nproc, quiet), **options)

    options = [
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="cpu", show_default=True,
                     help="Where to train; auto: CUDA, then MPS, then the CPU. Under torchrun each process "
                          "takes the GPU of its LOCAL_RANK."),
        click.option("--amp", is_flag=True, help="bf16 mixed precision (the event and lyric models only: "
                                                 "docs/guide/training.md says why)."),
        click.option("--time-limit", type=Duration(), help="Stop after this much wall time (3600, 45m, 2h): the "
                                                           "step in progress ends, then a validation and a checkpoint."),
        click.option("--resume", type=click.Path(dir_okay=False), help="Continue the run this checkpoint was saved "
                                                                        "by (any number of processes)."),
        click.option("--nproc", type=click.IntRange(1, 256), default=1, show_default=True,
                     help="Train in N processes on this machine (runs torchrun --standalone --nproc-per-node N)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        with_run = option(with_run)
    return with_run


def _run(device, amp, time_limit, resume, nproc, quiet):
    """The RunOptions of a train command; with --nproc N > 1 (and not yet under torchrun), this
    process becomes torchrun running the same command in N processes, and never returns."""
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        args = list(_without_nproc(sys.argv[1:]))
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                    "-m", "segue.daemon.cli", *args]
        sys.stdout.flush(), sys.stderr.flush()
        os.execv(sys.executable, launcher)
    from . import runner
    return runner.RunOptions(device=device, amp=amp, time_limit=time_limit or 0.0, resume=resume, progress=not quiet)


def _without_nproc(args: list[str]):
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            yield a


def with_overrides(config, **overrides):
    """A trainer's settings with the options the user gave (None: not given, the default stands)."""
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


def _command_line() -> str:
    """How this run was asked for, to store beside what it makes."""
    return "segue " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _rank0() -> bool:
    """Whether this process speaks for the run (under torchrun, only rank 0 does)."""
    return os.environ.get("RANK", "0") == "0"


@click.group(cls=Group)
def train():
    """Train models (needs the training extra: pip install 'segue[train]', or -e '.[train]' in a clone)."""


@train.command("melody")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt); a .png plot goes beside it.")
@click.option("--recipe", type=click.Choice(["streaming", "windows"]), default="streaming", show_default=True,
              help="streaming: the loss at every step of long windows, fixed time classes, held-out tails; windows: "
                   "the seed's recipe (30 events in, 1 out, per-file time classes, random validation windows).")
@click.option("--epochs", type=click.IntRange(1, 100_000))
@click.option("--batch", type=click.IntRange(1, 65_536))
@click.option("--lr", type=click.FloatRange(0, 10, min_open=True))
@click.option("--hidden", type=click.IntRange(1, 8_192))
@click.option("--layers", type=click.IntRange(1, 16))
@click.option("--dropout", type=click.FloatRange(0, 1))
@click.option("--length", type=click.IntRange(2, 100_000), help="Events per training window (streaming recipe).")
@click.option("--stride", type=click.IntRange(1, 100_000), help="Events between training window starts (streaming recipe).")
@click.option("--codec", type=click.Choice(["fixed", "per-file"]),
              help="Time and velocity classes: fixed log classes, or 11 steps over the files' own gaps (the seed's).")
@click.option("--window", type=click.IntRange(1, 100_000), help="Events in per sample (windows recipe).")
@click.option("--split", type=click.Choice(["tail", "random"]))
@click.option("--valid-fraction", type=click.FloatRange(0, 1))
@click.option("--clip", type=click.FloatRange(0, 1000000.0), help="Gradient norm clip (0: off).")
@click.option("--channel", type=CHANNEL, help="Only this MIDI channel (default: all but drums; windows recipe: 0).")
@click.option("--track", type=TRACK, help="Only this track.")
@click.option("--seed", type=click.IntRange(0, 9_223_372_036_854_775_807), help="Random seed (default 0): the same seed gives the same weights.")
@run_options
def train_melody(paths, out, recipe, run, **options):
    """Train the event LSTM composer on MIDI files or directories."""
    from . import train as train_mod
    base = train_mod.TrainConfig.windowed() if recipe == "windows" else train_mod.TrainConfig()
    config = with_overrides(base, **options)
    result = train_mod.train_melody(paths, out, config, command=_command_line(), run=run)
    if not _rank0():
        return
    best = result["best"]
    click.echo(f"wrote {out} (best epoch {best['epoch']} of {result['epochs']}): held-out NLL "
               f"{best['valid_nll']:.3f} nats/event; accuracy pitch {best['valid_acc_pitch']:.3f}, velocity "
               f"{best['valid_acc_velocity']:.3f}, time {best['valid_acc_time']:.3f}, mean {best['valid_acc_mean']:.3f}")


@train.command("metrical")
@click.argument("corpus", type=click.Path(file_okay=False, exists=True))
@click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt), rewritten at every better validation.")
@click.option("--hidden", type=click.IntRange(1, 8_192), help="LSTM units (default 256).")
@click.option("--layers", type=click.IntRange(1, 16))
@click.option("--dropout", type=click.FloatRange(0, 1))
@click.option("--length", type=click.IntRange(2, 100_000), help="Events per training window (default 128).")
@click.option("--stride", type=click.IntRange(1, 100_000))
@click.option("--batch", type=click.IntRange(1, 65_536))
@click.option("--epochs", type=click.IntRange(1, 100_000), help="At most this many epochs (default 30).")
@click.option("--patience", type=click.IntRange(0, 100_000), help="Stop after this many epochs without a better validation score.")
@click.option("--lr", type=click.FloatRange(0, 10, min_open=True))
@click.option("--transpose", type=click.IntRange(0, 24), help="Shift each window by a random -N..N-1 semitones (default 6).")
@click.option("--free-fraction", type=click.FloatRange(0, 1), help="Windows shown with no position or metre (default 0.15).")
@click.option("--limit", type=click.IntRange(1, 10_000_000), help="Train on at most this many pieces (trials).")
@click.option("--seed", type=click.IntRange(0, 9_223_372_036_854_775_807))
@run_options
def train_metrical(corpus, out, run, **options):
    """Train the metrical melody model (beat-timed intervals, the bar heard) on a corpus from
    `segue data melodies`, validating on its valid split every epoch."""
    from . import metrical as met
    config = with_overrides(met.MetricalConfig(), **options)
    result = met.train_metrical(corpus, out, config, command=_command_line(), log=click.echo, run=run)
    if not _rank0():
        return
    best = result["best"]
    click.echo(f"wrote {out} (best epoch {best['epoch']} of {result['epochs']}): valid pitch "
               f"{best['valid_pitch_nll']:.3f} nats/note-on, top-1 {best['valid_pitch_top1']:.3f}; time "
               f"{best['valid_time_nll']:.3f} nats/event")


EPOCHS, UNITS = click.IntRange(1, 100_000), click.IntRange(1, 8_192)
# The piano-roll trainers' options, once: flag, type, and the help for each family that takes it.
ROLL_OPTIONS = [
    ("--batch", click.IntRange(1, 65_536), {"*": "Sequences (chunks) per step."}),
    ("--chunk", click.IntRange(1, 100_000), {"*": "Frames per training sequence."}),
    ("--lr", click.FloatRange(0, 10, min_open=True), {"*": "Adam's learning rate."}),
    ("--epochs", EPOCHS, {"rnnrbm": "Epochs to train.", "rnnnade": "At most this many epochs (default 100)."}),
    ("--patience", click.IntRange(0, 100_000), {"rnnnade": "Stop after this many epochs without a better validation score."}),
    ("--hidden", UNITS, {"rnnrbm": "RBM hidden units (paper: 150).", "rnnnade": "NADE hidden units (default 150)."}),
    ("--recurrent", UNITS, {"rnnrbm": "RNN units (paper: 100).", "rnnnade": "LSTM units (default 150)."}),
    ("--k", click.IntRange(1, 1_000), {"rnnrbm": "CD-k Gibbs steps (paper: 15)."}),
    ("--valid-every", EPOCHS, {"rnnrbm": "Epochs between validation log-likelihood estimates."}),
    ("--pretrain", click.IntRange(0, 100_000), {"rnnrbm": "Epochs of the paper's pretraining (one RBM on all frames) first."}),
    ("--pretrain-rnn", click.IntRange(0, 100_000), {"rnnrbm": "Then epochs of its RNN pretraining (the RNN as a frame predictor)."}),
    ("--dropout", click.FloatRange(0, 1), {"rnnnade": "Dropout on the LSTM state (default 0.3)."}),
    ("--weight-decay", click.FloatRange(0, 10), {"rnnnade": "Decoupled weight decay, AdamW (default 0)."}),
    ("--transpose", click.IntRange(0, 24), {"*": "Augment: shift each chunk by a random -N..N semitones every epoch."}),
    ("--beats", click.FloatRange(0.015625, 16), {"*": "Frame length in beats for MIDI inputs (JSON: as stored)."}),
    ("--seed", click.IntRange(0, 9_223_372_036_854_775_807), {"*": "Random seed (default 0): the same seed gives the same weights."}),
    ("--init", click.Path(dir_okay=False), {"*": "Start from this checkpoint's weights (train on)."}),
]


def roll_command(family: str, trainer, said):
    """`segue train FAMILY` for a piano-roll family: its options from ROLL_OPTIONS, the run options,
    `trainer(module)` -> (config class, train function), `said(out, config, metrics)` the report."""
    def command(paths, out, init, run, **options):
        config_class, train = trainer()
        config = with_overrides(config_class(), **options)
        record = train(paths, out, config, command=_command_line(), init=init, run=run)
        if _rank0():
            click.echo(said(out, config, record["metrics"]))

    command = run_options(command)
    for flag, kind, helps in reversed(ROLL_OPTIONS):
        if family in helps or "*" in helps:
            command = click.option(flag, type=kind, help=helps.get(family, helps.get("*")))(command)
    command = click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt).")(command)
    return click.argument("paths", nargs=-1, required=True, type=click.Path())(command)


def _rbm():
    from . import polyphony

    return polyphony.RBMTrainConfig, polyphony.train_rnnrbm


def _nade():
    from . import nade_training

    return nade_training.NADETrainConfig, nade_training.train_rnnnade


train.command("rnnrbm", help="Train the RNN-RBM on benchmark JSON (its train split) or MIDI files.")(roll_command(
    "rnnrbm", _rbm, lambda out, config, m: f"wrote {out} (best epoch {m['epoch']}): validation log-likelihood "
    f"{m['valid_ll']:.3f} nats/frame (AIS {config.valid_runs} runs x {config.valid_betas} temperatures), accuracy "
    f"{m['valid_acc']:.3f}"))
train.command("rnnnade", help="Train an LSTM-NADE (exact likelihoods) on benchmark JSON or MIDI files.")(roll_command(
    "rnnnade", _nade, lambda out, config, m: f"wrote {out} (best epoch {m['epoch']}, {m['seconds']:.0f} s): validation "
    f"log-likelihood {m['valid_ll']:.3f} nats/frame (exact)"))


@train.command("lyrics")
@click.argument("corpus", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt); a .png plot goes beside it.")
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), help="Recurrent cell (default lstm).")
@click.option("--input", "input_", type=click.Choice(["embedding", "onehot"]), help="Input encoding (default embedding).")
@click.option("--embed", type=click.IntRange(1, 8_192), help="Embedding width (default 256).")
@click.option("--hidden", type=click.IntRange(1, 8_192), help="Units per layer (default 512, the report's).")
@click.option("--layers", type=click.IntRange(1, 16), help="Recurrent layers (default 2).")
@click.option("--dropout", type=click.FloatRange(0, 1), help="Default 0.5.")
@click.option("--length", type=click.IntRange(2, 100_000), help="Characters per training sequence (default 20).")
@click.option("--batch", type=click.IntRange(1, 65_536), help="Sequences per step (default 128).")
@click.option("--lr", type=click.FloatRange(0, 10, min_open=True), help="Adam learning rate (default 1e-3).")
@click.option("--clip", type=click.FloatRange(0, 1000000.0), help="Gradient norm clip (default 1; 0: off).")
@click.option("--epochs", type=click.IntRange(1, 100_000), help="Default 50 (the report trained 300).")
@click.option("--steps", type=click.IntRange(0, 100_000_000), help="Stop after this many optimiser steps (default: no limit).")
@click.option("--cap", type=click.IntRange(2, 1_000_000), help="Vocabulary size, the unknown symbol included (default 4000).")
@click.option("--newlines", type=click.Choice(["keep", "space"]), help="Line breaks as a symbol (default) or as spaces, as the report did.")
@click.option("--titles", type=click.Choice(["keep", "drop"]),
              help="drop: each blank-line-separated block opens with a title line (the ci corpora's tune names), "
                   "left out of training (default keep).")
@click.option("--block", type=click.IntRange(1, 100_000_000), help="Held-out split: block length in characters (default 1000) ...")
@click.option("--every", type=click.IntRange(2, 1_000), help="... and every Nth block is validation text (default 10).")
@click.option("--valid-every", type=click.IntRange(1, 100_000), help="Epochs between validation passes (default 1).")
@click.option("--init", type=click.Path(dir_okay=False), help="Go on from this lyrics checkpoint (its shape and vocabulary).")
@click.option("--seed", type=click.IntRange(0, 9_223_372_036_854_775_807), help="Random seed (default 0).")
@run_options
def train_lyrics(corpus, out, input_, init, run, **options):
    """Train a character RNN/GRU/LSTM lyric model on a UTF-8 text corpus."""
    from . import lyrics as lyr
    config = with_overrides(lyr.LyricsTrainConfig(), input=input_, **options)
    record = lyr.train_lyrics(corpus, out, config, command=_command_line(), init=init, run=run)
    if not _rank0():
        return
    m = record["best"]
    click.echo(f"wrote {out} (best epoch {m['epoch']}): validation {m['valid_bpc']:.3f} bits/char, "
               f"perplexity {m['valid_perplexity']:.2f}; training perplexity {m['train_perplexity']:.3f}")


@train.command("beats")
@click.argument("melodies", type=click.Path(file_okay=False))
@click.argument("pop909", type=click.Path(file_okay=False))
@click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt): the best valid loss.")
@click.option("--hidden", type=click.IntRange(1, 1_024), help="GRU units (default 48).")
@click.option("--epochs", type=click.IntRange(1, 100_000), help="Default 30.")
@click.option("--songs", type=click.IntRange(0, 100_000), help="POP909 train songs rendered (default 600: all with one tempo).")
@click.option("--tunes", type=click.IntRange(0, 1_000_000), help="Melody corpus train tunes rendered (default 2400).")
@click.option("--accents", type=click.FloatRange(0, 1), help="The share of pieces played with accents of their own on the beats (default 0.5).")
@click.option("--scores", type=click.Path(file_okay=False), help="Also the notated scores of `segue data scores DIR`, at a tempo their notes suggest.")
@click.option("--lr", type=click.FloatRange(0, 10, min_open=True), help="Adam learning rate (default 3e-3).")
@click.option("--batch", type=click.IntRange(1, 65_536), help="Windows per step (default 32).")
@click.option("--window", type=click.IntRange(16, 100_000), help="Onsets per training window (default 256).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), help="Random seed (default 0).")
@click.option("--time-limit", type=click.FloatRange(0, None, min_open=True), help="Stop after the epoch that passes this many seconds.")
def train_beats_cmd(melodies, pop909, out, time_limit, scores, **options):
    """Train the beat tracker's onset salience on renderings of a melody corpus (segue data
    melodies) and POP909 (the folder of ../shared/data/pop909): how likely each onset is to be on a
    beat; then `segue export` makes the file the tracker reads."""
    from . import beats
    config = with_overrides(beats.BeatConfig(), **options)
    try:
        record = beats.train_salience(melodies, pop909, out, config, log=click.echo, time_limit=time_limit,
                                      command=_command_line(), scores=scores)
    except (FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    m = record["best"]
    click.echo(f"wrote {out} (best epoch {m['epoch']}): valid {m['bce']:.4f} nats an onset, accuracy {m['accuracy']:.3f}")


@train.command("chords")
@click.argument("corpus", type=click.Path(file_okay=False))
@click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt): the best valid NLL, with the texture patterns.")
@click.option("--hidden", type=click.IntRange(1, 8_192), help="GRU units (default 160; the shipped pop: 256).")
@click.option("--epochs", type=click.IntRange(1, 100_000), help="Default 60 (the shipped pop: 40).")
@click.option("--lr", type=click.FloatRange(0, 10, min_open=True), help="Adam learning rate (default 3e-3).")
@click.option("--batch", type=click.IntRange(1, 65_536), help="Windows per step (default 48).")
@click.option("--window", type=click.IntRange(2, 100_000), help="Beats per training window (default 64).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), help="Random seed (default 0).")
@click.option("--time-limit", type=click.FloatRange(0, None, min_open=True), help="Stop after the epoch that passes this many seconds.")
def train_chords_cmd(corpus, out, time_limit, **options):
    """Train the accompanist's chord model on a POP909 corpus (segue data pop909): the melody heard
    before each beat -> the beat's chord; then `segue export` makes the accompanist file."""
    from . import chords
    config = with_overrides(chords.ChordConfig(), **options)
    record = chords.train_chords(corpus, out, config, log=click.echo, time_limit=time_limit, command=_command_line())
    m = record["best"]
    click.echo(f"wrote {out} (best epoch {m['epoch']}): valid {m['nll']:.3f} nats a beat, chord accuracy {m['accuracy']:.3f}")


@click.group(cls=Group)
def data():
    """Build training corpora (needs the training extra)."""


@data.command("melodies")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--collection", "collections", multiple=True,
              type=click.Choice(["essen", "oneills", "ryans", "nottingham", "chorales"]),
              help="Only these of music21's collections (repeatable; default: all five).")
@click.option("--seed", type=click.IntRange(0, 9_223_372_036_854_775_807), default=0, show_default=True, help="Salts the hash that splits by piece.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Parsing processes.")
@click.option("--chorale-set", type=click.Choice(["riemenschneider", "bwv-files"]), default="riemenschneider",
              show_default=True, help="The 371 chorales as music21 numbers them, or the files named bwvN.M (as the "
                                      "shipped folk model was trained).")
@click.option("--midi", "midi", multiple=True, type=click.Path(exists=True),
              help="Your MIDI files or folders (repeatable): every track a melody. With --midi, music21's "
                   "collections are left out unless --collection names some.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def data_melodies(out_dir, collections, seed, workers, chorale_set, midi, quiet):
    """The melody corpus from music21's public-domain collections, or from your MIDI files (--midi):
    parsed, duplicates dropped, split by piece, written as training arrays (melodies.npz,
    pieces.json) into OUT_DIR for `segue train metrical`."""
    from . import melodies as mel
    started = time.perf_counter()
    chosen = collections or (() if midi else tuple(mel.COLLECTIONS))
    inventory = mel.build(out_dir, chosen, seed=seed, workers=workers, progress=not quiet, chorale_set=chorale_set,
                          midi=midi)
    click.echo(mel.format_inventory(inventory))
    click.echo(f"wrote {out_dir}/melodies.npz and pieces.json in {time.perf_counter() - started:.0f} s")



@data.command("pop909")
@click.argument("source", type=click.Path(file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
def data_pop909(source, out_dir):
    """The accompaniment corpus from POP909's songs in SOURCE (e.g. ../shared/data/pop909; nothing is
    downloaded): per song the melody, the piano part, beats, bars, chords and keys, in beats, split by
    song (train / valid / test), written to OUT_DIR (pop909.npz, songs.json)."""
    from . import pop909
    started = time.perf_counter()
    try:
        pop909.build(source, out_dir, log=click.echo)
    except pop909.Pop909Error as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"wrote {out_dir}/pop909.npz and songs.json in {time.perf_counter() - started:.0f} s")


@data.command("scores")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Parsing processes.")
def data_scores(out_dir, workers):
    """The notated classical scores the beat tracker's ear also learns from: music21's instrumental
    scores and Bach's chorales, every part as one keyboard part, with the notated beat and the bar
    lines (OUT_DIR/scores.npz, scores.json), for `segue train beats --scores OUT_DIR`."""
    from . import scores
    started = time.perf_counter()
    scores.build(out_dir, workers=workers, log=click.echo)
    click.echo(f"wrote {out_dir}/scores.npz and scores.json in {time.perf_counter() - started:.0f} s")


@data.command("keys")
@click.argument("source", type=click.Path(file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--parts", type=click.Choice(["all", "piano"]), default="all", show_default=True,
              help="all: melody, bridge and piano part as one keyboard part; piano: the piano part alone.")
@click.option("--release-grid", type=click.Choice(["4", "12"]), default="4", show_default=True,
              help="4: a note struck on a sixteenth ends on one (the shipped keys); 12: releases on any "
                   "twelfth of a beat, as the songs play them.")
def data_keys(source, out_dir, parts, release_grid):
    """The keyboard corpus for a two-handed model from a POP909 corpus in SOURCE (`segue data
    pop909`): every note of PARTS with its velocity, in beats and bars, in the melody corpus's
    format (OUT_DIR/melodies.npz, pieces.json), for `segue train metrical`."""
    from . import keys, pop909
    try:
        keys.build(source, out_dir, parts, log=click.echo, release_grid=int(release_grid))
    except pop909.Pop909Error as err:
        raise click.ClickException(str(err)) from None
