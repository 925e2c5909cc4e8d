"""The keys the player holds, per channel, as the model hears them (folded into its pitch range)."""
from __future__ import annotations


class HeldKeys:
    """Folded pitch -> the channels holding it. A key struck on a second channel, or struck again
    while it sounds, is nothing new for the model; it is released when the last channel lets go."""

    def __init__(self):
        self._held: dict[int, set[int]] = {}

    def press(self, pitch: int, channel: int) -> bool:
        """True when the key was silent: a new event for the model."""
        held = self._held.setdefault(pitch, set())
        new = not held
        held.add(channel)
        return new

    def release(self, pitch: int, channel: int) -> bool:
        """True when this release silences the key: a new event for the model."""
        held = self._held.get(pitch)
        if not held or channel not in held:
            return False  # a release of a note never heard
        held.discard(channel)
        return not held

    def pitches(self) -> frozenset[int]:
        return frozenset(p for p, chans in self._held.items() if chans)

    def __len__(self) -> int:
        return sum(1 for chans in self._held.values() if chans)
