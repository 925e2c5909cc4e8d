"""The `segue` command: parses options, builds a config, calls a plain function.

The play commands live here. The training extra's commands (train, data, eval, export) join
through the `segue.commands` entry points of pyproject.toml, read with importlib.metadata, and
only where that extra is installed: a runtime-only install lists what it can run, and names the
extra for the rest. Nothing here imports torch.
"""
from __future__ import annotations

import importlib.metadata as metadata
import logging
import re
import sys

import click

from . import options as table
from .cli_options import Group, with_options
from .formats.units import count
from .live import config as jam_config
from .live import ports as ports_mod
from .live import session
from .live.accompany import Accompany
from .models.accompanist import KIND as ACCOMPANIMENT
from .live.harmony import Harmonize
from .live.policy import CallAndResponse, Continuous
from .live.ports import APIS
from .live.turns import TurnRule
from .models import roll as rollmodel
from .models import kinds
from .models.sampling import Sampling
from .offline import generate as gen
from .options import GenerateConfig, JamConfig

log = logging.getLogger("segue")
EXPECTED = (ValueError, OSError, RuntimeError)  # problems with input; anything else is a bug
COMMANDS, CHECKPOINTS = "segue.commands", "segue.checkpoints"  # entry-point groups (pyproject.toml)
TRAIN_EXTRA = "pip install 'segue[train]' (in a clone of segue: pip install -e '.[train]')"


def _installed(extras) -> bool:
    """Whether every requirement of these extras of segue is installed."""
    for requirement in metadata.requires("segue") or []:
        if any(f'extra == "{extra}"' in requirement for extra in extras):
            try:
                metadata.distribution(re.match(r"[A-Za-z0-9_.-]+", requirement)[0])
            except metadata.PackageNotFoundError:
                return False
    return True


def _entry_points(group: str) -> tuple[dict, dict]:
    """(name -> entry point whose extras are installed, name -> extras missing for the others)."""
    ready, missing = {}, {}
    for point in metadata.entry_points(group=group):
        (ready if _installed(point.extras) else missing)[point.name] = point
    return ready, {name: point.extras for name, point in missing.items()}


class _OneLineUsageError(click.ClickException):
    exit_code = 2


class _Group(Group):
    """Turns expected errors into one line (exit 1) and usage errors into one line (exit 2); adds
    the commands of the `segue.commands` entry points whose extra is installed."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *_entry_points(COMMANDS)[0]})

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None:
            ready, missing = _entry_points(COMMANDS)
            if name in ready:
                command = ready[name].load()
            elif name in missing:
                raise click.UsageError(f"segue {name} needs the {' and '.join(missing[name])} extra: {TRAIN_EXTRA}")
        return command

    def format_epilog(self, ctx, formatter):
        missing = _entry_points(COMMANDS)[1]
        if missing:
            formatter.write_paragraph()
            formatter.write_text(f"With the training extra, also: {', '.join(sorted(missing))} ({TRAIN_EXTRA}).")
        super().format_epilog(ctx, formatter)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise  # --help, --version, Ctrl-C at a prompt: click's own control flow
        except click.UsageError as err:
            hint = f" (see '{err.ctx.command_path} --help')" if err.ctx else ""
            raise _OneLineUsageError(err.format_message() + hint) from None
        except ImportError as err:  # a command of the training extra, run without it
            raise click.ClickException(f"this needs the training extra ({err.name} is missing): {TRAIN_EXTRA}") from None
        except EXPECTED as err:
            message = (str(err) or type(err).__name__).strip().splitlines()[0]
            raise click.ClickException(message) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="segue")
def cli(verbose: int) -> None:
    """segue: a MIDI improvisation partner on small sequence models."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command()
