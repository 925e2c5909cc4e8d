"""The offline commands: `segue train`, `segue eval` and `segue export`.

They need the training extra (torch), imported only when one of them runs (`_torch_side`), so
the runtime commands in cli.py start without it. cli.py attaches these groups to `segue`.
"""
from __future__ import annotations

import importlib
import os
import shlex
import sys
import time
from pathlib import Path

import click
import numpy as np

from .formats.midifile import read_notes
from .models import roll as rollmodel
from .models.event import EventModel

CHANNEL = click.IntRange(0, 15)  # shared with cli.py's runtime commands
TRACK = click.IntRange(0, None)
TRAIN_EXTRA = "pip install 'segue[train]' (in a clone of segue: pip install -e '.[train]')"
PARITY = 1e-3  # `export --check`: the largest logit, bias or state difference between torch and onnxruntime


class OutFile(click.Path):
    """A file to write, whose folder must exist and be writable now, not after an hour of training."""

    def __init__(self):
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        folder = Path(value).resolve().parent
        if not folder.is_dir():
            self.fail(f"{value}: its folder {folder} does not exist", param, ctx)
        if not os.access(folder, os.W_OK):
            self.fail(f"{value}: its folder {folder} is not writable", param, ctx)
        return value


OUT = OutFile()


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
    """How a training runs, the same on every trainer: device, bf16, processes, time limit, resume."""
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
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run(device, amp, time_limit, resume, nproc, quiet):
    """The RunOptions of a train command; with --nproc N > 1 (and not yet under torchrun), this
    process becomes torchrun running the same command in N processes, and never returns."""
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        args = list(_without_nproc(sys.argv[1:]))
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                    "-m", "segue.daemon.cli", *args]
        sys.stdout.flush(), sys.stderr.flush()
        os.execv(sys.executable, launcher)
    runner = _torch_side("segue.training.runner")
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


def _command_line() -> str:
    """How this run was asked for, to store beside what it makes."""
    return "segue " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _rank0() -> bool:
    """Whether this process speaks for the run (under torchrun, only rank 0 does)."""
    return os.environ.get("RANK", "0") == "0"


