"""The real/generated batch sampler: every batch has exactly k = round_half_up(B * ratio) real
images and B - k generated ones, each source cycled forever in a seeded order.

The stream is a pure function of (seed, rank, batch number): batch b of rank r is global batch
`b * world + r`; the j-th real draw overall is position `g * k + j` in the real stream, whose
cycle `c = pos // n` is a permutation seeded by (seed, source, c). Nothing depends on what
was drawn before, so a resumed run starts at its batch with `set_start(iteration)` instead of
replaying the data (which MMEngine's loop would do), and every draw carries its own seed for
the augmentation of that sample.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterator

import numpy as np
from mmengine.dist import get_dist_info

from prove.compat import install

install()

from mmseg.registry import DATA_SAMPLERS  # noqa: E402

from prove.errors import ProveError  # noqa: E402

REAL_PART, GENERATED_PART = 0, 1


def real_per_batch(batch_size: int, ratio: float) -> int:
    """round(batch_size * ratio), halves rounded up (Python's round() would round 2.5 to 2)."""
    return int(math.floor(batch_size * ratio + 0.5))


@DATA_SAMPLERS.register_module()
class RealGeneratedSampler:
    """Yields `(part, index, seed)` keys for `MixedSourceDataset`, batch-aligned."""

    def __init__(self, dataset, batch_size: int, ratio: float, seed: int | None = None):
        self.batch_size = int(batch_size)
        self.ratio = float(ratio)
        self.seed = int(seed or 0)
        self.rank, self.world_size = get_dist_info()
        self.num_real, self.num_generated = dataset.num_real, dataset.num_generated
        self.real_per_batch = real_per_batch(self.batch_size, self.ratio)
        self.generated_per_batch = self.batch_size - self.real_per_batch
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

    def batch_keys(self, batch: int) -> list[tuple[int, int, int]]:
        global_batch = batch * self.world_size + self.rank
        keys = []
        for part, per_batch, size in ((REAL_PART, self.real_per_batch, self.num_real),
                                      (GENERATED_PART, self.generated_per_batch, self.num_generated)):
            for j in range(per_batch):
                position = global_batch * per_batch + j
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
        return dict(type=type(self).__name__, batch_size=self.batch_size, ratio=self.ratio,
                    real_per_batch=self.real_per_batch, generated_per_batch=self.generated_per_batch,
                    num_real=self.num_real, num_generated=self.num_generated, seed=self.seed,
                    rank=self.rank, world_size=self.world_size)


@lru_cache(maxsize=64)
def _permutation(seed: int, part: int, cycle: int, size: int) -> np.ndarray:
    return np.random.default_rng([seed, part, cycle]).permutation(size)
