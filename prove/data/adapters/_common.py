"""Helpers shared by the real-dataset adapters: folder checks, index-PNG reading, id mapping.

Label images are read with Pillow, never OpenCV: `cv2.imread` expands palette PNGs (Mapillary,
many converted datasets) into colours, while Pillow returns the stored index, which is the
class id.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import cv2
import numpy as np
from PIL import Image

from prove.data.base import Sample
from prove.data.labels import IGNORE_INDEX, NUM_CLASSES, lookup_table
from prove.errors import ProveError

if TYPE_CHECKING:
    from prove.data.base import DatasetAdapter

# Train ids pass through unchanged; anything outside 0..18 becomes ignore (255).
TRAIN_ID_PASSTHROUGH: np.ndarray = lookup_table({i: i for i in range(NUM_CLASSES)})


def require_dir(path: Path, dataset: str, layout: str) -> Path:
    """`path` if it is a folder, else a `ProveError` naming it and the expected layout."""
    if not path.is_dir():
        raise ProveError(
            f"dataset {dataset!r}: folder {path} is missing. Expected layout under the data root:\n"
            f"{layout}"
        )
    return path


def sorted_files(folder: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` directly in `folder`, sorted by name (stable across machines)."""
    return sorted((p for p in folder.glob(pattern) if p.is_file()), key=lambda p: p.name)


def sorted_dirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name)


def read_index_png(path: Path) -> np.ndarray:
    """(H, W) uint8 array of the *stored index* of a label image (palette or grey PNG).

    Values above 255 (16-bit images) are clipped to 255, i.e. ignore. Colour (RGB) label
    images are refused: their colours are not class ids.
    """
    if not path.is_file():
        raise ProveError(f"label file not found: {path}")
    with Image.open(path) as img:
        mode = img.mode
        if mode in ("P", "L", "1"):
            arr = np.array(img)
        elif mode.startswith("I"):
            arr = np.array(img)
            arr = np.where((arr < 0) | (arr > 255), IGNORE_INDEX, arr)
        else:
            raise ProveError(
                f"label image {path} is a colour image (mode {mode}); expected a single-channel "
                f"index PNG (palette or greyscale) whose pixel values are class ids"
            )
    if arr.ndim != 2:
        raise ProveError(f"label image {path} has shape {arr.shape}; expected (height, width)")
    return arr.astype(np.uint8, copy=False)


def map_ids(raw: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Apply a 256-entry lookup table (raw id -> train id); cv2.LUT is `table[raw]`, 2.4x faster
    on a 1280x720 label (bench/data_pipeline.py)."""
    if raw.dtype == np.uint8 and table.dtype == np.uint8 and table.shape == (256,):
        return cv2.LUT(np.ascontiguousarray(raw), table).reshape(raw.shape)
    return table[raw]


def apply_invalid_mask(label: np.ndarray, mask_path: Path | None) -> np.ndarray:
    """Set pixels that are non-zero in `mask_path` to ignore (255)."""
    if mask_path is None:
        return label
    mask = read_index_png(mask_path)
    if mask.shape != label.shape:
        raise ProveError(
            f"invalid-pixel mask {mask_path} has shape {mask.shape}, label has {label.shape}"
        )
    out = label.copy()
    out[mask != 0] = IGNORE_INDEX
    return out


def missing_labels_error(dataset: str, split: str, missing: Iterable[tuple[Path, str]],
                         accepted: str | None = None) -> ProveError:
    """Error for images of a labelled split whose label file is absent; `accepted` says which
    label files the adapter would have taken (e.g. labelTrainIds or labelIds)."""
    missing = list(missing)
    image, expected = missing[0]
    also = f"; accepted label files: {accepted}" if accepted else ""
    return ProveError(
        f"dataset {dataset!r} split {split!r}: {len(missing)} image(s) have no label file "
        f"(e.g. {image} expects {expected}{also}). The labelled splits must be complete; re-extract "
        f"the dataset's ground-truth archive into the same data root."
    )


def first_file(*candidates: Path) -> Path:
    """The first candidate that exists, else the first one (what a message says is expected)."""
    return next((c for c in candidates if c.is_file()), candidates[0])


def labelled_samples(adapter: "DatasetAdapter", split: str,
                     found: Iterable[tuple[Path, Path, str | None, Path | None]],
                     accepted: str | None = None) -> list[Sample]:
    """Samples of (image, label, domain, invalid-pixel mask) found in a split's layout, sorted
    by name; images whose label file is absent are an error that lists them (and names the
    `accepted` label files)."""
    samples, missing = [], []
    for image, label, domain, invalid in found:
        if not label.is_file():
            missing.append((image, str(label)))
            continue
        samples.append(Sample(adapter.relative_name(image), image, label, domain, invalid))
    if missing:
        raise missing_labels_error(adapter.name, split, missing, accepted)
    return sorted(samples, key=lambda s: s.name)


def require_images(samples: list[Sample], dataset: str, split: str, where: str, layout: str) -> list[Sample]:
    """`samples` unless empty; then a `ProveError` naming where images were looked for and how
    they must be named (instead of the generic "no images found for split")."""
    if not samples:
        raise ProveError(
            f"dataset {dataset!r} split {split!r}: no images found: expected {where}. Expected "
            f"layout under the data root:\n{layout}"
        )
    return samples


# -- adapter options --------------------------------------------------------------------------
# An adapter option that changes what a label means (ACDC's invalid pixels, Mapillary's label
# version) is a constructor keyword, else an environment variable, else its default, and the
# adapter reports the effective values with `settings() -> dict[str, str]`, so that a run can
# log them as params (prove/data/base.py does not know about options).
def choose_option(dataset: str, option: str, value: str | None, env_var: str, accepted: tuple[str, ...]) -> str:
    """The option's value: `value` if given, else `$env_var`, else `accepted[0]` (the default).
    Anything outside `accepted` is a `ProveError` naming the value, where it came from and the
    accepted values."""
    source = f"{option}="
    if value is None and os.environ.get(env_var):
        value, source = os.environ[env_var], f"{env_var}="
    if value is None:
        return accepted[0]
    chosen = str(value).strip().lower()
    if chosen not in accepted:
        raise ProveError(
            f"dataset {dataset!r}: {source}{value!r} is not accepted; accepted: {', '.join(accepted)}"
        )
    return chosen
