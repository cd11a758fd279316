"""Provenance: a name and a content digest for every dataset split and manifest, for MLflow.

Digest scheme (version line `prove-digest-v1`): sha256 over text lines, one per file,
sorted by image name:

    split:     <name>\\timage\\t<sha256>   <name>\\tlabel\\t<sha256>
               <name>\\tinvalid_mask\\t<sha256>   <name>\\tdomain\\t<domain or "">
    manifest:  <gen name>\\tgenerated\\t<sha256>\\t<dataset>\\t<original name>\\t<domain>
               \\t<target domain>\\t<original label sha256>

Names are relative (to the dataset root / the generated-images root), so a copy of a dataset
on another machine has the same digest, and any changed pixel, relabelled image, added or
removed file, or changed domain tag (which decides what Stage 1 trains on) changes it.

Hashing a large dataset takes minutes, so per-file hashes are cached in a sqlite file under
`prove.settings.cache_dir()`, keyed by (absolute path, size, mtime_ns): an unchanged file is
not read again. A file rewritten with the same size within the same mtime tick would be
missed; that is the usual trade-off of make/rsync and acceptable for datasets.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from prove.data.base import DatasetAdapter, Sample
from prove.data.manifest import Manifest
from prove.files import file_sha256
from prove.settings import cache_dir

SCHEME = "prove-digest-v1"
MLFLOW_DIGEST_CHARS = 32  # MLflow stores dataset digests in a VARCHAR(36) column


class FileHashCache:
    """sha256 of files, remembered across processes by (path, size, mtime_ns)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else cache_dir() / "file_hashes.sqlite"
        self._db: sqlite3.Connection | None = None
        self._pending = 0
        try:
            self._db = sqlite3.connect(self.path, timeout=30)  # several workers may share it
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT)"
            )
        except sqlite3.Error:
            self._db = None  # unwritable or corrupt cache: hash everything, still correct

    def sha256(self, path: str | os.PathLike) -> str:
        path = Path(path).resolve()
        st = path.stat()
        key = str(path)
        if self._db is not None:
            row = self._db.execute("SELECT size, mtime_ns, sha256 FROM files WHERE path = ?", (key,)).fetchone()
            if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
                return row[2]
        digest = file_sha256(path)
        if self._db is not None:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", (key, st.st_size, st.st_mtime_ns, digest)
                )
                self._pending += 1
                if self._pending >= 500:  # commit now and then: an open write blocks other workers
                    self._db.commit()
                    self._pending = 0
            except sqlite3.Error:
                pass  # a busy or read-only cache only costs speed
        return digest

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.commit()
            except sqlite3.Error:
                pass
            self._db.close()
            self._db = None

    def __enter__(self) -> FileHashCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def digest_lines(lines: Iterable[str]) -> str:
    """sha256 of the scheme line followed by `lines` in sorted order."""
    h = hashlib.sha256(SCHEME.encode() + b"\n")
    for line in sorted(lines):
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def split_digest(adapter: DatasetAdapter, split: str, cache: FileHashCache | None = None) -> str:
    return samples_digest(adapter.samples(split), cache)


def samples_digest(samples: Iterable[Sample], cache: FileHashCache | None = None) -> str:
    with _cache(cache) as files:
        lines = []
        for s in samples:
            lines.append(f"{s.name}\timage\t{files.sha256(s.image)}")
            if s.label is not None:
                lines.append(f"{s.name}\tlabel\t{files.sha256(s.label)}")
            if s.invalid_mask is not None:
                lines.append(f"{s.name}\tinvalid_mask\t{files.sha256(s.invalid_mask)}")
            lines.append(f"{s.name}\tdomain\t{s.domain or ''}")
        return digest_lines(lines)


