"""Every option of `segue jam` and `segue generate`, declared once.

An Option says its flags, type, default, bounds, help, whether the jam config file may set it, the
settings field it fills and the live control (MIDI CC) that moves it. From this table come: the
click options (daemon/cli_options.py), the config file's keys, types and checks
(daemon/live/config.py), the CC map (`controls`), and the checks of the settings objects built
once per command (`JamConfig`, `GenerateConfig`): one message per bad value, the same from the
command line, the config file and the API.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from .formats.midifile import BPM_RANGE
from .formats.units import Span, within
from .models.continuation import KEY_WEIGHT, MAX_EVENTS as MAX_FILE_EVENTS, MAX_KEY_WEIGHT, MAX_NOTE
from .models.sampling import MAX_TEMPERATURE, MAX_TOP_K, Sampling

BACKENDS = ("alsa", "coremidi", "jack", "windows")  # the MIDI systems (live/ports.py maps them to rtmidi's APIs)
MODES = ("call", "continuous", "harmonize", "accompany")
GRIDS = {"beat": 1.0, "bar": None, "off": None}  # --grid: beats between lines (bar: --beats-per-bar)
MAX_EVENTS = 512  # events per live answer at most when its length is a duration
# An answer's length at most, per unit (a timed answer also stops at MAX_EVENTS events).
LENGTHS = {"events": (1, MAX_EVENTS), "seconds": (0.05, 600.0), "beats": (0.25, 1024.0), "bars": (0.25, 256.0),
           "phrases": (0.25, 8.0)}
SILENCES = {"seconds": (0.01, 60.0), "beats": (0.125, 64.0), "bars": (0.125, 16.0)}  # the silence before an answer
SEED_MAX = 2**63 - 1
TEMPERATURE_HELP = "Below 1: the likelier notes (0.9 keeps folk's continuations in key: docs/models/folk.md)."


def _length(value) -> Span:
    span = value if isinstance(value, Span) else Span.parse(value)
    low, high = LENGTHS[span.unit]
    within(f"--length in {span.unit}", span.value, low, high)
    return span


def _silence(value) -> Span | str:
    if value == "model":
        return value
    span = value if isinstance(value, Span) else Span.parse(value, "seconds", allowed=tuple(SILENCES))
    low, high = SILENCES[span.unit]
    within(f"--silence in {span.unit}", span.value, low, high)
    return span


def _voicing(value) -> tuple[int, int]:
    try:
        low, high = (int(x) for x in str(value).split("-"))
        assert 21 <= low <= high <= 108
    except (ValueError, AssertionError):
        raise ValueError(f"voicing must be LOW-HIGH MIDI keys within 21-108, not {value!r}") from None
    return low, high


@dataclass(frozen=True)
class Option:
    name: str  # the parameter's name (and the config file's key)
    flags: tuple[str, ...]
    kind: str = "str"  # str, int, float, flag, switch (--x/--no-x), path (a file to read), out (a file to write)
    default: Any = None
    help: str = ""
    bounds: tuple[float, float] | None = None  # numbers: from low to high
    above: bool = False  # the low bound is open
    below: bool = False  # the high bound is open
    choices: tuple[str, ...] | None = None
    parse: Callable[[Any], Any] | None = None  # text -> value, raising one sentence (lengths, voicings)
    commands: tuple[str, ...] = ("jam",)
    config: bool = True  # the jam config file may set it
    field: str | None = None  # the settings field it fills (dotted: sampling.temperature)
    control: str | None = None  # the live control that moves it (a [cc] key of the config file)
    cc: tuple[float, float] | None = None  # the control's 0..127 mapped onto this range
    multiple: bool = False

    @property
    def flag(self) -> str:
        return self.flags[0].split("/")[0]

    def check(self, value):
        """`value` checked (and parsed, for lengths and the like); raises ValueError in one sentence."""
        if value is None or self.kind in ("flag", "switch", "path", "out") and not self.parse:
            return value
        if self.multiple:
            return tuple(Option(**{**self.__dict__, "multiple": False}).check(v) for v in value)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name.replace('_', '-')} must be one of {', '.join(self.choices)}, not {value!r}")
        if self.parse is not None:
            return self.parse(value)
        if self.bounds is not None:
            if self.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{self.flag} must be a whole number, not {value!r}")
            within(self.flag, value, *self.bounds, above=self.above, below=self.below)
        return value

    def from_cc(self, value: int):
        """The option's value for a controller value 0..127."""
        low, high = self.cc
        amount = low + (high - low) * value / 127
        return round(amount) if self.kind == "int" else round(amount, 3)


def _o(*args, **kwargs) -> Option:
    return Option(*args, **kwargs)


