"""Where prove keeps things and how long it waits: every machine-level default, in one place.

Environment variables (all optional):
- `PROVE_CACHE_DIR` (default `~/.cache/prove`): generated datasets and images, file hashes,
  leaderboard tables.
- `PROVE_WORK_DIR` (default `./work_dirs`): checkpoints, one folder per spec hash; also the
  SLURM executor's logs. Compute nodes must see it.
- `PROVE_PLUGINS` (default none): comma-separated modules imported at start-up by the CLI
  and by every sweep worker (local process or SLURM task), so a lab's own datasets, models
  or generators, registered in those modules, are known wherever a spec runs.
- `PROVE_STALE_AFTER` (default 600 s): a RUNNING run without a heartbeat, or a claim, older
  than this belongs to a dead job (resumable, expired).
- `PROVE_NUM_WORKERS`: data-loader workers (default: one fewer than the CPUs, at most 4).

The experiment runs go to when none is named: `DEFAULT_EXPERIMENT` (after MLflow's own
`MLFLOW_EXPERIMENT_ID` / `MLFLOW_EXPERIMENT_NAME`, see `prove.tracking.client.experiment_id`).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_EXPERIMENT = "prove"
DEFAULT_WORK_ROOT = "work_dirs"
DEFAULT_STALE_AFTER_S = 600.0
COMMAND_ENV = "PROVE_COMMAND"  # `prove train` etc.: the command a run was made by (mlflow.source.name)
TRACKING_TIMEOUT_S = 10.0  # a tracking server that does not answer within this is reported, not retried for minutes


def cache_dir() -> Path:
    """Root of prove's cache; created on demand."""
    path = Path(os.environ.get("PROVE_CACHE_DIR", Path.home() / ".cache" / "prove")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def work_root(explicit: str = "") -> Path:
    """Where work folders go: `explicit` (a spec's work_dir), else PROVE_WORK_DIR, else ./work_dirs."""
    return Path(explicit or os.environ.get("PROVE_WORK_DIR") or DEFAULT_WORK_ROOT).expanduser()


def stale_after_s() -> float:
    """Seconds without a heartbeat after which a RUNNING run (or a claim) is taken as dead."""
    return float(os.environ.get("PROVE_STALE_AFTER", DEFAULT_STALE_AFTER_S))


def data_workers() -> int:
    """Data-loader worker processes: PROVE_NUM_WORKERS, else one fewer than the CPUs (at most 4)."""
    return int(os.environ.get("PROVE_NUM_WORKERS", min(4, max(0, (os.cpu_count() or 1) - 1))))


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
