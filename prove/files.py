"""Reading and writing the files prove and its users exchange: YAML the users write (sweeps,
plans, exclusions), JSON records prove writes beside a run, and content digests.

Every read failure is a `ProveError` that names the file; every digest is a SHA-256 of the
file's bytes (the identity of a checkpoint, a manifest or an image is its content, not its path).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from prove.errors import ProveError

_CHUNK = 1 << 22  # 4 MiB reads: checkpoints are hundreds of MB, images a few hundred kB


def read_yaml(path: str | Path, what: str) -> Any:
    """Safe-load a user's YAML file; a missing file or a syntax error names the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ProveError(f"{what} file not found: {path}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ProveError(f"{what} file {path} is not valid YAML: {exc}") from None


def write_json(path: str | Path, payload: Any) -> Path:
    """Write `payload` as indented JSON (anything else as its str), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))
    return path


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def short_digest(path: str | os.PathLike) -> str:
    """The first 16 hex digits of `file_sha256`: how a spec names a file it depends on."""
    return file_sha256(path)[:16]