OPTIONS: list[Option] = [  # in the order --help lists them
    _o("model", ("--model", "-m"), "path", commands=("generate",), config=False,
       help="Model file, or a shipped model by name: folk (the default), melody (the first model), chorale, "
            "chorale-nade (piano-roll)."),
    _o("accompany", ("--accompany",), "path", commands=("generate",), config=False,
       help="A melody file to accompany: writes it with a bass and chords under it (an accompanist: pop, the default "
            "for it; --channel and --track pick the melody)."),
    _o("prime", ("--prime", "-p"), "path", commands=("generate",), config=False,
       help="MIDI file to continue (default: a built-in motif)."),
    _o("out", ("--out", "-o"), "out", "continuation.mid", "The MIDI file to write.", commands=("generate",),
       config=False),
    _o("model", ("--model", "-m"), "path", commands=("jam",),
       help="Model file, or a shipped model by name (default: folk; with --mode harmonize: chorale)."),
    _o("backend", ("--backend",), choices=BACKENDS,
       help="MIDI system (default: ALSA, else a running JACK server, on Linux; CoreMIDI; Windows MM)."),
    _o("input_name", ("--input", "input_name"),
       help="Listen to this existing port (partial name) instead of a virtual 'segue in'."),
    _o("output_name", ("--output", "output_name"),
       help="Play to this existing port (partial name) instead of a virtual 'segue out'."),
    _o("mode", ("--mode",), default="call", choices=MODES,
       help="call: answer after the player's silence; continuous: play along all the time; harmonize (piano-roll "
            "models): complete the player's chords on every grid step; accompany (accompanists: pop, the "
            "default for it): a bass and chords under the player's melody, on the beat."),
    _o("voicing", ("--voicing",), default="36-96", parse=_voicing,
       help="harmonize: the keys the machine may play, LOW-HIGH."),
    _o("silence", ("--silence",), default="0.6", parse=_silence,
       help="Player silence before answering: seconds (0.6, 600ms), beats/bars (1beat, 1bar), or model: when the "
            "model thinks the phrase is over (event models; see --turn-threshold)."),
    _o("turn_threshold", ("--turn-threshold",), "float", 0.3, bounds=(0, 1), above=True,
       help="--silence model answers when the model's probability that the player goes on falls below this."),
    _o("length", ("--length",), default="16", parse=_length, field="length", control="length",
       help="Per answer (continuous: after the player stops): events (16), seconds (4s), beats (8beats), bars "
            "(2bars), or phrase: as long as the player's phrase (0.5phrase: half as long)."),
    _o("play_along", ("--play-along",), "flag", help="Keep answering when the player comes back (no barge-in)."),
    _o("thru", ("--thru",), "flag", field="thru",
       help="Pass the player's notes (and sustain pedal) through to the output."),
    _o("pedal", ("--pedal",), "flag", field="pedal",
       help="Play the answers with the sustain pedal (CC 64): down from their first note, re-pedalled at each bar "
            "line, lifted at their end."),
    _o("temperature", ("--temperature", "-t"), "float", 0.9, TEMPERATURE_HELP, bounds=(0, MAX_TEMPERATURE),
       above=True, commands=("jam", "generate"), field="sampling.temperature", control="temperature", cc=(0.1, 2.0)),
    _o("top_k", ("--top-k",), "int", 0, "Draw each note from its k likeliest choices (0: all).",
       bounds=(0, MAX_TOP_K), commands=("jam", "generate"), field="sampling.top_k"),
    _o("top_p", ("--top-p",), "float", 1.0,
       "Draw each note from its likeliest choices that add up to this probability (1: all).", bounds=(0, 1),
       above=True, commands=("jam", "generate"), field="sampling.top_p"),
    _o("seed", ("--seed",), "int", None, "Random seed, for repeatable notes.", bounds=(0, SEED_MAX),
       commands=("jam", "generate"), field="seed"),
    _o("channel", ("--channel",), "int", 0, "Output channel (--mode accompany: the chords).", bounds=(0, 15),
       field="channel"),
    _o("bass_channel", ("--bass-channel",), "int", None, "--mode accompany: the bass's channel (default: the one "
       "after --channel).", bounds=(0, 15), commands=("jam",), field="bass_channel"),
    _o("listen", ("--listen",), "int", None, "Channel to listen to (repeatable; default: all but drums).",
       bounds=(0, 15), multiple=True, config=False, field="listen"),
    _o("velocity_scale", ("--velocity-scale",), "float", 1.0,
       "Multiply the answers' velocities (above 1: louder; clipped at 127).", bounds=(0, 10), above=True,
       field="velocity_scale"),
    _o("session_weight", ("--session-weight",), "float", 0.0,
       "Mix a model of what was played (in a jam: the player; in a file: the prime) into every note's pitch "
       "(the Continuator's idea; 0: off; below 1: the network always has a say).", bounds=(0, 1), below=True,
       commands=("jam", "generate"),
       field="session_weight", control="session", cc=(0.0, 0.9)),
    _o("key_weight", ("--key-weight",), "float", KEY_WEIGHT,
       "Stay in the key of what was played: its profile, to this power, on every note's pitch (0..4; 0: off; the "
       "model alone wanders off the key: docs/models/folk.md).", bounds=(0, MAX_KEY_WEIGHT),
       commands=("jam", "generate"), field="key_weight"),
    _o("max_note", ("--max-note",), "float", 4.0, "Longest note, seconds.", bounds=(0, MAX_NOTE), above=True,
       commands=("jam", "generate"), field="max_note"),
    _o("grid", ("--grid",), default="beat", choices=tuple(GRIDS),
       help="With MIDI clock coming in (or --bpm), start answers on the next beat or bar."),
    _o("bpm", ("--bpm",), "float", None,
       "Tempo when no MIDI clock or Link comes in: the first guess of the beat heard in your notes, found "
       "within x0.62-x1.45 of it, never at twice or half (a guess of 40-220 bpm; with --fixed-tempo: the "
       "tempo itself, its beats counted from the start).", bounds=BPM_RANGE, field="bpm"),
    _o("fixed_tempo", ("--fixed-tempo",), "flag", field="fixed_tempo",
       help="Do not follow the beat of your notes: with no MIDI clock or Link, keep to --bpm (or to no grid)."),
    _o("beats_per_bar", ("--beats-per-bar",), "int", 4,
       "The bar for --grid bar, lengths in bars and the model's bar position, with --bpm or MIDI clock.",
       bounds=(1, 32), field="beats_per_bar"),
    _o("link", ("--link",), "flag", help="Join an Ableton Link session: its tempo and beat place the answers (MIDI "
                                         "clock wins when it runs; needs pip install 'segue[link]')."),
    _o("record", ("--record",), "path", help="Record the session (player and segue tracks) to this MIDI file."),
    _o("replay", ("--replay",), "path", config=False,
       help="Play this MIDI file in as the player, answer it, then stop."),
    _o("trace", ("--trace",), "out", config=False, help="Write each answer note-on's due and send times here (benchmarks)."),
    _o("status", ("--status/--no-status",), "switch",
       help="A live status line on stderr (default: when it is a terminal)."),
    _o("sing", ("--lyrics", "sing"), "flag", commands=("jam", "generate"), config=False,
       help="Sing: a line of lyrics, one syllable per note (in a jam: each answer's, shown and recorded; in a file: "
            "lyric meta events)."),
    _o("lyric_model", ("--lyric-model",), "path", commands=("jam", "generate"), config=False,
       help="Lyric model for --lyrics (default: the shipped one)."),
    _o("lyric_prime", ("--lyric-prime",), commands=("jam", "generate"), config=False,
       help="Text the lyrics follow on from."),
    _o("lang", ("--lang",), default="en_US", commands=("jam", "generate"), config=False,
       help="Hyphenation language for alphabetic lyrics (pyphen's codes)."),
    # segue generate's own
    _o("channel", ("--channel",), "int", None, "Read only this channel of the prime (default: all but drums).",
       bounds=(0, 15), commands=("generate",), config=False),
    _o("track", ("--track",), "int", None, "Read only this track of the prime.", bounds=(0, 65535),
       commands=("generate",), config=False),
    _o("bpm", ("--bpm",), "float", None, "Tempo written into the output file (default: the prime's, else 120).",
       bounds=BPM_RANGE, commands=("generate",), config=False),
    _o("with_prime", ("--with-prime",), "flag", commands=("generate",), config=False,
       help="Write the prime first and the continuation after it (event models)."),
    _o("plot", ("--plot",), "out", commands=("generate",), config=False, help="Also write a piano-roll PNG here."),
    _o("frames", ("--frames",), "int", 64, "Frames to sample (piano-roll models).", bounds=(1, 100_000),
       commands=("generate",), config=False),
    _o("events", ("--events", "-n"), "int", 500, "Events (note-ons and releases) to sample.",
       bounds=(1, MAX_FILE_EVENTS), commands=("generate",), config=False, field="events"),
    _o("free", ("--free",), "flag", commands=("generate",), config=False,
       help="Draw the three heads independently (impossible releases are then dropped)."),
]


