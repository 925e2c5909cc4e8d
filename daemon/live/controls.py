"""Live controls from MIDI CC values (0..127): what each control does to a jam's settings.

The CC map itself comes from the config file (live/config.py); the engine applies the result.
"""
from __future__ import annotations

from dataclasses import replace

from .clock import Span

CONTROLS = ("temperature", "length", "mode", "enabled", "panic", "session")
CC_RANGE = {"events": (1, 64), "seconds": (0.5, 16.0), "beats": (1, 32), "bars": (1, 16)}  # the length control


def settings(config, name: str, value: int):
    """The settings after a `temperature`, `session` or `length` control (the others act on the engine)."""
    if name == "temperature":  # 0..127 -> 0.1..2.0
        return replace(config, sampling=replace(config.sampling, temperature=round(0.1 + 1.9 * value / 127, 3)))
    if name == "session":  # 0..127 -> the session model's weight 0..0.9
        return replace(config, session_weight=round(0.9 * value / 127, 3))
    if name == "length":  # in the unit the session's length is given in
        span = config.length
        low, high = CC_RANGE[span.unit]
        amount = low + (high - low) * value / 127
        amount = max(low, round(amount)) if span.unit != "seconds" else round(amount, 2)
        return replace(config, length=Span(amount, span.unit))
    return config


def mode(modes: list[str], value: int) -> str:
    """The mode a CC value picks: the range split evenly over the modes."""
    return modes[min(len(modes) - 1, value * len(modes) // 128)]


def switched_on(value: int) -> bool:
    return value >= 64
