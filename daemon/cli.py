"""The `segue` command: parses options, builds a config, calls a plain function.

Training and export live in segue.training / segue.export and need torch; they are imported
only when their commands run, so `segue generate` never loads torch.
"""
from __future__ import annotations

import importlib
import logging
import shlex
import sys
import time

import click

from . import config as jam_config
from . import generate as gen
from . import ports as ports_mod
from . import rollmodel
from . import session
from .engine import JamConfig
from .clock import Span
from .harmony import Harmonize
from .policy import MODES, CallAndResponse, Continuous
from .ports import APIS
from .midifile import read_notes
from .model import EventModel
from .sampling import Sampling

log = logging.getLogger("segue")
EXPECTED = (ValueError, OSError, RuntimeError)  # problems with input; anything else is a bug
CHANNEL = click.IntRange(0, 15)
TRACK = click.IntRange(0, None)


class _OneLineUsageError(click.ClickException):
    exit_code = 2


class _Group(click.Group):
    """Turns expected errors into one line (exit 1) and usage errors into one line (exit 2)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise  # --help, --version, Ctrl-C at a prompt: click's own control flow
        except click.UsageError as err:
            hint = f" (see '{err.ctx.command_path} --help')" if err.ctx else ""
            raise _OneLineUsageError(err.format_message() + hint) from None
        except EXPECTED as err:
            message = (str(err) or type(err).__name__).strip().splitlines()[0]
            raise click.ClickException(message) from None


def _command_line() -> str:
    """How this run was asked for, to store beside what it makes."""
    return "segue " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _torch_side(module: str):
    """Import a training/export module, or say which extra is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise RuntimeError(f"this command needs the training extra ({err.name} is missing): "
                           "pip install 'segue[train]'") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="segue")
