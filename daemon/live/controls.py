"""Live controls from MIDI CC values (0..127): the map's names and what the engine's own controls do.

The CC map comes from the config file (live/config.py). A control that moves a setting
(temperature, the session model's weight, the length) is declared with its option in
daemon/options.py; `mode`, `enabled` and `panic` act on the engine.
"""
from __future__ import annotations

from .. import options

ENGINE_CONTROLS = ("mode", "enabled", "panic")


def names() -> tuple[str, ...]:
    """Every control a [cc] map may name."""
    return (*options.controls(), *ENGINE_CONTROLS)


def settings(config, name: str, value: int):
    """The settings after a control that moves one."""
    return options.control(config, name, value)


def mode(modes: list[str], value: int) -> str:
    """The mode a CC value picks: the range split evenly over the modes."""
    return modes[min(len(modes) - 1, value * len(modes) // 128)]


def switched_on(value: int) -> bool:
    return value >= 64
