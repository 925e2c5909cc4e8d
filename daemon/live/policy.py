"""When the machine plays: small, swappable policies the engine consults.

A policy gets three calls from the engine thread: `on_player` for each player note event,
`on_tick` whenever the engine wakes, and `due` (when it next wants `on_tick`). It decides when
the engine's voices play; they sample and schedule. Adding a policy never touches the scheduler.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..formats.units import within
from ..options import SILENCES
from ..formats.units import Span
from .turns import TurnRule



class Engine(Protocol):
    answering: bool
    last_player: float  # monotonic time of the player's last note message (0: none yet)
    player_held: int  # player notes sounding now
    heard_since_answer: int  # player events since the machine last answered

    def seconds(self, span: Span) -> float: ...
    def turn_wait(self, rule: TurnRule) -> float: ...
    def stop_answer(self, now: float) -> None: ...
    def voice(self, name: str): ...  # the voices a policy drives: "answer", "along", "harmony" (live/voices.py)


def _span(value, unit: str = "seconds") -> Span:
    return value if isinstance(value, Span) else Span.parse(value, unit, allowed=("seconds", "beats", "bars"))


@dataclass
class CallAndResponse:
    """Answer when the player has been silent for `silence`, or (`turn`) when the model thinks they
    have finished (daemon/live/turns.py); yield when they play again."""

    silence: Span | float | str = 0.6  # seconds, or a Span in beats/bars (follows the tempo)
    barge_in: bool = True  # False: keep playing along when the player comes back
    turn: TurnRule | None = None  # the model's rule instead of a fixed silence
    name = "call"

    def __post_init__(self):
        if self.silence == "model":
            self.silence, self.turn = 0.6, self.turn or TurnRule()
        self.silence = _span(self.silence)
        low, high = SILENCES[self.silence.unit]
        within(f"--silence in {self.silence.unit}", self.silence.value, low, high)

    def on_player(self, engine: Engine, now: float) -> None:
        if self.barge_in and engine.answering:
            engine.stop_answer(now)

    def on_tick(self, engine: Engine, now: float) -> None:
        due = self.due(engine)
        if due is not None and now >= due:
            engine.voice("answer").answer(now, due=due)

    def due(self, engine: Engine) -> float | None:
        """When on_tick next has something to do (monotonic seconds), or None for 'on input only'."""
        if engine.heard_since_answer and not engine.answering and not engine.player_held:
            wait = engine.turn_wait(self.turn) if self.turn is not None else engine.seconds(self.silence)
            return engine.last_player + wait
        return None

    def describe(self) -> str:
        return f"when the model hears the phrase end (p < {self.turn.threshold:g})" if self.turn else \
            f"after {self.silence} of silence"


@dataclass
class Continuous:
    """Accompany: the model plays alongside the player, event by event, just ahead of time.

    Player notes are stepped into the same state as they arrive, so the part follows what is
    played; after the player's last note it goes on for the jam's length, then rests.
    """

    name = "continuous"
    _next: float | None = field(default=None, repr=False)

    def on_player(self, engine: Engine, now: float) -> None:
        self._next = None  # the state changed: the next event is drawn again at once

    def on_tick(self, engine: Engine, now: float) -> None:
        if self._next is None or now >= self._next:
            self._next = engine.voice("along").accompany(now)

    def due(self, engine: Engine) -> float | None:
        return self._next  # None while resting: the next player note wakes it

    def reset(self) -> None:
        self._next = None

