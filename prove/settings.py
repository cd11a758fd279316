"""Where prove keeps files it creates itself. Every location has one default, here.

- `PROVE_CACHE_DIR` (default `~/.cache/prove`): generated datasets, downloaded weights.
- `PROVE_PLUGINS` (default none): comma-separated modules imported at start-up by the CLI
  and by every sweep worker (local process or SLURM task), so a lab's own datasets, models
  or generators, registered in those modules, are known wherever a spec runs.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of prove's cache; created on demand."""
    path = Path(os.environ.get("PROVE_CACHE_DIR", Path.home() / ".cache" / "prove")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_plugins() -> list[str]:
    """Import the modules named in PROVE_PLUGINS; a missing one is a clear error."""
    import importlib

    from prove.errors import ProveError

    names = [n.strip() for n in os.environ.get("PROVE_PLUGINS", "").split(",") if n.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ProveError(f"PROVE_PLUGINS names {name!r}, which cannot be imported: {exc}") from None
    return names
