"""The `segue` command: parses options, builds a config, calls a plain function.

Training and export live in segue.training / segue.export and need torch; they are imported
only when their commands run, so `segue generate` never loads torch.
"""
from __future__ import annotations

import logging
import sys

import click

from .cli_eval import evaluate
from .cli_offline import CHANNEL, OUT, TRACK, Group, _torch_side, data, export_cmd, train
from .formats.midifile import BPM_RANGE
from .formats.units import count, within
from .live import config as jam_config
from .live import ports as ports_mod
from .live import session
from .live.clock import Span
from .live.settings import JamConfig
from .live.harmony import Harmonize
from .live.policy import MODES, CallAndResponse, Continuous
from .live.ports import APIS
from .live.turns import TurnRule
from .models import roll as rollmodel
from .models.continuation import KEY_WEIGHT, MAX_KEY_WEIGHT, GenerateConfig
from .models.event import EventModel
from .models.file import PLAYABLE, kind_name, model_kind
from .models.sampling import Sampling
from .offline import generate as gen

log = logging.getLogger("segue")
EXPECTED = (ValueError, OSError, RuntimeError)  # problems with input; anything else is a bug


class _OneLineUsageError(click.ClickException):
    exit_code = 2


class _Group(Group):
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="segue")
def cli(verbose: int) -> None:
    """segue: a MIDI improvisation partner on small sequence models."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command()
@click.option("--model", "-m", type=click.Path(dir_okay=False),
              help="Model file, or a shipped model by name: folk (the default), melody (the first model), chorale, chorale-nade (piano-roll).")
@click.option("--prime", "-p", type=click.Path(dir_okay=False), help="MIDI file to continue (default: a built-in motif).")
@click.option("--out", "-o", type=OUT, default="continuation.mid", show_default=True, help="The MIDI file to write.")
@click.option("--events", "-n", type=int, default=500, show_default=True, help="Events (note-ons and releases) to sample.")
@click.option("--temperature", "-t", type=float, default=0.9, show_default=True,
              help="Below 1: the likelier notes (0.9 keeps folk's continuations in key: docs/models/folk.md).")
@click.option("--top-k", type=int, default=0, show_default=True, help="Sample from the k likeliest classes (0: all).")
@click.option("--top-p", type=float, default=1.0, show_default=True, help="Nucleus sampling mass (1: off).")
@click.option("--seed", type=int, help="Random seed, for a repeatable result.")
@click.option("--channel", type=CHANNEL, help="Read only this channel of the prime (default: all but drums).")
@click.option("--track", type=TRACK, help="Read only this track of the prime.")
@click.option("--max-note", type=float, default=4.0, show_default=True, help="Longest note, seconds.")
@click.option("--bpm", type=float, help="Tempo written into the output file (default: the prime's, else 120).")
@click.option("--with-prime", is_flag=True, help="Write the prime first and the continuation after it (event models).")
@click.option("--session-weight", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Mix a model of the prime's own intervals into every note's pitch (the Continuator's idea; 0: off).")
@click.option("--key-weight", type=click.FloatRange(0, MAX_KEY_WEIGHT), default=KEY_WEIGHT, show_default=True,
              help="Stay in the prime's key: its profile, to this power, on every note's pitch (0: off; the "
                   "model alone wanders off the key: docs/models/folk.md).")
@click.option("--free", is_flag=True, help="Draw the three heads independently, as the textbook did (impossible releases are then dropped).")
@click.option("--plot", type=OUT, help="Also write a piano-roll PNG here.")
@click.option("--frames", type=int, default=64, show_default=True, help="Frames to sample (piano-roll models).")
@click.option("--lyrics", "sing", is_flag=True, help="Lay lyrics on the notes, one syllable per note (lyric meta events).")
@click.option("--lyric-model", type=click.Path(dir_okay=False), help="Lyric model for --lyrics (default: the shipped one).")
@click.option("--lyric-prime", help="Text the lyrics follow on from.")
@click.option("--lang", default="en_US", show_default=True, help="Hyphenation language for alphabetic lyrics (pyphen's codes).")
def generate(model, prime, out, events, temperature, top_k, top_p, seed, channel, track, max_note, bpm, with_prime,
             session_weight, key_weight, free, plot, frames, sing, lyric_model, lyric_prime, lang):
    """Continue a MIDI file with a model; write the continuation as a MIDI file."""
    if bpm is not None:
        within("--bpm", bpm, *BPM_RANGE)
    kind = model_kind(model)
    if kind not in ("events", rollmodel.KIND):
        raise ValueError(f"{model}: {kind_name(kind)}; segue generate plays {PLAYABLE}"
                         + ("; for words, segue lyrics" if kind == "characters" else ""))
    lyricist = _lyricist(lyric_model, lyric_prime, lang, seed) if sing else None
    if kind == rollmodel.KIND:
        if lyricist is not None:
            raise ValueError("--lyrics sings on melodies: it needs an event model, not a piano-roll model")
        net = rollmodel.RollModel(model)
        primed, notes = gen.generate_roll_file(out, net, frames, prime=prime, seed=seed, bpm=bpm or 120.0, plot=plot)
        click.echo(f"wrote {out}: {count(notes, 'notes')} in {count(frames, 'frames')} of {count(net.beats, 'beats')} "
                   f"(primed with {count(primed, 'frames')})")
        return
    config = GenerateConfig(events=events, sampling=Sampling(temperature, top_k, top_p), seed=seed,
                            max_note=max_note, constrain=not free, session_weight=session_weight,
                            key_weight=key_weight)
    report = gen.generate_file(out, config, model=model, prime=prime, prime_channel=channel,
                               prime_track=track, bpm=bpm, with_prime=with_prime, plot=plot, lyricist=lyricist)
    click.echo(f"wrote {report.out}: {count(report.notes, 'notes')} from {count(report.events, 'events')} "
               f"(primed with {count(report.prime_events, 'events')}, sampled in {report.seconds * 1000:.0f} ms)"
               + (f", {count(lyricist.lines, 'lines')} of lyrics" if lyricist else ""))


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
@click.option("--backend", type=click.Choice(sorted(APIS)),
              help="MIDI system (default: ALSA, else a running JACK server, on Linux; CoreMIDI; Windows MM).")
def ports(backend):
    """List the MIDI input and output ports."""
    name = ports_mod.choose_backend(backend)
    midi = ports_mod.open_backend(name)
    click.echo(f"backend: {name}\ninputs:\n" + "".join(f"  {n}\n" for n in midi.get_input_names()) +
               "outputs:\n" + "".join(f"  {n}\n" for n in midi.get_output_names()), nl=False)


@cli.command()
@click.option("--model", "-m", type=click.Path(dir_okay=False),
              help="Model file, or a shipped model by name (default: folk; with --mode harmonize: chorale).")
@click.option("--backend", type=click.Choice(sorted(APIS)),
              help="MIDI system (default: ALSA, else a running JACK server, on Linux; CoreMIDI; Windows MM).")
@click.option("--input", "input_name", help="Listen to this existing port (partial name) instead of a virtual 'segue in'.")
@click.option("--output", "output_name", help="Play to this existing port (partial name) instead of a virtual 'segue out'.")
@click.option("--mode", type=click.Choice([*MODES, "harmonize"]), default="call", show_default=True,
              help="call: answer after the player's silence; continuous: play along all the time; "
                   "harmonize (piano-roll models): complete the player's chords on every grid step.")
@click.option("--voicing", default="36-96", show_default=True, help="harmonize: the keys the machine may play, LOW-HIGH.")
@click.option("--silence", default="0.6", show_default=True,
              help="Player silence before answering: seconds (0.6, 600ms), beats/bars (1beat, 1bar), or model: "
                   "when the model thinks the phrase is over (event models; see --turn-threshold).")
@click.option("--turn-threshold", type=float, default=0.3, show_default=True,
              help="--silence model answers when the model's probability that the player goes on falls below this.")
@click.option("--length", default="16", show_default=True,
              help="Per answer (continuous: after the player stops): events (16), seconds (4s), beats (8beats), bars "
                   "(2bars), or phrase: as long as the player's phrase (0.5phrase: half as long).")
@click.option("--play-along", is_flag=True, help="Keep answering when the player comes back (no barge-in).")
@click.option("--thru", is_flag=True, help="Pass the player's notes (and sustain pedal) through to the output.")
@click.option("--pedal", is_flag=True, help="Play the answers with the sustain pedal (CC 64): down from their first "
                                            "note, re-pedalled at each bar line, lifted at their end.")
@click.option("--temperature", "-t", type=float, default=0.9, show_default=True,
              help="Below 1: the likelier notes (0.9 keeps folk's continuations in key: docs/models/folk.md).")
@click.option("--top-k", type=int, default=0, show_default=True, help="Draw each note from its k likeliest choices (0: all).")
@click.option("--top-p", type=float, default=1.0, show_default=True,
              help="Draw each note from its likeliest choices that add up to this probability (1: all).")
@click.option("--seed", type=int, help="Random seed, for repeatable answers.")
@click.option("--channel", type=CHANNEL, default=0, show_default=True, help="Output channel.")
@click.option("--listen", type=CHANNEL, multiple=True, help="Channel to listen to (repeatable; default: all but drums).")
@click.option("--velocity-scale", type=float, default=1.0, show_default=True,
              help="Multiply the answers' velocities (above 1: louder; clipped at 127).")
@click.option("--session-weight", type=float, default=0.0, show_default=True,
              help="Mix a model of what the player played in this jam into every answer note's pitch (0..0.9; 0: off).")
@click.option("--key-weight", type=float, default=KEY_WEIGHT, show_default=True,
              help="Keep answers in the key of the player's last notes: its profile, to this power, on every "
                   "note's pitch (0..4; 0: off).")
@click.option("--max-note", type=float, default=4.0, show_default=True, help="Longest answer note, seconds.")
@click.option("--grid", type=click.Choice(["beat", "bar", "off"]), default="beat", show_default=True,
              help="With MIDI clock coming in (or --bpm), start answers on the next beat or bar.")
@click.option("--bpm", type=click.FloatRange(20, 400), help="Internal tempo when no MIDI clock comes in (grid, beats, bars).")
@click.option("--beats-per-bar", type=click.IntRange(1, 32), default=4, show_default=True,
              help="The bar for --grid bar, lengths in bars and the model's bar position, with --bpm or MIDI clock.")
@click.option("--link", is_flag=True, help="Join an Ableton Link session: its tempo and beat place the answers "
                                           "(MIDI clock wins when it runs; needs pip install 'segue[link]').")
@click.option("--record", type=click.Path(dir_okay=False), help="Record the session (player and segue tracks) to this MIDI file.")
@click.option("--replay", type=click.Path(dir_okay=False), help="Play this MIDI file in as the player, answer it, then stop.")
@click.option("--trace", type=OUT, help="Write each answer note-on's due and send times here (benchmarks).")
@click.option("--status/--no-status", default=None, help="A live status line on stderr (default: when it is a terminal).")
@click.option("--lyrics", "sing", is_flag=True, help="Sing each answer: a line of lyrics, one syllable per note, shown and recorded.")
@click.option("--lyric-model", type=click.Path(dir_okay=False), help="Lyric model for --lyrics (default: the shipped one).")
@click.option("--lyric-prime", help="Text the lyrics follow on from.")
@click.option("--lang", default="en_US", show_default=True, help="Hyphenation language for alphabetic lyrics.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML file of option defaults and a [cc] map for live control (see docs/guide/jam.md).")
@click.pass_context
def jam(ctx, config_file, replay, trace, listen, sing, lyric_model, lyric_prime, lang, **options):
    """Answer the player live: listen on a MIDI input, continue the phrase on a MIDI output."""
    controls = {}
    if config_file:
        from_file, controls = jam_config.load(config_file)
        try:  # the file's values get every check, whatever the command line overrides
            _jam_setup(**{**options, **from_file, "listen": listen})
        except ValueError as err:
            raise ValueError(f"{config_file}: {err}") from None
        typed = {k for k in options if ctx.get_parameter_source(k) is not click.core.ParameterSource.DEFAULT}
        options = jam_config.merge(options, typed, from_file)
    lyricist = None
    if sing:
        if options["mode"] != "call":
            raise ValueError("--lyrics sings the answers of --mode call")
        lyricist = _lyricist(lyric_model, lyric_prime, lang, options["seed"], show=lambda line: click.echo(f"  ♪ {line}"))
    _jam(controls=controls, replay=replay, trace=trace, listen=listen, lyricist=lyricist, **options)


def _jam_setup(backend, mode, voicing, silence, turn_threshold, length, play_along, thru, pedal, temperature, top_k,
               top_p, seed, channel, listen, velocity_scale, session_weight, key_weight, max_note, grid, bpm,
               beats_per_bar, **_):
    """Every jam value checked and built: (config, policy, the call-and-response policy, voicing)."""
    if backend is not None and backend not in APIS:  # a config file can hold any string
        raise ValueError(f"backend must be one of {', '.join(sorted(APIS))}, not {backend!r}")
    if grid not in ("beat", "bar", "off"):
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
                       beats_per_bar=beats_per_bar, thru=thru, session_weight=session_weight, key_weight=key_weight,
                       pedal=pedal)
    if silence == "model":
        call = CallAndResponse(turn=TurnRule(threshold=turn_threshold), barge_in=not play_along)
    else:
        call = CallAndResponse(silence=Span.parse(silence, "seconds", allowed=("seconds", "beats", "bars")),
                               barge_in=not play_along)
    policy = {"call": call, "continuous": Continuous(), "harmonize": Harmonize()}[mode]
    return config, policy, call, (low, high)


def _jam(model, backend, input_name, output_name, mode, link, record, replay, trace, status, controls, lyricist=None,
         **options):
    config, policy, call, voicing = _jam_setup(backend=backend, mode=mode, **options)

    def ready(inport, outport):
        what = {"call": call.describe(), "continuous": "along with the player",
                "harmonize": "chords around the player's notes"}[mode]
        click.echo(f"listening on '{inport}', playing on '{outport}' {what}; Ctrl-C to stop", err=True)

    session.jam(config, policy, session.Ports(backend, input_name, output_name), model=model, ready=ready, trace=trace,
                record=record, replay=replay, controls=controls, policies={"call": call}, link=link,
                status=sys.stderr.isatty() if status is None else status, voicing=voicing, lyricist=lyricist)


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
        for line in _torch_side("segue.training.checkpoints").describe(model):
            click.echo(line)
        return
    if model_kind(model) == "characters":
        from .models.lyric import LyricModel

        net = LyricModel(model)
        t = net.training
        cfg, m = t.get("model", {}), t.get("metrics") or {}
        click.echo(f"{net.path}\n  kind: characters ({cfg.get('cell', '?')}, {cfg.get('input', '?')} input, "
                   f"{cfg.get('layers', '?')} x {cfg.get('hidden', '?')}); vocabulary {len(net.codec)} characters, "
                   f"line breaks {'kept' if net.codec.newlines == 'keep' else 'as spaces'}")
        click.echo(f"  trained on {t.get('data', {}).get('corpus', '?')}: validation "
                   f"{m.get('valid_bpc', float('nan')):.3f} bits/char at epoch {m.get('epoch', '?')}")
        click.echo(f"  trained by: {t.get('train_command') or '?'}\n  exported by: {t.get('command') or '?'}")
        _trained_in(t.get("data", {}).get("run"))
        return
    if model_kind(model) == rollmodel.KIND:
        roll = rollmodel.RollModel(model)
        metrics, config = roll.training.get("metrics", {}), roll.training.get("config", {})
        name = {"rbm": "RNN-RBM", "nade": "LSTM-NADE"}[roll.sampler]
        click.echo(f"{roll.path}\n  kind: piano-roll ({name}); keys {roll.low}..{roll.high}, a frame is "
                   f"{count(roll.beats, 'beats')}; {roll.describe()}")
        accuracy = f", accuracy {metrics['valid_acc']:.3f}" if "valid_acc" in metrics else ""
        click.echo(f"  trained on {', '.join(roll.training.get('files', []))} (best epoch {metrics.get('epoch', '?')} "
                   f"of {config.get('epochs', '?')}): validation log-likelihood "
                   f"{metrics.get('valid_ll', float('nan')):.3f} nats/frame{accuracy}")
        click.echo(f"  trained by: {roll.training.get('command') or '?'}\n  exported by: "
                   f"{roll.training.get('export_command') or '?'}")
        _trained_in(roll.training.get("run"))
        return
    net = EventModel(model)
    c, t = net.codec, net.info.training
    click.echo(f"{net.path}\n  kind: {net.info.kind}; state: {net.info.state}")
    unit = "beats" if c.time_unit == "beats" else "s"
    pitch = f"intervals within {c.pitch_classes // 2} semitones" if c.pitch_mode == "interval" else f"pitch {c.low}..{c.high}"
    click.echo(f"  codec: {pitch}, {c.velocity_classes} velocity classes, "
               f"{c.time_classes} time classes up to {c.time_values[-1]:g} {unit}")
    if net.info.inputs:
        click.echo("  also hears: " + ", ".join(f"{k} ({v} classes)" for k, v in net.info.inputs.items()))
    if t and "corpus" in t.get("data", {}):  # a metrical model, trained on a melody corpus
        m, d = t.get("metrics", {}), t["data"]
        click.echo(f"  trained on the melody corpus {d['corpus']} ({d.get('train_pieces', '?')} pieces; best epoch "
                   f"{m.get('epoch', '?')}): valid pitch {m.get('valid_pitch_nll', float('nan')):.3f} nats/note-on "
                   f"(top-1 {m.get('valid_pitch_top1', 0):.3f}), time {m.get('valid_time_nll', float('nan')):.3f} "
                   f"nats/event")
        click.echo(f"  trained by: {t.get('train_command') or '?'}\n  exported by: {t.get('command') or '?'}")
    elif t:
        m = t.get("metrics", {})
        click.echo(f"  trained on {', '.join(t.get('data', {}).get('files', []))}: "
                   f"held-out NLL {m.get('valid_nll', float('nan')):.3f} nats/event, "
                   f"accuracy pitch {m.get('valid_acc_pitch', 0):.3f} velocity {m.get('valid_acc_velocity', 0):.3f} "
                   f"time {m.get('valid_acc_time', 0):.3f}")
        click.echo(f"  trained by: {t.get('train_command') or '?'}")
        click.echo(f"  exported by: {t.get('command') or '?'}")
    if t:
        _trained_in(t.get("data", {}).get("run"))


def _trained_in(run: dict | None) -> None:
    """How the model was trained (files made before segue recorded it say nothing)."""
    if run:
        backend = f", {run['backend']}" if run.get("backend") else ""
        click.echo(f"  trained in: {run.get('world_size', 1)} process(es) on {run.get('device', '?')}{backend}"
                   f"{', bf16' if run.get('amp') else ''}")


cli.add_command(train)
cli.add_command(data)
cli.add_command(evaluate)
cli.add_command(export_cmd)


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
