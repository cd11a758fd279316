"""ACDC (Adverse Conditions Dataset with Correspondences) in its official layout.

    rgb_anon/{fog,night,rain,snow}/{train,val}/{seq}/{stem}_rgb_anon.png
    gt/{fog,night,rain,snow}/{train,val}/{seq}/{stem}_gt_labelTrainIds.png
    gt/{fog,night,rain,snow}/{train,val}/{seq}/{stem}_gt_invIds.png      (invalid pixels)

The condition is the folder: fog -> foggy, night -> night, rain -> rainy, snow -> snowy.
`{split}_ref` folders (unlabelled clear-weather reference images of the same routes, named
`{stem}_rgb_ref_anon.png`) and the unlabelled `test` split are not listed. If
`_gt_labelTrainIds.png` is absent, `_gt_labelIds.png` is mapped with the Cityscapes table (ACDC
uses the Cityscapes label ids).

Invalid pixels (`_gt_invIds.png`, non-zero where the annotators could not tell the class in
the adverse image) are an option, `invalid_pixels`:

* `count` (default): the label is used as it is; invalid pixels keep their class and count in
  training and mIoU, so prove's ACDC mIoU is comparable with published numbers. The ACDC
  loaders those numbers come from read the label only and never open `_gt_invIds.png`:
  lhoyer/DAFormer and SysCV/CISS, mmseg/datasets/acdc.py, `ACDCDataset(CityscapesDataset)`
  with `img_suffix='_rgb_anon.png', seg_map_suffix='_gt_labelTrainIds.png'` (the ACDC
  benchmark likewise scores the semantic labels as they are; the invalid masks belong to its
  uncertainty-aware evaluation). mmsegmentation 1.2.2 itself, the version installed here, has
  no ACDC dataset class at all (mmseg/datasets/ has dark_zurich.py and night_driving.py, no
  acdc.py), so "mmseg's ACDCDataset" is the DAFormer-family class above.
* `ignore`: invalid pixels become 255, for a study that wants only confident labels.

Chosen with `ACDC(invalid_pixels=...)`, else `PROVE_ACDC_INVALID_PIXELS`; `settings()` reports
the effective value for the run's params. The choice travels with each `Sample`: its
`invalid_mask` is set only under `ignore`, so a worker that reopens the adapter loads the
same label.
"""

from __future__ import annotations

import numpy as np

from prove.data.adapters._common import (
    TRAIN_ID_PASSTHROUGH,
    apply_invalid_mask,
    choose_option,
    first_file,
    labelled_samples,
    map_ids,
    read_index_png,
    require_dir,
    require_images,
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

COUNT, IGNORE = "count", "ignore"
INVALID_PIXEL_CHOICES: tuple[str, ...] = (COUNT, IGNORE)  # first = default
INVALID_PIXELS_ENV = "PROVE_ACDC_INVALID_PIXELS"

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
        "(fog/night/rain/snow); _gt_invIds.png pixels counted (as the benchmark) or ignored."
    )

    def __init__(self, root=None, domain_csv=None, invalid_pixels: str | None = None):
        super().__init__(root, domain_csv)
        self._invalid_pixels = choose_option(self.name, "invalid_pixels", invalid_pixels,
                                             INVALID_PIXELS_ENV, INVALID_PIXEL_CHOICES)

    @property
    def invalid_pixels(self) -> str:
        """`count` (labels as they are, the benchmark's choice) or `ignore` (invalid -> 255)."""
        return self._invalid_pixels

    def settings(self) -> dict[str, str]:
        """The options that change what a label means, for the run to log as params."""
        return {"invalid_pixels": self.invalid_pixels}

    def list_samples(self, split: str) -> list[Sample]:
        images_root = require_dir(self.root / "rgb_anon", self.name, LAYOUT)
        labels_root = require_dir(self.root / "gt", self.name, LAYOUT)
        conditions = [c for c in CONDITIONS if (images_root / c).is_dir()]
        if not conditions:
            raise ProveError(
                f"dataset {self.name!r}: {images_root} has none of the condition folders "
                f"{', '.join(CONDITIONS)}. Expected layout under the data root:\n{LAYOUT}"
            )
        split_dirs = [images_root / c / split for c in conditions if (images_root / c / split).is_dir()]
        if not split_dirs:  # e.g. only the train archive extracted
            raise ProveError(
                f"dataset {self.name!r}: no condition folder has the split {split!r}: expected "
                f"{' or '.join(str(images_root / c / split) for c in conditions)}. Expected layout "
                f"under the data root:\n{LAYOUT}"
            )

        def found():
            for split_dir in split_dirs:  # never `{split}_ref`
                condition = split_dir.parent.name
                for seq in sorted_dirs(split_dir):
                    gt_dir = labels_root / condition / split / seq.name
                    for image in sorted_files(seq, f"*{IMAGE_SUFFIX}"):
                        yield self._entry(image, gt_dir, CONDITIONS[condition])

        samples = labelled_samples(self, split, found(), accepted=f"*{TRAIN_ID_SUFFIX} or *{LABEL_ID_SUFFIX}")
        return require_images(samples, self.name, split,
                              f"*{IMAGE_SUFFIX} in the sequence folders of {' and '.join(map(str, split_dirs))}",
                              LAYOUT)

    def _entry(self, image, gt_dir, domain):
        stem = image.name[: -len(IMAGE_SUFFIX)]
        label = first_file(gt_dir / f"{stem}{TRAIN_ID_SUFFIX}", gt_dir / f"{stem}{LABEL_ID_SUFFIX}")
        invalid = gt_dir / f"{stem}{INVALID_SUFFIX}"
        # only under `ignore` does the sample carry its mask; `count` uses the label as it is
        mask = invalid if self.invalid_pixels == IGNORE and invalid.is_file() else None
        return image, label, domain, mask

    def load_label(self, sample: Sample) -> np.ndarray:
        assert sample.label is not None
        raw = read_index_png(sample.label)
        table = LABEL_ID_TABLE if sample.label.name.endswith(LABEL_ID_SUFFIX) else TRAIN_ID_PASSTHROUGH
        return apply_invalid_mask(map_ids(raw, table), sample.invalid_mask)