def manifest_digest(manifest: Manifest, cache: FileHashCache | None = None) -> str:
    with _cache(cache) as files:
        lines = []
        for e in manifest.entries:
            gen_name = e.gen_image.relative_to(manifest.gen_root.resolve()).as_posix()
            label = files.sha256(e.original.label) if e.original.label is not None else ""
            lines.append(
                f"{gen_name}\tgenerated\t{files.sha256(e.gen_image)}\t{e.dataset}\t{e.original.name}"
                f"\t{e.domain}\t{e.target_domain}\t{label}"
            )
        return digest_lines(lines)


class _cache:
    """Use the caller's cache, or open (and close) the default one."""

    def __init__(self, given: FileHashCache | None):
        self.given, self.opened = given, None

    def __enter__(self) -> FileHashCache:
        if self.given is not None:
            return self.given
        self.opened = FileHashCache()
        return self.opened

    def __exit__(self, *exc: object) -> None:
        if self.opened is not None:
            self.opened.close()


@dataclass(frozen=True)
class Provenance:
    """Name, digest and where the data lives: what a run logs as its input dataset."""

    name: str  # "acdc/train", "manifest:cyclegan_acdc_train"
    digest: str  # full sha256 (hex)
    source: str  # file:// URI of the dataset root or manifest file
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def short_digest(self) -> str:
        return self.digest[:MLFLOW_DIGEST_CHARS]

    def to_mlflow(self):
        """An `mlflow.data` dataset for `mlflow.log_input(dataset, context="train")`.

        Its source is MLflow's own `local` source type, so anyone can read it back with plain
        MLflow; the digest is the first 32 hex characters of ours (the full one is in the
        profile).
        """
        from mlflow.data.dataset_source_registry import get_dataset_source_from_json

        source = get_dataset_source_from_json(json.dumps({"uri": self.source}), source_type="local")
        profile = {**self.profile, "sha256": self.digest, "digest_scheme": SCHEME}
        return _dataset_class()(source=source, name=self.name, digest=self.short_digest, profile=profile)


def split_provenance(adapter: DatasetAdapter, split: str, cache: FileHashCache | None = None) -> Provenance:
    samples = adapter.samples(split)
    domains = Counter(s.domain or "unknown" for s in samples)
    profile = {"dataset": adapter.name, "split": split, "num_images": len(samples), "domains": dict(domains),
               **{f"setting.{k}": v for k, v in adapter.settings().items()}}
    if adapter.split_csv:
        profile["split_csv"] = str(adapter.split_csv)
    skipped = adapter.skipped(split) if split in type(adapter).splits else []
    if skipped:  # images the dataset ships that this split leaves out, named
        profile.update(skipped_images=len(skipped), skipped=skipped[:50])
    return Provenance(
        name=f"{adapter.name}/{split}",
        digest=samples_digest(samples, cache),
        source=Path(adapter.root).resolve().as_uri(),
        profile=profile,
    )


def manifest_provenance(manifest: Manifest) -> Provenance:
    entries = manifest.entries
    return Provenance(
        name=manifest.name,
        digest=manifest_digest(manifest),
        source=manifest.path.resolve().as_uri(),
        profile={
            "num_images": len(entries),
            "datasets": dict(Counter(e.dataset for e in entries)),
            "target_domains": dict(Counter(e.target_domain for e in entries)),
            "dropped_rows": manifest.dropped.dropped,
        },
    )


@lru_cache(maxsize=None)
def _dataset_class():
    # Built on first use: importing mlflow costs about a second, and most callers never need it.
    from mlflow.data.meta_dataset import MetaDataset

    class ProveDataset(MetaDataset):
        """MetaDataset plus a profile (image counts, domains, full sha256) shown in the MLflow UI."""

        def __init__(self, source, name, digest, profile):
            self._profile = profile
            super().__init__(source=source, name=name, digest=digest)

        @property
        def profile(self) -> dict[str, Any]:
            return self._profile

        def to_dict(self) -> dict[str, str]:
            config = super().to_dict()
            config["profile"] = json.dumps(self._profile, sort_keys=True)
            return config

    return ProveDataset
