"""BDD10k: the semantic-segmentation subset of BDD100K, in either official layout.

Current release (bdd100k/bdd100k, doc/source/download.rst: "10K Images" and "Semantic
Segmentation" packages; also mmsegmentation projects/bdd100k_dataset):

    images/10k/{train,val,test}/{name}.jpg
    labels/sem_seg/masks/{train,val}/{name}.png            (train ids 0-18, 255 = unknown)

Original 2018 release (`bdd100k_seg.zip`; ucbdrive/bdd100k, bdd100k/show_labels.py and
bdd100k/gen_lists.py name the masks `{name}_train_id.png`):

    bdd100k/seg/images/{train,val,test}/{name}.jpg
    bdd100k/seg/labels/{train,val}/{name}_train_id.png
    bdd100k/seg/color_labels/{train,val}/{name}_train_color.png   (never read)

(`seg/...` directly under the root is accepted too, for a root that is the extracted
`bdd100k` folder.) The current layout wins when both are present. Sample names stay relative
to the data root (e.g. `bdd100k/seg/images/train/x.jpg`). Masks are read as-is (values above
18 other than 255 become 255); colour maps are never used.

Images without a mask: the 10K image zip holds a few images that have no mask (bdd100k/bdd100k
issue #103: train/3d581db5-2564fb7e, 52e3fd10-c205dec2, 781756b0-61e0a182, 78ac84ba-07bd30c2,
val/80a9e37d-e4548ac1, 9342e334-33d167eb; re-extracting the labels does not bring them).
They are skipped with a warning that counts and names them, and `skipped(split)` lists them
(sample names) for the run's provenance. A split where no image has its mask is still an
error (the labels were not extracted). Other datasets refuse incomplete splits.

Domains: the sem_seg files carry no weather. They are joined by file name from the BDD100K
image-attribute JSONs present in the root (or next to `seg/` in the 2018 layout):

    labels/det_20/det_{train,val}.json                     (BDD100K 2020 detection labels)
    labels/bdd100k_labels_images_{train,val}.json          (BDD100K 2018 labels)

both splits of each, whatever the split of the 10K image: 10K images are not split like the
100K ones, some 10K train images sit in the 100K val JSON (bdd100k/bdd100k issue #132). Each
file is a JSON list of {"name": ..., "attributes": {"weather", "timeofday", "scene"}}; the
first file with a domain for an image wins (det_20 train, det_20 val, then the 2018 train and
val files). Mapping (`bdd_domain`, values as in doc/source/format.rst): timeofday `night` ->
night, `dawn/dusk` -> dawn_dusk; with timeofday `daytime`, weather `foggy` -> foggy, `rainy` ->
rainy, `snowy` -> snowy, `overcast` / `partly cloudy` -> cloudy, `clear` -> clear_day, else
None. timeofday `undefined` (or none) gives no domain: such an image may be a night image, so
its weather alone would mislabel it (e.g. clear -> clear_day); it takes its domain from the
user's CSV (`--domain-csv`). Many 10K images are in no attribute file (bdd100k/bdd100k issue
#22), so `has_domains` is False; `tagged[split]` / `tagged_fraction(split)` say how many images
of a split got a domain from the JSONs, and the adapter logs it.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from prove.data.adapters._common import (
    TRAIN_ID_PASSTHROUGH,
    labelled_samples,
    map_ids,
    missing_labels_error,
    read_index_png,
    require_dir,
    require_images,
    sorted_files,
)
from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.errors import ProveError

logger = logging.getLogger(__name__)

LAYOUT = (
    "  images/10k/{train,val}/*.jpg + labels/sem_seg/masks/{train,val}/*.png   (current release)\n"
    "  or bdd100k/seg/images/{train,val}/*.jpg + bdd100k/seg/labels/{train,val}/*_train_id.png   (2018 release)\n"
    "  optional: labels/det_20/det_{train,val}.json, labels/bdd100k_labels_images_{train,val}.json"
)

# Joined in this order whatever the image's split (issue #132); the first domain found wins.
ATTRIBUTE_FILES: tuple[str, ...] = (
    "labels/det_20/det_train.json",
    "labels/det_20/det_val.json",
    "labels/bdd100k_labels_images_train.json",
    "labels/bdd100k_labels_images_val.json",
)
SHOWN_SKIPPED = 5  # names a warning shows before "..."
# more maskless images than this is not #103 but a half-extracted archive: an error, not a warning
MAX_SKIPPED, MAX_SKIPPED_FRACTION = 20, 0.01

_WEATHER: dict[str, str] = {
    "foggy": "foggy",
    "rainy": "rainy",
    "snowy": "snowy",
    "overcast": "cloudy",
    "partly cloudy": "cloudy",
    "clear": "clear_day",
}


def bdd_domain(weather: str | None, timeofday: str | None) -> str | None:
    """The study domain of a BDD100K image from its `weather` / `timeofday` attributes."""
    tod = (timeofday or "").strip().lower()
    if tod == "night":
        return "night"
    if tod in ("dawn/dusk", "dawn", "dusk", "dawn_dusk"):
        return "dawn_dusk"
    if tod != "daytime":  # `undefined`: may be night, so the weather alone cannot name the domain
        return None
    return _WEATHER.get((weather or "").strip().lower())


def iter_json_list(path: Path, chunk_size: int = 1 << 23) -> Iterator[dict]:
    """Yield the elements of a top-level JSON list one at a time.

    BDD100K label files reach ~1 GB; decoding them element by element keeps only the current
    element's objects in memory instead of the whole tree.
    """
    decoder = json.JSONDecoder()
    with path.open("r", encoding="utf-8") as fh:
        buf = fh.read(chunk_size)
        eof = len(buf) < chunk_size
        pos = 0

        def skip(chars: str) -> None:
            nonlocal pos
            while pos < len(buf) and buf[pos] in chars:
                pos += 1

        skip(" \t\r\n")
        if pos >= len(buf) or buf[pos] != "[":
            raise ProveError(f"{path}: expected a JSON list of image entries")
        pos += 1
        while True:
            skip(" \t\r\n,")
            if pos < len(buf) and buf[pos] == "]":
                return
            try:
                item, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as err:
                if eof:
                    raise ProveError(f"{path}: malformed JSON near character {err.pos}") from None
                more = fh.read(chunk_size)
                eof = len(more) < chunk_size
                buf = buf[pos:] + more
                pos = 0
                continue
            pos = end
            if isinstance(item, dict):
                yield item
            if pos > chunk_size and not eof:  # drop consumed text now and then
                buf, pos = buf[pos:], 0


def read_attribute_domains(path: Path) -> dict[str, str | None]:
    """{image file name: domain or None} from one BDD100K attribute JSON."""
    domains: dict[str, str | None] = {}
    for entry in iter_json_list(path):
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        attrs = entry.get("attributes") or {}
        domains[Path(name).name] = bdd_domain(attrs.get("weather"), attrs.get("timeofday"))
    return domains


def join_attribute_domains(paths: list[Path]) -> dict[str, str]:
    """{image file name: domain} over `paths` in order; the first domain found for a name wins."""
    joined: dict[str, str] = {}
    for path in paths:
        for name, domain in read_attribute_domains(path).items():
            if domain is not None:
                joined.setdefault(name, domain)
    return joined


@dataclass(frozen=True)
class Layout:
    """Where one BDD10k release keeps a split's images and masks."""

    release: str
    images: Path  # holds the split folders of the images
    masks: Path  # holds the split folders of the masks
    mask_name: str  # mask file name, from the image stem
    base: Path  # the folder whose labels/ holds the attribute JSONs

    def mask(self, split: str, image: Path) -> Path:
        return self.masks / split / self.mask_name.format(stem=image.stem)


