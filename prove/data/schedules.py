"""Ratio schedules, the curriculum study: how the fraction of real images in a batch moves over
training. `ratio` stays the fraction of real images at full strength (the same number as for a
constant run); a schedule says when that strength applies:

- `constant`: every batch at `ratio` (what every run did before schedules existed).
- `linear`: from all-real at the first iteration to `ratio` at the last.
- `early`: generated images in the first part of training only (iterations before
  `split * max_iters`), all-real after.
- `late`: all-real first, generated images from `split * max_iters` on.

Each batch's number of real images is `real_per_batch(batch_size, fraction(iteration))`, exact
per batch as for a constant ratio, and a pure function of the iteration: a run resumed at
iteration i draws the batch it would have drawn (`RealGeneratedSampler.set_start`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import math

import numpy as np

from prove.registry import Registry

DEFAULT_SCHEDULE = "constant"
DEFAULT_SPLIT = 0.5


def real_per_batch(batch_size: int, ratio: float) -> int:
    """round(batch_size * ratio), halves rounded up (Python's round() would round 2.5 to 2)."""
    return int(math.floor(batch_size * ratio + 0.5))


@dataclass(frozen=True)
class RatioSchedule:
    name: str
    description: str
    # (ratio, iteration, max_iters, split) -> the fraction of real images at that iteration
    fraction: Callable[[float, int, int, float], float]
    uses_split: bool = False
    aliases: tuple[str, ...] = ()


def _linear(ratio: float, i: int, n: int, split: float) -> float:
    t = min(1.0, i / max(1, n - 1))
    return 1.0 - (1.0 - ratio) * t


# Declared with `SCHEDULES.declare(RatioSchedule(...))`; `prove list schedules`, the CLI's
# --ratio-schedule choices and the docs read them from here.
SCHEDULES: Registry[RatioSchedule] = Registry("ratio schedule")
SCHEDULES.declare(RatioSchedule("constant", "every batch at ratio", lambda r, i, n, s: r))
SCHEDULES.declare(RatioSchedule("linear", "all real at the first iteration, ratio at the last, linearly", _linear,
                                aliases=("ramp",)))
SCHEDULES.declare(RatioSchedule("early", "generated images before split * max_iters only, then all real",
                                lambda r, i, n, s: r if i < s * n else 1.0, uses_split=True))
SCHEDULES.declare(RatioSchedule("late", "all real before split * max_iters, then ratio",
                                lambda r, i, n, s: 1.0 if i < s * n else r, uses_split=True))


@lru_cache(maxsize=16)
def real_counts(schedule: str, ratio: float, split: float, batch_size: int, max_iters: int) -> np.ndarray:
    """Real images per batch for iterations 0 .. max_iters - 1 (read-only)."""
    fraction = SCHEDULES.get(schedule).fraction
    counts = np.array([real_per_batch(batch_size, fraction(ratio, i, max_iters, split)) for i in range(max_iters)],
                      dtype=np.int64)
    counts.flags.writeable = False
    return counts