def _torch_side(module: str):
    """Import a training/export module, or say which extra is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise RuntimeError(f"this command needs the training extra ({err.name} is missing): "
                           f"{TRAIN_EXTRA}") from None


@click.group()
def train():
    """Train models (needs the training extra: pip install 'segue[train]', or -e '.[train]' in a clone)."""


@train.command("melody")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt); a .png plot goes beside it.")
@click.option("--recipe", type=click.Choice(["segue", "textbook"]), default="segue", show_default=True,
              help="segue: streaming training, fixed time classes, held-out tails; textbook: the seed's recipe.")
@click.option("--epochs", type=int)
@click.option("--batch", type=int)
@click.option("--lr", type=float)
@click.option("--hidden", type=int)
@click.option("--layers", type=int)
@click.option("--dropout", type=float)
@click.option("--length", type=int, help="Events per training window (segue recipe).")
@click.option("--stride", type=int, help="Events between training window starts (segue recipe).")
@click.option("--codec", type=click.Choice(["segue", "seed"]), help="Time/velocity classes: segue's fixed ones or the textbook's.")
@click.option("--window", type=int, help="Events in per sample (textbook recipe).")
@click.option("--split", type=click.Choice(["tail", "random"]))
@click.option("--valid-fraction", type=float)
@click.option("--clip", type=float, help="Gradient norm clip (0: off).")
@click.option("--channel", type=CHANNEL, help="Only this MIDI channel (default: all but drums; textbook: 0).")
@click.option("--track", type=TRACK, help="Only this track.")
@click.option("--seed", type=int, help="Random seed (default 0): the same seed gives the same weights.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@run_options
def train_melody(paths, out, recipe, quiet, device, amp, time_limit, resume, nproc, **options):
    """Train the event LSTM composer on MIDI files or directories."""
    run = _run(device, amp, time_limit, resume, nproc, quiet)
    train_mod = _torch_side("segue.training.train")
    base = train_mod.TrainConfig.textbook() if recipe == "textbook" else train_mod.TrainConfig()
    config = train_mod.with_overrides(base, **options)
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
@click.option("--hidden", type=int, help="LSTM units (default 256).")
@click.option("--layers", type=int)
@click.option("--dropout", type=float)
@click.option("--length", type=int, help="Events per training window (default 128).")
@click.option("--stride", type=int)
@click.option("--batch", type=int)
@click.option("--epochs", type=int, help="At most this many epochs (default 30).")
@click.option("--patience", type=int, help="Stop after this many epochs without a better validation score.")
@click.option("--lr", type=float)
@click.option("--transpose", type=int, help="Shift each window by a random -N..N-1 semitones (default 6).")
@click.option("--free-fraction", type=float, help="Windows shown with no position or metre (default 0.15).")
@click.option("--limit", type=int, help="Train on at most this many pieces (trials).")
@click.option("--seed", type=int)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@run_options
def train_metrical(corpus, out, quiet, device, amp, time_limit, resume, nproc, **options):
    """Train the metrical melody model (beat-timed intervals, the bar heard) on a corpus from
    `segue data melodies`, validating on its valid split every epoch."""
    run = _run(device, amp, time_limit, resume, nproc, quiet)
    met = _torch_side("segue.training.metrical")
    config = met.with_overrides(met.MetricalConfig(), **options)
    result = met.train_metrical(corpus, out, config, command=_command_line(), log=click.echo, run=run)
    if not _rank0():
        return
    best = result["best"]
    click.echo(f"wrote {out} (best epoch {best['epoch']} of {result['epochs']}): valid pitch "
               f"{best['valid_pitch_nll']:.3f} nats/note-on, top-1 {best['valid_pitch_top1']:.3f}; time "
               f"{best['valid_time_nll']:.3f} nats/event")


@train.command("rnnrbm")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt).")
@click.option("--epochs", type=int)
@click.option("--batch", type=int, help="Sequences (chunks) per step.")
@click.option("--chunk", type=int, help="Frames per training sequence.")
@click.option("--lr", type=float)
@click.option("--hidden", type=int, help="RBM hidden units (paper: 150).")
@click.option("--recurrent", type=int, help="RNN units (paper: 100).")
@click.option("--k", type=int, help="CD-k Gibbs steps (paper: 15).")
@click.option("--beats", type=float, help="Frame length in beats for MIDI inputs (JSON: as stored).")
@click.option("--valid-every", type=int, help="Epochs between validation log-likelihood estimates.")
@click.option("--seed", type=int, help="Random seed (default 0): the same seed gives the same weights.")
@click.option("--pretrain", type=int, help="Epochs of the paper's pretraining (one RBM on all frames) first.")
@click.option("--pretrain-rnn", type=int, help="Then epochs of its RNN pretraining (the RNN as a frame predictor).")
@click.option("--transpose", type=int, help="Augment: shift each chunk by a random -N..N semitones every epoch.")
@click.option("--init", type=click.Path(dir_okay=False), help="Start from this checkpoint's weights (train on).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@run_options
def train_rnnrbm(paths, out, quiet, init, device, amp, time_limit, resume, nproc, **options):
    """Train the RNN-RBM on benchmark JSON (its train split) or MIDI files."""
    run = _run(device, amp, time_limit, resume, nproc, quiet)
    poly = _torch_side("segue.training.polyphony")
    config = poly.with_overrides(poly.RBMTrainConfig(), **options)
    record = poly.train_rnnrbm(paths, out, config, command=_command_line(), init=init, run=run)
    if not _rank0():
        return
    m = record["metrics"]
    click.echo(f"wrote {out} (best epoch {m['epoch']}): validation log-likelihood {m['valid_ll']:.3f} nats/frame "
               f"(AIS {config.valid_runs} runs x {config.valid_betas} temperatures), accuracy {m['valid_acc']:.3f}")


@train.command("rnnnade")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt).")
@click.option("--epochs", type=int, help="At most this many epochs (default 100).")
@click.option("--patience", type=int, help="Stop after this many epochs without a better validation score.")
@click.option("--batch", type=int, help="Sequences (chunks) per step.")
@click.option("--chunk", type=int, help="Frames per training sequence.")
@click.option("--lr", type=float)
@click.option("--hidden", type=int, help="NADE hidden units (default 150).")
@click.option("--recurrent", type=int, help="LSTM units (default 150).")
@click.option("--dropout", type=float, help="Dropout on the LSTM state (default 0.3).")
@click.option("--weight-decay", type=float, help="Decoupled weight decay, AdamW (default 0).")
@click.option("--transpose", type=int, help="Augment: shift each chunk by a random -N..N semitones every epoch.")
@click.option("--beats", type=float, help="Frame length in beats for MIDI inputs (JSON: as stored).")
@click.option("--seed", type=int, help="Random seed (default 0).")
@click.option("--init", type=click.Path(dir_okay=False), help="Start from this checkpoint's weights (train on).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@run_options
def train_rnnnade(paths, out, quiet, init, device, amp, time_limit, resume, nproc, **options):
    """Train an LSTM-NADE (exact likelihoods) on benchmark JSON or MIDI files."""
    run = _run(device, amp, time_limit, resume, nproc, quiet)
    poly = _torch_side("segue.training.polyphony")
    config = poly.with_overrides(poly.NADETrainConfig(), **options)
    record = poly.train_rnnnade(paths, out, config, command=_command_line(), init=init, run=run)
    if not _rank0():
        return
    m = record["metrics"]
    click.echo(f"wrote {out} (best epoch {m['epoch']}, {m['seconds']:.0f} s): validation log-likelihood "
               f"{m['valid_ll']:.3f} nats/frame (exact)")


@train.command("lyrics")
@click.argument("corpus", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=OUT, help="Checkpoint file (.pt); a .png plot goes beside it.")
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), help="Recurrent cell (default lstm).")
@click.option("--input", "input_", type=click.Choice(["embedding", "onehot"]), help="Input encoding (default embedding).")
@click.option("--embed", type=int, help="Embedding width (default 256).")
@click.option("--hidden", type=int, help="Units per layer (default 512, the report's).")
@click.option("--layers", type=int, help="Recurrent layers (default 2).")
@click.option("--dropout", type=float, help="Default 0.5.")
@click.option("--length", type=int, help="Characters per training sequence (default 20).")
@click.option("--batch", type=int, help="Sequences per step (default 128).")
@click.option("--lr", type=float, help="Adam learning rate (default 1e-3).")
@click.option("--clip", type=float, help="Gradient norm clip (default 1; 0: off).")
@click.option("--epochs", type=int, help="Default 50 (the report trained 300).")
@click.option("--steps", type=int, help="Stop after this many optimiser steps (default: no limit).")
@click.option("--cap", type=int, help="Vocabulary size, the unknown symbol included (default 4000).")
@click.option("--newlines", type=click.Choice(["keep", "space"]), help="Line breaks as a symbol (default) or as spaces, as the report did.")
@click.option("--block", type=int, help="Held-out split: block length in characters (default 1000) ...")
@click.option("--every", type=int, help="... and every Nth block is validation text (default 10).")
@click.option("--valid-every", type=int, help="Epochs between validation passes (default 1).")
@click.option("--init", type=click.Path(dir_okay=False), help="Go on from this lyrics checkpoint (its shape and vocabulary).")
@click.option("--seed", type=int, help="Random seed (default 0).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@run_options
def train_lyrics(corpus, out, quiet, input_, init, device, amp, time_limit, resume, nproc, **options):
    """Train a character RNN/GRU/LSTM lyric model on a UTF-8 text corpus."""
    run = _run(device, amp, time_limit, resume, nproc, quiet)
    lyr = _torch_side("segue.training.lyrics")
    config = lyr.with_overrides(lyr.LyricsTrainConfig(), input=input_, **options)
    record = lyr.train_lyrics(corpus, out, config, command=_command_line(), init=init, run=run)
    if not _rank0():
        return
    m = record["best"]
    click.echo(f"wrote {out} (best epoch {m['epoch']}): validation {m['valid_bpc']:.3f} bits/char, "
               f"perplexity {m['valid_perplexity']:.2f}; training perplexity {m['train_perplexity']:.3f}")


@click.group()
def data():
    """Build training corpora (needs the training extra)."""


@data.command("melodies")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--collection", "collections", multiple=True,
              type=click.Choice(["essen", "oneills", "ryans", "nottingham", "chorales"]),
              help="Only these of music21's collections (repeatable; default: all five).")
@click.option("--seed", type=int, default=0, show_default=True, help="Salts the hash that splits by piece.")
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
    mel = _torch_side("segue.training.melodies")
    started = time.perf_counter()
    chosen = collections or (() if midi else tuple(mel.COLLECTIONS))
    inventory = mel.build(out_dir, chosen, seed=seed, workers=workers, progress=not quiet, chorale_set=chorale_set,
                          midi=midi)
    click.echo(mel.format_inventory(inventory))
    click.echo(f"wrote {out_dir}/melodies.npz and pieces.json in {time.perf_counter() - started:.0f} s")


@click.group("eval")
def evaluate():
    """Measure trained models on held-out data (checkpoints need the training extra; `roll` and
    `lyrics` read model files with the runtime alone)."""


@evaluate.command("melody")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--channel", type=CHANNEL, help="Only this MIDI channel (default: all but drums).")
@click.option("--track", type=TRACK, help="Only this track.")
@click.option("--valid-fraction", type=float, default=0.1, show_default=True, help="Held-out tail of each file.")
@click.option("--protocol", type=click.Choice(["stream", "window"]), help="Default: the one the model was trained with.")
def eval_melody(checkpoint, paths, channel, track, valid_fraction, protocol):
    """Held-out NLL per event and per-head accuracy on the tail of each file."""
    ev = _torch_side("segue.training.evaluate")
    click.echo(ev.format_rows(ev.evaluate_melody(checkpoint, paths, channel, track, valid_fraction, protocol)))


def _split(data, split: str) -> list:
    """The piano rolls of one split of a benchmark JSON file."""
    from .formats import pianoroll

    rolls = pianoroll.load_json(data, splits=(split,)).get(split)
    if not rolls:
        raise ValueError(f"{data}: no {split} split")
    return rolls


def _tune(data, split: str) -> list | None:
    """The pieces the expected-accuracy threshold is chosen on: the validation split, unless that is
    the one measured (then there is no such figure)."""
    from .formats import pianoroll

    return None if split == "valid" else pianoroll.load_json(data, splits=("valid",)).get("valid") or None


def _expected(scores: dict) -> str:
    if "accuracy_expected" not in scores:
        return ""
    return (f", {scores['accuracy_expected'] * 100:.2f} % expected-accuracy decoding (keys above "
            f"p = {scores['threshold']:.2f}, chosen on the valid split)")


def _chains(scores: dict, chain: dict) -> str:
    """How an RNN-RBM's key probabilities were estimated, beside its expected-accuracy figure."""
    if "accuracy_expected" not in scores:
        return ""
    tempering = f", replica exchange over {chain['temperatures']} temperatures down to {chain['lowest']}"
    return (f" [20 chains a frame, {chain['steps']} steps, the last {chain['keep']} averaged"
            f"{tempering if chain['temperatures'] > 1 else ''}]")


_QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress bars on stderr.")
_SPLIT = click.option("--split", type=click.Choice(["train", "valid", "test"]), default="test", show_default=True)
_TRANSPOSE = click.option(
    "--transpose", type=int, default=0, show_default=True,
    help="Measure the split moved by this many semitones (both splits, for the threshold too): "
         "how a model does in keys its data were not written in.")


def _pieces(what: str, quiet: bool):
    """A runtime-only progress line on stderr (no tqdm without the training extra): piece i of n."""
    if quiet:
        return None

    def done(i: int, n: int):
        click.echo(f"\r{what}: scoring piece {i + 1} of {n}", err=True, nl=i + 1 == n)

    return done


def _moved(rolls: list | None, semitones: int) -> list | None:
    from .formats.pianoroll import shifted

    return rolls and [shifted(r, semitones) for r in rolls]


@evaluate.command("rnnrbm")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@_SPLIT
@click.option("--runs", type=click.IntRange(1, None), default=10, show_default=True,
              help="AIS runs per frame (the paper: 100; see benchmarks/ais.py for what fewer costs).")
@click.option("--betas", type=click.IntRange(1, None), default=1000, show_default=True, help="AIS temperatures.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--chain-steps", type=click.IntRange(1, None), default=25, show_default=True,
              help="Expected-accuracy decoding: Gibbs steps of each of the 20 chains per frame ...")
