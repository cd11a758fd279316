"""Workers on this machine: one in this process, or N spawned processes."""

from __future__ import annotations

from prove.sweeps.definition import Sweep
from prove.sweeps.executors.base import EXECUTORS, Executor
from prove.sweeps.worker import WorkerReport, run_worker


def run_locally(sweep: Sweep, experiment: str | None, parent: str, workers: int) -> list[WorkerReport]:
    if workers == 1:
        return [run_worker(sweep, experiment, parent, "w0")]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import os

    from prove.progress import PROGRESS_ENV
    from prove.settings import allowed_cpus

    # spawn, not fork: each worker starts clean (torch threads, MLflow clients, CUDA). Several
    # processes cannot share one live bar on a terminal: they write lines.
    os.environ.setdefault(PROGRESS_ENV, "lines")
    # Each worker gets its share of this machine's allocation, as a scheduler gives each job its
    # own. Two workers each sized to every core of a 2-core machine trained at 5.7 it/s each,
    # against 65 it/s alone (docs/performance.md, "Sharing a node").
    cpus, _ = allowed_cpus()
    previous = os.environ.get("PROVE_NUM_CPUS")
    os.environ["PROVE_NUM_CPUS"] = str(max(1, cpus // workers))
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(run_worker, sweep, experiment, parent, f"w{i}") for i in range(workers)]
            return [f.result() for f in futures]
    finally:
        if previous is None:
            os.environ.pop("PROVE_NUM_CPUS", None)
        else:
            os.environ["PROVE_NUM_CPUS"] = previous


EXECUTORS.declare(Executor("local", "workers as processes on this machine", run_locally))
