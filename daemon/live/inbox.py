"""What the MIDI input thread hands the engine thread: stamped messages, and jobs.

The input callback only stamps and appends (no lock held while the engine works). When more
than `limit` messages wait, the oldest go first: a backlog is the past, and the engine should
hear the present. Jobs (a model reload, a mode change from elsewhere) are never dropped.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable

URGENT = ("note_on", "note_off", "control_change")


class Inbox:
    def __init__(self, limit: int):
        self.limit = limit
        self._messages: deque = deque()
        self._jobs: deque = deque()
        self._wake = threading.Event()
        self.overflow = 0  # messages dropped because `limit` were waiting (the oldest)
        self.urgent = 0  # note and control messages waiting: an answer being sampled stops for them

    def put(self, stamp: float, msg) -> None:
        """From the input thread: one stamped message."""
        messages = self._messages
        while len(messages) >= self.limit:
            try:
                messages.popleft()
            except IndexError:  # the engine emptied it meanwhile
                break
            self.overflow += 1
        messages.append((stamp, msg))
        if msg.type in URGENT:
            self.urgent += 1
        self._wake.set()

    def job(self, job: Callable) -> None:
        self._jobs.append(job)
        self._wake.set()

    def wait(self, timeout: float | None) -> None:
        """Until something arrives or `timeout` passes; then take what is there with `jobs` and `messages`."""
        self._wake.wait(timeout)
        self._wake.clear()  # before taking: whatever arrives after this sets it again

    def jobs(self) -> list:
        return _take(self._jobs)

    def messages(self) -> list:
        """Everything waiting now, oldest first."""
        self.urgent = 0
        return _take(self._messages)

    def __len__(self) -> int:
        return len(self._messages)


def _take(queue: deque) -> list:
    out = []
    for _ in range(len(queue)):  # what is there now; later arrivals wait for the next round
        try:
            out.append(queue.popleft())
        except IndexError:
            break
    return out