def cli(verbose: int) -> None:
    """segue: a MIDI improvisation partner on small sequence models."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command()
@click.option("--model", "-m", type=click.Path(dir_okay=False),
              help="Model file, or a shipped model by name: melody (the default), chorale (piano-roll).")
@click.option("--prime", "-p", type=click.Path(dir_okay=False), help="MIDI file to continue (default: a built-in motif).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="continuation.mid", show_default=True)
@click.option("--events", "-n", type=int, default=500, show_default=True, help="Events (note-ons and releases) to sample.")
@click.option("--temperature", "-t", type=float, default=1.0, show_default=True)
@click.option("--top-k", type=int, default=0, show_default=True, help="Sample from the k likeliest classes (0: all).")
@click.option("--top-p", type=float, default=1.0, show_default=True, help="Nucleus sampling mass (1: off).")
@click.option("--seed", type=int, help="Random seed, for a repeatable result.")
@click.option("--channel", type=CHANNEL, help="Read only this channel of the prime (default: all but drums).")
@click.option("--track", type=TRACK, help="Read only this track of the prime.")
@click.option("--max-note", type=float, default=4.0, show_default=True, help="Longest note, seconds.")
@click.option("--bpm", type=float, default=120.0, show_default=True, help="Tempo written into the output file.")
@click.option("--free", is_flag=True, help="Draw the three heads independently, as the textbook did (impossible releases are then dropped).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Also write a piano-roll PNG here.")
@click.option("--frames", type=int, default=64, show_default=True, help="Frames to sample (piano-roll models).")
@click.option("--lyrics", "sing", is_flag=True, help="Lay lyrics on the notes, one syllable per note (lyric meta events).")
@click.option("--lyric-model", type=click.Path(dir_okay=False), help="Lyric model for --lyrics (default: the shipped one).")
@click.option("--lyric-prime", help="Text the lyrics follow on from.")
@click.option("--lang", default="en_US", show_default=True, help="Hyphenation language for alphabetic lyrics (pyphen's codes).")
def generate(model, prime, out, events, temperature, top_k, top_p, seed, channel, track, max_note, bpm, free, plot,
             frames, sing, lyric_model, lyric_prime, lang):
    """Continue a MIDI file with a model; write the continuation as a MIDI file."""
    if not bpm > 0:
        raise ValueError("bpm must be > 0")
    lyricist = _lyricist(lyric_model, lyric_prime, lang, seed) if sing else None
    if rollmodel.model_kind(model) == rollmodel.KIND:
        if lyricist is not None:
            raise ValueError("--lyrics sings on melodies: it needs an event model, not a piano-roll model")
        net = rollmodel.RollModel(model)
        primed, notes = rollmodel.generate_roll_file(out, net, frames, prime=prime, seed=seed, bpm=bpm, plot=plot)
        click.echo(f"wrote {out}: {notes} notes in {frames} frames of {net.beats:g} beats (primed with {primed} frames)")
        return
    config = gen.GenerateConfig(events=events, sampling=Sampling(temperature, top_k, top_p), seed=seed,
                                max_note=max_note, constrain=not free)
    report = gen.generate_file(out, config, model=model, prime=prime, prime_channel=channel,
                               prime_track=track, bpm=bpm, plot=plot, lyricist=lyricist)
    click.echo(f"wrote {report.out}: {report.notes} notes from {report.events} events "
               f"(primed with {report.prime_events} events, sampled in {report.seconds * 1000:.0f} ms)"
               + (f", {lyricist.lines} lines of lyrics" if lyricist else ""))


def _lyricist(model, prime, lang, seed, show=None):
    """A Lyricist for --lyrics, built before anything is played or written, so bad options fail first."""
    from . import lyricmodel

    return lyricmodel.Lyricist(lyricmodel.LyricModel(model), lyricmodel.LyricsConfig(seed=seed), lang=lang,
                               prime=prime, show=show)


@cli.command()
@click.argument("prime", required=False)
@click.option("--model", "-m", type=click.Path(dir_okay=False), help="Lyric model (.onnx); default: the shipped songci model.")
@click.option("--lines", "-l", type=click.IntRange(1, 1000), help="Write this many lines (default 4).")
@click.option("--chars", "-c", type=click.IntRange(1, 100000), help="Write this many characters instead.")
@click.option("--temperature", "-t", type=float, default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(0, None), default=5, show_default=True,
              help="Sample from the k likeliest characters, renormalised (0: all); 5 is the report's.")
@click.option("--top-p", type=float, default=1.0, show_default=True)
@click.option("--seed", type=int, help="Random seed, for a repeatable result.")
def lyrics(prime, model, lines, chars, temperature, top_k, top_p, seed):
    """Write lyrics, continuing PRIME if given."""
    from . import lyricmodel

    if lines is not None and chars is not None:
        raise click.UsageError("give --lines or --chars, not both")
    net = lyricmodel.LyricModel(model)
    config = lyricmodel.LyricsConfig(Sampling(temperature, top_k, top_p), seed)
    text, seconds = lyricmodel.write(net, prime, config, chars=chars, lines=None if chars else (lines or 4))
    click.echo((prime or "") + text)
    log.info("%d characters in %.3f s (%.0f characters/s)", len(text), seconds, len(text) / max(seconds, 1e-9))


@cli.command()
@click.option("--backend", type=click.Choice(sorted(APIS)), help="rtmidi API (default: the platform's).")
def ports(backend):
    """List the MIDI input and output ports."""
    midi = ports_mod.backend(backend)
    click.echo("inputs:\n" + "".join(f"  {n}\n" for n in midi.get_input_names()) +
               "outputs:\n" + "".join(f"  {n}\n" for n in midi.get_output_names()), nl=False)


@cli.command()
@click.option("--model", "-m", type=click.Path(dir_okay=False),
              help="Model file, or a shipped model by name (default: melody; with --mode harmonize: chorale).")
@click.option("--backend", type=click.Choice(sorted(APIS)), help="rtmidi API (default: the platform's).")
@click.option("--input", "input_name", help="Listen to this existing port (partial name) instead of a virtual 'segue in'.")
@click.option("--output", "output_name", help="Play to this existing port (partial name) instead of a virtual 'segue out'.")
@click.option("--mode", type=click.Choice([*MODES, "harmonize"]), default="call", show_default=True,
              help="call: answer after the player's silence; continuous: play along all the time; "
                   "harmonize (piano-roll models): complete the player's chords on every grid step.")
@click.option("--voicing", default="36-96", show_default=True, help="harmonize: the keys the machine may play, LOW-HIGH.")
@click.option("--silence", default="0.6", show_default=True,
              help="Player silence before answering: seconds (0.6, 600ms) or beats/bars (1beat, 1bar).")
@click.option("--length", default="16", show_default=True,
              help="Per answer (continuous: after the player stops): events (16), seconds (4s), beats (8beats) or bars (2bars).")
@click.option("--play-along", is_flag=True, help="Keep answering when the player comes back (no barge-in).")
@click.option("--thru", is_flag=True, help="Pass the player's notes through to the output.")
@click.option("--temperature", "-t", type=float, default=1.0, show_default=True)
@click.option("--top-k", type=int, default=0, show_default=True)
@click.option("--top-p", type=float, default=1.0, show_default=True)
@click.option("--seed", type=int, help="Random seed, for repeatable answers.")
@click.option("--channel", type=CHANNEL, default=0, show_default=True, help="Output channel.")
@click.option("--listen", type=CHANNEL, multiple=True, help="Channel to listen to (repeatable; default: all but drums).")
@click.option("--velocity-scale", type=float, default=1.0, show_default=True)
@click.option("--max-note", type=float, default=4.0, show_default=True, help="Longest answer note, seconds.")
@click.option("--grid", type=click.Choice(["beat", "bar", "off"]), default="beat", show_default=True,
              help="With MIDI clock coming in (or --bpm), start answers on the next beat or bar.")
@click.option("--bpm", type=click.FloatRange(20, 400), help="Internal tempo when no MIDI clock comes in (grid, beats, bars).")
@click.option("--beats-per-bar", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option("--record", type=click.Path(dir_okay=False), help="Record the session (player and segue tracks) to this MIDI file.")
@click.option("--replay", type=click.Path(dir_okay=False), help="Play this MIDI file in as the player, answer it, then stop.")
@click.option("--trace", type=click.Path(dir_okay=False), help="Write each answer note-on's due and send times here (benchmarks).")
@click.option("--status/--no-status", default=None, help="A live status line on stderr (default: when it is a terminal).")
@click.option("--lyrics", "sing", is_flag=True, help="Sing each answer: a line of lyrics, one syllable per note, shown and recorded.")
@click.option("--lyric-model", type=click.Path(dir_okay=False), help="Lyric model for --lyrics (default: the shipped one).")
@click.option("--lyric-prime", help="Text the lyrics follow on from.")
@click.option("--lang", default="en_US", show_default=True, help="Hyphenation language for alphabetic lyrics.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML file of option defaults and a [cc] map for live control (see docs/jam.md).")
@click.pass_context
def jam(ctx, config_file, replay, trace, listen, sing, lyric_model, lyric_prime, lang, **options):
    """Answer the player live: listen on a MIDI input, continue the phrase on a MIDI output."""
    controls = {}
    if config_file:
        from_file, controls = jam_config.load(config_file)
        typed = {k for k in options if ctx.get_parameter_source(k) is not click.core.ParameterSource.DEFAULT}
        options = jam_config.merge(options, typed, from_file)
    lyricist = None
    if sing:
        if options["mode"] != "call":
            raise ValueError("--lyrics sings the answers of --mode call")
        lyricist = _lyricist(lyric_model, lyric_prime, lang, options["seed"], show=lambda line: click.echo(f"  ♪ {line}"))
    _jam(controls=controls, replay=replay, trace=trace, listen=listen, lyricist=lyricist, **options)


def _jam(model, backend, input_name, output_name, mode, voicing, silence, length, play_along, thru, temperature, top_k,
         top_p, seed, channel, listen, velocity_scale, max_note, grid, bpm, beats_per_bar, record, replay, trace, status,
         controls, lyricist=None):
    if grid not in ("beat", "bar", "off"):  # a config file can hold any string
        raise ValueError("grid must be beat, bar or off")
    if mode not in (*MODES, "harmonize"):
        raise ValueError(f"mode must be one of {', '.join(MODES)}, harmonize")
    try:
        low, high = (int(x) for x in str(voicing).split("-"))
        assert 21 <= low <= high <= 108
    except (ValueError, AssertionError):
        raise ValueError(f"voicing must be LOW-HIGH MIDI keys within 21-108, not {voicing!r}") from None
    config = JamConfig(length=Span.parse(length), sampling=Sampling(temperature, top_k, top_p), seed=seed,
                       max_note=max_note, channel=channel, listen=tuple(listen) or None, velocity_scale=velocity_scale,
                       grid={"beat": 1.0, "bar": float(beats_per_bar), "off": None}[grid], bpm=bpm,
                       beats_per_bar=beats_per_bar, thru=thru)
    call = CallAndResponse(silence=Span.parse(silence, "seconds", allowed=("seconds", "beats", "bars")),
                           barge_in=not play_along)
    policy = {"call": call, "continuous": Continuous(), "harmonize": Harmonize()}[mode]

    def ready(inport, outport):
        what = {"call": f"after {call.silence} of silence", "continuous": "along with the player",
                "harmonize": "chords around the player's notes"}[mode]
        click.echo(f"listening on '{inport}', playing on '{outport}' {what}; Ctrl-C to stop", err=True)

    session.jam(config, policy, session.Ports(backend, input_name, output_name), model=model, ready=ready, trace=trace,
                record=record, replay=replay, controls=controls, policies={"call": call},
                status=sys.stderr.isatty() if status is None else status, voicing=(low, high), lyricist=lyricist)


@cli.command()
@click.argument("model", required=False, type=click.Path(dir_okay=False))
def info(model):
    """Show what a model file says about itself (default: the shipped model)."""
    if rollmodel.model_kind(model) == "characters":
        from .lyricmodel import LyricModel

        net = LyricModel(model)
        t = net.training
        cfg, m = t.get("model", {}), t.get("metrics") or {}
        click.echo(f"{net.path}\n  kind: characters ({cfg.get('cell', '?')}, {cfg.get('input', '?')} input, "
                   f"{cfg.get('layers', '?')} x {cfg.get('hidden', '?')}); vocabulary {len(net.codec)} characters, "
                   f"line breaks {'kept' if net.codec.newlines == 'keep' else 'as spaces'}")
        click.echo(f"  trained on {t.get('data', {}).get('corpus', '?')}: validation "
                   f"{m.get('valid_bpc', float('nan')):.3f} bits/char at epoch {m.get('epoch', '?')}")
        click.echo(f"  trained by: {t.get('train_command') or '?'}\n  exported by: {t.get('command') or '?'}")
        return
    if rollmodel.model_kind(model) == rollmodel.KIND:
        roll = rollmodel.RollModel(model)
        metrics, config = roll.training.get("metrics", {}), roll.training.get("config", {})
        name = {"rbm": "RNN-RBM", "nade": "LSTM-NADE"}[roll.sampler]
        click.echo(f"{roll.path}\n  kind: piano-roll ({name}); keys {roll.low}..{roll.high}, a frame is "
                   f"{roll.beats:g} beats; {roll.describe()}")
        accuracy = f", accuracy {metrics['valid_acc']:.3f}" if "valid_acc" in metrics else ""
        click.echo(f"  trained on {', '.join(roll.training.get('files', []))} (best epoch {metrics.get('epoch', '?')} "
                   f"of {config.get('epochs', '?')}): validation log-likelihood "
                   f"{metrics.get('valid_ll', float('nan')):.3f} nats/frame{accuracy}")
        click.echo(f"  trained by: {roll.training.get('command') or '?'}\n  exported by: "
                   f"{roll.training.get('export_command') or '?'}")
        return
    net = EventModel(model)
    c, t = net.codec, net.info.training
    click.echo(f"{net.path}\n  kind: {net.info.kind}; state: {net.info.state}")
    click.echo(f"  codec: pitch {c.low}..{c.high}, {c.velocity_classes} velocity classes, "
               f"{c.time_classes} time classes up to {c.time_values[-1]:g} s")
    if t:
        m = t.get("metrics", {})
        click.echo(f"  trained on {', '.join(t.get('data', {}).get('files', []))}: "
                   f"held-out NLL {m.get('valid_nll', float('nan')):.3f} nats/event, "
                   f"accuracy pitch {m.get('valid_acc_pitch', 0):.3f} velocity {m.get('valid_acc_velocity', 0):.3f} "
                   f"time {m.get('valid_acc_time', 0):.3f}")
        click.echo(f"  trained by: {t.get('train_command') or '?'}")
        click.echo(f"  exported by: {t.get('command') or '?'}")


@cli.group()
def train():
    """Train models (needs the training extra: pip install 'segue[train]')."""


@train.command("melody")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Checkpoint file (.pt); a .png plot goes beside it.")
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
def train_melody(paths, out, recipe, quiet, **options):
    """Train the event LSTM composer on MIDI files or directories."""
    train_mod = _torch_side("segue.training.train")
    base = train_mod.TrainConfig.textbook() if recipe == "textbook" else train_mod.TrainConfig()
    config = train_mod.with_overrides(base, **options)
    result = train_mod.train_melody(paths, out, config, progress=not quiet, command=_command_line())
    best = result["best"]
    click.echo(f"wrote {out} (best epoch {best['epoch']} of {result['epochs']}): held-out NLL "
               f"{best['valid_nll']:.3f} nats/event; accuracy pitch {best['valid_acc_pitch']:.3f}, velocity "
               f"{best['valid_acc_velocity']:.3f}, time {best['valid_acc_time']:.3f}, mean {best['valid_acc_mean']:.3f}")


@train.command("rnnrbm")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Checkpoint file (.pt).")
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
def train_rnnrbm(paths, out, quiet, init, **options):
    """Train the RNN-RBM on benchmark JSON (its train split) or MIDI files."""
    poly = _torch_side("segue.training.polyphony")
    config = poly.with_overrides(poly.RBMTrainConfig(), **options)
    record = poly.train_rnnrbm(paths, out, config, progress=not quiet, command=_command_line(), init=init)
    m = record["metrics"]
    click.echo(f"wrote {out} (best epoch {m['epoch']}): validation log-likelihood {m['valid_ll']:.3f} nats/frame "
               f"(AIS {config.valid_runs} runs x {config.valid_betas} temperatures), accuracy {m['valid_acc']:.3f}")


@train.command("rnnnade")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Checkpoint file (.pt).")
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
def train_rnnnade(paths, out, quiet, init, **options):
    """Train an LSTM-NADE (exact likelihoods) on benchmark JSON or MIDI files."""
    poly = _torch_side("segue.training.polyphony")
    config = poly.with_overrides(poly.NADETrainConfig(), **options)
    record = poly.train_rnnnade(paths, out, config, progress=not quiet, command=_command_line(), init=init)
    m = record["metrics"]
    click.echo(f"wrote {out} (best epoch {m['epoch']}, {m['seconds']:.0f} s): validation log-likelihood "
               f"{m['valid_ll']:.3f} nats/frame (exact)")


@train.command("lyrics")
@click.argument("corpus", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Checkpoint file (.pt); a .png plot goes beside it.")
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
def train_lyrics(corpus, out, quiet, input_, init, **options):
    """Train a character RNN/GRU/LSTM lyric model on a UTF-8 text corpus."""
    lyr = _torch_side("segue.training.lyrics")
    config = lyr.with_overrides(lyr.LyricsTrainConfig(), input=input_, **options)
    record = lyr.train_lyrics(corpus, out, config, progress=not quiet, command=_command_line(), checkpoint_every=1,
                              init=init)
    m = record["best"]
    click.echo(f"wrote {out} (best epoch {m['epoch']}): validation {m['valid_bpc']:.3f} bits/char, "
               f"perplexity {m['valid_perplexity']:.2f}; training perplexity {m['train_perplexity']:.3f}")


@cli.group("eval")
def evaluate():
    """Measure trained models on held-out data (needs the training extra)."""


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
    from . import pianoroll

    rolls = pianoroll.load_json(data, splits=(split,)).get(split)
    if not rolls:
        raise ValueError(f"{data}: no {split} split")
    return rolls


def _tune(data, split: str) -> list | None:
    """The pieces the expected-accuracy threshold is chosen on: the validation split, unless that is
    the one measured (then there is no such figure)."""
    from . import pianoroll

    return None if split == "valid" else pianoroll.load_json(data, splits=("valid",)).get("valid") or None


def _expected(scores: dict) -> str:
    if "accuracy_expected" not in scores:
        return ""
    return (f", {scores['accuracy_expected'] * 100:.2f} % expected-accuracy decoding (keys above "
            f"p = {scores['threshold']:.2f}, chosen on the valid split)")


@evaluate.command("rnnrbm")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default="test", show_default=True)
@click.option("--runs", type=click.IntRange(1, None), default=10, show_default=True,
              help="AIS runs per frame (the paper: 100; see benchmarks/ais.py for what fewer costs).")
@click.option("--betas", type=click.IntRange(1, None), default=1000, show_default=True, help="AIS temperatures.")
@click.option("--seed", type=int, default=0, show_default=True)
def eval_rnnrbm(checkpoint, data, split, runs, betas, seed):
    """Log-likelihood per frame (AIS) and frame accuracy on a benchmark split, as in the paper's table."""
    poly = _torch_side("segue.training.polyphony")
    model, _ = poly.load(checkpoint)
    rolls = _split(data, split)
    started = time.perf_counter()
    scores = poly.evaluate(model, rolls, runs=runs, betas=betas, seed=seed, tune=_tune(data, split))
    click.echo(f"{data} {split}: {scores['frames']} frames, log-likelihood {scores['ll']:.3f} nats/frame "
               f"(AIS, {runs} runs x {betas} temperatures), frame accuracy {scores['accuracy'] * 100:.2f} % sampled, "
               f"{scores['accuracy_mean_field'] * 100:.2f} % mean-field{_expected(scores)} (repeating the previous "
               f"frame: {scores['accuracy_repeat'] * 100:.2f} %) [{time.perf_counter() - started:.0f} s]")


