"""Where prove keeps things and how long it waits: every machine-level default, in one place.

Environment variables (all optional):
- `PROVE_CACHE_DIR` (default `~/.cache/prove`): generated datasets and images, file hashes,
  leaderboard tables.
- `PROVE_WORK_DIR` (default `./work_dirs`): checkpoints, one folder per spec hash; also the
  batch executors' job scripts, logs and reports. Compute nodes must see it.
- `PROVE_PLUGINS` (default none): comma-separated modules imported at start-up by the CLI
  and by every sweep worker (local process or SLURM task), so a lab's own datasets, models
  or generators, registered in those modules, are known wherever a spec runs.
- `PROVE_STALE_AFTER` (default 600 s): a RUNNING run without a heartbeat, or a claim, older
  than this belongs to a dead job (resumable, expired).
- `PROVE_TRACKING_RETRY_S` (default 900 s): how long a running job waits for a tracking server
  that went away (restart, outage), keeping its metrics buffered, before it gives up.
- `PROVE_NUM_CPUS`: the CPUs this job may use (default: its allocation, see `allowed_cpus`).
- `PROVE_NUM_WORKERS`: data-loader workers (default: one fewer than the allowed CPUs, at most 8).
- `PROVE_SHARED_OUTPUTS` (on | off; default on inside a cluster job and for cluster executors,
  off elsewhere): work dirs, checkpoints, caches, logs and reports are made group-writable
  (umask without the group-write bit: 775 folders, 664 files), so a colleague in the same Unix
  group can resume a run another person's job left KILLED.

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
# Once a job is running, a server that goes away (a restart, a network outage) is waited for:
# metrics stay buffered, claims and heartbeats are retried, for up to this long (PROVE_TRACKING_RETRY_S).
DEFAULT_TRACKING_RETRY_S = 900.0


def tracking_retry_s() -> float:
    return float(os.environ.get("PROVE_TRACKING_RETRY_S", DEFAULT_TRACKING_RETRY_S))


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


MAX_DATA_WORKERS = 8  # beyond this a loader only adds memory: one worker feeds ~10 img/s (docs/performance.md)


def allowed_cpus() -> tuple[int, str]:
    """(CPUs this job may use, where that number comes from).

    A cluster job gets a few cores of a shared node, but `os.cpu_count()` is the whole node:
    sizing threads and loaders from it oversubscribes the node for every job on it (two
    trainings on 2 cores ran 4.9x slower each). The allocation is the smallest of what the
    scheduler and the kernel say: SLURM_CPUS_PER_TASK, LSF's LSB_DJOB_NUMPROC, the cgroup CPU
    quota (cgroup v2 cpu.max, v1 cfs_quota/period), the process's affinity mask; PROVE_NUM_CPUS
    overrides them all."""
    explicit = os.environ.get("PROVE_NUM_CPUS", "").strip()
    if explicit:
        return max(1, int(explicit)), "PROVE_NUM_CPUS"
    candidates = []
    for name in ("SLURM_CPUS_PER_TASK", "LSB_DJOB_NUMPROC"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            candidates.append((int(value), name))
    quota = cgroup_cpu_quota()
    if quota:
        candidates.append((quota, "cgroup cpu quota"))
    if hasattr(os, "sched_getaffinity"):
        candidates.append((len(os.sched_getaffinity(0)), "affinity"))
    candidates.append((os.cpu_count() or 1, "os.cpu_count"))
    return min(candidates, key=lambda c: c[0])


def cgroup_cpu_quota(root: str = "/sys/fs/cgroup") -> int | None:
    """CPUs granted by the cgroup quota (rounded up), None when there is no quota."""
    import math

    base = Path(root)
    try:
        quota, period = (base / "cpu.max").read_text().split()[:2]  # cgroup v2: "max 100000" or "200000 100000"
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int((base / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((base / "cpu" / "cpu.cfs_period_us").read_text())
        return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def data_workers() -> int:
    """Data-loader worker processes: PROVE_NUM_WORKERS, else the allowed CPUs less the main
    process (main + workers = the allocation), at most MAX_DATA_WORKERS."""
    if os.environ.get("PROVE_NUM_WORKERS", "").strip():
        return int(os.environ["PROVE_NUM_WORKERS"])
    return min(MAX_DATA_WORKERS, max(0, allowed_cpus()[0] - 1))


def limit_threads() -> int:
    """Size torch's intra-op threads (and OpenCV's) to the allocation; returns the count.
    Data-loader workers run one thread each (torch sets 1 in its workers; OpenCV via
    `single_thread_in_worker`)."""
    import torch

    # torchrun starts LOCAL_WORLD_SIZE processes on the node: they share the allocation
    n = max(1, allowed_cpus()[0] // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    torch.set_num_threads(n)
    try:
        import cv2

        cv2.setNumThreads(n)
    except ImportError:
        pass
    return n


_single_threaded = False


def single_thread_in_worker() -> None:
    """In a data-loader worker process: one OpenCV thread, so N workers use N cores, not
    N x cores (torch already runs one thread in its workers). Called by prove's datasets for
    every item; a no-op in the main process and after the first call."""
    global _single_threaded
    if _single_threaded:
        return
    import torch.utils.data

    if torch.utils.data.get_worker_info() is None:
        return
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    _single_threaded = True


def stop_image_threads_before_fork(workers: int) -> None:
    """Before data-loader workers fork: stop OpenCV's thread pool in this process. A forked child
    that resizes a pool whose threads stayed in the parent (single_thread_in_worker does) waits
    for them forever; `prove train` of an offline generator, whose images the parent had just
    made with OpenCV, hung so. With workers, this process does no image work itself."""
    if workers <= 0:
        return
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


SHARED_OUTPUTS_ENV = "PROVE_SHARED_OUTPUTS"
SCHEDULER_JOB_ENV = ("SLURM_JOB_ID", "LSB_JOBID", "PBS_JOBID")


def shared_outputs(cluster: bool = False) -> bool:
    """Whether outputs are group-writable: PROVE_SHARED_OUTPUTS, else on in a cluster job
    (`cluster`, or a scheduler's job id in the environment)."""
    from prove.errors import ProveError

    value = os.environ.get(SHARED_OUTPUTS_ENV, "").strip().lower()
    if value in ("on", "1", "true", "yes"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    if value:
        raise ProveError(f"{SHARED_OUTPUTS_ENV}={value!r}; accepted: on, off (default: on in cluster jobs)")
    return cluster or any(os.environ.get(k) for k in SCHEDULER_JOB_ENV)


def apply_shared_umask(cluster: bool = False) -> int:
    """Drop the group-write bit from this process's umask when outputs are shared; returns the
    umask now in force. Everything written afterwards (mkdir, checkpoints, artifacts) is 775/664."""
    current = os.umask(0)
    new = current & ~0o020 if shared_outputs(cluster) else current
    os.umask(new)
    return new


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
