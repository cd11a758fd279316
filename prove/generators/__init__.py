"""Generators of the `gen_<method>` strategies: declared once in `GENERATORS`.

Offline generators (run here, no GPU): `albumentations_weather`, `physics_fog`,
`photometric_night`, and the `random_noise` control. The users' learned generators are
declared as external: their images come in through a manifest CSV
(`prove.data.manifest.load_manifest`). The modules below are the complete list.
"""

from prove.generators.base import FAMILIES, GENERATORS, Generator, get_generator
# Import order = registry order = order of the docs table.
from prove.generators import weather as _weather  # noqa: F401  (albumentations_weather)
from prove.generators import classical as _classical  # noqa: F401  (physics_fog, photometric_night)
from prove.generators import controls as _controls  # noqa: F401  (random_noise)
from prove.generators import external as _external  # noqa: F401  (the users' GAN/diffusion methods)
from prove.generators.run import generate

__all__ = ["FAMILIES", "GENERATORS", "Generator", "generate", "get_generator"]
