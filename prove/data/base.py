"""Dataset adapters: one class per dataset, reading its official layout.

An adapter turns a dataset root into a list of `Sample`s (image, label, domain) for a split
and loads a sample's label already mapped into the 19 Cityscapes train ids (255 = ignore).
Training, testing and manifests go through adapters only, so a dataset's quirks (label
mapping, polygon rasterisation, invalid-pixel masks, where its domains come from) live in
one file each.

Roots come from `--data-root` or the adapter's environment variable
(`PROVE_<NAME>_ROOT`, e.g. `PROVE_ACDC_ROOT`); a missing root is a clear error.

Splits: a dataset's own labelled splits (`splits`) unless a split CSV (`image,split`, image =
the sample name) assigns its images to train/val/test: then those are its splits, which gives a
real dataset a held-out test split (`--split-csv` or `PROVE_<NAME>_SPLIT_CSV`).
"""

from __future__ import annotations

import csv
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from prove.data.domains import check_domain
from prove.errors import ProveError
from prove.registry import Registry


@dataclass(frozen=True)
class Sample:
    """One labelled image of a dataset split.

    `name` is the image path relative to the dataset root (POSIX separators): stable across
    machines, used by domain CSVs and generated-image manifests to refer to the image.
    """

    name: str
    image: Path
    label: Path | None
    domain: str | None
    invalid_mask: Path | None = None  # non-zero pixels become ignore (ACDC `_gt_invIds.png`)


