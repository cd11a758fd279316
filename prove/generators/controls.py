"""Control generators: they keep the labels but carry no image information.

`random_noise` is the users' `gen_random_noise` control: if a gen_<method> strategy does no
better than training with noise images under the same labels and ratio, its gain comes from
the changed batch composition, not from the generated content.
"""

from __future__ import annotations

import numpy as np

from prove.data.domains import DOMAINS
from prove.generators.base import GENERATORS, Generator


def random_noise(image: np.ndarray, target: str, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=image.shape, dtype=np.uint8)


GENERATORS.declare(Generator(
    "random_noise",
    family="control",
    description="uniform noise in 0..255 per pixel and channel; labels kept (control)",
    targets=DOMAINS,  # the target is only a tag here; noise looks the same for every one
    fn=random_noise,
))
