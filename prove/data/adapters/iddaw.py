"""IDD-AW (India Driving Dataset - Adverse Weather) in its official layout.

    {train,val}/{FOG,RAIN,LOWLIGHT,SNOW}/rgb/{seq}/{frame}_rgb.png
    {train,val}/{FOG,RAIN,LOWLIGHT,SNOW}/nir/{seq}/{frame}_nir.png          (not used)
    {train,val}/{FOG,RAIN,LOWLIGHT,SNOW}/gtSeg/{seq}/{frame}_mask.json      (IDD polygons)

The condition is the folder: FOG -> foggy, RAIN -> rainy, LOWLIGHT -> night, SNOW -> snowy.

Labels are IDD polygon JSONs, `{imgHeight, imgWidth, objects: [{label, polygon, deleted?}]}`,
rasterised here exactly like the IDD toolkit's `createLabelImage` (AutoNUE/public-code,
preperation/json2labelImg.py, reading the JSON with helpers/annotation.py) with encoding
`csTrainId`: a Pillow "L" image filled with the csTrainId of `unlabeled` (255); objects in
file order, later ones on top; objects with a truthy `deleted` and polygons with fewer than 3
points skipped; a label that is not in the table but ends with `group` loses the suffix
(`cargroup` -> `car`); a label still unknown is skipped (the toolkit prints "Label ... not
known" and goes on; here one warning per label and process); each polygon filled with
`PIL.ImageDraw.Draw.polygon(points, fill=csTrainId)` on the JSON's vertices as they are
(floats, no rounding), which is what decides the boundary pixels. Labels are matched as
written (no case folding or trimming), as the toolkit does.

Already-rasterised labels: if `gtSeg/{seq}/{frame}_labelcsTrainIds.png` exists (the IDD
toolkit's naming for `--id-type csTrainId`, values already Cityscapes train ids), it wins over
the JSON: it is what the user deliberately produced and it is cheaper to read. Level-3 id PNGs
(e.g. `{frame}_label.png`) are NOT used, because level-3 ids do not map one-to-one to
Cityscapes train ids (level 3 merges e.g. person+animal, pole+polegroup, sky+fallback
background).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from prove.data.adapters._common import (
    TRAIN_ID_PASSTHROUGH,
    labelled_samples,
    map_ids,
    read_index_png,
    require_dir,
    require_images,
    sorted_dirs,
)
from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.errors import ProveError

# IDD label name -> (id, csTrainId), from the IDD / AutoNUE toolkit label table
# (https://github.com/AutoNUE/public-code, helpers/anue_labels.py: fields name, id, csId,
# csTrainId, level4Id, level3Id, ...). csTrainId 255 = no Cityscapes train class.
IDD_LABELS: tuple[tuple[str, int, int], ...] = (
    ("road", 0, 0),
    ("parking", 1, 255),
    ("drivable fallback", 2, 255),
    ("sidewalk", 3, 1),
    ("rail track", 4, 255),
    ("non-drivable fallback", 5, 9),
    ("person", 6, 11),
    ("animal", 7, 255),
    ("rider", 8, 12),
    ("motorcycle", 9, 17),
    ("bicycle", 10, 18),
    ("autorickshaw", 11, 255),
    ("car", 12, 13),
    ("truck", 13, 14),
    ("bus", 14, 15),
    ("caravan", 15, 255),
    ("trailer", 16, 255),
    ("train", 17, 16),
    ("vehicle fallback", 18, 255),
    ("curb", 19, 255),
    ("wall", 20, 3),
    ("fence", 21, 4),
    ("guard rail", 22, 255),
    ("billboard", 23, 255),
    ("traffic sign", 24, 7),
    ("traffic light", 25, 6),
    ("pole", 26, 5),
    ("polegroup", 27, 255),
    ("obs-str-bar-fallback", 28, 255),
    ("building", 29, 2),
    ("bridge", 30, 255),
    ("tunnel", 31, 255),
    ("vegetation", 32, 8),
    ("sky", 33, 10),
    ("fallback background", 34, 255),
    ("unlabeled", 35, 255),
    ("ego vehicle", 36, 255),
    ("rectification border", 37, 255),
    ("out of roi", 38, 255),
    ("license plate", 39, 255),
)
NAME_TO_CS_TRAIN_ID: dict[str, int] = {name: cs for name, _, cs in IDD_LABELS}
BACKGROUND = NAME_TO_CS_TRAIN_ID["unlabeled"]
_WARNED: set[str] = set()  # unknown labels already reported in this process

CONDITIONS: dict[str, str] = {"FOG": "foggy", "RAIN": "rainy", "LOWLIGHT": "night", "SNOW": "snowy"}
IMAGE_SUFFIXES = ("_rgb.png", "_rgb.jpg")
JSON_SUFFIX = "_mask.json"
RASTER_SUFFIX = "_labelcsTrainIds.png"

LAYOUT = (
    "  {train,val}/{FOG,RAIN,LOWLIGHT,SNOW}/rgb/{seq}/*_rgb.png\n"
    "  {train,val}/{FOG,RAIN,LOWLIGHT,SNOW}/gtSeg/{seq}/*_mask.json  "
    "(or *_labelcsTrainIds.png)"
)


def resolve_label_name(label: str) -> str | None:
    """The IDD table name for a polygon label, following the toolkit's 'group' rule
    (createLabelImage: strip `group` from a label that is not in `name2label`)."""
    if label not in NAME_TO_CS_TRAIN_ID and label.endswith("group"):
        label = label[: -len("group")]
    return label if label in NAME_TO_CS_TRAIN_ID else None


def read_idd_json(path: Path) -> tuple[int, int, list[dict]]:
    """(height, width, objects) of an IDD polygon JSON, as helpers/annotation.py reads it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        height, width = int(data["imgHeight"]), int(data["imgWidth"])
        objects = list(data["objects"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ProveError(f"{path}: not an IDD polygon JSON ({err})") from None
    return height, width, objects


def _polygon(obj: dict, path: Path, index: int) -> list[tuple]:
    """The object's vertices as (x, y) pairs exactly as stored, floats unrounded (annotation.py:
    `Point(p[0], p[1])`)."""
    if not isinstance(obj, dict):
        raise ProveError(f"{path}: object {index} is not a JSON object with 'label' and 'polygon'")
    try:
        return [(p[0], p[1]) for p in obj.get("polygon") or []]
    except (TypeError, IndexError, KeyError):
        raise ProveError(f"{path}: object {index} ({obj.get('label')!r}) has a malformed polygon; "
                         f"expected a list of [x, y] points") from None


def rasterize_idd_json(path: Path) -> np.ndarray:
    """(H, W) uint8 Cityscapes train-id map of an IDD polygon JSON, drawn as the IDD toolkit
    draws it (see the module docstring)."""
    height, width, objects = read_idd_json(path)
    image = Image.new("L", (width, height), BACKGROUND)
    drawer = ImageDraw.Draw(image)
    unknown: set[str] = set()
    for index, obj in enumerate(objects):
        polygon = _polygon(obj, path, index)
        if obj.get("deleted") or len(polygon) < 3:
            continue
        label = str(obj.get("label", ""))
        name = resolve_label_name(label)
        if name is None:
            unknown.add(label)
            continue
        # (the toolkit also skips labels with a negative id; no IDD label has one)
        try:
            drawer.polygon(polygon, fill=NAME_TO_CS_TRAIN_ID[name])
        except (TypeError, ValueError) as err:
            raise ProveError(f"{path}: object {index} ({label!r}) cannot be drawn: {err}; expected "
                             f"[x, y] points with numeric coordinates") from None
    _warn_unknown(path, unknown)
    return np.array(image, dtype=np.uint8)


def _warn_unknown(path: Path, labels: set[str]) -> None:
    new = labels - _WARNED
    if new:
        _WARNED.update(new)
        warnings.warn(
            f"{path}: unknown IDD label(s) skipped (reported once per process): {', '.join(sorted(new))}",
            stacklevel=3,
        )


@DATASETS.declare
class IDDAW(DatasetAdapter):
    name = "iddaw"
    title = "IDD-AW"
    domains_from = "condition folder"
    splits = ("train", "val")
    has_domains = True
    scale = (1920, 1080)  # native (W, H)
    description = (
        "IDD-AW, IDD polygons rasterised to Cityscapes train ids (IDD toolkit csTrainId); "
        "domain from the condition folder (FOG/RAIN/LOWLIGHT/SNOW)."
    )

    def list_samples(self, split: str) -> list[Sample]:
        split_dir = require_dir(self.root / split, self.name, LAYOUT)
        conditions = [d for d in sorted_dirs(split_dir) if d.name.upper() in CONDITIONS]
        if not conditions:
            raise ProveError(
                f"dataset {self.name!r}: {split_dir} has none of the condition folders "
                f"{', '.join(CONDITIONS)}. Expected layout under the data root:\n{LAYOUT}"
            )

        def found():
            for cond_dir in conditions:
                rgb_root = require_dir(cond_dir / "rgb", self.name, LAYOUT)
                gt_root = cond_dir / "gtSeg"
                domain = CONDITIONS[cond_dir.name.upper()]
                for seq in sorted_dirs(rgb_root):
                    for image in sorted(seq.iterdir(), key=lambda p: p.name):
                        suffix = next((s for s in IMAGE_SUFFIXES if image.name.endswith(s)), None)
                        if suffix is None or not image.is_file():
                            continue
                        frame = image.name[: -len(suffix)]
                        raster = gt_root / seq.name / f"{frame}{RASTER_SUFFIX}"
                        polygons = gt_root / seq.name / f"{frame}{JSON_SUFFIX}"
                        yield image, raster if raster.is_file() else polygons, domain, None

        samples = labelled_samples(self, split, found(), accepted=f"*{JSON_SUFFIX} or *{RASTER_SUFFIX} in gtSeg/{{seq}}")
        if not samples:
            others = [p for c in conditions for p in (c / "rgb").glob("*/*") if p.is_file()]
            if others:
                raise ProveError(
                    f"dataset {self.name!r} split {split!r}: {len(others)} file(s) under rgb/ "
                    f"(e.g. {others[0]}) but none named *_rgb.png. Expected layout under the "
                    f"data root:\n{LAYOUT}"
                )
        where = " and ".join(f"{c / 'rgb'}/{{seq}}/*{IMAGE_SUFFIXES[0]}" for c in conditions)
        return require_images(samples, self.name, split, where, LAYOUT)

    def load_label(self, sample: Sample) -> np.ndarray:
        assert sample.label is not None
        if sample.label.suffix == ".json":
            return rasterize_idd_json(sample.label)
        return map_ids(read_index_png(sample.label), TRAIN_ID_PASSTHROUGH)