class DatasetAdapter(ABC):
    """Base class of every dataset. Subclasses declare the class attributes and two methods."""

    name: ClassVar[str]  # canonical name (`DATASETS.declare` registers the class under it)
    aliases: ClassVar[tuple[str, ...]] = ()  # other spellings users write (`idd-aw`, `bdd`)
    title: ClassVar[str] = ""  # the dataset's own name, as papers write it ("IDD-AW")
    domains_from: ClassVar[str] = "CSV"  # where an image's weather domain comes from (docs/datasets.md)
    embedded: ClassVar[bool] = False  # the generated benchmark: trainings on it keep quick defaults
    splits: ClassVar[tuple[str, ...]]  # splits that carry labels, e.g. ("train", "val")
    has_domains: ClassVar[bool]  # True when the dataset itself tags each image's domain
    description: ClassVar[str] = ""
    # Training geometry, declared per dataset: RandomResize scales around `scale` (W, H) by
    # 0.5-2.0 keeping the aspect ratio, then crops `crop_size` (H, W); tests resize to `scale`.
    scale: ClassVar[tuple[int, int]] = (2048, 1024)
    crop_size: ClassVar[tuple[int, int]] = (512, 512)

    def __init__(self, root: str | os.PathLike | None = None, domain_csv: str | os.PathLike | None = None):
        self.root = resolve_root(type(self), root)
        domain_csv = domain_csv or os.environ.get(f"PROVE_{env_key(self.name)}_DOMAIN_CSV") or None
        self.domain_csv = Path(domain_csv) if domain_csv else None
        self._csv_domains = read_domain_csv(self.domain_csv) if self.domain_csv else None
        self.split_csv: Path | None = None
        self._assigned: dict[str, str] | None = None  # sample name -> split, from the split CSV
        self._pool: dict[str, Sample] | None = None
        split_csv = os.environ.get(f"PROVE_{env_key(self.name)}_SPLIT_CSV")
        if split_csv:
            self.use_split_csv(split_csv)

    def use_split_csv(self, path: str | os.PathLike) -> None:
        """Take the splits from a CSV `image,split` instead of the dataset's own folders."""
        self.split_csv = Path(path).expanduser()
        self._assigned = read_split_csv(self.split_csv)
        self._pool = None
        self.splits = tuple(s for s in SPLIT_NAMES if s in set(self._assigned.values()))  # type: ignore[misc]

    # -- what subclasses implement -------------------------------------------------------
    @abstractmethod
    def list_samples(self, split: str) -> list[Sample]:
        """All samples of `split` in a stable order, domains filled where the dataset has them."""

    @abstractmethod
    def load_label(self, sample: Sample) -> np.ndarray:
        """(H, W) uint8 train-id map of `sample` (255 = ignore), invalid pixels ignored."""

    # -- shared behaviour -----------------------------------------------------------------
    def samples(self, split: str, need_domains: bool = False) -> list[Sample]:
        """Samples of `split`, with domains from the user's CSV where the dataset has none.

        With `need_domains`, every sample must end up with a domain, else a `ProveError`
        says how to supply them (a CSV mapping image -> domain).
        """
        if split not in self.splits:
            where = f" in the split CSV {self.split_csv}" if self.split_csv else ""
            raise ProveError(
                f"dataset {self.name!r} has no labelled split {split!r}{where}; accepted: {', '.join(self.splits)}"
            )
        samples = self._assigned_samples(split) if self._assigned is not None else self.list_samples(split)
        if not samples:
            raise ProveError(f"dataset {self.name!r}: no images found for split {split!r} under {self.root}")
        if self._csv_domains is not None:
            samples = [self._with_csv_domain(s) for s in samples]
        if need_domains:
            missing = [s.name for s in samples if s.domain is None]
            if missing:
                raise ProveError(
                    f"dataset {self.name!r} split {split!r}: {len(missing)} image(s) have no domain "
                    f"(e.g. {missing[0]!r}). {self.name} does not tag weather for these images; supply "
                    f"a CSV with columns 'image,domain' (image path relative to the dataset root) "
                    f"via --domain-csv or PROVE_{env_key(self.name)}_DOMAIN_CSV."
                )
        return samples

    def _assigned_samples(self, split: str) -> list[Sample]:
        """The images the split CSV assigns to `split`, out of every image of the dataset's own
        labelled splits; an image the CSV names that the dataset does not have is an error."""
        assert self._assigned is not None
        if self._pool is None:
            pool: dict[str, Sample] = {}
            for native in type(self).splits:
                try:
                    pool.update((s.name, s) for s in self.list_samples(native))
                except ProveError:
                    continue  # a split not on this machine; a CSV naming its images fails below
            missing = sorted(name for name in self._assigned if name not in pool)
            if missing:
                raise ProveError(
                    f"split CSV {self.split_csv} names {len(missing)} image(s) that dataset {self.name!r} does not "
                    f"have under {self.root} (e.g. {missing[0]!r}); names are paths relative to the dataset root, "
                    f"as `prove` lists them (labelled splits searched: {', '.join(type(self).splits)})"
                )
            self._pool = pool
        return [self._pool[name] for name, s in sorted(self._assigned.items()) if s == split]

    def _with_csv_domain(self, sample: Sample) -> Sample:
        assert self._csv_domains is not None
        domain = self._csv_domains.get(sample.name)
        if domain is None or sample.domain is not None:
            return sample
        return Sample(sample.name, sample.image, sample.label, domain, sample.invalid_mask)

    def settings(self) -> dict[str, str]:
        """Options that change what the dataset's labels or images are (ACDC's invalid pixels,
        Mapillary's label version); logged as params of every run that reads it."""
        return {}

    def skipped(self, split: str) -> list[str]:
        """Sample names of images of `split` the adapter left out (BDD10k's maskless images)."""
        return []

    def relative_name(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def env_key(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def resolve_root(adapter: type[DatasetAdapter], root: str | os.PathLike | None) -> Path:
    """The dataset root: the explicit argument, else `PROVE_<NAME>_ROOT`; must exist."""
    var = f"PROVE_{env_key(adapter.name)}_ROOT"
    chosen = root if root is not None else os.environ.get(var)
    if not chosen:
        raise ProveError(f"no data root for dataset {adapter.name!r}: pass --data-root or set {var}")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise ProveError(f"data root for dataset {adapter.name!r} does not exist or is not a folder: {path}")
    return path


SPLIT_NAMES = ("train", "val", "test")


def read_split_csv(path: Path) -> dict[str, str]:
    """`image,split` CSV -> {image name: split}; splits are train, val or test, each image once."""
    if not path.is_file():
        raise ProveError(f"split CSV not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"image", "split"} <= set(reader.fieldnames):
            raise ProveError(f"split CSV {path} must have the columns 'image,split'; found {reader.fieldnames}")
        mapping: dict[str, str] = {}
        for line, row in enumerate(reader, start=2):
            image = (row["image"] or "").strip().replace("\\", "/")
            split = (row["split"] or "").strip().lower()
            if split not in SPLIT_NAMES:
                raise ProveError(f"{path}:{line}: split {row['split']!r} is not accepted; accepted: "
                                 f"{', '.join(SPLIT_NAMES)}")
            if image in mapping and mapping[image] != split:
                raise ProveError(f"{path}:{line}: {image!r} is in both {mapping[image]!r} and {split!r}")
            mapping[image] = split
    if not mapping:
        raise ProveError(f"split CSV {path} has no rows")
    return mapping


def read_domain_csv(path: Path) -> dict[str, str]:
    """`image,domain` CSV -> {image name: domain}; every domain checked against the vocabulary."""
    if not path.is_file():
        raise ProveError(f"domain CSV not found: {path}")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"image", "domain"} <= set(reader.fieldnames):
            raise ProveError(f"domain CSV {path} must have the columns 'image,domain'; found {reader.fieldnames}")
        mapping: dict[str, str] = {}
        for line, row in enumerate(reader, start=2):
            image = row["image"].strip().replace("\\", "/")
            mapping[image] = check_domain(row["domain"].strip(), where=f"{path}:{line}")
    return mapping


# Declared with `@DATASETS.declare` on the adapter class (its `name` and `aliases`).
DATASETS: Registry[type[DatasetAdapter]] = Registry("dataset")


@lru_cache(maxsize=None)
def open_adapter(dataset: str, root: str | None = None, domain_csv: str | None = None,
                 split_csv: str | None = None) -> DatasetAdapter:
    """One adapter instance per (dataset, root, domain CSV, split CSV) and process (workers included)."""
    adapter = DATASETS.get(dataset)(root or None, domain_csv or None)
    if split_csv:
        adapter.use_split_csv(split_csv)
    return adapter


def default_test_split(splits: tuple[str, ...]) -> str:
    """The split `prove test` reports on when none is given: test where there is one, else val."""
    return "test" if "test" in splits else "val"
