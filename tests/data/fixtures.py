"""Builders of tiny dataset trees in each real dataset's official layout.

Each builder writes 32x16 images and labels with known raw ids under `root` and returns a
`FixtureTree`: the sample names an adapter must list per split, the exact train-id map each
label must load as (written out by hand here, not computed with the adapters' tables), and
each sample's domain. `FIXTURES` maps every real adapter's canonical name to its builder; a
test fails when a registered real adapter has none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image

W, H = 32, 16
BAND = 4  # label patterns are 8 vertical bands of 4 columns
I = 255  # ignore


@dataclass
class FixtureTree:
    root: Path
    samples: dict[str, list[str]]  # split -> sorted sample names
    labels: dict[str, np.ndarray]  # sample name -> expected (H, W) train ids
    domains: dict[str, str | None]  # sample name -> expected domain
    kwargs: dict = field(default_factory=dict)  # extra adapter constructor arguments
    extra: dict = field(default_factory=dict)  # builder-specific facts for targeted tests


# -- writers --------------------------------------------------------------------------------
def write_image(path: Path, seed: int) -> Path:
    """A small RGB image (PNG or JPEG by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img), path
    return path


def write_index_png(path: Path, ids: np.ndarray, palette: bool = False) -> Path:
    """An index PNG whose stored values are `ids` (greyscale, or palette mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = np.asarray(ids, dtype=np.uint8)
    if palette:
        img = Image.fromarray(ids, mode="P")
        # colours deliberately unrelated to the indices: reading RGB would give wrong ids
        rng = np.random.default_rng(7)
        img.putpalette(rng.integers(0, 256, size=768, dtype=np.uint8).tolist())
    else:
        img = Image.fromarray(ids, mode="L")
    img.save(path)
    return path


def bands(values: list[int], shift: int = 0) -> np.ndarray:
    """(H, W) map of 8 vertical bands holding `values`, rotated by `shift` bands."""
    assert len(values) == W // BAND
    row = np.repeat(np.roll(np.asarray(values, dtype=np.uint8), shift), BAND)
    return np.tile(row, (H, 1))


def _sorted(samples: dict[str, list[str]]) -> dict[str, list[str]]:
    return {split: sorted(names) for split, names in samples.items()}


# -- Cityscapes -----------------------------------------------------------------------------
CS_TRAIN_RAW = [0, 5, 18, 255, 19, 200, 10, 13]
CS_TRAIN_EXP = [0, 5, 18, I, I, I, 10, 13]
CS_LABELID_RAW = [7, 8, 26, 33, 0, 9, 24, 23]  # road sidewalk car bicycle unlabeled parking person sky
CS_LABELID_EXP = [0, 1, 13, 18, I, I, 11, 10]


def build_cityscapes(root: Path) -> FixtureTree:
    files = {
        "train": [("aachen", "aachen_000000_000019", "train"), ("aachen", "aachen_000001_000019", "ids"),
                  ("bochum", "bochum_000000_000313", "train")],
        "val": [("frankfurt", "frankfurt_000000_000294", "ids"), ("frankfurt", "frankfurt_000000_000576", "train")],
    }
    samples: dict[str, list[str]] = {}
    labels, domains = {}, {}
    for split, entries in files.items():
        for i, (city, stem, kind) in enumerate(entries):
            name = f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png"
            write_image(root / name, seed=i)
            gt = root / "gtFine" / split / city
            if kind == "train":
                write_index_png(gt / f"{stem}_gtFine_labelTrainIds.png", bands(CS_TRAIN_RAW, i))
                # a labelIds file too: labelTrainIds must win
                write_index_png(gt / f"{stem}_gtFine_labelIds.png", bands([1] * 8))
                labels[name] = bands(CS_TRAIN_EXP, i)
            else:
                write_index_png(gt / f"{stem}_gtFine_labelIds.png", bands(CS_LABELID_RAW, i))
                labels[name] = bands(CS_LABELID_EXP, i)
            write_image(gt / f"{stem}_gtFine_color.png", seed=99)  # never a label
            samples.setdefault(split, []).append(name)
            domains[name] = None
    write_image(root / "leftImg8bit/test/berlin/berlin_000000_000019_leftImg8bit.png", seed=5)
    return FixtureTree(root, _sorted(samples), labels, domains)


# -- ACDC -----------------------------------------------------------------------------------
ACDC_RAW = [0, 1, 8, 10, 13, 255, 19, 11]
ACDC_EXP = [0, 1, 8, 10, 13, I, I, 11]


def build_acdc(root: Path) -> FixtureTree:
    """ACDC's layout. `labels` are the default (`invalid_pixels="count"`: labels as they are);
    `extra["labels_ignore"]` are the labels under `invalid_pixels="ignore"`."""
    layout = {
        "train": {"fog": ["GOPR0475_frame_000041", "GOPR0475_frame_000042"], "night": ["GOPR0351_frame_000159"],
                  "rain": ["GOPR0400_frame_000100"], "snow": ["GOPR0122_frame_000200"]},
        "val": {"fog": ["GOPR0476_frame_000001"], "night": ["GOPR0594_frame_000010"]},
    }
    domain_of = {"fog": "foggy", "night": "night", "rain": "rainy", "snow": "snowy"}
    samples: dict[str, list[str]] = {}
    labels, labels_ignore, domains = {}, {}, {}
    invalid_name = None
    k = 0
    for split, conds in layout.items():
        for cond, stems in conds.items():
            seq = stems[0].split("_")[0]
            for stem in stems:
                name = f"rgb_anon/{cond}/{split}/{seq}/{stem}_rgb_anon.png"
                write_image(root / name, seed=k)
                gt = root / "gt" / cond / split / seq
                write_index_png(gt / f"{stem}_gt_labelTrainIds.png", bands(ACDC_RAW, k))
                write_image(gt / f"{stem}_gt_labelColor.png", seed=98)  # never a label
                labels[name] = bands(ACDC_EXP, k)
                labels_ignore[name] = labels[name]
                if invalid_name is None:  # first sample: invalid top-left quarter
                    inv = np.zeros((H, W), np.uint8)
                    inv[: H // 2, : W // 2] = 1
                    write_index_png(gt / f"{stem}_gt_invIds.png", inv)
                    labels_ignore[name] = labels[name].copy()
                    labels_ignore[name][: H // 2, : W // 2] = I
                    invalid_name = name
                else:
                    write_index_png(gt / f"{stem}_gt_invIds.png", np.zeros((H, W), np.uint8))
                domains[name] = domain_of[cond]
                samples.setdefault(split, []).append(name)
                k += 1
    # unlabelled clear-weather reference images (`{split}_ref`, `*_rgb_ref_anon.png`) and the
    # test split: never listed
    write_image(root / "rgb_anon/fog/train_ref/GOPR0475/GOPR0475_frame_000041_rgb_ref_anon.png", seed=50)
    write_image(root / "rgb_anon/night/val_ref/GOPR0594/GOPR0594_frame_000010_rgb_ref_anon.png", seed=52)
    write_image(root / "rgb_anon/fog/test/GOPR0477/GOPR0477_frame_000001_rgb_anon.png", seed=51)
    return FixtureTree(root, _sorted(samples), labels, domains,
                       extra={"invalid_sample": invalid_name, "labels_ignore": labels_ignore})


# -- BDD10k ---------------------------------------------------------------------------------
BDD_RAW = [0, 18, 255, 19, 100, 13, 2, 10]
BDD_EXP = [0, 18, I, I, I, 13, 2, 10]


def _bdd_entry(name: str, weather: str, timeofday: str) -> dict:
    return {"name": name, "attributes": {"weather": weather, "scene": "city street", "timeofday": timeofday},
            "timestamp": 10000, "labels": [{"category": "car", "box2d": {"x1": 1, "y1": 2, "x2": 3, "y2": 4}}]}


def _write_bdd_split(root: Path, image_dir: str, mask_path: Callable[[str, str], str],
                     stems: dict[str, list[str]]) -> tuple[dict, dict]:
    """Images and masks of a BDD10k tree; returns (split -> sample names, name -> expected label)."""
    samples: dict[str, list[str]] = {}
    labels = {}
    for split, names in stems.items():
        for i, stem in enumerate(names):
            name = f"{image_dir}/{split}/{stem}.jpg"
            write_image(root / name, seed=i)
            write_index_png(root / mask_path(split, stem), bands(BDD_RAW, i))
            labels[name] = bands(BDD_EXP, i)
            samples.setdefault(split, []).append(name)
    return samples, labels


def build_bdd10k(root: Path) -> FixtureTree:
    """The current BDD10k layout (images/10k, labels/sem_seg/masks), with the known gaps of the
    release: an image without a mask (bdd100k issue #103, skipped), a 10K train image that only
    the 100K *val* attribute JSON lists (issue #132), and timeofday `undefined` (no domain)."""
    names = {"train": ["0a0a0b1a-7c39d841", "0a0b16e2-93f8c456", "0a0c3694-4cc8b0e3", "0a0eaeaf-9ad0a6a9",
                       "0a0f1cb2-cba6bab9"],
             "val": ["7d06fefd-f7be05a6", "7d128593-0ccfea4c"]}
    samples, labels = _write_bdd_split(root, "images/10k", lambda split, stem: f"labels/sem_seg/masks/{split}/{stem}.png",
                                       names)
    for split, stems in names.items():
        for stem in stems:
            write_image(root / f"labels/sem_seg/colormaps/{split}/{stem}.png", seed=9)  # never read
    maskless = "images/10k/train/78ac84ba-07bd30c2.jpg"  # in the 10K zip without a mask (issue #103)
    write_image(root / maskless, seed=4)
    t0, t1, t2, t3, t4 = (f"{s}.jpg" for s in names["train"])
    v0, _ = (f"{s}.jpg" for s in names["val"])
    # det_20 names t0 (night beats weather), t1 and t4 (timeofday undefined: no domain); the 2018
    # train JSON names t1 again (det_20 wins) and t2 (undefined); the 2018 val JSON names v0 and
    # the 10K *train* image t3 (issue #132)
    (root / "labels/det_20").mkdir(parents=True, exist_ok=True)
    (root / "labels/det_20/det_train.json").write_text(json.dumps(
        [_bdd_entry(t0, "clear", "night"), _bdd_entry(t1, "partly cloudy", "daytime"),
         _bdd_entry(t4, "clear", "undefined"), _bdd_entry("ffffffff-00000000.jpg", "snowy", "daytime")]))
    (root / "labels/bdd100k_labels_images_train.json").write_text(json.dumps(
        [_bdd_entry(t1, "rainy", "daytime"), _bdd_entry(t2, "undefined", "undefined")], indent=2))
    (root / "labels/bdd100k_labels_images_val.json").write_text(json.dumps(
        [_bdd_entry(v0, "foggy", "dawn/dusk"), _bdd_entry(t3, "rainy", "daytime")]))
    domains = {
        f"images/10k/train/{t0}": "night",
        f"images/10k/train/{t1}": "cloudy",
        f"images/10k/train/{t2}": None,
        f"images/10k/train/{t3}": "rainy",
        f"images/10k/train/{t4}": None,
        f"images/10k/val/{v0}": "dawn_dusk",
        f"images/10k/val/{names['val'][1]}.jpg": None,
    }
    write_image(root / "images/10k/test/ac517380-00000000.jpg", seed=3)  # unlabelled split
    return FixtureTree(root, _sorted(samples), labels, domains,
                       extra={"skipped": {"train": [maskless], "val": []}, "tagged": {"train": (3, 5), "val": (1, 2)}})


def build_bdd10k_2018(root: Path) -> FixtureTree:
    """The original 2018 BDD10k release (`bdd100k_seg.zip` extracted into the root):
    bdd100k/seg/images/{split}/*.jpg, bdd100k/seg/labels/{split}/*_train_id.png,
    bdd100k/seg/color_labels/{split}/*_train_color.png; 2018 attribute JSONs in bdd100k/labels."""
    names = {"train": ["0a0a0b1a-7c39d841", "0a0b16e2-93f8c456"], "val": ["7d2f7975-e0c1c5a7"]}
    seg = "bdd100k/seg"
    samples, labels = _write_bdd_split(root, f"{seg}/images", lambda split, stem: f"{seg}/labels/{split}/{stem}_train_id.png",
                                       names)
    for split, stems in names.items():
        for stem in stems:
            write_image(root / f"{seg}/color_labels/{split}/{stem}_train_color.png", seed=9)  # never read
    write_image(root / f"{seg}/images/test/ac6d4f42-00000000.jpg", seed=3)  # unlabelled split
    t0, t1 = (f"{s}.jpg" for s in names["train"])
    (root / "bdd100k/labels").mkdir(parents=True, exist_ok=True)
    (root / "bdd100k/labels/bdd100k_labels_images_train.json").write_text(json.dumps(
        [_bdd_entry(t0, "snowy", "daytime")]))
    (root / "bdd100k/labels/bdd100k_labels_images_val.json").write_text(json.dumps(
        [_bdd_entry(t1, "overcast", "dawn/dusk")]))  # a train image in the val JSON (issue #132)
    domains = {f"{seg}/images/train/{t0}": "snowy", f"{seg}/images/train/{t1}": "dawn_dusk",
               f"{seg}/images/val/{names['val'][0]}.jpg": None}
    return FixtureTree(root, _sorted(samples), labels, domains)


# -- IDD-AW ---------------------------------------------------------------------------------
def _rect(x0: int, y0: int, x1: int, y1: int) -> list[list[int]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def iddaw_polygons(unknown_label: str | None = None) -> tuple[dict, np.ndarray]:
    """An IDD polygon JSON and the train-id map it must rasterise to.

    With `unknown_label`, an object of that (unknown) label is added; it must be skipped.
    """
    objects = [
        {"label": "sky", "polygon": _rect(0, 0, 31, 15), "deleted": 1},  # deleted: skipped
        {"label": "road", "polygon": _rect(0, 8, 31, 15), "deleted": 0},
        {"label": "car", "polygon": _rect(4, 10, 11, 13)},  # on top of road
        {"label": "persongroup", "polygon": _rect(14, 2, 15, 5)},  # 'group' suffix -> person
        {"label": "non-drivable fallback", "polygon": _rect(20, 0, 23, 3)},  # -> terrain
        {"label": "autorickshaw", "polygon": _rect(24, 9, 27, 12)},  # no Cityscapes class: 255 over road
        {"label": "pole", "polygon": [[0, 0], [5, 5]]},  # < 3 points: skipped
        {"label": "vegetation", "polygon": [[28, 0], [31, 0], [31, 3]]},  # triangle
    ]
    if unknown_label:
        objects.append({"label": unknown_label, "polygon": _rect(0, 0, 3, 3)})  # skipped
    exp = np.full((H, W), I, np.uint8)
    exp[8:16, 0:32] = 0
    exp[10:14, 4:12] = 13
    exp[2:6, 14:16] = 11
    exp[0:4, 20:24] = 9
    exp[9:13, 24:28] = I
    for y in range(4):  # triangle (28,0)-(31,0)-(31,3): x >= 28 + y
        exp[y, 28 + y: 32] = 8
    return {"imgHeight": H, "imgWidth": W, "objects": objects}, exp


def build_iddaw(root: Path) -> FixtureTree:
    layout = {"train": {"FOG": ("100", ["000001", "000002"]), "LOWLIGHT": ("7", ["000010"])},
              "val": {"RAIN": ("12", ["000005"]), "SNOW": ("3", ["000020"])}}
    domain_of = {"FOG": "foggy", "RAIN": "rainy", "LOWLIGHT": "night", "SNOW": "snowy"}
    payload, expected = iddaw_polygons()
    samples: dict[str, list[str]] = {}
    labels, domains = {}, {}
    raster_name = None
    for split, conds in layout.items():
        for cond, (seq, frames) in conds.items():
            for i, frame in enumerate(frames):
                name = f"{split}/{cond}/rgb/{seq}/{frame}_rgb.png"
                write_image(root / name, seed=i)
                write_image(root / f"{split}/{cond}/nir/{seq}/{frame}_nir.png", seed=i + 10)
                gt = root / split / cond / "gtSeg" / seq
                gt.mkdir(parents=True, exist_ok=True)
                (gt / f"{frame}_mask.json").write_text(json.dumps(payload))
                if raster_name is None and split == "val":  # a pre-rasterised label wins
                    raster = bands([0, 1, 2, 3, 4, 5, 255, 30])
                    write_index_png(gt / f"{frame}_labelcsTrainIds.png", raster)
                    labels[name] = bands([0, 1, 2, 3, 4, 5, I, I])
                    raster_name = name
                else:
                    labels[name] = expected
                samples.setdefault(split, []).append(name)
                domains[name] = domain_of[cond]
    return FixtureTree(root, _sorted(samples), labels, domains, extra={"raster_sample": raster_name})


# -- Mapillary Vistas -----------------------------------------------------------------------
# v1.2: road, lane marking general, curb, crosswalk zebra, pole, on rails, bicyclist, unlabeled
MVD12_RAW = [13, 24, 2, 23, 45, 58, 20, 65]
MVD12_EXP = [0, 0, 1, I, 5, 16, 12, I]
# v2.0: road, solid line, crosswalk zebra, garage, upright traffic light, sign back, person group, unlabeled
MVD20_RAW = [21, 36, 45, 28, 92, 97, 31, 123]
MVD20_EXP = [0, 0, I, 2, 6, I, 11, I]


def build_mapillary(root: Path) -> FixtureTree:
    keys = {"train": ["--0jWDSwXOosJV0Tn6JqhQ", "-1zK8nN8XW3hdbhJkOfkkw", "0035fkbjWljhaftpVM37-g"],
            "val": ["0ILCc3cvU76s3qCC5DaE9A", "0RR4uXe1dIGGp2uLsGGcpA"]}
    split_dir = {"train": "training", "val": "validation"}
    samples: dict[str, list[str]] = {}
    labels, labels_v20, domains = {}, {}, {}
    for split, ks in keys.items():
        for i, key in enumerate(ks):
            base = root / split_dir[split]
            name = f"{split_dir[split]}/images/{key}.jpg"
            write_image(root / name, seed=i)
            write_index_png(base / "v1.2/labels" / f"{key}.png", bands(MVD12_RAW, i), palette=True)
            write_index_png(base / "v2.0/labels" / f"{key}.png", bands(MVD20_RAW, i), palette=True)
            write_image(base / "v1.2/panoptic" / f"{key}.png", seed=8)  # never read
            labels[name] = bands(MVD12_EXP, i)
            labels_v20[name] = bands(MVD20_EXP, i)
            samples.setdefault(split, []).append(name)
            domains[name] = None
    return FixtureTree(root, _sorted(samples), labels, domains, extra={"labels_v2.0": labels_v20})


# -- OUTSIDE15k -----------------------------------------------------------------------------
# road, grass, vehicle, unlabeled, water, street light, sign, out of range
O15_RAW = [13, 7, 22, 0, 23, 18, 16, 30]
O15_EXP = [0, 8, 13, I, I, 5, 7, I]


def build_outside15k(root: Path) -> FixtureTree:
    """training.odgt in the OUTSIDE15k authors' form (one JSON array, read with `json.load` by
    carhartt21/outsideNet dataset.py), validation.odgt in the ADE20K form (one object per line)."""
    lists = {"train": ("training.odgt", "training", ["c_0003", "a_0001", "b_0002"], "array"),
             "val": ("validation.odgt", "validation", ["v_0001"], "lines")}
    samples: dict[str, list[str]] = {}
    labels, domains = {}, {}
    for split, (list_name, folder, stems, form) in lists.items():
        records = []
        for i, stem in enumerate(stems):  # listed unsorted on purpose
            name = f"images/{folder}/{stem}.jpg"
            segm = f"annotations/{folder}/{stem}.png"
            write_image(root / name, seed=i)
            write_index_png(root / segm, bands(O15_RAW, i))
            records.append({"fpath_img": name, "fpath_segm": segm, "width": W, "height": H})
            labels[name] = bands(O15_EXP, i)
            samples.setdefault(split, []).append(name)
            domains[name] = None
        if form == "array":
            (root / list_name).write_text(json.dumps(records, indent=4))
        else:
            (root / list_name).write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return FixtureTree(root, _sorted(samples), labels, domains)


FIXTURES: dict[str, Callable[[Path], FixtureTree]] = {
    "cityscapes": build_cityscapes,
    "acdc": build_acdc,
    "bdd10k": build_bdd10k,
    "iddaw": build_iddaw,
    "mapillary": build_mapillary,
    "outside15k": build_outside15k,
}


# -- a generic tiny dataset for tests of manifests, provenance and generators -----------------
from prove.data.base import DATASETS, DatasetAdapter, Sample  # noqa: E402


class TinyAdapter(DatasetAdapter):
    """images/<split>/<domain>/<stem>.(png|jpg) + labels/<split>/<domain>/<stem>.png; the domain
    is the folder name (`none`: an untagged image, whose domain may come from a CSV)."""

    name = "tiny"
    splits = ("train", "val")
    has_domains = True

    def list_samples(self, split):
        images = self.root / "images"
        return [Sample(self.relative_name(p), p, (self.root / "labels" / p.relative_to(images)).with_suffix(".png"),
                       None if p.parent.name == "none" else p.parent.name)
                for p in sorted((images / split).rglob("*")) if p.suffix in (".png", ".jpg")]

    def load_label(self, sample):
        return np.asarray(Image.open(sample.label))


def tiny_dataset(name: str, splits: tuple[str, ...] = ("train",), aliases: tuple[str, ...] = ()) -> type[TinyAdapter]:
    """A TinyAdapter registered under `name` (once: importlib mode may import a test twice)."""
    if name not in DATASETS:
        DATASETS.declare(type(f"Tiny_{name.replace('-', '_')}", (TinyAdapter,),
                              dict(name=name, splits=splits, aliases=aliases,
                                   description=f"a tiny test dataset ({name})")))
    return DATASETS.get(name)