@evaluate.command("rnnnade")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default="test", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="For the sampled accuracy.")
@click.option("--transpose", type=int, default=0, show_default=True,
              help="Measure the split moved by this many semitones (both splits, for the threshold too): "
                   "how a model does in keys its data were not written in.")
def eval_rnnnade(checkpoint, data, split, seed, transpose):
    """Exact log-likelihood per frame and frame accuracy of an LSTM-NADE on a benchmark split."""
    poly = _torch_side("segue.training.polyphony")
    model, _ = poly.load(checkpoint, kind="rnnnade")
    move = lambda rolls: rolls and [poly.shifted(r, transpose) for r in rolls]  # noqa: E731
    rolls = move(_split(data, split))
    started = time.perf_counter()
    scores = poly.evaluate_nade(model, rolls, seed=seed, tune=move(_tune(data, split)))
    click.echo(f"{data} {split}: {scores['frames']} frames, log-likelihood {scores['ll']:.3f} nats/frame (exact), "
               f"frame accuracy {scores['accuracy'] * 100:.2f} % sampled, {scores['accuracy_greedy'] * 100:.2f} % "
               f"greedy{_expected(scores)} [{time.perf_counter() - started:.0f} s]")


@evaluate.command("lyrics")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("corpus", type=click.Path(dir_okay=False))
@click.option("--baselines/--no-baselines", default=True, show_default=True,
              help="Also score an add-one unigram and Kneser-Ney character n-grams (orders 2-6) on the same split.")
