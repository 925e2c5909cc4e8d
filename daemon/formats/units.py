"""Counts in words, as a person writes them (1 beat, 2 beats, 0.5 beats), and ranges checked in words."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass


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


def within(name: str, value: float, low: float, high: float, *, above: bool = False, below: bool = False) -> None:
    """Raise one sentence unless `value` is a finite number in [low, high] (`above`: more than
    low; `below`: less than high). `name` is the option as a user types it (`--events`)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low < value if above else low <= value) and (value < high if below else value <= high)
    if not ok:
        shown = number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
        top = f"less than {number(high)}" if below else number(high)
        bounds = (f"more than {number(low)} and {top if below else 'at most ' + top}" if above
                  else f"from {number(low)} to {top}")
        raise ValueError(f"{name} must be {bounds}, not {shown}")


UNITS = {"": "events", "ev": "events", "events": "events", "event": "events", "s": "seconds", "sec": "seconds",
         "seconds": "seconds", "ms": "ms", "b": "beats", "beat": "beats", "beats": "beats", "bar": "bars",
         "bars": "bars", "phrase": "phrases", "phrases": "phrases"}


ALL_UNITS = ("events", "seconds", "beats", "bars", "phrases")


@dataclass(frozen=True)
class Span:
    """A length given by the musician: events, seconds, beats or bars ("16", "4s", "600ms", "2bars"),
    or phrases ("phrase", "0.5phrase": the player's last phrase, as long as it was)."""

    value: float
    unit: str = "events"

    @classmethod
    def parse(cls, text: str | float | int, default_unit: str = "events", allowed=ALL_UNITS) -> "Span":
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            number, unit = float(text), default_unit
        else:
            match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)?\s*([a-z]*)\s*", str(text).lower())
            if not match or match[2] not in UNITS or (match[1] is None and UNITS[match[2]] != "phrases"):
                raise ValueError(f"{text!r} is not a length like 16, 4s, 600ms, 2beats, 1bar or phrase")
            number, unit = float(match[1] or 1), UNITS[match[2]] if match[2] else default_unit
        if unit == "ms":
            number, unit = number / 1000, "seconds"
        if unit not in allowed:
            raise ValueError(f"{text!r}: a length in {unit} does not fit here (use {', '.join(allowed)})")
        if not number > 0:
            raise ValueError(f"{text!r}: a length must be > 0")
        if unit == "events" and number != int(number):
            raise ValueError(f"{text!r}: a number of events must be whole")
        return cls(number, unit)

    def seconds(self, beat: float, beats_per_bar: int = 4) -> float:
        """In seconds, for a beat of `beat` seconds; events have no duration."""
        if self.unit in ("events", "phrases"):
            raise ValueError(f"a length in {self.unit} has no duration of its own")
        return self.value * {"seconds": 1.0, "beats": beat, "bars": beat * beats_per_bar}[self.unit]

    def __str__(self) -> str:
        return count(self.value, self.unit)