@click.option("--chain-keep", type=click.IntRange(1, None), default=10, show_default=True,
              help="... of which the last this many are averaged ...")
@click.option("--temperatures", type=click.IntRange(1, None), default=1, show_default=True,
              help="... each chain a replica exchange over this many temperatures (1: a plain chain) ...")
@click.option("--lowest", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="... the hottest at this inverse temperature.")
@_QUIET
def eval_rnnrbm(checkpoint, data, split, runs, betas, seed, chain_steps, chain_keep, temperatures, lowest, quiet):
    """Log-likelihood per frame (AIS) and frame accuracy on a benchmark split, as in the paper's table."""
    poly = _torch_side("segue.training.polyphony")
    meter = _torch_side("segue.training.meter").Meter(not quiet)
    model, _ = poly.load(checkpoint)
    rolls = _split(data, split)
    started = time.perf_counter()
    chain = dict(steps=chain_steps, keep=chain_keep, temperatures=temperatures, lowest=lowest)
    scores = poly.evaluate(model, rolls, runs=runs, betas=betas, seed=seed, tune=_tune(data, split), chain=chain,
                           meter=meter)
    click.echo(f"{data} {split}: {scores['frames']} frames, log-likelihood {scores['ll']:.3f} nats/frame "
               f"(AIS, {runs} runs x {betas} temperatures), frame accuracy {scores['accuracy'] * 100:.2f} % sampled, "
               f"{scores['accuracy_mean_field'] * 100:.2f} % mean-field{_expected(scores)}{_chains(scores, chain)} "
               f"(repeating the previous frame: {scores['accuracy_repeat'] * 100:.2f} %) "
               f"[{time.perf_counter() - started:.0f} s]")


