"""Generating the embedded weather benchmark: deterministic, atomic, cached.

Layout of a generated folder (every layout is rendered in all 7 domains under the same name,
so the images of one name differ only by weather and share one label map):

    <root>/manifest.json                       params, per-file SHA-256, overall digest
    <root>/<domain>/<split>/<NNNN>_image.png   8-bit RGB
    <root>/<domain>/<split>/<NNNN>_label.png   8-bit single channel, Cityscapes train ids

`generate` writes into a temporary sibling folder and renames it into place only when
everything (manifest last) is written, so an interrupted run never leaves a folder that
looks complete. `ensure_generated` keeps one folder per parameter set under
`prove.settings.cache_dir() / "weather_bench"` and generates it on first use.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import time
import uuid
from pathlib import Path

import cv2
import numpy as np

from prove.data.domains import DOMAINS
from prove.data.labels import CLASSES, NUM_CLASSES
from prove.data.synthetic.scene import build_scene, class_histogram
from prove.data.synthetic.weather import domain_rng, render
from prove.errors import ProveError
from prove.settings import cache_dir

# Bump whenever a change to the generator changes any output byte: the cache key includes
# it, so stale cached datasets are never mixed with new ones.
GENERATOR_VERSION = 1
DEFAULT_SEED = 0
DEFAULT_SIZE = (256, 128)  # width, height
DEFAULT_COUNTS = {"train": 100, "val": 20, "test": 24}  # layouts per split, each in all 7 domains
SPLITS = ("train", "val", "test")
MANIFEST = "manifest.json"
# run-length deflate: several times faster than the default strategy and no larger on noisy images
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
_STALE_PARTIAL_S = 6 * 3600  # a partial folder this old belongs to a run that died


class DatasetExistsError(ProveError, FileExistsError):
    """The target folder of `generate` exists already (it never overwrites)."""


def layout_seed(seed: int, split: str, index: int) -> int:
    """The seed of layout `index` of `split` in the dataset generated with `seed`."""
    return int(np.random.SeedSequence([int(seed), SPLITS.index(split), int(index)]).generate_state(1)[0])


def render_scene(seed: int, domain: str, size: tuple[int, int] = DEFAULT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One layout in one domain: (RGB uint8 (H, W, 3), train-id label uint8 (H, W)).

    The label depends only on `seed` and `size`; the domain changes only the image.
    """
    scene = build_scene(seed, _check_size(size))
    return render(scene, domain, domain_rng(seed, domain)), scene.label


def cache_key(seed: int = DEFAULT_SEED, size: tuple[int, int] = DEFAULT_SIZE, counts: dict | None = None) -> str:
    """Folder name for one parameter set, e.g. `v1-seed0-256x128-100-20-24`."""
    c = _check_counts(counts)
    w, h = _check_size(size)
    return f"v{GENERATOR_VERSION}-seed{int(seed)}-{w}x{h}-" + "-".join(str(c[s]) for s in SPLITS)


def ensure_generated(seed: int = DEFAULT_SEED, size: tuple[int, int] = DEFAULT_SIZE, counts: dict | None = None,
                     workers: int | None = None) -> Path:
    """The cached dataset for these parameters, generated first if it is not there yet."""
    parent = cache_dir() / "weather_bench"
    root = parent / cache_key(seed, size, counts)
    if (root / MANIFEST).is_file():
        return root
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(parent)
    try:
        return generate(root, seed=seed, size=size, counts=counts, workers=workers)
    except DatasetExistsError:
        if (root / MANIFEST).is_file():  # another process finished the same dataset first
            return root
        raise


