"""OUTSIDE15k in its ADE20K-style (CSAIL semantic-segmentation-pytorch) layout.

The root holds one `.odgt` list per split: a text file with one JSON object per line,

    {"fpath_img": "images/training/x.jpg", "fpath_segm": "annotations/training/x.png",
     "width": 1024, "height": 768}

with paths relative to the data root (the `root_dataset` of the CSAIL code base; absolute
paths are accepted when they lie under the root). Accepted list names, exactly one per split:

    train: training.odgt | train.odgt | outside15k_train.odgt | outside15k_training.odgt
    val:   validation.odgt | val.odgt | outside15k_val.odgt | outside15k_validation.odgt

Assumption (no public specification of OUTSIDE15k was found): the segmentation PNG stores the
class index 0..23 directly (0 = unlabeled), the class order being the dataset's
`outside15k.json` (OUTSIDE15K_CLASSES below). The mapping to the 19 Cityscapes classes is
the one this research group used so far (`OUTSIDE15K_TO_TRAINID` in its earlier PROVE
pipeline), so numbers stay comparable with earlier results; docs/datasets.md lists where it
departs from the Cityscapes class definitions. Values above 23 become 255.

OUTSIDE15k has no weather tags: domains come from a user CSV.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from prove.data.adapters._common import map_ids, labelled_samples, read_index_png
from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.data.labels import CLASS_ID, lookup_table
from prove.errors import ProveError

OUTSIDE15K_CLASSES: tuple[str, ...] = (
    "unlabeled", "animal", "barrier", "bicycle", "boat", "bridge", "building", "grass", "ground",
    "mountain", "object", "person", "pole", "road", "sand", "sidewalk", "sign", "sky",
    "street light", "traffic light", "tunnel", "vegetation", "vehicle", "water",
)

# OUTSIDE15k class -> Cityscapes class (None = ignore, 255).
OUTSIDE15K_TO_CITYSCAPES: dict[str, str | None] = {
    "unlabeled": None,
    "animal": None,
    "barrier": "fence",
    "bicycle": "bicycle",
    "boat": None,
    "bridge": None,
    "building": "building",
    "grass": "vegetation",
    "ground": "terrain",
    "mountain": "terrain",
    "object": None,
    "person": "person",
    "pole": "pole",
    "road": "road",
    "sand": "terrain",
    "sidewalk": "sidewalk",
    "sign": "traffic sign",
    "sky": "sky",
    "street light": "pole",
    "traffic light": "traffic light",
    "tunnel": "building",
    "vegetation": "vegetation",
    "vehicle": "car",
    "water": None,
}
ID_TO_TRAIN_ID: dict[int, int] = {
    i: CLASS_ID[target]
    for i, name in enumerate(OUTSIDE15K_CLASSES)
    if (target := OUTSIDE15K_TO_CITYSCAPES[name]) is not None
}
TABLE: np.ndarray = lookup_table(ID_TO_TRAIN_ID)

LIST_NAMES: dict[str, tuple[str, ...]] = {
    "train": ("training.odgt", "train.odgt", "outside15k_train.odgt", "outside15k_training.odgt"),
    "val": ("validation.odgt", "val.odgt", "outside15k_val.odgt", "outside15k_validation.odgt"),
}

LAYOUT = (
    "  training.odgt / validation.odgt (or train.odgt, outside15k_train.odgt, ...): one JSON per\n"
    '  line with "fpath_img" and "fpath_segm" relative to the data root'
)


@DATASETS.declare
class Outside15k(DatasetAdapter):
    name = "outside15k"
    title = "OUTSIDE15k"
    domains_from = "CSV"
    splits = ("train", "val")
    has_domains = False
    description = (
        "OUTSIDE15k, ADE-style .odgt lists, 24 classes (0 = unlabeled) partially mapped to the "
        "19 Cityscapes classes. No weather tags (domains from a CSV)."
    )

    def list_file(self, split: str) -> Path | None:
        found = [self.root / n for n in LIST_NAMES[split] if (self.root / n).is_file()]
        if len(found) > 1:
            raise ProveError(
                f"dataset {self.name!r}: several lists for split {split!r} under {self.root}: "
                f"{', '.join(p.name for p in found)}; keep exactly one"
            )
        if found:
            return found[0]
        if not any((self.root / n).is_file() for names in LIST_NAMES.values() for n in names):
            raise ProveError(
                f"dataset {self.name!r}: no .odgt list under {self.root}. Expected layout under "
                f"the data root:\n{LAYOUT}"
            )
        return None

    def _resolve(self, raw: object, list_path: Path, line: int, key: str) -> Path:
        if not isinstance(raw, str) or not raw:
            raise ProveError(f"{list_path}:{line}: missing {key!r}")
        path = Path(raw)
        if path.is_absolute():
            try:
                return self.root / path.resolve().relative_to(self.root.resolve())
            except ValueError:
                raise ProveError(
                    f"{list_path}:{line}: {key} {raw!r} is outside the data root {self.root}; "
                    f"paths must be relative to the data root"
                ) from None
        return self.root / path

    def list_samples(self, split: str) -> list[Sample]:
        list_path = self.list_file(split)
        if list_path is None:
            return []
        found = []
        with list_path.open(encoding="utf-8") as fh:
            for line, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except ValueError:
                    raise ProveError(f"{list_path}:{line}: not a JSON object") from None
                if not isinstance(record, dict):
                    raise ProveError(f"{list_path}:{line}: not a JSON object")
                image = self._resolve(record.get("fpath_img"), list_path, line, "fpath_img")
                label = self._resolve(record.get("fpath_segm"), list_path, line, "fpath_segm")
                if not image.is_file():
                    raise ProveError(f"{list_path}:{line}: image not found: {image}")
                found.append((image, label, None, None))
        return labelled_samples(self, split, found)

    def load_label(self, sample: Sample) -> np.ndarray:
        assert sample.label is not None
        return map_ids(read_index_png(sample.label), TABLE)