@evaluate.command("rnnnade")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@_SPLIT
@click.option("--seed", type=int, default=0, show_default=True,
              help="For the sampled accuracy and the sampled frames behind each key's probability.")
@_TRANSPOSE
@click.option("--mix", multiple=True, type=click.Path(dir_okay=False),
              help="Another LSTM-NADE checkpoint (repeatable): measure the frame-level mixture of all, "
                   "equal weights, each running its own LSTM over the true past.")
@_QUIET
def eval_rnnnade(checkpoint, data, split, seed, transpose, mix, quiet):
    """Exact log-likelihood per frame and frame accuracy of an LSTM-NADE on a benchmark split."""
    poly = _torch_side("segue.training.polyphony")
    meter = _torch_side("segue.training.meter").Meter(not quiet)
    models = [poly.load(path, kind="rnnnade")[0] for path in (checkpoint, *mix)]
    rolls = _moved(_split(data, split), transpose)
    started = time.perf_counter()
    scores = poly.evaluate_nade(models, rolls, seed=seed, tune=_moved(_tune(data, split), transpose), meter=meter)
    greedy = f", {scores['accuracy_greedy'] * 100:.2f} % greedy" if "accuracy_greedy" in scores else ""
    what = f" (a mixture of {len(models)} LSTM-NADEs)" if mix else ""
    click.echo(f"{data} {split}{what}: {scores['frames']} frames, log-likelihood {scores['ll']:.3f} nats/frame (exact), "
               f"frame accuracy {scores['accuracy'] * 100:.2f} % sampled{greedy}{_expected(scores)} "
               f"(repeating the previous frame: {scores['accuracy_repeat'] * 100:.2f} %) "
               f"[{time.perf_counter() - started:.0f} s]")


@evaluate.command("roll")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@_SPLIT
@click.option("--samples", type=click.IntRange(1, None), default=200, show_default=True,
              help="Frames sampled per frame from the file's sampler, behind each key's probability.")