def find_layout(root: Path, dataset: str) -> Layout:
    """The release found under `root`: the current one, else the 2018 one; neither is an error
    naming the expected folders."""
    if (root / "images" / "10k").is_dir():
        masks = require_dir(root / "labels" / "sem_seg" / "masks", dataset, LAYOUT)
        return Layout("current", root / "images" / "10k", masks, "{stem}.png", root)
    for base in (root / "bdd100k", root):
        if (base / "seg" / "images").is_dir():
            labels = require_dir(base / "seg" / "labels", dataset, LAYOUT)
            return Layout("2018", base / "seg" / "images", labels, "{stem}_train_id.png", base)
    raise ProveError(
        f"dataset {dataset!r}: folder {root / 'images' / '10k'} is missing (and there is no 2018 "
        f"{root / 'bdd100k' / 'seg'} either). Expected layout under the data root:\n{LAYOUT}"
    )


@DATASETS.declare
class BDD10k(DatasetAdapter):
    name = "bdd10k"
    aliases = ("bdd",)
    title = "BDD10k"
    domains_from = "BDD100K attribute JSON, else CSV"
    splits = ("train", "val")
    has_domains = False  # partial: see module docstring
    scale = (1280, 720)  # native (W, H)
    description = (
        "BDD10k semantic segmentation (BDD100K sem_seg masks, train ids; current or 2018 layout). "
        "Domains from BDD100K attribute JSONs (train+val) where the image is listed, else from a CSV."
    )

    def __init__(self, root=None, domain_csv=None):
        super().__init__(root, domain_csv)
        self._attribute_domains: dict[str, str] | None = None
        self._skipped: dict[str, list[str]] = {}
        self.tagged: dict[str, tuple[int, int]] = {}  # split -> (images with a JSON domain, images)

    # -- what the run's provenance reads ------------------------------------------------------
    def skipped(self, split: str) -> list[str]:
        """Sample names of the images of `split` skipped for having no mask (issue #103)."""
        self._listed(split)
        return list(self._skipped[split])

    def tagged_fraction(self, split: str) -> float:
        """The fraction of `split`'s images that got a domain from the attribute JSONs."""
        self._listed(split)
        tagged, total = self.tagged[split]
        return tagged / total if total else 0.0

    def _listed(self, split: str) -> None:
        if split not in type(self).splits:  # the dataset's own splits, whatever a split CSV says
            raise ProveError(f"dataset {self.name!r} has no labelled split {split!r}; accepted: "
                             f"{', '.join(type(self).splits)}")
        if split not in self.tagged:
            self.list_samples(split)

    # -- listing ----------------------------------------------------------------------------
    def attribute_files(self, layout: Layout) -> list[Path]:
        bases = dict.fromkeys((self.root, layout.base))  # ordered, without duplicates
        return [b / f for f in ATTRIBUTE_FILES for b in bases if (b / f).is_file()]

    def attribute_domains(self, layout: Layout) -> dict[str, str]:
        """{image file name: domain} joined from every attribute JSON present (read once)."""
        if self._attribute_domains is None:
            self._attribute_domains = join_attribute_domains(self.attribute_files(layout))
        return self._attribute_domains

    def list_samples(self, split: str) -> list[Sample]:
        layout = find_layout(self.root, self.name)
        split_dir = require_dir(layout.images / split, self.name, LAYOUT)
        domains = self.attribute_domains(layout)
        found = [(image, layout.mask(split, image), domains.get(image.name), None)
                 for image in sorted_files(split_dir, "*.jpg")]
        accepted = f"{layout.masks / split}/{layout.mask_name.format(stem='{name}')}"
        maskless = [(image, str(mask)) for image, mask, _, _ in found if not mask.is_file()]
        if maskless and len(maskless) == len(found):  # no mask at all: labels not extracted, not #103
            require_dir(layout.masks / split, self.name, LAYOUT)
            raise missing_labels_error(self.name, split, maskless, accepted)
        self._skip(split, [image for image, _ in maskless], len(found))
        present = [entry for entry in found if entry[1].is_file()]
        samples = require_images(labelled_samples(self, split, present, accepted=accepted), self.name, split,
                                 f"{split_dir}/*.jpg", LAYOUT)
        self._count_tagged(split, samples, layout)
        return samples

    def _skip(self, split: str, images: list[Path], total: int) -> None:
        names = sorted(self.relative_name(p) for p in images)
        if len(names) > max(MAX_SKIPPED, MAX_SKIPPED_FRACTION * total):
            raise ProveError(
                f"dataset {self.name!r} split {split!r}: {len(names)} of {total} image(s) have no mask, far more "
                f"than the known gap of the BDD10k image zip (bdd100k issue #103, a few images): the mask archive "
                f"looks incompletely extracted under {self.root} (e.g. {names[0]!r} has none)"
            )
        self._skipped[split] = names
        if names:
            shown = ", ".join(names[:SHOWN_SKIPPED]) + (", ..." if len(names) > SHOWN_SKIPPED else "")
            warnings.warn(
                f"dataset {self.name!r} split {split!r}: skipped {len(names)} image(s) without a mask "
                f"(a known gap of the BDD10k image zip, bdd100k issue #103): {shown}",
                stacklevel=4,  # the caller of `samples()`
            )

    def _count_tagged(self, split: str, samples: list[Sample], layout: Layout) -> None:
        tagged = sum(s.domain is not None for s in samples)
        self.tagged[split] = (tagged, len(samples))
        files = ", ".join(str(p.relative_to(self.root)) for p in self.attribute_files(layout)) or "none found"
        logger.info("dataset %r split %r (%s layout): %d of %d image(s) (%.1f%%) got a domain from the "
                    "BDD100K attribute JSONs (%s); the others need the domain CSV", self.name, split,
                    layout.release, tagged, len(samples), 100.0 * tagged / len(samples), files)

    def load_label(self, sample: Sample) -> np.ndarray:
        assert sample.label is not None
        return map_ids(read_index_png(sample.label), TRAIN_ID_PASSTHROUGH)
