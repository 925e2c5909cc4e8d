"""A clock the tests move, and a driver for an engine on it (no wall-clock timing in unit tests)."""


class FakeClock:
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


def drive(eng, until, step=0.005):
    """Move the engine's clock to `until`: one engine round and every due note at each step (the
    scheduler made with thread=False sends exactly on time)."""
    clock = eng.clock
    while clock.now < until:
        clock.now = min(until, clock.now + step)
        eng.turn()
        eng.scheduler.run_until(clock.now)
