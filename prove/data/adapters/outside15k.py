"""OUTSIDE15k in its ADE20K-style (CSAIL semantic-segmentation-pytorch) layout.

The root holds one `.odgt` list per split. Records look like

    {"fpath_img": "images/training/x.jpg", "fpath_segm": "annotations/training/x.png",
     "width": 1024, "height": 768}

with paths relative to the data root (the `root_dataset` of the CSAIL code base; absolute
paths are accepted when they lie under the root). Two forms of the list are read:

* a JSON array of records, the whole file one JSON value: what the OUTSIDE15k authors' loader
  reads (carhartt21/outsideNet, dataset.py, `BaseDataset.parse_input_list`:
  `self.list_sample = json.load(listFile)`);
* one JSON object per line, the ADE20K `.odgt` form of the CSAIL code base.

A file whose first non-blank character is `[` is the array form, anything else the line form.
Accepted list names, exactly one per split (the authors' configs use `training.odgt` /
`validation.odgt` and `outside15k_train.odgt` / `outside15k_val.odgt`):

    train: training.odgt | train.odgt | outside15k_train.odgt | outside15k_training.odgt
    val:   validation.odgt | val.odgt | outside15k_val.odgt | outside15k_validation.odgt

Assumption (no public specification of OUTSIDE15k was found): the segmentation PNG stores the
class index 0..23 directly (0 = unlabeled), the class order being the dataset's
`outside15k.json` (OUTSIDE15K_CLASSES below; carhartt21/outsideNet data/outside15k.json has
this order, and its loader's `segm_transform` subtracts 1, i.e. 0 = unlabeled). The mapping
to the 19 Cityscapes classes is the one this research group used so far
(`OUTSIDE15K_TO_TRAINID` in its earlier PROVE pipeline), so numbers stay comparable with
earlier results; docs/datasets.md lists where it departs from the Cityscapes class
definitions. Values above 23 become 255.

OUTSIDE15k has no weather tags: domains come from a user CSV.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from prove.data.adapters._common import labelled_samples, map_ids, read_index_png, require_images
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
    "  training.odgt / validation.odgt (or train.odgt, outside15k_train.odgt, ...): a JSON array of\n"
    '  records, or one JSON object per line, with "fpath_img" and "fpath_segm" relative to the data root'
)
ACCEPTED_FORMS = "a JSON array of records (OUTSIDE15k authors' form) or one JSON object per line (ADE20K .odgt)"


def read_odgt(path: Path) -> list[tuple[str, object]]:
    """[(where, record)] of an .odgt list in either form; `where` names the file and the line
    (line form) or the array index (array form), for messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ProveError(f"{path}: cannot read the .odgt list ({err})") from None
    if text.lstrip().startswith("["):
        return _read_array(path, text)
    return _read_lines(path, text)


def _read_array(path: Path, text: str) -> list[tuple[str, object]]:
    try:
        records = json.loads(text)
    except ValueError as err:
        raise ProveError(f"{path}:{getattr(err, 'lineno', '?')}: malformed JSON array ({err}); expected "
                         f"{ACCEPTED_FORMS}") from None
    return [(f"{path} (record {i} of the JSON array)", record) for i, record in enumerate(records)]


def _read_lines(path: Path, text: str) -> list[tuple[str, object]]:
    out = []
    for line, chunk in enumerate(text.splitlines(), start=1):
        if not chunk.strip():
            continue
        try:
            out.append((f"{path}:{line}", json.loads(chunk)))
        except ValueError as err:
            raise ProveError(f"{path}:{line}: not a JSON object ({err}); expected {ACCEPTED_FORMS}") from None
    return out


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

    def list_file(self, split: str) -> Path:
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
        raise ProveError(
            f"dataset {self.name!r}: no list for split {split!r}: expected {self.root / LIST_NAMES[split][0]} "
            f"(or {', '.join(LIST_NAMES[split][1:])} in the same folder). Expected layout under the data "
            f"root:\n{LAYOUT}"
        )

    def _resolve(self, raw: object, where: str, key: str) -> Path:
        if not isinstance(raw, str) or not raw:
            raise ProveError(f"{where}: missing {key!r} (a path relative to the data root {self.root})")
        path = Path(raw)
        if path.is_absolute():
            try:
                return self.root / path.resolve().relative_to(self.root.resolve())
            except ValueError:
                raise ProveError(
                    f"{where}: {key} {raw!r} is outside the data root {self.root}; "
                    f"paths must be relative to the data root"
                ) from None
        return self.root / path

    def _entry(self, where: str, record: object) -> tuple[Path, Path, None, None]:
        if not isinstance(record, dict):
            raise ProveError(f"{where}: not a JSON object with 'fpath_img' and 'fpath_segm' "
                             f"(found {type(record).__name__}); expected {ACCEPTED_FORMS}")
        image = self._resolve(record.get("fpath_img"), where, "fpath_img")
        label = self._resolve(record.get("fpath_segm"), where, "fpath_segm")
        if not image.is_file():
            raise ProveError(f"{where}: image not found: {image}")
        if not label.is_file():  # the list names the label: say where, not just which
            raise ProveError(f"{where}: label (fpath_segm) not found: {label}")
        return image, label, None, None

    def list_samples(self, split: str) -> list[Sample]:
        list_path = self.list_file(split)
        found = [self._entry(where, record) for where, record in read_odgt(list_path)]
        samples = labelled_samples(self, split, found)
        return require_images(samples, self.name, split, f"records in {list_path}", LAYOUT)

    def load_label(self, sample: Sample) -> np.ndarray:
        assert sample.label is not None
        return map_ids(read_index_png(sample.label), TABLE)
