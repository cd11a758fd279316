"""The sweep's workers as a SLURM job array, through submitit.

Each array task runs `prove.sweeps.worker.run_worker` in the same Python environment (submitit
pickles the call and runs it with this interpreter; sbatch passes this shell's environment,
so MLFLOW_TRACKING_URI, credentials and PROVE_PLUGINS reach the tasks). Resources come from
the sweep file's `resources` (per task). Tasks share the work through claims, so the array
size is simply the parallelism.

Wall clock: submitit asks SLURM to signal the task (USR2) shortly before its time limit.
`SweepTask.checkpoint` then gives the current spec back (its training run is marked KILLED,
i.e. resumable, and its claim released) and submitit requeues the task, which resumes that
training from its last checkpoint.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import click

from prove.errors import ProveError
from prove.settings import work_root
from prove.sweeps.definition import Sweep
from prove.sweeps.executors.base import EXECUTORS, Executor
from prove.sweeps.status import counts, status_table
from prove.sweeps.worker import WorkerReport, interrupt_current, run_worker

POLL_S = float(os.environ.get("PROVE_SLURM_POLL", 15))
GRACE_S = 30.0

try:
    from submitit.helpers import Checkpointable
except ImportError:  # pragma: no cover - submitit is a dependency; keep import errors readable
    Checkpointable = object  # type: ignore[misc,assignment]


class SweepTask(Checkpointable):
    def __call__(self, sweep: Sweep, experiment: str | None, parent: str, worker: str) -> WorkerReport:
        return run_worker(sweep, experiment, parent, worker)

    def checkpoint(self, *args, **kwargs):
        interrupt_current()  # the requeued task (or any worker) takes the spec up at once
        return super().checkpoint(*args, **kwargs)


def log_folder(parent: str) -> Path:
    """submitit's pickles and logs: under the work dir, which compute nodes must see anyway."""
    return (work_root() / "slurm" / parent).resolve()


def executor_parameters(sweep: Sweep, workers: int) -> dict:
    r = sweep.resources
    params = dict(name=f"prove-{sweep.name}", timeout_min=int(r["time_min"]), cpus_per_task=int(r["cpus"]),
                  mem_gb=int(r["mem_gb"]), tasks_per_node=1, nodes=1, slurm_array_parallelism=workers)
    if r.get("gpus"):
        params["gpus_per_node"] = int(r["gpus"])
    if r.get("partition"):
        params["slurm_partition"] = str(r["partition"])
    return params


def run_on_slurm(sweep: Sweep, experiment: str | None, parent: str, workers: int) -> list[WorkerReport]:
    import submitit

    folder = log_folder(parent)
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    executor.update_parameters(**executor_parameters(sweep, workers))
    names = [f"slurm{i}" for i in range(workers)]
    try:
        jobs = executor.map_array(SweepTask(), [sweep] * workers, [experiment] * workers, [parent] * workers, names)
    except Exception as exc:  # sbatch refused (no SLURM here, bad partition, ...)
        raise ProveError(f"could not submit the sweep to SLURM: {str(exc).strip().splitlines()[-1][:300]}") from None
    click.echo(f"submitted job array {jobs[0].job_id.split('_')[0]} ({workers} tasks); logs in {folder}", err=True)
    last_report = 0.0
    gone_since: dict[str, float] = {}
    while not all(_ended(j, gone_since) for j in jobs):
        if time.monotonic() - last_report > 4 * POLL_S:
            c = counts(status_table(sweep, experiment))
            queued = sum(j.job_id not in gone_since for j in jobs)
            click.echo(f"[slurm] tasks queued or running: {queued}/{len(jobs)}; specs done "
                       f"{c['done']}/{c['total'] - c['blocked']}", err=True)
            last_report = time.monotonic()
        time.sleep(POLL_S)
    reports = []
    for name, job in zip(names, jobs):
        if not job.paths.result_pickle.exists():
            reports.append(WorkerReport(name, failed=[(f"task {job.job_id}", "ended without a result; see "
                                                       f"{job.paths.stderr}")]))
            continue
        try:
            reports.append(job.result())
        except Exception as exc:  # the task raised: its traceback tail is the reason
            reports.append(WorkerReport(name, failed=[(f"task {job.job_id}", str(exc).strip()[-500:])]))
    return reports


def _in_queue(job_id: str) -> bool:
    """squeue, not sacct: clusters without the accounting daemon have no sacct, and
    submitit's job.state then never leaves UNKNOWN. A requeued task is back in the queue."""
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, check=False)
    return out.returncode == 0 and bool(out.stdout.strip())


def _ended(job, gone_since: dict[str, float]) -> bool:
    if job.paths.result_pickle.exists():
        return True
    if _in_queue(job.job_id):
        gone_since.pop(job.job_id, None)
        return False
    # out of the queue without a result: wait a moment (the pickle is written just before the end)
    first = gone_since.setdefault(job.job_id, time.monotonic())
    return time.monotonic() - first > GRACE_S


EXECUTORS.declare(Executor("slurm", "a SLURM job array through submitit (docs/cluster.md)", run_on_slurm))
