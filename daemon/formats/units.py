"""Counts in words, as a person writes them: 1 beat, 2 beats, 0.5 beats."""
from __future__ import annotations


def count(amount: float, unit: str) -> str:
    """`amount` of `unit` (given in the plural: "beats", "notes"), singular for exactly one."""
    word = unit[:-1] if amount == 1 and unit.endswith("s") else unit
    return f"{amount:g} {word}"
