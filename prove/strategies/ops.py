"""The image operations of AutoAugment and RandAugment, made safe for segmentation.

One table (`OPS`) serves both `SegAutoAugment` and `SegRandAugment`: each op is either
*photometric* (changes pixel values of `img` only; labels untouched) or *geometric* (an
affine warp). A geometric op applies the SAME 2x3 matrix to the image (bilinear, fill 0, as
torchvision fills) and to every label map listed in `results['seg_fields']` (nearest, fill
255 = ignore, so pixels that enter from outside the image are never trained on).

Semantics and magnitude ranges follow torchvision's `transforms.autoaugment` (which follows
PIL): the same formulas, the same `[0, num_bins)` magnitude levels, the same random sign for
signed ops. Images are HxW or HxWxC arrays with values in [0, 255]; mmcv loads them as BGR,
which matters only for the grayscale weights used by Color and Contrast.

Randomness (the sign of signed ops) comes from `numpy.random`'s global state, so a data
loader worker seeded by mmengine makes every sample reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

IMG_FILL = 0  # torchvision's default fill for pixels entering from outside the image
SEG_FILL = 255  # the ignore index: warped-in label pixels must not count in the loss

# mmcv decodes images as BGR; ITU-R 601 luma weights in that order (PIL's convert("L")).
_LUMA_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)


# --- photometric ops: uint8 image in, uint8 image out ---------------------------------------
#
# Every op that is a function of each pixel's own value (per channel) is computed once for the
# 256 levels and applied as a lookup table (`cv2.LUT`); the others work in float32 in place.
# Both give exactly the formulas' results: the table holds the formula's value for each level,
# and in-place float32 arithmetic rounds as the expression would. On a 512x512 crop the
# tables made AutoContrast 15x, Equalize 4x and Sharpness 10x faster (docs/performance.md);
# tests/strategies/test_ops_reference.py checks each op against PIL's ImageOps (where PIL
# defines the op exactly) and against the plain numpy formula, on random images.

LEVELS_U8 = np.arange(256, dtype=np.uint8)
LEVELS = LEVELS_U8.astype(np.float32)


def _channels(img: np.ndarray) -> int:
    return 1 if img.ndim == 2 else img.shape[2]


def _apply_lut(img: np.ndarray, table: np.ndarray) -> np.ndarray:
    """`table[img]` per channel: `table` is (256,) for every channel or (256, C), one per channel."""
    table = np.ascontiguousarray(table, dtype=np.uint8)
    channels = _channels(img)
    if table.ndim == 2 and channels == 1:
        table = table[:, 0]
    if table.ndim == 1 or channels in (3, 4):  # cv2.LUT takes one table or one per channel (up to 4)
        lut = table if table.ndim == 1 else table.reshape(256, 1, channels)
        out = cv2.LUT(np.ascontiguousarray(img), lut)
        return out.reshape(img.shape)
    return np.stack([table[:, c][img[..., c]] for c in range(channels)], axis=-1)


def _histograms(img: np.ndarray) -> np.ndarray:
    """(256, C) int64 pixel counts per channel."""
    img = np.ascontiguousarray(img)
    return np.stack([cv2.calcHist([img], [c], None, [256], [0, 256]).reshape(256) for c in range(_channels(img))],
                    axis=1).astype(np.int64)  # float32 counts are exact below 2**24 pixels


def _round_clip(out: np.ndarray) -> np.ndarray:
    np.rint(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _blend(img: np.ndarray, degenerate: np.ndarray | float, factor: float) -> np.ndarray:
    """PIL's ImageEnhance: factor 0 gives `degenerate`, 1 the image, >1 extrapolates.

    `factor * img + (1 - factor) * degenerate` in float32, rounded and clipped to uint8. A
    scalar `degenerate` makes it a per-level function (a table); an array is owned and
    overwritten here (callers pass a fresh one).
    """
    if np.ndim(degenerate) == 0:
        return _apply_lut(img, _blend_float(LEVELS.copy(), degenerate, factor))
    return _blend_float(img.astype(np.float32), degenerate, factor)


def _blend_float(out: np.ndarray, degenerate: np.ndarray | float, factor: float) -> np.ndarray:
    out *= factor
    other = np.asarray(degenerate, dtype=np.float32)
    other *= 1.0 - factor
    out += other
    return _round_clip(out)


def _grayscale(img: np.ndarray) -> np.ndarray:
    """Luma as float32, broadcastable against `img`."""
    if img.ndim == 2 or img.shape[2] != 3:
        return img.astype(np.float32)
    return (img.astype(np.float32) @ _LUMA_BGR)[..., None]


def identity(img: np.ndarray, magnitude: float) -> np.ndarray:
    return img


def autocontrast(img: np.ndarray, magnitude: float) -> np.ndarray:
    """Stretch each channel to [0, 255]; constant channels stay as they are.

    PIL's ImageOps.autocontrast (cutoff 0) exactly: level v maps to int(v * s - lo * s) with
    s = 255 / (hi - lo) in float64, truncated and clipped.
    """
    hist = _histograms(img)
    occupied = hist > 0
    low = np.argmax(occupied, axis=0)  # first occupied level per channel
    high = 255 - np.argmax(occupied[::-1], axis=0)
    table = np.repeat(LEVELS_U8[:, None], hist.shape[1], axis=1)
    for c in np.flatnonzero(high > low):
        scale = 255.0 / (high[c] - low[c])
        stretched = np.arange(256, dtype=np.float64) * scale + (-low[c] * scale)
        table[:, c] = np.clip(np.trunc(stretched), 0, 255).astype(np.uint8)
    return _apply_lut(img, table)


def _equalize_table(hist: np.ndarray) -> np.ndarray:
    # PIL's ImageOps.equalize: a LUT from the cumulative histogram, leaving out the last
    # occupied bin so the brightest level maps to 255.
    nonzero = hist[hist > 0]
    step = (nonzero.sum() - nonzero[-1]) // 255
    if step == 0:
        return LEVELS_U8
    lut = (np.cumsum(hist) + step // 2) // step
    return np.clip(np.concatenate([[0], lut[:-1]]), 0, 255).astype(np.uint8)


def equalize(img: np.ndarray, magnitude: float) -> np.ndarray:
    hist = _histograms(img)
    return _apply_lut(img, np.stack([_equalize_table(hist[:, c]) for c in range(hist.shape[1])], axis=1))


def invert(img: np.ndarray, magnitude: float) -> np.ndarray:
    return 255 - img


def solarize(img: np.ndarray, magnitude: float) -> np.ndarray:
    """Invert every pixel at or above the threshold `magnitude`."""
    return _apply_lut(img, np.where(LEVELS_U8 >= magnitude, 255 - LEVELS_U8, LEVELS_U8))


def posterize(img: np.ndarray, magnitude: float) -> np.ndarray:
    """Keep the `magnitude` most significant bits of each channel."""
    bits = int(magnitude)
    return img & np.uint8((0xFF << (8 - bits)) & 0xFF)


def color(img: np.ndarray, magnitude: float) -> np.ndarray:
    """Saturation: blend with the grayscale image by factor 1 + magnitude."""
    return _blend(img, _grayscale(img), 1.0 + magnitude)


def contrast(img: np.ndarray, magnitude: float) -> np.ndarray:
    """Blend with the mean gray level by factor 1 + magnitude."""
    return _blend(img, float(_grayscale(img).mean()), 1.0 + magnitude)


def brightness(img: np.ndarray, magnitude: float) -> np.ndarray:
    """Blend with black by factor 1 + magnitude."""
    return _blend(img, 0.0, 1.0 + magnitude)


_SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=np.float32) / 13.0


def sharpness(img: np.ndarray, magnitude: float) -> np.ndarray:
    """Blend with PIL's SMOOTH-filtered image (borders unfiltered) by factor 1 + magnitude."""
    smooth = cv2.filter2D(img.astype(np.float32), -1, _SMOOTH, borderType=cv2.BORDER_REFLECT).reshape(img.shape)
    np.rint(smooth, out=smooth)
    for edge in (np.s_[0], np.s_[-1], np.s_[:, 0], np.s_[:, -1]):  # PIL leaves the border as it is
        smooth[edge] = img[edge]
    return _blend(img, smooth, 1.0 + magnitude)


