"""How long work took and how long it has left, written the same way everywhere
(training, sweeps, the demo, imports, generation)."""

from __future__ import annotations

import math
import time


def format_duration(seconds: float) -> str:
    """`45s`, `2m05s`, `1h02m03s`; `?` when unknown (infinite or NaN)."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def remaining_seconds(elapsed: float, done: int, total: int) -> float:
    """Time left at the mean pace so far; infinite before the first item is done."""
    if done <= 0:
        return math.inf
    return elapsed / done * max(0, total - done)


class Progress:
    """Counts items of a long job and says where it stands: `elapsed 1m02s, about 3m10s left`."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total, self.done, self._clock = total, 0, clock
        self.start = clock()

    @property
    def elapsed(self) -> float:
        return self._clock() - self.start

    def advance(self, n: int = 1) -> None:
        self.done += n

    def status(self) -> str:
        left = remaining_seconds(self.elapsed, self.done, self.total)
        text = f"elapsed {format_duration(self.elapsed)}"
        return text + (f", about {format_duration(left)} left" if math.isfinite(left) else "")
