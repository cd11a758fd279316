"""SegRandAugment / SegAutoAugment: labels stay consistent with the image.

The fixture image is `PALETTE[label]`: every class has its own colour. After a geometric op
the label map and the image must still agree (colour == PALETTE[label]) wherever the label
is valid, away from region edges where bilinear interpolation blends neighbouring colours.
"""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

from prove.strategies import transforms  # noqa: F401  (registers the transforms)
from prove.strategies.ops import OPS, RANDAUGMENT_OPS, apply_op, sample_magnitude
from prove.strategies.transforms import AUTOAUGMENT_POLICIES
from mmseg.registry import TRANSFORMS  # after prove.strategies: compat shims are installed

H, W = 32, 48
PALETTE = np.random.default_rng(7).integers(30, 226, size=(256, 3)).astype(np.uint8)
GEOMETRIC = sorted(name for name, op in OPS.items() if op.geometric)
PHOTOMETRIC = sorted(name for name, op in OPS.items() if not op.geometric)
AUTOAUGMENT_IMAGENET_OPS = sorted({step[0] for sub in AUTOAUGMENT_POLICIES["imagenet"] for step in sub})


@pytest.fixture
def results() -> dict:
    """An mmseg results dict after LoadAnnotations: 8x8 blocks of classes, one ignore block,
    and the image drawn from the label by the palette."""
    label = np.random.default_rng(0).integers(0, 19, size=(H // 8, W // 8)).repeat(8, 0).repeat(8, 1)
    label = label.astype(np.uint8)
    label[:8, :8] = 255
    return dict(img=PALETTE[label], gt_seg_map=label, seg_fields=["gt_seg_map"], img_shape=(H, W), ori_shape=(H, W))


def seed(n: int) -> None:
    np.random.seed(n)
    random.seed(n)


CLASSES = np.array([*range(19), 255])
CODES = PALETTE[CLASSES].astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
assert len(set(CODES.tolist())) == len(CLASSES)


def assert_image_matches_label(out: dict) -> None:
    """Every pixel showing a pure class colour carries that class as its label.

    Bilinear interpolation blends colours only where a pixel's source neighbourhood spans
    two regions; a pure colour means the whole neighbourhood, and so the nearest label, is
    that class. A label shifted even by one pixel against the image fails at region edges.
    """
    img, label = out["img"], out["gt_seg_map"]
    codes = img.astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
    pure = np.isin(codes, CODES)
    assert pure.mean() > 0.3, "too few pure-colour pixels left to check"
    order = np.argsort(CODES)
    shown = CLASSES[order[np.searchsorted(CODES[order], codes[pure])]]
    mismatch = shown != label[pure]
    assert not mismatch.any(), f"{mismatch.sum()} pixels show one class and are labelled another"


def assert_shapes_kept(out: dict, ref: dict) -> None:
    for key in ("img", "gt_seg_map"):
        assert out[key].shape == ref[key].shape and out[key].dtype == ref[key].dtype


def replay(ref: dict, aug_ops: list, geometric_only: bool) -> dict:
    out = copy.deepcopy(ref)
    for name, magnitude in aug_ops:
        if OPS[name].geometric or not geometric_only:
            apply_op(out, name, magnitude)
    return out


def assert_consistent(out: dict, ref: dict) -> None:
    """Whatever ops ran: labels moved exactly as the geometric ops moved the image."""
    assert_shapes_kept(out, ref)
    if not any(OPS[name].geometric for name, _ in out["aug_ops"]):
        assert out["gt_seg_map"].tobytes() == ref["gt_seg_map"].tobytes()
    geometric = replay(ref, out["aug_ops"], geometric_only=True)
    assert_image_matches_label(geometric)
    np.testing.assert_array_equal(out["gt_seg_map"], geometric["gt_seg_map"])
    np.testing.assert_array_equal(out["img"], replay(ref, out["aug_ops"], geometric_only=False)["img"])


@pytest.mark.parametrize("name", sorted(OPS))
def test_op(results, name):
    ref = copy.deepcopy(results)
    magnitude = abs(sample_magnitude(name, 20, 31, H, W))
    apply_op(results, name, magnitude)
    assert_shapes_kept(results, ref)
    if name != "Identity":
        assert not np.array_equal(results["img"], ref["img"]), f"{name} left the image unchanged"
    if OPS[name].geometric:
        assert (results["gt_seg_map"] != ref["gt_seg_map"]).mean() > 0.02, "label did not move"
        assert_image_matches_label(results)
        assert (results["gt_seg_map"] == 255).sum() > (ref["gt_seg_map"] == 255).sum()  # fill is ignore
    else:
        assert results["gt_seg_map"].tobytes() == ref["gt_seg_map"].tobytes()


@pytest.mark.parametrize("name", GEOMETRIC)
def test_geometric_op_warps_every_seg_field(results, name):
    results["gt_extra"] = results["gt_seg_map"].astype(np.int64)  # a dtype cv2 cannot warp directly
    results["seg_fields"].append("gt_extra")
    apply_op(results, name, -abs(sample_magnitude(name, 15, 31, H, W)))
    assert results["gt_extra"].dtype == np.int64
    np.testing.assert_array_equal(results["gt_extra"], results["gt_seg_map"])


@pytest.mark.parametrize("name", PHOTOMETRIC)
def test_photometric_op_keeps_float_dtype(results, name):
    results["img"] = results["img"].astype(np.float32)
    apply_op(results, name, abs(sample_magnitude(name, 20, 31, H, W)))
    assert results["img"].dtype == np.float32 and results["img"].shape == (H, W, 3)


def test_photometric_formulas():
    img = np.array([[[0, 100, 200], [50, 128, 255]]], dtype=np.uint8)
    np.testing.assert_array_equal(OPS["Invert"].fn(img, 0), 255 - img)
    np.testing.assert_array_equal(OPS["Solarize"].fn(img, 128), np.where(img >= 128, 255 - img, img))
    np.testing.assert_array_equal(OPS["Posterize"].fn(img, 4), img & 0xF0)
    np.testing.assert_array_equal(OPS["Brightness"].fn(img, 0.5), np.clip(np.rint(img * 1.5), 0, 255))
    stretched = OPS["AutoContrast"].fn(img, 0)
    assert stretched[..., 0].min() == 0 and stretched[..., 0].max() >= 254  # PIL truncates 254.99999 to 254


def test_magnitude_ranges_follow_torchvision():
    seed(0)
    assert abs(sample_magnitude("Rotate", 9, 31, H, W)) == pytest.approx(9.0)
    assert abs(sample_magnitude("ShearX", 9, 31, H, W)) == pytest.approx(0.09)
    assert abs(sample_magnitude("TranslateX", 30, 31, H, W)) == pytest.approx(150 / 331 * W)
    assert abs(sample_magnitude("TranslateY", 30, 31, H, W)) == pytest.approx(150 / 331 * H)
    assert abs(sample_magnitude("Color", 9, 31, H, W)) == pytest.approx(0.27)
    assert sample_magnitude("Posterize", 9, 31, H, W) == 7
    assert sample_magnitude("Posterize", 8, 10, H, W) == 4
    assert sample_magnitude("Solarize", 9, 31, H, W) == pytest.approx(178.5)
    assert sample_magnitude("Equalize", None, 10, H, W) == 0.0
    signs = {np.sign(sample_magnitude("Rotate", 9, 31, H, W)) for _ in range(50)}
    assert signs == {-1.0, 1.0}
    assert sample_magnitude("Solarize", 9, 31, H, W) > 0  # unsigned ops never flip


@pytest.mark.parametrize("name", RANDAUGMENT_OPS)
def test_randaugment_runs_each_op(results, name):
    ref = copy.deepcopy(results)
    aug = TRANSFORMS.build(dict(type="SegRandAugment", num_ops=1, magnitude=20, ops=[name]))
    seed(1)
    out = aug(results)
    assert [op for op, _ in out["aug_ops"]] == [name]
    assert_consistent(out, ref)


@pytest.mark.parametrize("name", AUTOAUGMENT_IMAGENET_OPS)
def test_autoaugment_runs_each_op_of_the_policy(results, name):
    aug = TRANSFORMS.build(dict(type="SegAutoAugment", policy="imagenet"))
    for n in range(500):
        seed(n)
        out = aug(copy.deepcopy(results))
        if name in [op for op, _ in out["aug_ops"]]:
            break
    else:
        pytest.fail(f"{name} never applied in 500 draws")
    assert_consistent(out, results)


def test_autoaugment_policy_is_imagenet():
    policy = AUTOAUGMENT_POLICIES["imagenet"]
    assert len(policy) == 25 and all(len(sub) == 2 for sub in policy)
    assert AUTOAUGMENT_IMAGENET_OPS == sorted(
        ["AutoContrast", "Color", "Contrast", "Equalize", "Invert", "Posterize", "Rotate", "Sharpness", "ShearX", "Solarize"])
    assert set(AUTOAUGMENT_IMAGENET_OPS) <= set(OPS)


@pytest.mark.parametrize("cfg", [dict(type="SegRandAugment"), dict(type="SegAutoAugment")])
def test_seeded_runs_are_identical_and_consistent(results, cfg):
    aug = TRANSFORMS.build(cfg)
    for n in range(20):  # many draws: mixes of geometric and photometric ops
        seed(n)
        first = aug(copy.deepcopy(results))
        seed(n)
        second = aug(copy.deepcopy(results))
        assert first["aug_ops"] == second["aug_ops"]
        np.testing.assert_array_equal(first["img"], second["img"])
        np.testing.assert_array_equal(first["gt_seg_map"], second["gt_seg_map"])
        assert_consistent(first, results)


def test_randaugment_applies_num_ops_and_appends_record(results):
    seed(3)
    out = TRANSFORMS.build(dict(type="SegRandAugment", num_ops=3))(results)
    assert len(out["aug_ops"]) == 3
    out = TRANSFORMS.build(dict(type="SegAutoAugment"))(out)
    assert len(out["aug_ops"]) >= 3


def test_in_an_mmseg_pipeline(results):
    from mmcv.transforms import Compose

    pipeline = Compose([dict(type="SegRandAugment"), dict(type="SegAutoAugment"), dict(type="PackSegInputs")])
    seed(0)
    packed = pipeline(results)
    assert tuple(packed["inputs"].shape) == (3, H, W)
    assert tuple(packed["data_samples"].gt_sem_seg.data.shape) == (1, H, W)


@pytest.mark.parametrize("cfg", [
    dict(type="SegRandAugment", magnitude=31),
    dict(type="SegRandAugment", num_ops=-1),
    dict(type="SegRandAugment", ops=["Invert"]),
    dict(type="SegAutoAugment", policy="cifar10"),
])
def test_invalid_arguments(cfg):
    with pytest.raises(ValueError):
        TRANSFORMS.build(cfg)
