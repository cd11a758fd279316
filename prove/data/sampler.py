"""The real/generated batch sampler: every batch has exactly k = round_half_up(B * ratio) real
images and B - k generated ones, each source cycled forever in a seeded order. With a ratio
schedule (prove.data.schedules) k follows the iteration, exactly per batch as well.

The stream is a pure function of (seed, rank, batch number): batch b of rank r is global batch
`b * world + r`; the j-th real draw overall is position `g * k + j` in the real stream (with a
schedule: all real draws of earlier iterations, plus the lower ranks' share of this one), whose
cycle `c = pos // n` is a permutation seeded by (seed, source, c). Nothing depends on what
was drawn before, so a resumed run starts at its batch with `set_start(iteration)` instead of
replaying the data (which MMEngine's loop would do), and every draw carries its own seed for
the augmentation of that sample.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import numpy as np
from mmengine.dist import get_dist_info

from prove.compat import install

install()

from mmseg.registry import DATA_SAMPLERS  # noqa: E402

from prove.data.schedules import real_counts, real_per_batch  # noqa: E402,F401 (real_per_batch: the rule, re-exported)
from prove.errors import ProveError  # noqa: E402

REAL_PART, GENERATED_PART = 0, 1


@DATA_SAMPLERS.register_module()
class RealGeneratedSampler:
    """Yields `(part, index, seed)` keys for `MixedSourceDataset`, batch-aligned."""

    def __init__(self, dataset, batch_size: int, ratio: float, seed: int | None = None, schedule: str = "constant",
                 split: float = 0.5, max_iters: int = 0):
        self.batch_size = int(batch_size)
        self.ratio = float(ratio)
        self.seed = int(seed or 0)
        self.schedule, self.split, self.max_iters = str(schedule), float(split), int(max_iters)
        self.rank, self.world_size = get_dist_info()
        self.num_real, self.num_generated = dataset.num_real, dataset.num_generated
        self.real_per_batch = real_per_batch(self.batch_size, self.ratio)  # at full strength
        self.generated_per_batch = self.batch_size - self.real_per_batch
        # a schedule: real images per iteration, and how many the iterations before each drew
        self._counts = None
        if self.schedule != "constant":
            if self.max_iters < 1:
                raise ProveError(f"ratio schedule {self.schedule!r} needs the run's max_iters")
            self._counts = real_counts(self.schedule, self.ratio, self.split, self.batch_size, self.max_iters)
            self._before = np.concatenate([[0], np.cumsum(self._counts)])
        if self.real_per_batch and not self.num_real:
            raise ProveError("ratio asks for real images but the real dataset is empty")
        if self.generated_per_batch and not self.num_generated:
            raise ProveError(
                f"ratio {self.ratio:g} asks for {self.generated_per_batch} generated image(s) per batch "
                f"but there are no generated images"
            )
        self.start_batch = 0

    def set_start(self, batch: int) -> None:
        """Continue the stream at local batch `batch` (= the iteration a resumed run is at)."""
        self.start_batch = int(batch)

    def real_at(self, batch: int) -> tuple[int, int]:
        """(real images in local batch `batch`, real images drawn by this rank before it). Every
        rank draws the same number at an iteration, so the schedule follows the iteration."""
        if self._counts is None:
            return self.real_per_batch, batch * self.real_per_batch
        last = len(self._counts) - 1
        if batch <= last:
            return int(self._counts[batch]), int(self._before[batch])
        # past max_iters (MMEngine's loop may prefetch a batch): the schedule's last composition
        return int(self._counts[last]), int(self._before[last + 1] + (batch - last - 1) * self._counts[last])

    def batch_keys(self, batch: int) -> list[tuple[int, int, int]]:
        global_batch = batch * self.world_size + self.rank
        real, real_before = self.real_at(batch)
        # the j-th draw of a source in this batch is its position in that source's stream:
        # everything every rank drew in earlier iterations, plus the lower ranks' share of this one
        starts = {REAL_PART: self.world_size * real_before + self.rank * real,
                  GENERATED_PART: self.world_size * (batch * self.batch_size - real_before)
                  + self.rank * (self.batch_size - real)}
        keys = []
        for part, per_batch, size in ((REAL_PART, real, self.num_real),
                                      (GENERATED_PART, self.batch_size - real, self.num_generated)):
            for j in range(per_batch):
                position = starts[part] + j
                cycle, offset = divmod(position, size)
                index = int(_permutation(self.seed, part, cycle, size)[offset])
                draw_seed = int(np.random.SeedSequence([self.seed, global_batch, part, j]).generate_state(1)[0])
                keys.append((part, index, draw_seed))
        return keys

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        batch = self.start_batch
        while True:
            yield from self.batch_keys(batch)
            batch += 1

    def __len__(self) -> int:
        return self.num_real + self.num_generated

    def set_epoch(self, epoch: int) -> None:  # the stream is infinite; epochs do not exist here
        pass

    def describe(self) -> dict:
        return dict(type=type(self).__name__, batch_size=self.batch_size, ratio=self.ratio, schedule=self.schedule,
                    split=self.split, max_iters=self.max_iters,
                    real_per_batch=self.real_per_batch, generated_per_batch=self.generated_per_batch,
                    num_real=self.num_real, num_generated=self.num_generated, seed=self.seed,
                    rank=self.rank, world_size=self.world_size)


@lru_cache(maxsize=64)
def _permutation(seed: int, part: int, cycle: int, size: int) -> np.ndarray:
    return np.random.default_rng([seed, part, cycle]).permutation(size)
