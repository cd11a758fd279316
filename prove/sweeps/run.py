"""`prove ablation`: run a sweep (file or preset), training then testing only what is missing.

Flow: sweep definition -> status (two store queries for the whole grid) -> optional
`--reconcile` (runs of dead jobs -> resumable) -> a parent run (`prove.kind=sweep`) ->
workers on an executor (`prove.sweeps.executors`) -> summary. A dry run plans and prints,
and writes nothing.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd

from prove.errors import ProveError
from prove.sweeps.definition import Sweep
from prove.sweeps.status import STATUSES, counts, status_table
from prove.sweeps.worker import TODO, WorkerReport
from prove.tracking import client, schema


# rounds of workers while each finishes or hands back something and work is left
MAX_ROUNDS = int(os.environ.get("PROVE_MAX_ROUNDS", 3))


def reconcile(sweep: Sweep, experiment: str | None) -> list[str]:
    """Runs of this sweep left RUNNING by dead jobs (no heartbeat for PROVE_STALE_AFTER) are
    marked KILLED, i.e. resumable, and expired claims are removed. Returns the run ids."""
    from prove.sweeps.status import known_runs
    from prove.tracking.claims import expire_stale

    exp_id = client.find_experiment_id(experiment)
    if exp_id is None:
        return []
    hashes = {i.spec.spec_hash() for i in sweep.items() if i.spec}
    marked = []
    for spec_hash, runs in known_runs(exp_id).items():
        for run in runs:
            if spec_hash in hashes and run.stale:
                client.end_run(run.run_id, "KILLED")
                client.set_tags(run.run_id, {schema.RECONCILED: str(time.time())})
                marked.append(run.run_id)
    expire_stale(exp_id)
    return marked


def format_status(table: pd.DataFrame, max_rows: int = 40) -> str:
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
    plan: pd.DataFrame  # the status before anything ran
    final: pd.DataFrame | None = None
    parent_run_id: str | None = None
    reports: list = field(default_factory=list)


def run_sweep(sweep: Sweep, experiment: str | None = None, dry_run: bool = False, executor: str = "local",
              workers: int = 1, do_reconcile: bool = False, plan_csv: str = "") -> SweepOutcome:
    from prove.sweeps.executors import EXECUTORS

    runner = EXECUTORS.get(executor)  # an unknown executor is refused before anything happens
    if workers < 1:
        raise ProveError(f"workers must be >= 1, got {workers}")
    if do_reconcile:
        marked = reconcile(sweep, experiment)
        click.echo(f"reconciled: {len(marked)} runs left RUNNING by dead jobs are now resumable"
                   + (f" ({', '.join(marked)})" if marked else ""), err=True)
    table = status_table(sweep, experiment)
    if plan_csv:
        table.to_csv(plan_csv, index=False)
    click.echo(f"sweep {sweep.name}: {len(table)} trainings, tests per training: "
               f"{', '.join(t.dataset + ('/' + t.split if t.split else '') for t in sweep.tests)}; "
               f"checkpoint {sweep.checkpoint}")
    click.echo(format_status(table))
    if dry_run:
        if runner.describe is not None:
            click.echo(runner.describe(sweep, experiment, workers))
        return SweepOutcome(table)
    if not sum(counts(table)[s] for s in TODO):
        click.echo(f"sweep {sweep.name}: nothing to do (every training this machine can run is trained and tested)")
        return SweepOutcome(table, table)  # a rerun of finished work adds no run to the store
    if runner.preflight is not None:
        runner.preflight(sweep)  # commands on PATH, resources it can express: before anything is written

    exp_id = client.experiment_id(experiment)
    parent = _parent_run(sweep, exp_id, table, runner.name, workers)
    status = "FAILED"
    try:
        reports, final = [], table
        for _ in range(MAX_ROUNDS):  # workers that gave up on contended specs leave work: another round
            before = counts(final).get("done", 0)
            round_reports = runner.run(sweep, experiment, parent, workers)
            reports += round_reports
            final = status_table(sweep, experiment)
            handed_back = [label for r in round_reports for label in r.interrupted]
            # failed specs are never retried; those handed back at a job's wall clock are resumed
            left = counts(final)["to_train"] + counts(final)["to_test"] + len(handed_back)
            if not left or (counts(final).get("done", 0) == before and not handed_back):
                break
            click.echo(f"sweep {sweep.name}: {left} left after the workers stopped"
                       + (f" ({len(handed_back)} handed back at the wall clock)" if handed_back else "")
                       + "; another round", err=True)
        _summarize(sweep, parent, final, reports)
        status = "FAILED" if any(r.failed for r in reports) else "FINISHED"
        return SweepOutcome(table, final, parent, reports)
    finally:
        client.end_run(parent, status)


def _parent_run(sweep: Sweep, exp_id: str, table: pd.DataFrame, executor: str, workers: int) -> str:
    import yaml

    params = dict(sweep=sweep.name, trainings=len(table), checkpoint=sweep.checkpoint, executor=executor,
                  workers=workers, tests=",".join(f"{t.dataset}/{t.split or 'default'}" for t in sweep.tests))
    run_id = client.create_run(exp_id, f"sweep:{sweep.name}", {schema.KIND: schema.SWEEP},
                               {k: str(v) for k, v in params.items()})
    with tempfile.TemporaryDirectory() as tmp:
        definition = Path(tmp) / "sweep.yaml"
        definition.write_text(yaml.safe_dump(sweep.to_mapping(), sort_keys=False))
        table.to_csv(Path(tmp) / "plan_before.csv", index=False)
        client.log_artifact(run_id, definition)
        client.log_artifact(run_id, Path(tmp) / "plan_before.csv")
    return run_id


def _summarize(sweep: Sweep, parent: str, after: pd.DataFrame, reports: list[WorkerReport]) -> None:
    c = counts(after)
    worked = max(1, sum(len(r.done) + len(r.failed) for r in reports))
    client.log_metrics(parent, [client.metric(f"sweep/{k}", v) for k, v in c.items()]
                       + [client.metric("sweep/overhead_s_per_spec", sum(r.overhead_s for r in reports) / worked)])
    with tempfile.TemporaryDirectory() as tmp:
        after.to_csv(Path(tmp) / "plan_after.csv", index=False)
        client.log_artifact(parent, Path(tmp) / "plan_after.csv")
    failed = [f for r in reports for f in r.failed]
    click.echo(f"sweep {sweep.name} finished: " + "  ".join(f"{k} {v}" for k, v in c.items() if v or k == "total")
               + f"; run {parent}")
    for label, error in failed:
        click.echo(f"  failed: {label}: {error}")
    left = [s for s in STATUSES if s in TODO and c[s]]
    if left:
        click.echo(f"  still to do: {', '.join(f'{s} {c[s]}' for s in left)} (rerun the same command to continue)")
