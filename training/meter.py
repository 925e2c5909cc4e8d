"""Progress of a long evaluation on stderr: one bar per stage, or nothing when off."""
from __future__ import annotations

from contextlib import contextmanager


class Meter:
    def __init__(self, enabled: bool = False):
        self.enabled = enabled

    @contextmanager
    def stage(self, what: str, total: int):
        """Yields `tick(n=1)`, to call as each of `total` parts of the stage is done."""
        if not self.enabled:
            yield lambda n=1: None
            return
        from tqdm import tqdm

        with tqdm(total=total, desc=what, leave=False, dynamic_ncols=True) as bar:
            yield bar.update


QUIET = Meter(False)