@click.option("--seed", type=int, default=0, show_default=True)
@_TRANSPOSE
@_QUIET
def eval_roll(model, data, split, samples, seed, transpose, quiet):
    """A piano-roll model file (a path or a shipped name) on a benchmark split, through onnxruntime
    alone: exact log-likelihood per frame (LSTM-NADE files) and the expected-accuracy decoding, so a
    model card's figures can be checked without its checkpoint or torch."""
    from .formats import pianoroll

    net = rollmodel.RollModel(model)
    rolls, tune = _moved(_split(data, split), transpose), _moved(_tune(data, split), transpose)
    started = time.perf_counter()
    logs, marginals = rollmodel.score_rolls(net, rolls, samples, seed, done=_pieces(f"{split} split", quiet))
    scores = {}
    if tune is not None:
        tuned = rollmodel.score_rolls(net, tune, samples, seed + 1, done=_pieces("valid split", quiet))[1]
        scores = pianoroll.expected_accuracy(marginals, np.concatenate(rolls), (tune, tuned))
    ll = (f"log-likelihood {logs.mean():.3f} nats/frame (exact)" if logs is not None else
          "no log-likelihood (an RNN-RBM's needs AIS: segue eval rnnrbm on its checkpoint)")
    click.echo(f"{data} {split}: {len(marginals)} frames, {net.path.name} ({net.describe()}): {ll}"
               f"{_expected(scores)} [each key's probability from {samples} sampled frames] "
               f"(repeating the previous frame: {pianoroll.repeat_accuracy(rolls) * 100:.2f} %) "
               f"[{time.perf_counter() - started:.0f} s]")


@evaluate.command("markov")
@click.argument("corpus", type=click.Path(file_okay=False, exists=True))
@click.option("--split", type=click.Choice(["valid", "test"]), default="test", show_default=True)
@click.option("--order", type=click.IntRange(1, 8), default=5, show_default=True)
@click.option("--session-weight", type=click.FloatRange(0, 1, max_open=True), default=0.3, show_default=True,
              help="Also score the corpus model mixed with a session model that learns each piece as it streams.")
def eval_markov(corpus, split, order, session_weight):
    """The interval Markov baseline (Witten-Bell, trained on CORPUS's train split) on its held-out
    pieces: pitch NLL per note-on and top-1, per collection. No torch needed."""
    from .formats.corpus import load
    from .offline import melody_eval as me

    started = time.perf_counter()
    model = me.train_markov(load(corpus, "train"), order)
    held_out = load(corpus, split)
    columns = {f"Markov, order {order}": me.score_markov(model, held_out)}
    if session_weight:
        columns[f"+ session model, {session_weight:g}"] = me.score_markov(model, held_out, session_weight)
    click.echo(f"{corpus} {split}: {len(held_out)} pieces")
    click.echo(me.format_scores(columns))
    click.echo(f"({time.perf_counter() - started:.0f} s)")


@evaluate.command("corpus")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("corpus", type=click.Path(file_okay=False, exists=True))
@click.option("--split", type=click.Choice(["valid", "test"]), default="test", show_default=True)
@click.option("--order", type=click.IntRange(1, 8), default=4, show_default=True, help="The Markov baseline's order.")
@click.option("--session-weight", type=click.FloatRange(0, 1, max_open=True), default=0.3, show_default=True)
def eval_corpus(model, corpus, split, order, session_weight):
    """A melody model file (a path or a shipped name) on CORPUS's held-out pieces through onnxruntime:
    pitch NLL per note-on and top-1 per collection, beside the interval Markov baseline trained on
    the train split, each alone and with a session model; time NLL per event. No torch needed."""
    from .formats.corpus import load
    from .offline import melody_eval as me

    started = time.perf_counter()
    net = EventModel(model)
    held_out = load(corpus, split)
    markov = me.train_markov(load(corpus, "train"), order)
    ours = me.score_model(net, held_out)
    columns = {f"Markov, order {order}": me.score_markov(markov, held_out), net.path.name: ours["pitch"]}
    if session_weight:
        columns[f"Markov + session {session_weight:g}"] = me.score_markov(markov, held_out, session_weight)
        columns[f"{net.path.name} + session {session_weight:g}"] = me.score_model(net, held_out, session_weight)["pitch"]
    click.echo(f"{corpus} {split}: {len(held_out)} pieces; pitch, per note-on")
    click.echo(me.format_scores(columns))
    unit = "beat" if net.codec.time_unit == "beats" else "second"
    click.echo(f"time, per event ({unit} classes): " + ", ".join(
        f"{c} {s.nll / max(s.notes, 1):.3f}" for c, s in sorted(ours["time"].items())))
    click.echo(f"({time.perf_counter() - started:.0f} s)")