def for_command(command: str) -> list[Option]:
    return [o for o in OPTIONS if command in o.commands]


def by_name(command: str = "jam") -> dict[str, Option]:
    return {o.name: o for o in for_command(command)}


def config_keys() -> dict[str, Option]:
    """The jam config file's keys."""
    return {o.name: o for o in for_command("jam") if o.config}


def controls() -> dict[str, Option]:
    """The live controls that move a setting, by their [cc] name."""
    return {o.control: o for o in for_command("jam") if o.control}


def check(command: str, values: dict) -> dict:
    """Every value of `command`'s options checked (lengths and the like parsed); one ValueError for the first bad one."""
    table = by_name(command)
    return {k: table[k].check(v) if k in table else v for k, v in values.items()}


def _get(settings, path: str):
    for part in path.split("."):
        settings = getattr(settings, part)
    return settings


def _set(settings, path: str, value):
    head, _, rest = path.partition(".")
    return replace(settings, **{head: _set(getattr(settings, head), rest, value) if rest else value})


def check_settings(settings, command: str) -> None:
    """The fields of a settings object, checked by the options that fill them."""
    for option in for_command(command):
        if option.field:
            option.check(_get(settings, option.field))


def control(settings, name: str, value: int):
    """The settings after the live control `name` moved to `value` (0..127)."""
    if name == "length":  # in the unit the session's length is given in
        span = settings.length
        low, high = CC_LENGTHS[span.unit]
        amount = low + (high - low) * value / 127
        amount = max(low, round(amount)) if span.unit != "seconds" else round(amount, 2)
        return replace(settings, length=Span(amount, span.unit))
    option = controls()[name]
    return _set(settings, option.field, option.from_cc(value))