# --- geometric ops: a 2x3 forward affine matrix (output = M @ [x, y, 1]) ------------------

def shear_x(magnitude: float, height: int, width: int) -> np.ndarray:
    # about the top-left corner, as torchvision does (center=[0, 0])
    return np.array([[1.0, magnitude, 0.0], [0.0, 1.0, 0.0]])


def shear_y(magnitude: float, height: int, width: int) -> np.ndarray:
    return np.array([[1.0, 0.0, 0.0], [magnitude, 1.0, 0.0]])


def translate_x(magnitude: float, height: int, width: int) -> np.ndarray:
    return np.array([[1.0, 0.0, float(int(magnitude))], [0.0, 1.0, 0.0]])  # whole pixels, as torchvision


def translate_y(magnitude: float, height: int, width: int) -> np.ndarray:
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, float(int(magnitude))]])


def rotate(magnitude: float, height: int, width: int) -> np.ndarray:
    """Counter-clockwise by `magnitude` degrees about the image centre."""
    return cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), magnitude, 1.0)


def _warp_dtype(array: np.ndarray) -> type:
    if np.issubdtype(array.dtype, np.integer) and (array.size == 0 or array.min() >= 0):
        top = array.max() if array.size else 0
        for dtype in (np.uint8, np.uint16):
            if top <= np.iinfo(dtype).max:
                return dtype
    return np.float32  # exact for ids below 2**24


