"""Loading MMEngine checkpoints on torch >= 2.6, without unpickling strangers' files.

Why: since torch 2.6 `torch.load` defaults to `weights_only=True`. MMEngine's checkpoints
hold more than tensors (message hub history buffers, numpy scalars, the config text), so
`Runner.resume` fails. Turning `weights_only` off everywhere would let any downloaded
`.pth` run code on load.

Policy (one place, used for every local checkpoint MMEngine loads):
1. A checkpoint prove wrote carries a sidecar `<file>.prove.json` with its SHA-256, written
   right after saving. If the digest matches, it is loaded with full unpickling.
2. Anything else is loaded `weights_only=True` (plain state dicts, e.g. ImageNet
   backbones, load fine).
3. If that fails, loading is refused with a message saying why and how to vouch for the
   file (`prove trust-checkpoint PATH`, which writes the sidecar).
The sidecar guards against loading foreign pickles by accident; it is not a defence against
someone who can already write to your work directory.

Remove when: MMEngine saves weights-only-loadable checkpoints or loads with an allow-list.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path

import torch

from prove.errors import ProveError

SIDECAR_SUFFIX = ".prove.json"
_CHUNK = 1 << 22


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(str(path) + SIDECAR_SUFFIX)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mark_written_by_prove(path: str | os.PathLike, note: str = "written by prove") -> Path:
    """Record that `path` (as it is now) is trusted for full unpickling."""
    from prove import __version__

    record = {
        "sha256": file_sha256(path),
        "size": os.path.getsize(path),
        "note": note,
        "prove_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    target = sidecar_path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, target)
    return target


def is_written_by_prove(path: str | os.PathLike) -> bool:
    """True when the sidecar exists and its digest matches the file's current content."""
    side = sidecar_path(path)
    if not side.is_file():
        return False
    try:
        record = json.loads(side.read_text())
    except (OSError, ValueError):
        return False
    if record.get("size") != os.path.getsize(path):
        return False  # cheap reject before hashing a large file
    return record.get("sha256") == file_sha256(path)


def load_checkpoint_file(path: str | os.PathLike, map_location=None):
    """Load a local checkpoint under the policy in the module docstring."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if is_written_by_prove(path):
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError/RuntimeError variants
        reason = str(exc).strip().splitlines()[0][:300]
        raise ProveError(
            f"refusing to unpickle checkpoint {path}: it was not written by prove (no matching "
            f"{Path(sidecar_path(path)).name}) and it cannot be loaded weights-only ({reason}). "
            f"If you trust where it came from, run `prove trust-checkpoint {path}` and retry."
        ) from None


def install() -> None:
    """Route MMEngine's loader for local files (scheme '') through the policy."""
    from mmengine.runner.checkpoint import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes="", loader=load_checkpoint_file, force=True)