def generate(root: str | os.PathLike, seed: int = DEFAULT_SEED, size: tuple[int, int] = DEFAULT_SIZE,
             counts: dict | None = None, workers: int | None = None) -> Path:
    """Render the benchmark into `root` (which must not exist yet) and return it.

    Output bytes depend only on the parameters (and the numpy/OpenCV builds), not on
    `workers`: every job draws from its own seeded random streams.
    """
    root = Path(root)
    counts = _check_counts(counts)
    size = _check_size(size)
    if root.exists():
        raise DatasetExistsError(f"{root} already exists; generate() never overwrites a folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = root.parent / f".{root.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    partial.mkdir()
    try:
        jobs = [(str(partial), split, i, layout_seed(seed, split, i), size) for split in SPLITS for i in range(counts[split])]
        files: dict[str, str] = {}
        pixels = {s: np.zeros(NUM_CLASSES, np.int64) for s in SPLITS}
        for split, digests, hist in _run(jobs, workers):
            files.update(digests)
            pixels[split] += hist
        manifest = {
            "dataset": "weather_bench",
            "generator_version": GENERATOR_VERSION,
            "params": {"seed": int(seed), "width": size[0], "height": size[1], "counts": counts,
                       "domains": list(DOMAINS)},
            "images": len(files) // 2,
            "layouts": sum(counts.values()),
            "classes": list(CLASSES),
            "class_pixels": {s: pixels[s].tolist() for s in SPLITS},  # one domain's labels (all are equal)
            "digest": _digest(files),
            "files": dict(sorted(files.items())),
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        os.rename(partial, root)  # atomic on one filesystem; fails if root appeared meanwhile
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError) and root.exists():
            raise DatasetExistsError(f"{root} was created by another process during generation") from exc
        raise
    return root


def read_manifest(root: str | os.PathLike) -> dict:
    """The manifest of a generated folder; a `ProveError` if `root` is not one."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ProveError(f"{root} is not a generated weather_bench folder (no {MANIFEST}); pass no root to "
                         f"generate one in the cache, or call prove.data.synthetic.generate(root)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ProveError(f"{path} is not valid JSON: {exc}") from exc
    if manifest.get("dataset") != "weather_bench":
        raise ProveError(f"{path} does not describe a weather_bench dataset")
    return manifest


def verify(root: str | os.PathLike) -> list[str]:
    """Files whose content no longer matches the manifest (empty list: intact)."""
    root = Path(root)
    manifest = read_manifest(root)
    bad = []
    for rel, sha in manifest["files"].items():
        path = root / rel
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            bad.append(rel)
    return bad


# -- internals --------------------------------------------------------------------------------
def _render_job(job) -> tuple[str, dict[str, str], np.ndarray]:
    """Render one layout in every domain and write its PNGs; returns file digests."""
    out, split, index, seed, size = job
    scene = build_scene(seed, size)
    digests = {}
    label_png = _encode(scene.label)
    for domain in DOMAINS:
        folder = Path(out) / domain / split
        folder.mkdir(parents=True, exist_ok=True)
        image_png = _encode(cv2.cvtColor(render(scene, domain, domain_rng(seed, domain)), cv2.COLOR_RGB2BGR))
        for kind, data in (("image", image_png), ("label", label_png)):
            rel = f"{domain}/{split}/{index:04d}_{kind}.png"
            (Path(out) / rel).write_bytes(data)
            digests[rel] = hashlib.sha256(data).hexdigest()
    return split, digests, class_histogram(scene.label)


def _run(jobs: list, workers: int | None):
    """Jobs in order, in this process or in a pool of spawned workers."""
    workers = min(2, os.cpu_count() or 1) if workers is None else int(workers)
    if workers <= 1 or len(jobs) < 8:
        yield from map(_render_job, jobs)
        return
    # spawn, not fork: the parent may hold threads (torch, OpenCV) that a fork would copy mid-state
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_worker_init) as pool:
        yield from pool.imap(_render_job, jobs, chunksize=4)


def _worker_init() -> None:
    cv2.setNumThreads(1)  # one process per core already; OpenCV threads would only contend


def _encode(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img, _PNG)
    if not ok:
        raise ProveError("OpenCV failed to encode a PNG")
    return buf.tobytes()


def _digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel} {files[rel]}\n".encode())
    return h.hexdigest()


def _check_counts(counts: dict | None) -> dict[str, int]:
    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    unknown = set(counts) - set(SPLITS)
    if unknown:
        raise ProveError(f"unknown split(s) in counts: {sorted(unknown)}; accepted: {', '.join(SPLITS)}")
    out = {s: int(counts.get(s, 0)) for s in SPLITS}
    if any(v < 0 for v in out.values()) or not any(out.values()):
        raise ProveError(f"counts must be non-negative and not all zero; got {out}")
    return out


def _check_size(size) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ProveError(f"size must be (width, height); got {size!r}") from None
    if w < 32 or h < 16:
        raise ProveError(f"size must be at least 32x16 (width x height); got {w}x{h}")
    return w, h


def _remove_stale_partials(parent: Path) -> None:
    """Partial folders left by runs that were killed (a normal failure removes its own)."""
    now = time.time()
    for path in parent.glob(".*.partial-*"):
        try:
            if now - path.stat().st_mtime > _STALE_PARTIAL_S:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue
