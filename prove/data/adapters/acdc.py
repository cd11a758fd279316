"""ACDC (Adverse Conditions Dataset with Correspondences) in its official layout.

    rgb_anon/{fog,night,rain,snow}/{train,val}/{seq}/{stem}_rgb_anon.png
    gt/{fog,night,rain,snow}/{train,val}/{seq}/{stem}_gt_labelTrainIds.png
    gt/{fog,night,rain,snow}/{train,val}/{seq}/{stem}_gt_invIds.png      (invalid pixels)

The condition is the folder: fog -> foggy, night -> night, rain -> rainy, snow -> snowy.
`{split}_ref` folders (unlabelled clear-weather reference images of the same routes) and the
unlabelled `test` split are not listed. Non-zero pixels of `_gt_invIds.png` become ignore (255)
in the loaded label. If `_gt_labelTrainIds.png` is absent, `_gt_labelIds.png` is mapped with the
Cityscapes table (ACDC uses the Cityscapes label ids).
"""

from __future__ import annotations


import numpy as np

from prove.data.adapters._common import (
    TRAIN_ID_PASSTHROUGH,
    apply_invalid_mask,
    first_file,
    labelled_samples,
    map_ids,
    read_index_png,
    require_dir,
    sorted_dirs,
    sorted_files,
)
from prove.data.adapters.cityscapes import LABEL_ID_TABLE
from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.errors import ProveError

CONDITIONS: dict[str, str] = {"fog": "foggy", "night": "night", "rain": "rainy", "snow": "snowy"}

IMAGE_SUFFIX = "_rgb_anon.png"
TRAIN_ID_SUFFIX = "_gt_labelTrainIds.png"
LABEL_ID_SUFFIX = "_gt_labelIds.png"
INVALID_SUFFIX = "_gt_invIds.png"

LAYOUT = (
    "  rgb_anon/{fog,night,rain,snow}/{train,val}/{seq}/*_rgb_anon.png\n"
    "  gt/{fog,night,rain,snow}/{train,val}/{seq}/*_gt_labelTrainIds.png  (+ *_gt_invIds.png)"
)


@DATASETS.declare
class ACDC(DatasetAdapter):
    name = "acdc"
    title = "ACDC"
    domains_from = "condition folder"
    splits = ("train", "val")
    has_domains = True
    scale = (1920, 1080)  # native (W, H)
    description = (
        "ACDC, 19 Cityscapes train classes; domain from the condition folder "
        "(fog/night/rain/snow); _gt_invIds.png pixels ignored."
    )

    def list_samples(self, split: str) -> list[Sample]:
        images_root = require_dir(self.root / "rgb_anon", self.name, LAYOUT)
        labels_root = require_dir(self.root / "gt", self.name, LAYOUT)
        conditions = [c for c in CONDITIONS if (images_root / c).is_dir()]
        if not conditions:
            raise ProveError(
                f"dataset {self.name!r}: {images_root} has none of the condition folders "
                f"{', '.join(CONDITIONS)}. Expected layout under the data root:\n{LAYOUT}"
            )
        def found():
            for condition in conditions:
                split_dir = images_root / condition / split  # never `{split}_ref`
                if not split_dir.is_dir():
                    continue
                for seq in sorted_dirs(split_dir):
                    gt_dir = labels_root / condition / split / seq.name
                    for image in sorted_files(seq, f"*{IMAGE_SUFFIX}"):
                        stem = image.name[: -len(IMAGE_SUFFIX)]
                        label = first_file(gt_dir / f"{stem}{TRAIN_ID_SUFFIX}", gt_dir / f"{stem}{LABEL_ID_SUFFIX}")
                        invalid = gt_dir / f"{stem}{INVALID_SUFFIX}"
                        yield image, label, CONDITIONS[condition], invalid if invalid.is_file() else None

        return labelled_samples(self, split, found())

    def load_label(self, sample: Sample) -> np.ndarray:
        assert sample.label is not None
        raw = read_index_png(sample.label)
        table = LABEL_ID_TABLE if sample.label.name.endswith(LABEL_ID_SUFFIX) else TRAIN_ID_PASSTHROUGH
        return apply_invalid_mask(map_ids(raw, table), sample.invalid_mask)
