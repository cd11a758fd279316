"""RandAugment and AutoAugment as mmseg pipeline transforms that keep labels consistent.

mmseg has neither. torchvision's versions change only the image, which for segmentation
would rotate/shear/translate the picture under a label map that stays put. Here every op
comes from `prove.strategies.ops`: photometric ops touch `img` only, geometric ops warp the
image and every label map in `seg_fields` with the same matrix (labels nearest, ignore fill).

Both transforms draw their randomness from `numpy.random` (no private generator), so the
per-worker seeding of mmengine's data loader makes them reproducible, and append what they
did to `results['aug_ops']` as `(op name, magnitude)` pairs, the evidence a run can log that
the augmentation really ran in the dataset that was built.

Place them after the geometric pipeline (RandomResize, RandomCrop, RandomFlip) and before
PackSegInputs, where `img` is an HxWxC uint8 BGR array.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from prove.compat import install

install()  # mmseg must not be imported before prove's compatibility shims

import cv2  # noqa: E402
import mmcv  # noqa: E402
from mmcv.transforms import BaseTransform  # noqa: E402
from mmseg.datasets.transforms import PhotoMetricDistortion  # noqa: E402
from mmseg.registry import TRANSFORMS  # noqa: E402

from prove.strategies.ops import LEVELS, OPS, RANDAUGMENT_OPS, apply_op, sample_magnitude  # noqa: E402

# AutoAugment's ImageNet policy (Cubuk et al. 2019), as torchvision's AutoAugmentPolicy.IMAGENET:
# 25 sub-policies of two (op, probability, magnitude level out of 10) steps.
AUTOAUGMENT_POLICIES: dict[str, tuple[tuple[tuple[str, float, int | None], ...], ...]] = {
    "imagenet": (
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
        (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
        (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
        (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
        (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
        (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
        (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
        (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
        (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
        (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
        (("ShearX", 0.6, 5), ("Equalize", 1.0, None)),
        (("Color", 0.4, 0), ("Equalize", 0.6, None)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    ),
}
AUTOAUGMENT_NUM_BINS = 10  # AutoAugment's magnitude levels are 0..9


def _record(results: dict, applied: list[tuple[str, float]]) -> dict:
    results["aug_ops"] = [*results.get("aug_ops", []), *applied]
    return results


@TRANSFORMS.register_module()
class SegRandAugment(BaseTransform):
    """RandAugment (Cubuk et al. 2020) for segmentation.

    Applies `num_ops` ops drawn uniformly (with replacement) from the RandAugment op set, all
    at the same magnitude level; signed ops get a random sign. Magnitude ranges are
    torchvision's (e.g. level 9 of 31: rotate 9 degrees, shear 0.09, translate 150/331 * 9/30
    of the image side, enhance factors 1 +- 0.27, posterize 7 bits, solarize at 178.5).

    Required Keys:
        - img
        - gt_seg_map (and every other key listed in seg_fields)
        - seg_fields

    Modified Keys:
        - img
        - gt_seg_map (and every other key in seg_fields; geometric ops only)

    Added Keys:
        - aug_ops: list of (op name, magnitude) applied, appended to if present

    Args:
        num_ops (int): Ops applied per image. Defaults to 2.
        magnitude (int): Magnitude level, 0 <= magnitude < num_magnitude_bins. Defaults to 9.
        num_magnitude_bins (int): Number of magnitude levels. Defaults to 31.
        ops (Sequence[str], optional): Restrict the op set to these names (default: all of
            RandAugment's 14 ops).
    """

    def __init__(self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31,
                 ops: Sequence[str] | None = None) -> None:
        super().__init__()
        if num_ops < 0:
            raise ValueError(f"SegRandAugment: num_ops must be >= 0, got {num_ops}")
        if not 0 <= magnitude < num_magnitude_bins:
            raise ValueError(f"SegRandAugment: magnitude must be in [0, {num_magnitude_bins}), got {magnitude}")
        chosen = tuple(ops) if ops is not None else RANDAUGMENT_OPS
        unknown = [name for name in chosen if name not in RANDAUGMENT_OPS]
        if unknown or not chosen:
            raise ValueError(f"SegRandAugment: ops must be a non-empty subset of {list(RANDAUGMENT_OPS)}, got {list(chosen)}")
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.num_magnitude_bins = num_magnitude_bins
        self.ops = chosen

    def transform(self, results: dict) -> dict:
        height, width = results["img"].shape[:2]
        applied = []
        for _ in range(self.num_ops):
            name = self.ops[np.random.randint(len(self.ops))]
            magnitude = sample_magnitude(name, self.magnitude, self.num_magnitude_bins, height, width)
            apply_op(results, name, magnitude)
            applied.append((name, magnitude))
        return _record(results, applied)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_ops={self.num_ops}, magnitude={self.magnitude}, "
                f"num_magnitude_bins={self.num_magnitude_bins}, ops={list(self.ops)})")


@TRANSFORMS.register_module()
class SegAutoAugment(BaseTransform):
    """AutoAugment (Cubuk et al. 2019) for segmentation, ImageNet policy.

    Picks one of the policy's 25 sub-policies uniformly; each of its two steps runs with its
    own probability at its fixed magnitude level (of 10), with a random sign for signed ops,
    exactly as torchvision's `AutoAugment(AutoAugmentPolicy.IMAGENET)`, except that geometric
    steps (Rotate, ShearX) also warp the labels.

    Required Keys:
        - img
        - gt_seg_map (and every other key listed in seg_fields)
        - seg_fields

    Modified Keys:
        - img
        - gt_seg_map (and every other key in seg_fields; geometric ops only)

    Added Keys:
        - aug_ops: list of (op name, magnitude) applied, appended to if present

    Args:
        policy (str): Name of the policy; only "imagenet" (the policy the study uses).
    """

    def __init__(self, policy: str = "imagenet") -> None:
        super().__init__()
        if policy not in AUTOAUGMENT_POLICIES:
            raise ValueError(f"SegAutoAugment: unknown policy {policy!r}; available: {sorted(AUTOAUGMENT_POLICIES)}")
        self.policy = policy
        self.sub_policies = AUTOAUGMENT_POLICIES[policy]

    def transform(self, results: dict) -> dict:
        height, width = results["img"].shape[:2]
        sub_policy = self.sub_policies[np.random.randint(len(self.sub_policies))]
        applied = []
        for name, prob, level in sub_policy:
            if np.random.rand() < prob:
                magnitude = sample_magnitude(name, level, AUTOAUGMENT_NUM_BINS, height, width)
                apply_op(results, name, magnitude)
                applied.append((name, magnitude))
        return _record(results, applied)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(policy={self.policy!r})"


@TRANSFORMS.register_module()
class LUTPhotoMetricDistortion(PhotoMetricDistortion):
    """mmseg's `PhotoMetricDistortion`, with each per-pixel step as a 256-entry lookup table.

    Brightness, contrast and saturation are `clip(v * alpha + beta)` in float32 per 8-bit
    level, and the hue shift is `(h + delta) % 180` per level: functions of the pixel's own
    value, so a table of their 256 values gives exactly mmseg's result while touching each
    pixel once as a byte instead of through float32 temporaries. Arguments, random draws (from
    `numpy.random`, in mmseg's order) and output are mmseg's; tests compare the two classes
    seed by seed on random images. Non-uint8 images take mmseg's own path.
    """

    def convert(self, img: np.ndarray, alpha: float = 1, beta: float = 0) -> np.ndarray:
        if img.dtype != np.uint8:
            return super().convert(img, alpha, beta)
        table = np.clip(LEVELS * alpha + beta, 0, 255).astype(np.uint8)
        return cv2.LUT(np.ascontiguousarray(img), table).reshape(img.shape)

    def hue(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            img = mmcv.bgr2hsv(img)
            delta = np.random.randint(-self.hue_delta, self.hue_delta)
            table = ((np.arange(256) + delta) % 180).astype(np.uint8)
            img[:, :, 0] = cv2.LUT(np.ascontiguousarray(img[:, :, 0]), table).reshape(img.shape[:2])
            img = mmcv.hsv2bgr(img)
        return img


__all__ = ["AUTOAUGMENT_POLICIES", "LUTPhotoMetricDistortion", "SegAutoAugment", "SegRandAugment", "OPS"]
