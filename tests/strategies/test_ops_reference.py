"""The fast photometric ops equal their references on random images.

- AutoContrast, Equalize, Solarize, Posterize, Invert: PIL's ImageOps, exactly.
- Brightness, Contrast, Color, Sharpness: the plain numpy formula they implement (written out
  here), exactly; and PIL's ImageEnhance within one level (PIL rounds an integer luma).
- LUTPhotoMetricDistortion: mmseg's own PhotoMetricDistortion, seed by seed, for the
  parameters of every strategy that uses it.
- map_ids by cv2.LUT: numpy's `table[raw]`.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from prove.strategies import STANDARD
from prove.strategies import transforms  # noqa: F401  (registers the transforms)
from prove.strategies.ops import OPS
from mmseg.registry import TRANSFORMS  # after prove.strategies: compat shims are installed

RNG = np.random.default_rng(20261201)


def random_images(count: int = 24):
    """Colour and grey images of random sizes: full-range noise, a narrow range, flat channels,
    a smooth picture, and a non-contiguous (flipped) view as RandomFlip leaves it."""
    for i in range(count):
        h, w = (int(x) for x in RNG.integers(1, 80, 2))
        kind = i % 5
        shape = (h, w) if i % 3 == 2 else (h, w, 3)
        if kind == 0:
            img = RNG.integers(0, 256, shape, dtype=np.uint8)
        elif kind == 1:
            lo = int(RNG.integers(0, 200))
            img = RNG.integers(lo, lo + 50, shape, dtype=np.uint8)
        elif kind == 2:
            img = np.full(shape, RNG.integers(0, 256), np.uint8)
            if img.ndim == 3:
                img[..., 1] = RNG.integers(0, 256, (h, w))
        elif kind == 3:
            img = cv2.GaussianBlur(RNG.integers(0, 256, shape, dtype=np.uint8), (5, 5), 0).reshape(shape)
        else:
            img = RNG.integers(0, 256, shape, dtype=np.uint8)[:, ::-1]
        yield img


def to_pil(img: np.ndarray) -> Image.Image:
    """PIL's view of a BGR image (RGB), or of a grey one."""
    return Image.fromarray(np.ascontiguousarray(img[..., ::-1] if img.ndim == 3 else img))


def from_pil(image: Image.Image) -> np.ndarray:
    arr = np.asarray(image)
    return arr[..., ::-1] if arr.ndim == 3 else arr


PIL_EXACT = {
    "AutoContrast": (lambda pil, m: ImageOps.autocontrast(pil), lambda: 0.0),
    "Equalize": (lambda pil, m: ImageOps.equalize(pil), lambda: 0.0),
    "Solarize": (lambda pil, m: ImageOps.solarize(pil, m), lambda: float(RNG.integers(0, 256))),
    "Posterize": (lambda pil, m: ImageOps.posterize(pil, int(m)), lambda: float(RNG.integers(1, 9))),
    "Invert": (lambda pil, m: ImageOps.invert(pil), lambda: 0.0),
}


@pytest.mark.parametrize("name", sorted(PIL_EXACT))
def test_op_equals_pil_imageops(name):
    pil_op, magnitude = PIL_EXACT[name]
    for img in random_images():
        m = magnitude()
        out = OPS[name].fn(img.copy(), m)
        expected = from_pil(pil_op(to_pil(img), m))
        assert out.dtype == np.uint8 and out.shape == img.shape
        np.testing.assert_array_equal(out, expected, err_msg=f"{name} at {m} on {img.shape}")


# -- the blend ops: the formula, written out plainly -----------------------------------------
LUMA_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)
SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=np.float32) / 13.0


def blend(img, degenerate, factor):
    out = factor * img.astype(np.float32) + (1.0 - factor) * np.asarray(degenerate, dtype=np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def grey(img):
    return img.astype(np.float32) if img.ndim == 2 else (img.astype(np.float32) @ LUMA_BGR)[..., None]


def smoothed(img):
    smooth = np.rint(cv2.filter2D(img.astype(np.float32), -1, SMOOTH, borderType=cv2.BORDER_REFLECT)).reshape(img.shape)
    degenerate = img.astype(np.float32)
    degenerate[1:-1, 1:-1] = smooth[1:-1, 1:-1]
    return degenerate


FORMULAS = {
    "Brightness": (lambda img, m: blend(img, 0.0, 1.0 + m), ImageEnhance.Brightness),
    "Contrast": (lambda img, m: blend(img, float(grey(img).mean()), 1.0 + m), ImageEnhance.Contrast),
    "Color": (lambda img, m: blend(img, grey(img), 1.0 + m), ImageEnhance.Color),
    "Sharpness": (lambda img, m: blend(img, smoothed(img), 1.0 + m), ImageEnhance.Sharpness),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_blend_op_equals_its_formula_and_is_within_one_level_of_pil(name):
    formula, enhancer = FORMULAS[name]
    for img in random_images():
        m = float(RNG.uniform(-0.9, 0.9))
        out = OPS[name].fn(img.copy(), m)
        np.testing.assert_array_equal(out, formula(img, m), err_msg=f"{name} at {m} on {img.shape}")
        if name in ("Color", "Contrast") and img.ndim == 2:
            continue  # PIL's Color/Contrast of a grey image go through its own "L" rounding only
        pil = from_pil(enhancer(to_pil(img)).enhance(1.0 + m)).astype(int)
        assert np.abs(pil - out.astype(int)).max() <= 1, f"{name} at {m} on {img.shape}"


def test_ops_keep_the_input_unchanged():
    for img in random_images(10):
        before = img.copy()
        for name, op in OPS.items():
            if not op.geometric:
                op.fn(img, 0.5 if name not in ("Posterize", "Solarize") else 4.0)
        np.testing.assert_array_equal(img, before)


# -- PhotoMetricDistortion: mmseg's own class is the reference --------------------------------
PMD_STRATEGIES = [name for name in STANDARD.names()
                  if any(t["type"] == "LUTPhotoMetricDistortion" for t in STANDARD.get(name).transforms)]


@pytest.mark.parametrize("strategy", PMD_STRATEGIES)
def test_lut_photometric_distortion_equals_mmseg_seed_by_seed(strategy):
    (cfg,) = [t for t in STANDARD.get(strategy).transforms if t["type"] == "LUTPhotoMetricDistortion"]
    ours = TRANSFORMS.build(copy.deepcopy(cfg))
    mmseg = TRANSFORMS.build({**copy.deepcopy(cfg), "type": "PhotoMetricDistortion"})
    assert type(mmseg).__module__.startswith("mmseg.")
    for seed, img in enumerate(random_images(60)):
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        np.random.seed(seed)
        expected = mmseg(dict(img=img.copy()))["img"]
        state = np.random.get_state()[1].copy()
        np.random.seed(seed)
        out = ours(dict(img=img.copy()))["img"]
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out, expected, err_msg=f"seed {seed}, {img.shape}")
        np.testing.assert_array_equal(np.random.get_state()[1], state)  # the same draws, in order


def test_map_ids_by_lut_equals_numpy_indexing():
    from prove.data.adapters._common import map_ids

    table = RNG.integers(0, 256, 256, dtype=np.uint8)
    for img in random_images(12):
        raw = img if img.ndim == 2 else img[..., 0]
        np.testing.assert_array_equal(map_ids(raw, table), table[raw])