def _warp(array: np.ndarray, matrix: np.ndarray, interpolation: int, fill: float) -> np.ndarray:
    height, width = array.shape[:2]
    source = array
    if array.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        # e.g. int64 label maps: through the smallest integer type their ids fit, since OpenCV 5's
        # nearest-neighbour paths for float32 and uint16 can pick another source pixel than the
        # uint8 path does at ties, and every seg field must move exactly as gt_seg_map (uint8)
        source = array.astype(_warp_dtype(array))
    out = cv2.warpAffine(source, matrix.astype(np.float64), (width, height), flags=interpolation,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(fill,) * 4)
    return out.reshape(array.shape).astype(array.dtype, copy=False)  # cv2 drops a trailing 1-channel axis


def warp_results(results: dict, matrix: np.ndarray) -> None:
    """Apply one affine warp to `img` (bilinear) and to every seg field (nearest, ignore fill)."""
    results["img"] = _warp(results["img"], matrix, cv2.INTER_LINEAR, IMG_FILL)
    for key in results.get("seg_fields", []):
        results[key] = _warp(results[key], matrix, cv2.INTER_NEAREST, SEG_FILL)


# --- the op table ---------------------------------------------------------------------------

Bins = Callable[[int, int, int], np.ndarray]  # (num_bins, height, width) -> magnitude per level


@dataclass(frozen=True)
class Op:
    """One augmentation op.

    `fn`: photometric `(uint8 img, magnitude) -> uint8 img`, or geometric
    `(magnitude, height, width) -> 2x3 matrix`. `bins`: the magnitude of each level (None: the
    op takes no magnitude). `signed`: the magnitude is negated with probability 1/2.
    """

    name: str
    fn: Callable
    geometric: bool = False
    bins: Bins | None = None
    signed: bool = False


def _linspace(stop: float) -> Bins:
    return lambda n, h, w: np.linspace(0.0, stop, n)


OPS: dict[str, Op] = {op.name: op for op in (
    Op("Identity", identity),
    Op("AutoContrast", autocontrast),
    Op("Equalize", equalize),
    Op("Invert", invert),
    Op("Solarize", solarize, bins=lambda n, h, w: np.linspace(255.0, 0.0, n)),
    Op("Posterize", posterize, bins=lambda n, h, w: 8 - np.round(np.arange(n) / ((n - 1) / 4)).astype(int)),
    Op("Color", color, bins=_linspace(0.9), signed=True),
    Op("Contrast", contrast, bins=_linspace(0.9), signed=True),
    Op("Brightness", brightness, bins=_linspace(0.9), signed=True),
    Op("Sharpness", sharpness, bins=_linspace(0.9), signed=True),
    Op("Rotate", rotate, geometric=True, bins=_linspace(30.0), signed=True),
    Op("ShearX", shear_x, geometric=True, bins=_linspace(0.3), signed=True),
    Op("ShearY", shear_y, geometric=True, bins=_linspace(0.3), signed=True),
    Op("TranslateX", translate_x, geometric=True, bins=lambda n, h, w: np.linspace(0.0, 150.0 / 331.0 * w, n),
       signed=True),
    Op("TranslateY", translate_y, geometric=True, bins=lambda n, h, w: np.linspace(0.0, 150.0 / 331.0 * h, n),
       signed=True),
)}

# RandAugment's op set (Cubuk et al. 2020, as torchvision's RandAugment): no Invert.
RANDAUGMENT_OPS: tuple[str, ...] = (
    "Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
    "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize",
)


def sample_magnitude(name: str, level: int | None, num_bins: int, height: int, width: int) -> float:
    """The magnitude of op `name` at `level` for an image of this size, with a random sign
    for signed ops (drawn from `numpy.random`)."""
    op = OPS[name]
    if op.bins is None or level is None:
        return 0.0
    magnitude = float(op.bins(num_bins, height, width)[level])
    if op.signed and np.random.randint(2):
        magnitude = -magnitude
    return magnitude


def apply_op(results: dict, name: str, magnitude: float) -> None:
    """Apply op `name` to an mmseg results dict in place (image and labels kept consistent)."""
    op = OPS[name]
    img = results["img"]
    if op.geometric:
        warp_results(results, op.fn(magnitude, img.shape[0], img.shape[1]))
        return
    # The ops are defined on 8-bit levels (posterize, equalize, solarize thresholds); other
    # dtypes (float after an earlier photometric transform) round-trip through uint8.
    as_uint8 = img if img.dtype == np.uint8 else np.clip(np.rint(img), 0, 255).astype(np.uint8)
    out = op.fn(as_uint8, magnitude)
    results["img"] = out if img.dtype == np.uint8 else out.astype(img.dtype)


__all__ = ["LEVELS", "LEVELS_U8", "OPS", "Op", "RANDAUGMENT_OPS", "SEG_FILL", "IMG_FILL", "apply_op", "sample_magnitude",
           "warp_results"]