@with_options("generate")
def generate(**values):
    """Continue a MIDI file with a model; write the continuation as a MIDI file."""
    v = table.check("generate", values)
    model, out, seed, frames = v["model"], v["out"], v["seed"], v["frames"]
    if v["accompany"] is not None:
        _accompany(v)
        return
    kind = kinds.check_plays(model, "generate")
    if kind == ACCOMPANIMENT:
        raise ValueError(f"{model}: an accompanist plays under a melody: segue generate --accompany MELODY.mid")
    lyricist = _lyricist(v["lyric_model"], v["lyric_prime"], v["lang"], seed) if v["sing"] else None
    if kind == rollmodel.KIND:
        if lyricist is not None:
            raise ValueError("--lyrics sings on melodies: it needs an event model, not a piano-roll model")
        net = rollmodel.RollModel(model)
        primed, notes = gen.generate_roll_file(out, net, frames, prime=v["prime"], seed=seed, bpm=v["bpm"] or 120.0,
                                               plot=v["plot"])
        click.echo(f"wrote {out}: {count(notes, 'notes')} in {count(frames, 'frames')} of {count(net.beats, 'beats')} "
                   f"(primed with {count(primed, 'frames')})")
        return
    config = GenerateConfig(events=v["events"], sampling=Sampling(v["temperature"], v["top_k"], v["top_p"]), seed=seed,
                            max_note=v["max_note"], constrain=not v["free"], session_weight=v["session_weight"],
                            key_weight=v["key_weight"])
    report = gen.generate_file(out, config, model=model, prime=v["prime"], prime_channel=v["channel"],
                               prime_track=v["track"], bpm=v["bpm"], with_prime=v["with_prime"], plot=v["plot"],
                               lyricist=lyricist)
    click.echo(f"wrote {report.out}: {count(report.notes, 'notes')} from {count(report.events, 'events')} "
               f"(primed with {count(report.prime_events, 'events')}, sampled in {report.seconds * 1000:.0f} ms)"
               + (f", {count(lyricist.lines, 'lines')} of lyrics" if lyricist else ""))


def _accompany(v: dict) -> None:
    """segue generate --accompany MELODY.mid: the melody with a bass and chords under it."""
    from .offline.accompany import accompany_file

    model = v["model"] or "pop"
    if kinds.check_plays(model, "generate") != ACCOMPANIMENT:
        raise ValueError(f"--accompany needs an accompanist (pop); {model} is {kinds.kind_name(kinds.model_kind(model))}")
    if v["prime"] is not None:
        raise ValueError("--accompany takes the melody; --prime is for continuing one")
    report = accompany_file(v["accompany"], v["out"], model=model, channel=v["channel"], track=v["track"],
                            seed=v["seed"], bpm=v["bpm"], plot=v["plot"])
    chart = " ".join(report.chords[:8]) + (" ..." if len(report.chords) > 8 else "")
    click.echo(f"wrote {report.out}: {count(report.notes['bass'], 'bass notes')} and "
               f"{count(report.notes['chords'], 'chord notes')} under {count(report.notes['melody'], 'melody notes')} "
               f"({count(report.beats, 'beats')}; bars: {chart})")


def _lyricist(model, prime, lang, seed, show=None):
    """A Lyricist for --lyrics, built before anything is played or written, so bad options fail first."""
    from .models import lyric as lyricmodel

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
    from .models import lyric as lyricmodel

    if lines is not None and chars is not None:
        raise click.UsageError("give --lines or --chars, not both")
    net = lyricmodel.LyricModel(model)
    config = lyricmodel.LyricsConfig(Sampling(temperature, top_k, top_p), seed)
    text, seconds = lyricmodel.write(net, prime, config, chars=chars, lines=None if chars else (lines or 4))
    click.echo((prime or "") + text)
    log.info("%d characters in %.3f s (%.0f characters/s)", len(text), seconds, len(text) / max(seconds, 1e-9))


@cli.command()
@click.argument("where", nargs=-1, required=True, type=click.Path())
def recover(where):
    """Turn the journals a killed `segue jam --record` left into its MIDI file (a take or a folder)."""
    from .live.recorder import left_behind
    from .live.recorder import recover as recover_take

    takes = [take for w in where for take in left_behind(w)]
    if not takes:
        raise ValueError(f"no recording journals at {', '.join(where)} (a session that ended by itself leaves none)")
    for take in takes:
        click.echo(f"recovered {recover_take(take)}")


@cli.command()
@click.argument("midi", type=click.Path(dir_okay=False))
@click.option("--bpm", type=click.FloatRange(*table.BPM_RANGE), help="A first guess of the tempo (40-220 bpm): the beat is found within x0.62-x1.45 of it.")
@click.option("--offline", is_flag=True, help="Place each beat by every note of the file, before and after it "
                                              "(the live tracker smoothed both ways; one meter for the file).")