CC_LENGTHS = {"events": (1, 64), "seconds": (0.5, 16.0), "beats": (1, 32), "bars": (1, 16), "phrases": (0.25, 4.0)}


@dataclass(frozen=True)
class Drawing:
    """How notes are drawn, in a file and in a jam."""

    sampling: Sampling = field(default_factory=Sampling)
    seed: int | None = None
    max_note: float = 4.0  # seconds; longer notes are released
    channel: int = 0  # output channel
    session_weight: float = 0.0  # the session model's share of each strike's pitch distribution (0: off)
    key_weight: float = KEY_WEIGHT  # the heard key's profile, to this power, times each strike's pitch distribution


@dataclass(frozen=True)
class GenerateConfig(Drawing):
    """Options of one generation (`segue generate`); validated on construction."""

    events: int = 500
    constrain: bool = True  # releases name sounding pitches, strikes silent ones (the codec's invariant)

    def __post_init__(self):
        within("--channel", self.channel, 0, 15)
        check_settings(self, "generate")


@dataclass(frozen=True)
class JamConfig(Drawing):
    """Options of a jam session (`segue jam`); validated on construction."""

    length: Span | int | str = 16  # per answer (call) or after the player stops (continuous)
    listen: tuple[int, ...] | None = None  # channels heard (None: all but drums)
    velocity_scale: float = 1.0
    grid: float | None = 1.0  # answers start on this grid (beats) when there is a tempo; None: off
    bpm: float | None = None  # internal tempo when no MIDI clock comes in
    beats_per_bar: int = 4
    thru: bool = False  # pass the player's notes to the output
    pedal: bool = False  # the machine plays with the sustain pedal, re-pedalled at each bar line
    fixed_tempo: bool = False  # no beat tracking: --bpm (or nothing) when no clock or Link comes in
    bass_channel: int | None = None  # --mode accompany: the bass's channel (None: the one after --channel)

    def __post_init__(self):
        if not isinstance(self.length, Span):
            object.__setattr__(self, "length", Span.parse(self.length))
        check_settings(self, "jam")
        if self.grid is not None:
            within("--grid", self.grid, 0, 32, above=True)
        if self.bass_channel is None:
            object.__setattr__(self, "bass_channel", (self.channel + 1) % 16)
        within("--bass-channel", self.bass_channel, 0, 15)

    @classmethod
    def from_options(cls, values: dict) -> "JamConfig":
        """The settings from checked option values (`check("jam", ...)`)."""
        v = values
        beats = GRIDS[v["grid"]] or (float(v["beats_per_bar"]) if v["grid"] == "bar" else None)
        return cls(length=v["length"], sampling=Sampling(v["temperature"], v["top_k"], v["top_p"]), seed=v["seed"],
                   max_note=v["max_note"], channel=v["channel"], listen=tuple(v["listen"] or ()) or None,
                   velocity_scale=v["velocity_scale"], grid=beats, bpm=v["bpm"], beats_per_bar=v["beats_per_bar"],
                   thru=v["thru"], session_weight=v["session_weight"], key_weight=v["key_weight"], pedal=v["pedal"],
                   fixed_tempo=v["fixed_tempo"], bass_channel=v["bass_channel"])

