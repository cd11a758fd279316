"""BDD10k: the semantic-segmentation subset of BDD100K, in its official layout.

    images/10k/{train,val}/{name}.jpg
    labels/sem_seg/masks/{train,val}/{name}.png        (train ids 0-18, 255 = unknown)

Masks are read as-is (values above 18 other than 255 become 255); the colour maps
(`labels/sem_seg/colormaps`) are never used.

Domains: the sem_seg files carry no weather. Where a BDD100K image-attribute JSON is present
in the same root, an image's domain is derived from it, matched by file name:

    labels/det_20/det_{split}.json                     (BDD100K v2 detection labels)
    labels/bdd100k_labels_images_{split}.json          (BDD100K v1 labels)

Each is a JSON list of {"name": ..., "attributes": {"weather", "timeofday", "scene"}}. The
first file that names an image wins (det_20 before v1). Mapping (`bdd_domain`): timeofday
`night` -> night, `dawn/dusk` -> dawn_dusk; otherwise weather `foggy` -> foggy, `rainy` -> rainy,
`snowy` -> snowy, `overcast` / `partly cloudy` -> cloudy, `clear` -> clear_day; `undefined` or
no entry -> None. Many 10k images are not in BDD100K's attribute files, so `has_domains` is
False: images left without a domain take it from the user's CSV (`--domain-csv`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from prove.data.adapters._common import (
    TRAIN_ID_PASSTHROUGH,
    labelled_samples,
    map_ids,
    read_index_png,
    require_dir,
    sorted_files,
)
from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.errors import ProveError

LAYOUT = (
    "  images/10k/{train,val}/*.jpg\n"
    "  labels/sem_seg/masks/{train,val}/*.png\n"
    "  optional: labels/det_20/det_{split}.json, labels/bdd100k_labels_images_{split}.json"
)

ATTRIBUTE_FILES: tuple[str, ...] = (
    "labels/det_20/det_{split}.json",
    "labels/bdd100k_labels_images_{split}.json",
)

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
        "BDD10k semantic segmentation (BDD100K sem_seg masks, train ids). Domains from BDD100K "
        "attribute JSONs where the image is listed, else from a CSV."
    )

    def __init__(self, root=None, domain_csv=None):
        super().__init__(root, domain_csv)
        self._domains: dict[str, dict[str, str | None]] = {}

    def attribute_domains(self, split: str) -> dict[str, str | None]:
        """{image file name: domain} merged from the attribute JSONs present for `split`."""
        if split not in self._domains:
            merged: dict[str, str | None] = {}
            for pattern in ATTRIBUTE_FILES:
                path = self.root / pattern.format(split=split)
                if path.is_file():
                    for name, domain in read_attribute_domains(path).items():
                        if merged.get(name) is None:
                            merged[name] = domain
            self._domains[split] = merged
        return self._domains[split]

    def list_samples(self, split: str) -> list[Sample]:
        images_root = require_dir(self.root / "images" / "10k", self.name, LAYOUT)
        masks_root = require_dir(self.root / "labels" / "sem_seg" / "masks", self.name, LAYOUT)
        split_dir = images_root / split
        if not split_dir.is_dir():
            return []
        domains = self.attribute_domains(split)
        return labelled_samples(self, split, ((image, masks_root / split / f"{image.stem}.png", domains.get(image.name),
                                               None) for image in sorted_files(split_dir, "*.jpg")))

    def load_label(self, sample: Sample) -> np.ndarray:
        assert sample.label is not None
        return map_ids(read_index_png(sample.label), TRAIN_ID_PASSTHROUGH)
