"""When the machine answers: small, swappable policies the engine consults."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Engine(Protocol):
    answering: bool
    last_player: float  # monotonic time of the player's last note message (0: none yet)
    player_held: int  # player notes sounding now
    heard_since_answer: int  # player events since the machine last answered

    def answer(self, now: float, due: float | None = None) -> None: ...
    def stop_answer(self) -> None: ...


@dataclass
class CallAndResponse:
    """Answer when the player has been silent for `silence` seconds; yield when they play again."""

    silence: float = 0.6
    barge_in: bool = True  # False: keep playing along when the player comes back

    def __post_init__(self):
        if not self.silence > 0:
            raise ValueError("silence must be > 0 seconds")

    def on_player(self, engine: Engine, now: float) -> None:
        if self.barge_in and engine.answering:
            engine.stop_answer()

    def on_tick(self, engine: Engine, now: float) -> None:
        if (engine.heard_since_answer and not engine.answering and not engine.player_held
                and now - engine.last_player >= self.silence):
            engine.answer(now, due=engine.last_player + self.silence)

    def due(self, engine: Engine) -> float | None:
        """When on_tick next has something to do (monotonic seconds), or None for 'on input only'."""
        if engine.heard_since_answer and not engine.answering and not engine.player_held:
            return engine.last_player + self.silence
        return None
