"""`segue eval`: trained models measured on held-out data (checkpoints through the training extra,
model files through onnxruntime alone)."""
from __future__ import annotations

import time

import click
import numpy as np

from segue.daemon.cli_options import CHANNEL, TRACK, Group
from segue.daemon.models import roll as rollmodel
from segue.daemon.models.continuation import KEY_WEIGHT, MAX_KEY_WEIGHT
from segue.daemon.models.event import EventModel


@click.group("eval", cls=Group)
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
    from . import evaluate as ev
    click.echo(ev.format_rows(ev.evaluate_melody(checkpoint, paths, channel, track, valid_fraction, protocol)))


def _split(data, split: str) -> list:
    """The piano rolls of one split of a benchmark JSON file."""
    from segue.daemon.formats import pianoroll

    rolls = pianoroll.load_json(data, splits=(split,)).get(split)
    if not rolls:
        raise ValueError(f"{data}: no {split} split")
    return rolls


def _tune(data, split: str) -> list | None:
    """The pieces the expected-accuracy threshold is chosen on: the validation split, unless that is
    the one measured (then there is no such figure)."""
    from segue.daemon.formats import pianoroll

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
    from segue.daemon.formats.pianoroll import shifted

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
    from . import polyphony as poly
    from .meter import Meter
    meter = Meter(not quiet)
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
    from . import nade_training, polyphony as poly
    from .meter import Meter
    meter = Meter(not quiet)
    models = [poly.load(path, kind="rnnnade")[0] for path in (checkpoint, *mix)]
    rolls = _moved(_split(data, split), transpose)
    started = time.perf_counter()
    scores = nade_training.evaluate_nade(models, rolls, seed=seed, tune=_moved(_tune(data, split), transpose), meter=meter)
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
    from segue.daemon.formats import pianoroll

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
    from segue.daemon.formats.corpus import load
    from segue.daemon.offline import melody_eval as me

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
@click.option("--key-weight", type=click.FloatRange(0, MAX_KEY_WEIGHT), default=KEY_WEIGHT, show_default=True,
              help="Also score the model with the profile of the key heard so far, to this power (0: not).")
def eval_corpus(model, corpus, split, order, session_weight, key_weight):
    """A melody model file (a path or a shipped name) on CORPUS's held-out pieces through onnxruntime:
    pitch NLL per note-on and top-1 per collection, beside the interval Markov baseline trained on
    the train split, each alone and with a session model; time NLL per event. No torch needed."""
    from segue.daemon.formats.corpus import load
    from segue.daemon.offline import melody_eval as me

    started = time.perf_counter()
    net = EventModel(model)
    held_out = load(corpus, split)
    markov = me.train_markov(load(corpus, "train"), order)
    ours = me.score_model(net, held_out)
    columns = {f"Markov, order {order}": me.score_markov(markov, held_out), net.path.name: ours["pitch"]}
    if session_weight:
        columns[f"Markov + session {session_weight:g}"] = me.score_markov(markov, held_out, session_weight)
        columns[f"{net.path.name} + session {session_weight:g}"] = me.score_model(net, held_out, session_weight)["pitch"]
    if key_weight:
        columns[f"{net.path.name} + key {key_weight:g}"] = me.score_model(net, held_out, key_weight=key_weight)["pitch"]
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
@click.option("--titles", type=click.Choice(["keep", "drop"]),
              help="Score the text with or without each block's title line (default: as the model was trained), "
                   "to compare models trained either way on one split.")
def eval_lyrics(model, corpus, baselines, titles):
    """Validation bits per character of an exported lyric model, on the held-out blocks it was trained
    without (the split is rebuilt from the model's training settings), beside n-gram baselines."""
    from segue.daemon.formats.text import drop_titles, normalise, read_corpus, split_blocks
    from segue.daemon.models import lyric as lyricmodel

    net = lyricmodel.LyricModel(model)
    train = net.training.get("train", {})
    text = read_corpus(corpus)
    titles = titles or train.get("titles", "keep")
    text = normalise(drop_titles(text) if titles == "drop" else text, net.codec.newlines)
    spans_train, spans_valid = split_blocks(len(text), train.get("block", 1000), train.get("every", 10))
    ids = net.codec.encode(text)
    started = time.perf_counter()
    score = lyricmodel.bits_per_char(net, ids, spans_valid)
    click.echo(f"{corpus}: {score['chars']} validation characters in {len(spans_valid)} blocks, "
               f"unknown {float((ids == 0).mean()) * 100:.2f} % of the corpus")
    click.echo(f"  {net.path.name}: {score['bpc']:.3f} bits/char (perplexity {score['perplexity']:.2f}) "
               f"[{time.perf_counter() - started:.0f} s]")
    if baselines:
        from . import ngram
        tr, va = [ids[a:b] for a, b in spans_train], [ids[a:b] for a, b in spans_valid]
        for name, bpc in ngram.baselines(tr, va, len(net.codec)).items():
            click.echo(f"  {name}: {bpc:.3f} bits/char")
