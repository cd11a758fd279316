"""What a generator is: a declared name, a family, and (for offline ones) an image function.

Generated-image strategies (`gen_<method>`) name a generator. Most of the users' generators
are large image-to-image models run elsewhere (GANs, diffusion editors); prove only knows
their names and families, so analyses can group by family and a misspelled method is an
error, and their images come in through a manifest CSV. A few cheap, classical generators
run here (`offline`), so the whole pipeline can be exercised without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from prove.data.domains import ADVERSE_DOMAINS, DOMAINS
from prove.errors import ProveError
from prove.registry import Registry

# Families used by analyses ("family summaries"). `external` is for a user's own method
# whose kind prove does not know.
FAMILIES: tuple[str, ...] = ("weather_simulation", "control", "classical", "gan", "diffusion", "external")

# (RGB uint8 image, target domain, seeded rng) -> RGB uint8 image of the same size.
ImageFn = Callable[[np.ndarray, str, np.random.Generator], np.ndarray]

MANIFEST_HINT = (
    "run it yourself and supply its output as a manifest CSV with the columns "
    "gen_path,original_path,name,domain,dataset,target_domain (see docs/generated-images.md)"
)


@dataclass(frozen=True)
class Generator:
    """One declared generator. Exactly one of `fn` (offline) or `external=True` is set."""

    name: str
    family: str
    description: str
    fn: ImageFn | None = field(default=None, repr=False, compare=False)
    external: bool = False
    # Weathers the generator can aim for; an offline generator refuses the others.
    targets: tuple[str, ...] = ADVERSE_DOMAINS
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Declarations are code, so these are programming errors, not user errors.
        if self.family not in FAMILIES:
            raise ValueError(f"generator {self.name!r}: family {self.family!r} not in {FAMILIES}")
        if (self.fn is None) != self.external:
            raise ValueError(f"generator {self.name!r}: give an image function or external=True, not both/neither")
        unknown = set(self.targets) - set(DOMAINS)
        if unknown:
            raise ValueError(f"generator {self.name!r}: unknown target domains {sorted(unknown)}")

    @property
    def offline(self) -> bool:
        return self.fn is not None

    def check_target(self, target_domain: str) -> str:
        if target_domain not in self.targets:
            raise ProveError(
                f"generator {self.name!r} cannot aim for domain {target_domain!r}; "
                f"accepted: {', '.join(self.targets)}"
            )
        return target_domain

    def __call__(
        self, image: np.ndarray, target_domain: str | None = None, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Generate one image. Without a target, one of `targets` is drawn from `rng`."""
        if self.fn is None:
            raise ProveError(f"generator {self.name!r} is external and cannot run inside prove: {MANIFEST_HINT}")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ProveError(
                f"generator {self.name!r} needs an RGB uint8 image (H, W, 3); got {image.dtype} {image.shape}"
            )
        rng = rng if rng is not None else np.random.default_rng(0)
        target = self.check_target(target_domain) if target_domain else str(rng.choice(self.targets))
        out = self.fn(image, target, rng)
        # Labels are reused pixel for pixel, so a size change would silently misalign them.
        if out.shape != image.shape or out.dtype != np.uint8:
            raise RuntimeError(
                f"generator {self.name!r} returned {out.dtype} {out.shape} for input {image.shape}; "
                "generated images must keep the original size"
            )
        return out


# Declared with `GENERATORS.declare(Generator(...))`: `fn=` for an offline generator,
# `external=True` for one whose images arrive through a manifest.
GENERATORS: Registry[Generator] = Registry("generator")


def get_generator(name: str | Generator) -> Generator:
    """The generator for any accepted spelling (`CycleGAN`, `cyclegan`, `cycle-gan`)."""
    return name if isinstance(name, Generator) else GENERATORS.get(name)
