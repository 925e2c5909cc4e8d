"""The jam config file (TOML): defaults for `segue jam` options, and a MIDI CC map for live control.

    silence = 0.5          # any `segue jam` option, with _ for -
    length = "2bars"       # or 24 (events), "4s", "6beats"
    temperature = 0.9
    [cc]                   # controller number for each live control
    temperature = 21       # 0..127 -> 0.1..2.0
    length = 22            # 0..127 -> 1..64 events (0.5..16 s, 1..32 beats, 1..16 bars)
    mode = 25              # 0..63: call and response; 64..127: continuous
    enabled = 23           # >= 64: answering on; < 64: off (and the current answer stops)
    panic = 24             # >= 64: release everything, CC 123 + CC 120

Options given on the command line win over the file; the file wins over built-in defaults.
"""
from __future__ import annotations

from pathlib import Path

import tomllib

from .. import options as table
from . import controls as cc

ALIASES = {"input": "input_name", "output": "output_name"}
KINDS = {"str": str, "int": int, "float": float, "flag": bool, "switch": bool, "path": str, "out": str}


def load(path: str | Path) -> tuple[dict, dict[int, str]]:
    """(option defaults, {controller number: control}) from a TOML file; one clear error per problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid TOML ({err})") from None
    except RecursionError:
        raise ValueError(f"{path}: not a jam config (arrays or tables nested too deeply)") from None
    cc_map = data.pop("cc", {})
    keys = table.config_keys()
    options = {}
    for key, value in data.items():
        name = ALIASES.get(key, key.replace("-", "_"))
        option = keys.get(name)
        if option is None:
            raise ValueError(f"{path}: unknown option {key!r} (known: {', '.join(sorted(keys))})")
        kind = KINDS[option.kind]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if option.parse is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a bare number: seconds of silence, events of length
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{path}: {key} must be {kind.__name__}, not {value!r}")
        try:
            option.check(value)
        except ValueError as err:  # a length's or voicing's words do not name the option: say which
            raise ValueError(f"{path}: {key}: {err}" if option.parse else f"{path}: {err}") from None
        options[name] = value
    if not isinstance(cc_map, dict):
        raise ValueError(f"{path}: [cc] must be a table of control = controller number")
    known = cc.names()
    controls = {}
    for control, number in cc_map.items():
        if control not in known:
            raise ValueError(f"{path}: unknown control {control!r} in [cc] (known: {', '.join(known)})")
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 119:
            raise ValueError(f"{path}: [cc] {control} must be a controller number in range 0..119")
        if number in controls:
            raise ValueError(f"{path}: [cc] {' and '.join(sorted((controls[number], control)))} are both on "
                             f"controller {number}")
        controls[number] = control
    return options, controls


def merge(passed: dict, given_on_command_line: set[str], from_file: dict) -> dict:
    """Command-line values where the user typed them, else the file's, else the built-in defaults."""
    return {k: (v if k in given_on_command_line or k not in from_file else from_file[k]) for k, v in passed.items()}
