"""Classical generators written out here, so their physics is visible and testable.

- `physics_fog`: the atmospheric scattering model I = J*t + A*(1 - t), t = exp(-beta*d)
  (Koschmieder; the model Sakaridis et al. used to make Foggy Cityscapes). Without a depth
  map, depth d is a proxy: image rows (the horizon is far, the bottom of a road scene is
  near) blended with the smoothed dark channel (He et al.: bright dark channel = sky or
  distant haze). Crude but monotone in the right direction, and label-preserving.
- `photometric_night`: night and dawn/dusk by a camera-response gamma, a colour cast and
  sensor noise: the cheap baseline the learned night translators are compared against.
"""

from __future__ import annotations

import cv2
import numpy as np

from prove.generators.base import GENERATORS, Generator


def _depth_proxy(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    rows = np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None].repeat(w, axis=1)  # top = far
    k = max(3, (min(h, w) // 20) | 1)  # odd patch size, ~5% of the short side
    dark = cv2.erode(x.min(axis=2), np.ones((k, k), np.uint8))
    dark = cv2.GaussianBlur(dark, (0, 0), sigmaX=k)
    return np.clip(0.7 * rows + 0.3 * dark, 0.0, 1.0)


def physics_fog(image: np.ndarray, target: str, rng: np.random.Generator) -> np.ndarray:
    x = image.astype(np.float32) / 255.0
    beta = rng.uniform(1.5, 3.0)  # visibility roughly 150-300 m on a 0..1 depth scale
    airlight = rng.uniform(0.75, 0.9)
    t = np.exp(-beta * (0.15 + _depth_proxy(x)))[..., None]  # even the nearest pixel gets some fog
    out = x * t + airlight * (1.0 - t)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def photometric_night(image: np.ndarray, target: str, rng: np.random.Generator) -> np.ndarray:
    x = image.astype(np.float32) / 255.0
    if target == "night":
        gamma, gain, cast, noise = rng.uniform(2.0, 2.8), rng.uniform(0.5, 0.7), (0.75, 0.85, 1.0), 0.02
    else:
        gamma, gain, cast, noise = rng.uniform(1.3, 1.6), rng.uniform(0.8, 0.9), (1.0, 0.82, 0.62), 0.01
    out = gain * np.power(x, gamma) * np.asarray(cast, np.float32)
    out = out + rng.normal(0.0, noise, size=out.shape).astype(np.float32)  # low light = visible noise
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


GENERATORS.declare(Generator(
    "physics_fog",
    family="weather_simulation",
    description=("atmospheric scattering `I = J t + A (1 - t)`, `t = exp(-beta d)`, depth proxy from image rows and "
                 "the dark channel (denser towards the horizon)"),
    targets=("foggy",),
    fn=physics_fog,
))

GENERATORS.declare(Generator(
    "photometric_night",
    family="classical",
    description="gamma darkening, colour cast and sensor noise for night (blue) and dawn/dusk (warm)",
    targets=("night", "dawn_dusk"),
    fn=photometric_night,
))
