"""The keys the player holds, per channel, as the model hears them (folded into its pitch range).

A note-off can be lost (a full queue, a JACK xrun, a cable pulled mid-note), and a key that
stays "held" must not lock anything. So a held key only keeps segue waiting while it is still part
of the phrase: a key struck before some other key that has since been struck and released (a
whole note began and ended while it was down) is a pedal tone or a lost note-off, and no longer
holds segue back (`sustaining`). A key struck again on the same channel is a new note (its
note-off was lost). The engine forgets every held key after HOLD_LIMIT seconds without input,
and on the player's CC 123 / CC 120, a system reset, or the panic control.
"""
from __future__ import annotations

HOLD_LIMIT = 8.0  # seconds without any player input after which held keys are forgotten


class HeldKeys:
    """Folded pitch -> the channels holding it. A key struck on a second channel is nothing new for
    the model; it is released when the last channel lets go."""

    def __init__(self):
        self._held: dict[int, dict[int, int]] = {}  # pitch -> {channel: order of its press}
        self._presses = 0
        self._released = 0  # the latest press (in order) whose key has been released

    def press(self, pitch: int, channel: int) -> bool:
        """True when this is a new note for the model: the key was silent, or struck again on the
        same channel (its release was lost)."""
        held = self._held.setdefault(pitch, {})
        new = not held or channel in held
        self._presses += 1
        held[channel] = self._presses
        return new

    def release(self, pitch: int, channel: int) -> bool:
        """True when this release silences the key: a new event for the model."""
        held = self._held.get(pitch)
        if not held or channel not in held:
            return False  # a release of a note never heard
        self._released = max(self._released, held.pop(channel))
        if held:
            return False
        del self._held[pitch]
        return True

    def sustaining(self) -> int:
        """Held keys still part of the phrase: struck after every key released so far was struck."""
        return sum(1 for chans in self._held.values() if max(chans.values()) > self._released)

    def clear(self, channel: int | None = None) -> int:
        """Forget the keys held on `channel` (all channels: None); returns how many keys went silent."""
        before = len(self._held)
        for pitch in list(self._held):
            if channel is None:
                del self._held[pitch]
                continue
            self._held[pitch].pop(channel, None)
            if not self._held[pitch]:
                del self._held[pitch]
        return before - len(self._held)

    def pitches(self) -> frozenset[int]:
        return frozenset(self._held)

    def __len__(self) -> int:
        return len(self._held)
