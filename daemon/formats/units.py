"""Counts in words, as a person writes them (1 beat, 2 beats, 0.5 beats), and ranges checked in words."""
from __future__ import annotations

import math


def count(amount: float, unit: str) -> str:
    """`amount` of `unit` (given in the plural: "beats", "notes"), singular for exactly one."""
    word = unit[:-1] if amount == 1 and unit.endswith("s") else unit
    number = f"{int(amount)}" if float(amount).is_integer() else f"{amount:g}"
    return f"{number} {word}"


def number(value: float) -> str:
    """A number as people write it: 10,000,000, 0.5, 60."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e21:
        return f"{int(value):,}"
    return f"{value:,.6g}"


def within(name: str, value: float, low: float, high: float, *, above: bool = False) -> None:
    """Raise one sentence unless `value` is a finite number in [low, high] (`above`: (low, high]).
    `name` is the option as a user types it (`--events`)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low < value if above else low <= value) and value <= high
    if not ok:
        shown = number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
        bounds = f"more than {number(low)} and at most {number(high)}" if above else f"from {number(low)} to {number(high)}"
        raise ValueError(f"{name} must be {bounds}, not {shown}")
