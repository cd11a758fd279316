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
            _follow(sweep, experiment, futures)
            return [f.result() for f in futures]
    finally:
        if previous is None:
            os.environ.pop("PROVE_NUM_CPUS", None)
        else:
            os.environ["PROVE_NUM_CPUS"] = previous


def _follow(sweep: Sweep, experiment: str | None, futures: list, every_s: float = 10.0) -> None:
    """While the workers run, the coordinating process says how far the whole sweep is (the
    workers each say only what they do): `sweep NAME: 5/12 (elapsed 4m10s, about 5m50s left)
    trained and tested`, read off the store every `every_s` seconds."""
    from concurrent.futures import wait

    from prove.progress import Lines
    from prove.sweeps.status import counts, status_table
    from prove.tracking import client

    items = [i for i in sweep.items() if i.spec is not None]
    lines = Lines(f"sweep {sweep.name}", len(items), every_s=every_s)
    pending = set(futures)
    while pending:
        _, pending = wait(pending, timeout=every_s)
        try:
            done = counts(status_table(sweep, experiment, items)).get("done", 0)
        except Exception as exc:  # noqa: BLE001
            if client.server_gone(exc):  # a tracking server away for a moment: the workers wait for it
                continue
            raise
        lines.update(done, "trained and tested")


EXECUTORS.declare(Executor("local", "workers as processes on this machine", run_locally))
