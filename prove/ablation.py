"""`prove ablation`: run a sweep (file or preset), training then testing only what is missing.

Flow: sweep definition -> plan (sweep_status: two store queries for the whole grid) ->
optional `--reconcile` (runs of dead jobs -> resumable) -> a parent run (`prove.kind=sweep`)
-> workers -> summary. Workers are interchangeable: each re-reads the plan, claims a spec
(prove.claims), trains it (skipped when done, resumed when interrupted), tests it on every
test set of the sweep, releases it and takes the next. So one worker, N local processes,
N SLURM array tasks or two people's sweeps on one store all share the work without ever
training a spec twice, and a killed worker's spec is picked up again once its claim expires.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field

import click
import pandas as pd

from prove import tracking
from prove.errors import ProveError
from prove.sweep import Sweep
from prove.sweep_status import STATUSES, counts, plan, test_keys

EXECUTORS = ("local", "slurm")
TODO = ("to_train", "to_test", "resumable")
MAX_PASSES = 3  # a spec two workers contended for (both withdrew) is retried on a later pass


def _echo(message: str) -> None:
    click.echo(message, err=True)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"


# what this process is working on, so a signal handler (SLURM wall clock) can give it back
_CURRENT: dict = {}


def interrupt_current() -> None:
    """Give the spec in progress back: its RUNNING training run becomes KILLED (resumable)
    and its claim is released, so the next worker resumes it now instead of waiting for the
    heartbeat and the claim to expire."""
    from prove.claims import release

    claim = _CURRENT.pop("claim", None)
    if claim is None:
        return
    for run in tracking.find_train_runs(claim.exp_id, claim.spec_hash):
        if run.status == "RUNNING":
            tracking.end_run(run.run_id, "KILLED")
    release(claim)


@dataclass
class WorkerReport:
    worker: str
    done: list = field(default_factory=list)  # run names trained and/or tested here
    failed: list = field(default_factory=list)  # (run name, error)
    busy: int = 0  # specs another worker had claimed
    overhead_s: float = 0.0  # time outside train() and test(): planning, claims, bookkeeping


def run_worker(sweep: Sweep, experiment: str | None, parent_run_id: str = "", worker: str = "w0") -> WorkerReport:
    """Take specs of `sweep` until none is left to do; picklable, so it runs in a local
    process or a SLURM task alike. A TrainingInterrupted (SIGTERM at the wall clock) goes up
    to the caller with the claim released, so the job can be requeued and resume."""
    from prove.claims import Keepalive, try_claim
    from prove.evaluate import test
    from prove.settings import load_plugins
    from prove.train import train

    load_plugins()  # a fresh process (spawned or a SLURM task) must know the lab's datasets too
    if parent_run_id:
        os.environ[tracking.PARENT_RUN_ENV] = parent_run_id
    report = WorkerReport(worker)
    exp_id = tracking.experiment_id(experiment)
    items = [i for i in sweep.items() if i.spec is not None]
    start = time.monotonic()
    work_s = 0.0
    for _ in range(MAX_PASSES):
        table = plan(sweep, experiment, items)
        todo = [item for item, status in zip(items, table["status"]) if status in TODO]
        if not todo:
            break
        claimed_any = False
        for n, item in enumerate(todo, 1):
            claim = try_claim(exp_id, item.spec.spec_hash())
            if claim is None:
                report.busy += 1
                continue
            claimed_any = True
            elapsed = time.monotonic() - start
            finished = len(report.done) + len(report.failed)
            eta = f", ~{_clock(elapsed / finished * (len(todo) - n + 1))} left" if finished else ""
            _echo(f"[sweep {sweep.name} {worker}] {n}/{len(todo)} {item.label} (elapsed {_clock(elapsed)}{eta})")
            _CURRENT["claim"] = claim
            with Keepalive(claim):
                t0 = time.monotonic()  # only train() and test() are work; the rest is the runner's overhead
                try:
                    outcome = train(item.spec, experiment=experiment)
                    for dataset, split in test_keys(sweep, item):
                        test(run_id=outcome.run_id, checkpoint=sweep.checkpoint, test_dataset=dataset,
                             test_split=split, samples=2, experiment=experiment)
                    report.done.append(item.label)
                except ProveError as exc:  # bad data root, missing weights...: the rest of the sweep goes on
                    _echo(f"[sweep {sweep.name} {worker}] FAILED {item.label}: {exc}")
                    report.failed.append((item.label, str(exc)))
                finally:
                    work_s += time.monotonic() - t0
                    _CURRENT.pop("claim", None)
        if not claimed_any:
            time.sleep(random.uniform(0.5, 2.0))  # contention: let the other worker win next time
    report.overhead_s = time.monotonic() - start - work_s
    return report


def reconcile(sweep: Sweep, experiment: str | None) -> list[str]:
    """Runs of this sweep left RUNNING by dead jobs (no heartbeat for PROVE_STALE_AFTER) are
    marked KILLED, i.e. resumable, and expired claims are removed. Returns the run ids."""
    from prove.claims import expire_stale
    from prove.sweep_status import known_runs

    exp_id = tracking.find_experiment_id(experiment)
    if exp_id is None:
        return []
    hashes = {i.spec.spec_hash() for i in sweep.items() if i.spec}
    marked = []
    for spec_hash, runs in known_runs(exp_id).items():
        for run in runs:
            if spec_hash in hashes and run.stale:
                tracking.end_run(run.run_id, "KILLED")
                tracking.set_tags(run.run_id, {"prove.reconciled": str(time.time())})
                marked.append(run.run_id)
    expire_stale(exp_id)
    return marked


def format_plan(table: pd.DataFrame, max_rows: int = 40) -> str:
    c = counts(table)
    lines = ["  ".join(f"{k} {v}" for k, v in c.items())]
    shown = table.head(max_rows)
    width = max([len("training"), *(len(n) for n in shown["run_name"])])
    lines.append(f"{'training':<{width}}  {'status':<9}  detail")
    for r in shown.itertuples():
        detail = r.missing_tests and f"missing tests: {r.missing_tests}" or r.reason or r.train_run_id
        lines.append(f"{r.run_name:<{width}}  {r.status:<9}  {detail}")
    if len(table) > max_rows:
        lines.append(f"... {len(table) - max_rows} more (--plan-csv FILE writes every row)")
    return "\n".join(lines)


@dataclass
class SweepOutcome:
    plan: pd.DataFrame
    final: pd.DataFrame | None = None
    parent_run_id: str | None = None
    reports: list = field(default_factory=list)


def run_sweep(sweep: Sweep, experiment: str | None = None, dry_run: bool = False, executor: str = "local",
              workers: int = 1, do_reconcile: bool = False, plan_csv: str = "") -> SweepOutcome:
    if executor not in EXECUTORS:
        raise ProveError(f"unknown executor {executor!r}; accepted: {', '.join(EXECUTORS)}")
    if workers < 1:
        raise ProveError(f"workers must be >= 1, got {workers}")
    if do_reconcile:
        marked = reconcile(sweep, experiment)
        _echo(f"reconciled: {len(marked)} runs left RUNNING by dead jobs are now resumable"
              + (f" ({', '.join(marked)})" if marked else ""))
    table = plan(sweep, experiment)
    if plan_csv:
        table.to_csv(plan_csv, index=False)
    click.echo(f"sweep {sweep.name}: {len(table)} trainings, tests per training: "
               f"{', '.join(t.dataset + ('/' + t.split if t.split else '') for t in sweep.tests)}; "
               f"checkpoint {sweep.checkpoint}")
    click.echo(format_plan(table))
    if dry_run:
        return SweepOutcome(table)

    exp_id = tracking.experiment_id(experiment)
    parent = _parent_run(sweep, exp_id, table, executor, workers)
    status = "FAILED"
    try:
        if executor == "slurm":
            from prove.executors.slurm import run_on_slurm

            reports = run_on_slurm(sweep, experiment, parent, workers)
        elif workers == 1:
            reports = [run_worker(sweep, experiment, parent, "w0")]
        else:
            reports = _local_pool(sweep, experiment, parent, workers)
        final = plan(sweep, experiment)
        failed = [f for r in reports for f in r.failed]
        _summarize(sweep, parent, table, final, reports)
        status = "FAILED" if failed else "FINISHED"
        return SweepOutcome(table, final, parent, reports)
    finally:
        tracking.end_run(parent, status)


def _local_pool(sweep: Sweep, experiment: str | None, parent: str, workers: int) -> list[WorkerReport]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: each worker starts clean (torch threads, MLflow clients, CUDA)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_worker, sweep, experiment, parent, f"w{i}") for i in range(workers)]
        return [f.result() for f in futures]


def _parent_run(sweep: Sweep, exp_id: str, table: pd.DataFrame, executor: str, workers: int) -> str:
    import tempfile
    from pathlib import Path

    import yaml

    params = dict(sweep=sweep.name, trainings=len(table), checkpoint=sweep.checkpoint, executor=executor,
                  workers=workers, tests=",".join(f"{t.dataset}/{t.split or 'default'}" for t in sweep.tests))
    run_id = tracking.create_run(exp_id, f"sweep:{sweep.name}", {tracking.KIND: "sweep"},
                                 {k: str(v) for k, v in params.items()})
    with tempfile.TemporaryDirectory() as tmp:
        definition = Path(tmp) / "sweep.yaml"
        definition.write_text(yaml.safe_dump(sweep.to_mapping(), sort_keys=False))
        table.to_csv(Path(tmp) / "plan_before.csv", index=False)
        tracking.log_artifact(run_id, definition)
        tracking.log_artifact(run_id, Path(tmp) / "plan_before.csv")
    tracking.mark_launcher({"prove.sweep_run_id": run_id})
    return run_id


def _summarize(sweep: Sweep, parent: str, before: pd.DataFrame, after: pd.DataFrame, reports: list) -> None:
    import tempfile
    from pathlib import Path

    from mlflow.entities import Metric

    c = counts(after)
    now = int(time.time() * 1000)
    tracking.log_metrics(parent, [Metric(f"sweep/{k}", float(v), now, 0) for k, v in c.items()]
                         + [Metric("sweep/overhead_s_per_spec", sum(r.overhead_s for r in reports)
                                   / max(1, sum(len(r.done) + len(r.failed) for r in reports)), now, 0)])
    with tempfile.TemporaryDirectory() as tmp:
        after.to_csv(Path(tmp) / "plan_after.csv", index=False)
        tracking.log_artifact(parent, Path(tmp) / "plan_after.csv")
    failed = [f for r in reports for f in r.failed]
    click.echo(f"sweep {sweep.name} finished: " + "  ".join(f"{k} {v}" for k, v in c.items() if v or k == "total")
               + f"; run {parent}")
    for label, error in failed:
        click.echo(f"  failed: {label}: {error}")
    left = [s for s in STATUSES if s in TODO and c[s]]
    if left:
        click.echo(f"  still to do: {', '.join(f'{s} {c[s]}' for s in left)} (rerun the same command to continue)")
