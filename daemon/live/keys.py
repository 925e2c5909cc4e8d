"""The keys the player holds, per channel, as the model hears them (folded into its pitch range).

A note-off can be lost (a full queue, a JACK xrun, a cable pulled mid-note), and a key that
stays "held" must not lock anything. So a held key only keeps segue waiting while it is still part
of the phrase: a key struck before some other key that has since been struck and released (a
whole note began and ended while it was down) is a pedal tone or a lost note-off, and no longer
holds segue back (`sustaining`). A key struck again on the same channel is a new note (its
note-off was lost). The engine forgets every held key after HOLD_LIMIT seconds without input,
and on the player's CC 123 / CC 120, a system reset, or the panic control.

The sustain pedal (CC 64, down at 64..127, per channel) keeps a released key sounding, as a synth
plays it: its release reaches the model only when the pedal lifts (`pedal`), and a key struck
again while it rings is a new note. A key that sounds only by the pedal does not keep segue
waiting: the phrase is over when the fingers are, and the pedal is left to ring under the answer.
"""
from __future__ import annotations

HOLD_LIMIT = 8.0  # seconds without any player input after which held keys are forgotten


class HeldKeys:
    """Folded pitch -> the channels holding it. A key struck on a second channel is nothing new for
    the model; it is released when the last channel lets go."""

    def __init__(self):
        self._held: dict[int, dict[int, int]] = {}  # pitch -> {channel: order of its press}
        self._rung: dict[int, set[int]] = {}  # pitch -> channels whose pedal keeps it sounding
        self._pedals: set[int] = set()  # channels with the sustain pedal down
        self._presses = 0
        self._released = 0  # the latest press (in order) whose key has been released

    def press(self, pitch: int, channel: int) -> bool:
        """True when this is a new note for the model: the key was silent, or struck again on the
        same channel (its release was lost, or its pedal was keeping it sounding)."""
        held = self._held.setdefault(pitch, {})
        rung = self._rung.get(pitch, set())
        new = not (held or rung) or channel in held or channel in rung
        rung.discard(channel)
        if not rung:
            self._rung.pop(pitch, None)
        self._presses += 1
        held[channel] = self._presses
        return new

    def release(self, pitch: int, channel: int) -> bool:
        """True when this release silences the key: a new event for the model. Under the channel's
        pedal the key goes on sounding (False) until the pedal lifts."""
        held = self._held.get(pitch)
        if not held or channel not in held:
            return False  # a release of a note never heard
        self._released = max(self._released, held.pop(channel))
        if channel in self._pedals:
            self._rung.setdefault(pitch, set()).add(channel)
        if not held:
            del self._held[pitch]
        return pitch not in self._held and pitch not in self._rung

    def pedal(self, channel: int, down: bool) -> list[int]:
        """The sustain pedal of `channel` goes down or up; returns the keys its lifting silences
        (released under it, not held again, not rung by another channel's pedal), low to high."""
        if down:
            self._pedals.add(channel)
            return []
        self._pedals.discard(channel)
        silenced = []
        for pitch in sorted(self._rung):
            self._rung[pitch].discard(channel)
            if not self._rung[pitch]:
                del self._rung[pitch]
                if pitch not in self._held:
                    silenced.append(pitch)
        return silenced

    def ringing(self) -> frozenset[int]:
        """Keys sounding only by the pedal."""
        return frozenset(p for p in self._rung if p not in self._held)

    def sustaining(self) -> int:
        """Held keys still part of the phrase: struck after every key released so far was struck."""
        return sum(1 for chans in self._held.values() if max(chans.values()) > self._released)

    def clear(self, channel: int | None = None) -> int:
        """Forget the keys held or rung on `channel` (all channels: None), and its pedal; returns how
        many keys went silent."""
        before = len(self)
        for keys in (self._held, self._rung):
            for pitch in list(keys):
                if channel is None:
                    del keys[pitch]
                    continue
                keys[pitch].discard(channel) if isinstance(keys[pitch], set) else keys[pitch].pop(channel, None)
                if not keys[pitch]:
                    del keys[pitch]
        if channel is None:
            self._pedals.clear()
        else:
            self._pedals.discard(channel)
        return before - len(self)

    def pitches(self) -> frozenset[int]:
        """Every key sounding: held, or rung by a pedal."""
        return frozenset(self._held) | frozenset(self._rung)

    def __len__(self) -> int:
        return len(self.pitches())