def eval_lyrics(model, corpus, baselines):
    """Validation bits per character of an exported lyric model, on the held-out blocks it was trained
    without (the split is rebuilt from the model's training settings), beside n-gram baselines."""
    from . import lyricmodel
    from .text import normalise, read_corpus, split_blocks

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


@cli.command("export")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
@click.option("--quantize", type=click.Path(dir_okay=False), help="Also write an int8 (dynamic) copy here.")
@click.option("--check", type=click.Path(dir_okay=False),
              help="MIDI file (text file for lyric models) to stream through torch and onnxruntime side by side.")
@click.option("--gibbs", type=click.IntRange(1, 1000), default=25, show_default=True,
              help="Gibbs steps per frame (RNN-RBM checkpoints).")
def export_cmd(checkpoint, out, quantize, check, gibbs):
    """Export a checkpoint to a self-describing ONNX step graph."""
    kind = _torch_side("segue.training.train").checkpoint_kind(checkpoint)
    if kind == "lyrics":
        lyr = _torch_side("segue.export.lyrics")
        lyr.export_lyrics(checkpoint, out, command=_command_line())
        click.echo(f"wrote {out}")
        if check:
            from .text import read_corpus

            worst = lyr.parity(checkpoint, out, read_corpus(check)[:500])
            click.echo(f"parity over {worst['steps']} characters: max |logit diff| {worst['logits']:.2e}")
        if quantize:
            _torch_side("segue.export.quantize").quantize(out, quantize)
            click.echo(f"wrote {quantize} (int8 weights)")
        return
    if kind == "rnnrbm":
        rbm = _torch_side("segue.export.rnnrbm")
        rbm.export_rnnrbm(checkpoint, out, gibbs=gibbs, command=_command_line())
        click.echo(f"wrote {out}")
        if check:
            from . import pianoroll

            worst = rbm.parity(checkpoint, out, pianoroll.from_midi(check, beats=rollmodel.RollModel(out).beats)[:200])
            click.echo(f"parity: max |bias diff| {worst['bias']:.2e}, max |state diff| {worst['state']:.2e}, "
                       f"sampled units that differ per frame (same noise): {worst['sample_units']}")
        return
    if kind == "rnnnade":
        nade = _torch_side("segue.export.nade")
        nade.export_nade(checkpoint, out, command=_command_line())
        click.echo(f"wrote {out}")
        if check:
            from . import pianoroll

            worst = nade.parity(checkpoint, out, pianoroll.from_midi(check, beats=rollmodel.RollModel(out).beats)[:200])
            click.echo(f"parity: max |bias diff| {worst['bias']:.2e} (graph vs torch step and vs the trained model), "
                       f"max |state diff| {worst['state']:.2e}, sampled units that differ per frame (same noise): "
                       f"{worst['sample_units']}")
        return
    onnx_mod = _torch_side("segue.export.onnx")
    onnx_mod.export_melody(checkpoint, out, command=_command_line())
    click.echo(f"wrote {out}")
    if check:
        net = EventModel(out)
        events = net.codec.encode(read_notes(check))[:500]
        worst = onnx_mod.parity(checkpoint, out, events)
        click.echo(f"parity over {len(events)} events: max |logit diff| {worst['logits']:.2e}, "
                   f"max |prob diff| {worst['probs']:.2e}, max |state diff| {worst['state']:.2e}")
    if quantize:
        quant = _torch_side("segue.export.quantize")
        quant.quantize(out, quantize)
        click.echo(f"wrote {quantize} (int8 weights)")


def main(args=None) -> int:
    """Console entry point; returns the exit code."""
    try:
        cli.main(args=args, prog_name="segue", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
