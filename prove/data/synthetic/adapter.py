"""The embedded weather benchmark as a dataset adapter (the package's default dataset)."""

from __future__ import annotations

import os

import cv2
import numpy as np

from prove.data.base import DATASETS, DatasetAdapter, Sample, env_key
from prove.data.domains import DOMAINS
from prove.data.synthetic.benchmark import (
    DEFAULT_SEED,
    DEFAULT_SIZE,
    SPLITS,
    ensure_generated,
    read_manifest,
)
from prove.errors import ProveError


@DATASETS.declare
class WeatherBench(DatasetAdapter):
    """Procedural street scenes in 7 weather domains, generated into the cache on first use.

    With no root (and no `PROVE_WEATHER_BENCH_ROOT`), the dataset for `seed`, `size` and
    `counts` is generated (or found) under `prove.settings.cache_dir()`; with a root, that
    folder must be one written by `prove.data.synthetic.generate`.
    """

    name = "weather_bench"
    aliases = ("weatherbench", "embedded", "default")
    title = "embedded weather benchmark"
    domains_from = "generated per domain"
    embedded = True
    splits = SPLITS
    has_domains = True
    scale = DEFAULT_SIZE  # (W, H): the images' own size
    crop_size = (128, 128)  # (H, W): the full height, half the width
    description = "embedded procedural street scenes, 19 Cityscapes classes, 7 weather domains (generated)"

    def __init__(self, root: str | os.PathLike | None = None, domain_csv: str | os.PathLike | None = None, *,
                 seed: int = DEFAULT_SEED, size: tuple[int, int] = DEFAULT_SIZE, counts: dict | None = None,
                 workers: int | None = None):
        if root is None and not os.environ.get(f"PROVE_{env_key(self.name)}_ROOT"):
            root = ensure_generated(seed=seed, size=size, counts=counts, workers=workers)
        super().__init__(root, domain_csv)
        self.manifest = read_manifest(self.root)

    def list_samples(self, split: str) -> list[Sample]:
        if split not in type(self).splits:  # its own splits (a split CSV may name others)
            raise ProveError(f"dataset {self.name!r} has no split {split!r}; accepted: {', '.join(type(self).splits)}")
        samples = []
        for domain in DOMAINS:
            for image in sorted((self.root / domain / split).glob("*_image.png")):
                label = image.with_name(image.name[: -len("_image.png")] + "_label.png")
                samples.append(Sample(self.relative_name(image), image, label, domain))
        return samples

    def load_label(self, sample: Sample) -> np.ndarray:
        if sample.label is None or not sample.label.is_file():
            raise ProveError(f"label file missing for {sample.name}: {sample.label}")
        label = cv2.imread(str(sample.label), cv2.IMREAD_UNCHANGED)
        if label is None or label.ndim != 2 or label.dtype != np.uint8:
            raise ProveError(f"{sample.label} is not a single-channel 8-bit label image")
        return label
