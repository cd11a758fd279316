"""`albumentations_weather`: albumentations' weather transforms, one per target domain.

| target     | transform                                                        |
|------------|------------------------------------------------------------------|
| foggy      | RandomFog (dense, whole image)                                   |
| rainy      | RandomRain (heavy streaks, blurred); darker and duller overall   |
| snowy      | RandomSnow (bleach) - brightens light surfaces                   |
| dawn_dusk  | RandomSunFlare in the upper half + warm (orange) tint, dimmed    |
| cloudy     | overcast: desaturated, flattened, dimmed + soft RandomShadow     |
| night      | darkened with a gamma curve and a blue cast + RandomShadow       |

Albumentations has no cloud or night transform, so those two are approximations built from
its shadow transform plus a photometric change; the table is the contract tests check.
"""

from __future__ import annotations

import os

import numpy as np

from prove.errors import MissingDependencyError
from prove.generators.base import GENERATORS, Generator


def _albumentations():
    # Imported lazily: it pulls torch (~2 s), and by default it asks PyPI for a newer
    # version on import, which a cluster node without internet would wait on.
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    try:
        import albumentations as A
    except ImportError as exc:  # pragma: no cover - albumentations is a dependency
        raise MissingDependencyError(
            f"generator 'albumentations_weather' needs albumentations: pip install 'albumentations>=2.0.8,<2.1' ({exc})"
        ) from None
    return A


def _transforms(A, target: str, height: int, width: int) -> list:
    short = min(height, width)
    if target == "foggy":
        return [A.RandomFog(fog_coef_range=(0.6, 0.9), alpha_coef=0.12, p=1.0)]
    if target == "rainy":
        return [A.RandomRain(rain_type="heavy", brightness_coefficient=0.65, blur_value=3, p=1.0)]
    if target == "snowy":
        return [A.RandomSnow(method="bleach", snow_point_range=(0.2, 0.4), brightness_coeff=2.0, p=1.0)]
    if target == "dawn_dusk":
        return [
            A.RandomSunFlare(
                flare_roi=(0.0, 0.0, 1.0, 0.5),
                src_radius=max(2, short // 3),
                src_color=(255, 190, 120),
                num_flare_circles_range=(3, 6),
                p=1.0,
            )
        ]
    # cloudy and night: soft shadows over the whole frame; the photometric part follows.
    return [A.RandomShadow(shadow_roi=(0.0, 0.0, 1.0, 1.0), shadow_intensity_range=(0.2, 0.4), p=1.0)]


def _tint(image: np.ndarray, target: str) -> np.ndarray:
    x = image.astype(np.float32) / 255.0
    if target == "dawn_dusk":
        x = x * np.array([1.05, 0.85, 0.65], np.float32) * 0.85  # warm, low sun
    elif target == "cloudy":
        gray = x.mean(axis=2, keepdims=True)
        x = 0.5 * x + 0.5 * gray  # overcast light washes colours out
        x = 0.75 * x + 0.08  # flat, dim light: less contrast, a little darker
    elif target == "night":
        x = np.power(x, 2.2) * np.array([0.7, 0.8, 1.0], np.float32)  # dark, bluish
    else:
        return image
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def albumentations_weather(image: np.ndarray, target: str, rng: np.random.Generator) -> np.ndarray:
    A = _albumentations()
    # A fixed seed per call makes albumentations' own sampling follow our rng.
    pipeline = A.Compose(_transforms(A, target, *image.shape[:2]), seed=int(rng.integers(2**31 - 1)))
    out = pipeline(image=np.ascontiguousarray(image))["image"]
    return _tint(out, target)


GENERATORS.declare(Generator(
    "albumentations_weather",
    family="weather_simulation",
    description=("albumentations per target: foggy -> RandomFog; rainy -> RandomRain (heavy); snowy -> RandomSnow "
                 "(bleach); dawn_dusk -> RandomSunFlare + warm tint; cloudy -> RandomShadow + desaturated, flattened "
                 "light; night -> RandomShadow + gamma darkening with a blue cast"),
    fn=albumentations_weather,
))