def beats(midi, bpm, offline):
    """Print the beats heard in a MIDI file's notes: seconds, tempo, confidence, 'bar' on downbeats.

    The same causal tracker as `segue jam` with no clock: each beat as it was predicted before it came."""
    from .formats.midifile import read_notes
    from .models.beat import track

    notes = [(n.time, n.pitch, n.velocity) for n in read_notes(midi)]
    if not any(v for _, _, v in notes):
        raise ValueError(f"{midi}: no notes to hear a beat in")
    for beat in track(notes, bpm, offline=offline):
        click.echo(f"{beat.time:9.3f} {beat.bpm:6.1f} bpm {beat.confidence:4.2f}{'  bar' if beat.downbeat else ''}")


@cli.command()
@click.option("--backend", type=click.Choice(sorted(APIS)),
              help="MIDI system (default: ALSA, else a running JACK server, on Linux; CoreMIDI; Windows MM).")
def ports(backend):
    """List the MIDI input and output ports."""
    name = ports_mod.choose_backend(backend)
    midi = ports_mod.open_backend(name)
    click.echo(f"backend: {name}\ninputs:\n" + "".join(f"  {n}\n" for n in midi.get_input_names()) +
               "outputs:\n" + "".join(f"  {n}\n" for n in midi.get_output_names()), nl=False)


@cli.command()
@with_options("jam")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML file of option defaults and a [cc] map for live control (see docs/guide/jam.md).")
@click.pass_context
def jam(ctx, config_file, **options):
    """Answer the player live: listen on a MIDI input, continue the phrase on a MIDI output."""
    controls = {}
    if config_file:
        from_file, controls = jam_config.load(config_file)
        try:  # the file's values get every check, whatever the command line overrides
            _jam_setup(table.check("jam", {**options, **from_file}))
        except ValueError as err:
            raise ValueError(f"{config_file}: {err}") from None
        typed = {k for k in options if ctx.get_parameter_source(k) is not click.core.ParameterSource.DEFAULT}
        options = jam_config.merge(options, typed, from_file)
    v = table.check("jam", options)
    lyricist = None
    if v["sing"]:
        if v["mode"] != "call":
            raise ValueError("--lyrics sings the answers of --mode call")
        lyricist = _lyricist(v["lyric_model"], v["lyric_prime"], v["lang"], v["seed"],
                             show=lambda line: click.echo(f"  ♪ {line}"))
    config, policy, call = _jam_setup(v)

    def ready(inport, outport):
        what = {"call": call.describe(), "continuous": "along with the player",
                "harmonize": "chords around the player's notes",
                "accompany": f"a bass (channel {config.bass_channel}) and chords (channel {config.channel}) "
                             "under the player's melody"}[v["mode"]]
        click.echo(f"listening on '{inport}', playing on '{outport}' {what}; Ctrl-C to stop", err=True)

    status = sys.stderr.isatty() if v["status"] is None else v["status"]
    session.jam(config, policy, session.Ports(v["backend"], v["input_name"], v["output_name"]), model=v["model"],
                ready=ready, trace=v["trace"], record=v["record"], replay=v["replay"], controls=controls,
                policies={"call": call}, link=v["link"], status=status, voicing=v["voicing"], lyricist=lyricist)


def _jam_setup(v: dict):
    """The settings and policies of a jam from checked option values: (config, policy, the
    call-and-response policy)."""
    config = JamConfig.from_options(v)
    if v["silence"] == "model":
        call = CallAndResponse(turn=TurnRule(threshold=v["turn_threshold"]), barge_in=not v["play_along"])
    else:
        call = CallAndResponse(silence=v["silence"], barge_in=not v["play_along"])
    policy = {"call": call, "continuous": Continuous(), "harmonize": Harmonize(), "accompany": Accompany()}[v["mode"]]
    return config, policy, call


def _is_checkpoint(path: str) -> bool:
    """A file torch.save wrote (a zip archive; an ONNX model is a protobuf and never starts so)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


@cli.command()
@click.argument("model", required=False, type=click.Path(dir_okay=False))
def info(model):
    """Show what a model file or a training checkpoint (.pt) says about itself (default: the
    shipped model)."""
    if model is not None and _is_checkpoint(model):
        ready, _ = _entry_points(CHECKPOINTS)
        if "describe" not in ready:
            raise RuntimeError(f"{model} is a training checkpoint; segue info reads one with the training extra: "
                               f"{TRAIN_EXTRA}")
        for line in ready["describe"].load()(model):
            click.echo(line)
        return
    for line in kinds.open_model(model).about():
        click.echo(line)


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
