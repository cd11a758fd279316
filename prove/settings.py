"""Where prove keeps files it creates itself. Every location has one default, here.

- `PROVE_CACHE_DIR` (default `~/.cache/prove`): generated datasets, downloaded weights.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of prove's cache; created on demand."""
    path = Path(os.environ.get("PROVE_CACHE_DIR", Path.home() / ".cache" / "prove")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