@evaluate.command("lyrics")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("corpus", type=click.Path(dir_okay=False))
@click.option("--baselines/--no-baselines", default=True, show_default=True,
              help="Also score an add-one unigram and Kneser-Ney character n-grams (orders 2-6) on the same split.")
def eval_lyrics(model, corpus, baselines):
    """Validation bits per character of an exported lyric model, on the held-out blocks it was trained
    without (the split is rebuilt from the model's training settings), beside n-gram baselines."""
    from .formats.text import normalise, read_corpus, split_blocks
    from .models import lyric as lyricmodel

    net = lyricmodel.LyricModel(model)
    train = net.training.get("train", {})
    text = normalise(read_corpus(corpus), net.codec.newlines)
    spans_train, spans_valid = split_blocks(len(text), train.get("block", 1000), train.get("every", 10))
    ids = net.codec.encode(text)
    started = time.perf_counter()
    score = lyricmodel.bits_per_char(net, ids, spans_valid)
    click.echo(f"{corpus}: {score['chars']} validation characters in {len(spans_valid)} blocks, "
               f"unknown {float((ids == 0).mean()) * 100:.2f} % of the corpus")
    click.echo(f"  {net.path.name}: {score['bpc']:.3f} bits/char (perplexity {score['perplexity']:.2f}) "
               f"[{time.perf_counter() - started:.0f} s]")
    if baselines:
        ngram = _torch_side("segue.training.ngram")
        tr, va = [ids[a:b] for a, b in spans_train], [ids[a:b] for a, b in spans_valid]
        for name, bpc in ngram.baselines(tr, va, len(net.codec)).items():
            click.echo(f"  {name}: {bpc:.3f} bits/char")


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
    kind = _torch_side("segue.training.train").checkpoint_kind(checkpoint)
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
        _torch_side("segue.export.quantize").quantize(out, quantize)
        click.echo(f"wrote {quantize} (int8 weights)")


def _export(kind: str, checkpoint, out: Path, check, *, gibbs, beats, temperatures, lowest) -> str:
    """Write the model file to `out` and, given a `check` file, compare it with torch: the parity
    line, or an error when the two differ by more than PARITY."""
    if kind == "lyrics":
        exporter = _torch_side("segue.export.lyrics")
        exporter.export_lyrics(checkpoint, out, command=_command_line())
        if not check:
            return ""
        from .formats.text import read_corpus

        worst = exporter.parity(checkpoint, out, read_corpus(check)[:500])
        return _parity(f"parity over {worst['steps']} characters: max |logit diff| {worst['logits']:.2e}",
                       worst["logits"])
    if kind in ("rnnrbm", "rnnnade"):  # piano-roll models: an RNN-RBM, or an LSTM-NADE (`--gibbs` unused)
        if kind == "rnnrbm":
            exporter = _torch_side("segue.export.rnnrbm")
            exporter.export_rnnrbm(checkpoint, out, gibbs=gibbs, beats=beats, command=_command_line(),
                                   temperatures=temperatures, lowest=lowest)
        else:
            exporter = _torch_side("segue.export.nade")
            exporter.export_nade(checkpoint, out, beats=beats, command=_command_line())
        if not check:
            return ""
        from .formats import pianoroll

        roll = pianoroll.from_midi(check, beats=rollmodel.RollModel(out).beats)[:200]
        worst = exporter.parity(checkpoint, out, roll)
        return _parity(f"parity: max |bias diff| {worst['bias']:.2e}, max |state diff| {worst['state']:.2e}, "
                       f"sampled units that differ per frame (same noise): {worst['sample_units']}",
                       max(worst["bias"], worst["state"]))
    exporter = _torch_side("segue.export.onnx")
    if kind == "metrical":
        exporter.export_metrical(checkpoint, out, command=_command_line())
        if not check:
            return ""
        from .formats.corpus import load, metrical_events

        events = metrical_events(load(check, "valid")[0], EventModel(out).codec)
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
