"""Where each training of a sweep stands, from two store queries for the whole grid.

One paged search reads every training run of the experiment; the tests each run has had are
read off the run itself (`prove test` logs `test.<dataset>.<split>/mIoU` on the training run,
step = the tested iteration), so the test runs themselves are not fetched. The live claims
come from the experiment's tags (`prove.tracking.claims`). Statuses:

- `done`: a finished training whose every test set is tested at its last checkpoint
- `to_test`: finished, some test set missing
- `to_train`: nothing in the store
- `resumable`: a failed or killed run, or one left RUNNING without a heartbeat for
  PROVE_STALE_AFTER seconds (a dead job); the runner resumes it from its checkpoint
- `running`: a RUNNING run with a fresh heartbeat, or a live claim: someone else has it
- `blocked`: the spec cannot be built here, or it continues a training that has not finished
  (`extend`); the reason says which
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prove.settings import stale_after_s
from prove.sweeps.definition import Sweep, SweepItem
from prove.tracking import client, schema

STATUSES = ("done", "to_test", "to_train", "resumable", "running", "blocked")
# the spec fields beside the status make the table the users' training/testing tracker (--plan-csv)
SPEC_FIELDS = ("stage", "dataset", "model", "strategy", "ratio", "aux_loss", "main_loss", "pretrained", "max_iters",
               "batch_size", "seed", "lr", "crop_size", "manifest", "continue_from")
STATUS_COLUMNS = ("run_name", "spec_hash", "status", "train_run_id", "missing_tests", "reason", *SPEC_FIELDS)


@dataclass(frozen=True)
class KnownRun:
    run_id: str
    status: str
    heartbeat: float
    work_dir: str
    max_iters: int
    tested: dict  # (dataset, split) -> last tested iteration

    @property
    def stale(self) -> bool:
        return self.status == "RUNNING" and time.time() - self.heartbeat > stale_after_s()


def _tested(run) -> dict:
    out = {}
    for m in run.data.to_proto().metrics:  # latest values with their step (public proto form)
        tested = schema.parse_tested_metric(m.key)
        if tested:
            out[tested] = int(m.step)
    return out


def known_runs(exp_id: str) -> dict[str, list[KnownRun]]:
    """spec hash -> its training runs (newest first), from one paged search."""
    runs = client.search_runs([exp_id], f"tags.`{schema.KIND}` = '{schema.TRAIN}'")
    by_hash: dict[str, list[KnownRun]] = {}
    for r in sorted(runs, key=lambda r: r.info.start_time or 0, reverse=True):
        tags, params = r.data.tags, r.data.params
        by_hash.setdefault(tags.get(schema.SPEC_HASH, ""), []).append(KnownRun(
            r.info.run_id, r.info.status, float(tags.get(schema.HEARTBEAT, 0) or 0), tags.get(schema.WORK_DIR, ""),
            int(params.get("max_iters", 0) or 0), _tested(r)))
    return by_hash


def test_keys(sweep: Sweep, item: SweepItem) -> list[tuple[str, str]]:
    """The (dataset, split) of every test of a training, with the split `prove test` would pick."""
    from prove.data import DATASETS
    from prove.data.base import default_test_split, read_split_csv

    keys = []
    for test_set in sweep.tests_of(item.spec):
        dataset, split = test_set.resolve(item.spec)
        if not split:
            splits = DATASETS.get(dataset).splits
            if dataset == item.spec.dataset and item.spec.split_csv:  # the training's own split CSV
                splits = tuple(set(read_split_csv(Path(item.spec.split_csv)).values()))
            split = default_test_split(splits)
        keys.append((dataset, split))
    return keys


def status_of(sweep: Sweep, item: SweepItem, runs: list[KnownRun], claimed: bool, parent_done: bool = True) -> dict:
    spec = item.spec or item.planned
    fields = {f: getattr(spec, f) for f in SPEC_FIELDS} if spec else dict(item.combination)
    row = dict(run_name=spec.run_name if spec else item.label, spec_hash=item.spec.spec_hash() if item.spec else "",
               status="", train_run_id="", missing_tests="", reason=item.blocked, **fields)
    if item.spec is None:
        return dict(row, status="blocked")
    if not runs and not parent_done:  # extended training: the run to continue is not finished yet
        return dict(row, status="blocked", reason=f"continues {item.spec.continue_from}, not finished yet")
    finished = [r for r in runs if r.status == "FINISHED"]
    if finished:
        run = finished[0]
        missing = [f"{d}/{s}" for d, s in test_keys(sweep, item) if run.tested.get((d, s)) != run.max_iters]
        return dict(row, status="to_test" if missing else "done", train_run_id=run.run_id,
                    missing_tests=",".join(missing))
    alive = [r for r in runs if r.status == "RUNNING" and not r.stale]
    if alive or claimed:
        return dict(row, status="running", train_run_id=alive[0].run_id if alive else "",
                    reason="claimed by another worker" if claimed and not alive else "")
    resumable = [r for r in runs if r.status in ("FAILED", "KILLED", "RUNNING") and r.work_dir]
    if resumable:
        return dict(row, status="resumable", train_run_id=resumable[0].run_id)
    return dict(row, status="to_train")


def status_table(sweep: Sweep, experiment: str | None, items: list[SweepItem] | None = None) -> pd.DataFrame:
    """One row per training of the sweep (STATUS_COLUMNS), in sweep order: where it stands."""
    from prove.tracking.claims import live_claims

    exp_id = client.find_experiment_id(experiment)  # none yet: nothing is done, nothing written
    items = sweep.items() if items is None else items
    runs = known_runs(exp_id) if exp_id else {}
    claims = live_claims(exp_id) if exp_id else {}

    def parent_done(item: SweepItem) -> bool:
        parent = item.spec.continue_from if item.spec else ""
        return not parent or any(r.status == "FINISHED" for r in runs.get(parent, []))

    rows = [status_of(sweep, item, runs.get(item.spec.spec_hash(), []) if item.spec else [],
                      bool(item.spec) and item.spec.spec_hash() in claims, parent_done(item)) for item in items]
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))


def counts(table: pd.DataFrame) -> dict[str, int]:
    return {"total": len(table), **{s: int((table["status"] == s).sum()) for s in STATUSES}}
