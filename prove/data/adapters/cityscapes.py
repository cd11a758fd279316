"""Cityscapes in its official layout.

    leftImg8bit/{train,val}/{city}/{stem}_leftImg8bit.png
    gtFine/{train,val}/{city}/{stem}_gtFine_labelTrainIds.png   (preferred)
    gtFine/{train,val}/{city}/{stem}_gtFine_labelIds.png        (fallback, mapped here)

The official download ships `labelIds`; `labelTrainIds` are normally generated with
cityscapesScripts' `createTrainIdLabelImgs.py`. When they are absent, `labelIds` are mapped to
train ids with the official table below, so no preprocessing step is required.

Cityscapes does not tag weather: `has_domains` is False and domains come from a user CSV.
"""

from __future__ import annotations


import numpy as np

from prove.data.adapters._common import (
    TRAIN_ID_PASSTHROUGH,
    first_file,
    labelled_samples,
    map_ids,
    read_index_png,
    require_dir,
    require_images,
    sorted_dirs,
    sorted_files,
)
from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.data.labels import lookup_table

# (name, labelId, trainId) from the official cityscapesScripts table:
# https://github.com/mcordts/cityscapesScripts/blob/master/cityscapesscripts/helpers/labels.py
# (`labels` list; trainId 255 = ignored in training/eval; 'license plate' has id -1 and never
# appears in labelIds images).
CITYSCAPES_LABELS: tuple[tuple[str, int, int], ...] = (
    ("unlabeled", 0, 255),
    ("ego vehicle", 1, 255),
    ("rectification border", 2, 255),
    ("out of roi", 3, 255),
    ("static", 4, 255),
    ("dynamic", 5, 255),
    ("ground", 6, 255),
    ("road", 7, 0),
    ("sidewalk", 8, 1),
    ("parking", 9, 255),
    ("rail track", 10, 255),
    ("building", 11, 2),
    ("wall", 12, 3),
    ("fence", 13, 4),
    ("guard rail", 14, 255),
    ("bridge", 15, 255),
    ("tunnel", 16, 255),
    ("pole", 17, 5),
    ("polegroup", 18, 255),
    ("traffic light", 19, 6),
    ("traffic sign", 20, 7),
    ("vegetation", 21, 8),
    ("terrain", 22, 9),
    ("sky", 23, 10),
    ("person", 24, 11),
    ("rider", 25, 12),
    ("car", 26, 13),
    ("truck", 27, 14),
    ("bus", 28, 15),
    ("caravan", 29, 255),
    ("trailer", 30, 255),
    ("train", 31, 16),
    ("motorcycle", 32, 17),
    ("bicycle", 33, 18),
)
LABEL_ID_TO_TRAIN_ID: dict[int, int] = {lid: tid for _, lid, tid in CITYSCAPES_LABELS if tid != 255}
LABEL_ID_TABLE: np.ndarray = lookup_table(LABEL_ID_TO_TRAIN_ID)

IMAGE_SUFFIX = "_leftImg8bit.png"
TRAIN_ID_SUFFIX = "_gtFine_labelTrainIds.png"
LABEL_ID_SUFFIX = "_gtFine_labelIds.png"

LAYOUT = (
    "  leftImg8bit/{train,val}/{city}/*_leftImg8bit.png\n"
    "  gtFine/{train,val}/{city}/*_gtFine_labelTrainIds.png  (or *_gtFine_labelIds.png)"
)


@DATASETS.declare
class Cityscapes(DatasetAdapter):
    name = "cityscapes"
    title = "Cityscapes"
    domains_from = "CSV"
    splits = ("train", "val")
    has_domains = False
    description = (
        "Cityscapes (gtFine), 19 train classes; labelIds mapped with the cityscapesScripts "
        "table when labelTrainIds are absent. No weather tags (domains from a CSV)."
    )

    def list_samples(self, split: str) -> list[Sample]:
        images_root = require_dir(self.root / "leftImg8bit", self.name, LAYOUT)
        labels_root = require_dir(self.root / "gtFine", self.name, LAYOUT)
        split_dir = require_dir(images_root / split, self.name, LAYOUT)

        def found():
            for city in sorted_dirs(split_dir):
                gt_dir = labels_root / split / city.name
                for image in sorted_files(city, f"*{IMAGE_SUFFIX}"):
                    stem = image.name[: -len(IMAGE_SUFFIX)]
                    label = first_file(gt_dir / f"{stem}{TRAIN_ID_SUFFIX}", gt_dir / f"{stem}{LABEL_ID_SUFFIX}")
                    yield image, label, None, None

        samples = labelled_samples(self, split, found(), accepted=f"*{TRAIN_ID_SUFFIX} or *{LABEL_ID_SUFFIX}")
        return require_images(samples, self.name, split, f"{split_dir}/{{city}}/*{IMAGE_SUFFIX}", LAYOUT)

    def load_label(self, sample: Sample) -> np.ndarray:
        assert sample.label is not None
        raw = read_index_png(sample.label)
        if sample.label.name.endswith(LABEL_ID_SUFFIX):
            return map_ids(raw, LABEL_ID_TABLE)
        return map_ids(raw, TRAIN_ID_PASSTHROUGH)
