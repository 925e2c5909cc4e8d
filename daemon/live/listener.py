"""What the player does, as the jam hears it: keys held, the pedal, floods, the phrase, the window.

The listener takes the player's note and pedal messages (transport and mapped controls go
elsewhere: live/engine.py) and says what is new for the model: a key struck or silenced, folded
into the model's range. It keeps a rolling window of what was really played (the player's notes,
and the machine's notes that went out), from which the model's state is rebuilt after a
barge-in, a mode change or a new model, so notes sampled but never played are not remembered.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import mido

from ..formats.midifile import DRUM_CHANNEL, NoteMessage
from .flood import AFTER_FLOOD_HOLD, FloodWatch
from .keys import HOLD_LIMIT, HeldKeys
from .scheduler import SUSTAIN

log = logging.getLogger(__name__)
NOTES = ("note_on", "note_off")
WINDOW = 128  # note events kept to rebuild the state (the seed's window is 30)
MACHINE = -1  # the channel the window gives the machine's own notes


@dataclass(frozen=True)
class Heard:
    """What one message meant: `notes` new for the model (strikes and releases, in order);
    `played` the player played (a key, not a pedal lift); `flooding` it came in a flood."""

    notes: tuple[NoteMessage, ...]
    played: bool = True
    flooding: bool = False


class Listener:
    def __init__(self, fold, listen: tuple[int, ...] | None = None, thru=None, recorder=None):
        """`fold`: a pitch into the model's range; `listen`: the channels heard (None: all but
        drums); `thru`: passes a heard note or pedal message on (--thru); `recorder`: gets every
        note and pedal message the player sends."""
        self.fold, self.listen, self.thru, self.recorder = fold, listen, thru, recorder
        self.window: deque[NoteMessage] = deque(maxlen=WINDOW)
        self.held = HeldKeys()
        self.hold_limit = HOLD_LIMIT
        self.flood = FloodWatch()
        self.last_player = 0.0  # the player's last note message (0: none yet)
        self.phrase_start = 0.0  # the first player event since the last answer
        self.heard_since_answer = 0
        self.heard = self.ignored = self.flooded = self.forgotten = 0

    @property
    def sustaining(self) -> int:
        """Held keys that keep segue waiting (see live/keys.py: not pedal tones or lost note-offs)."""
        return self.held.sustaining()

    def hear(self, stamp: float, msg: mido.Message) -> Heard | None:
        """A player's message (not transport, not a mapped control); None when nothing is new for
        the model. The notes returned are not yet in the window: `keep` puts them there."""
        if msg.type == "control_change" and msg.control in (120, 123) or msg.type == "reset":
            self.forgotten += self.held.clear(None if msg.type == "reset" else msg.channel)
            return None
        if msg.type == "control_change" and msg.control == SUSTAIN:
            if not self._listened(stamp, msg):
                return None
            lifted = self.held.pedal(msg.channel, msg.value >= 64)
            return Heard(tuple(NoteMessage(stamp, p, 0, msg.channel) for p in lifted), played=False) if lifted else None
        if msg.type not in NOTES:
            self.ignored += 1
            return None
        self.heard += 1
        flooding = self.flood.note(stamp)
        if not self._listened(stamp, msg):
            return None
        pitch = self.fold(msg.note)
        onset = msg.type == "note_on" and msg.velocity > 0
        if not (self.held.press if onset else self.held.release)(pitch, msg.channel):
            if not onset and pitch in self.held.ringing():
                self.last_player = stamp  # let go under the pedal: nothing for the model, but the silence starts now
            return None  # already sounding, or still held on another channel: nothing new for the model
        self.last_player = stamp
        heard = (NoteMessage(stamp, pitch, msg.velocity if onset else 0, msg.channel),)
        if flooding:  # no phrase: held keys and the window follow it, nothing answers it
            self.flooded += 1
            self.heard_since_answer = 0
            return Heard(heard, flooding=True)
        if not self.heard_since_answer:
            self.phrase_start = stamp
        self.heard_since_answer += 1
        return Heard(heard)

    def keep(self, notes) -> None:
        """Notes heard (or played by the machine, on MACHINE) into the window."""
        self.window.extend(notes)

    def _listened(self, stamp: float, msg: mido.Message) -> bool:
        """Record a player's note or pedal message; True when its channel is listened to (then it
        is also passed through with --thru)."""
        if self.recorder:
            self.recorder.player(msg, at=stamp)
        listen = self.listen
        if (msg.channel not in listen) if listen else msg.channel == DRUM_CHANNEL:
            return False
        if self.thru is not None:
            self.thru(msg)
        return True

    def expire(self, now: float) -> bool:
        """Keys still "held" after `hold_limit` seconds without any input lost their note-offs: forget
        them. A flood's end forgets the keys it left held; soon after a flood (which loses messages),
        AFTER_FLOOD_HOLD seconds without input are evidence enough. True when keys were forgotten."""
        if self.flood.ended(now):
            forgotten = self.held.clear()
            self.forgotten += forgotten
            self.heard_since_answer = 0  # what came in the flood is no phrase to answer
            log.warning("a flood of up to %.0f note messages a second is over: forgot the %d keys it left held",
                        self.flood.peak, forgotten)
            return bool(forgotten)
        limit = min(self.hold_limit, AFTER_FLOOD_HOLD) if self.flood.recent(now) else self.hold_limit
        if len(self.held) and now - self.last_player > limit:
            self.forgotten += self.held.clear()
            log.warning("forgot the player's held keys: no input for %.1f s (a lost note-off%s?)", limit,
                        ", after a flood" if limit < self.hold_limit else "")
            return True
        return False

    def forget_all(self) -> None:
        """Panic: nothing the player holds sounds."""
        self.forgotten += self.held.clear()

    def phrase_seconds(self) -> float:
        """How long the player's last phrase was (its first note since the last answer to its last)."""
        return self.last_player - self.phrase_start
