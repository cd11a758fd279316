"""Reading the YAML files users write (sweeps, plans, exclusions): safe-loaded, and every
failure a ProveError that names the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prove.errors import ProveError


def read_yaml(path: str | Path, what: str) -> Any:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ProveError(f"{what} file not found: {path}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ProveError(f"{what} file {path} is not valid YAML: {exc}") from None
