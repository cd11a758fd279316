"""A sweep worker: claim a spec, train it, test it, release it, take the next.

Workers are interchangeable: each re-reads the sweep's status from the store (two queries),
claims a spec through the store (`prove.tracking.claims`), trains it (skipped when done,
resumed when interrupted), tests it on every test set of the sweep and releases it. So one
worker, N local processes, N SLURM array tasks or two people's sweeps on one store all share
the work without ever training a spec twice, and a killed worker's spec is picked up again
once its claim expires.

A worker stops when nothing is left for it: every remaining spec is done, blocked, being
worked on by someone else, or one this worker already tried (a failure is reported once, not
retried in a loop). When two workers contend for a spec (both withdraw their claims), it is
retried after a random pause; only a long run of such passes makes a worker give up.

A worker also stops when its job's time is up: the scheduler's warning signal (SIGUSR2) or
its own deadline (`--stop-after-min`) during a training checkpoints it, marks the run KILLED
and hands the spec back (`WorkerReport.interrupted`); between trainings it simply takes no
new spec. `run_pull_worker` is that worker as a command (`prove ablation --worker`), the way to
use any scheduler from its own job script.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from prove.errors import ProveError
from prove.progress import LiveBar, Progress, interactive
from prove.sweeps.definition import Sweep, SweepItem
from prove.sweeps.status import status_table, test_keys
from prove.tracking import client, schema

TODO = ("to_train", "to_test", "resumable")
MAX_IDLE_PASSES = 20  # consecutive passes in which every spec left was contended

# what this process is working on, so a signal handler (a cluster's wall clock) can give it back
_CURRENT: dict = {}


def _echo(message: str) -> None:
    click.echo(message, err=True)


def interrupt_current() -> None:
    """Give the spec in progress back: its RUNNING training run becomes KILLED (resumable)
    and its claim is released, so the next worker resumes it now instead of waiting for the
    heartbeat and the claim to expire."""
    from prove.tracking.claims import release

    claim = _CURRENT.pop("claim", None)
    if claim is None:
        return
    for run in client.find_train_runs(claim.exp_id, claim.spec_hash):
        if run.status == "RUNNING":
            client.end_run(run.run_id, "KILLED")
    release(claim)


@dataclass
class WorkerReport:
    worker: str
    done: list = field(default_factory=list)  # run names trained and/or tested here
    failed: list = field(default_factory=list)  # (run name, error)
    busy: int = 0  # specs another worker had claimed
    overhead_s: float = 0.0  # time outside train() and test(): planning, claims, bookkeeping
    interrupted: list = field(default_factory=list)  # run names handed back at the wall clock

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "WorkerReport":
        return cls(**{**data, "failed": [tuple(f) for f in data.get("failed", [])]})  # JSON made the pairs lists


_STOP: dict = {}  # set when the job's time is up between trainings (see run_pull_worker)


def _time_is_up(deadline: float | None) -> bool:
    return bool(_STOP) or (deadline is not None and time.time() >= deadline)


def run_worker(sweep: Sweep, experiment: str | None, parent_run_id: str = "", worker: str = "w0",
               deadline: float | None = None) -> WorkerReport:
    """Take specs of `sweep` until none is left or `deadline` (epoch s) passes (see the module
    docstring); picklable, so it runs in a local process or a cluster job alike. A training
    stopped by the wall clock is handed back and ends the worker (`report.interrupted`); any
    other TrainingInterrupted (a kill, Ctrl-C) goes up to the caller with the claim released."""
    from prove.spec import load_declarations
    from prove.tracking.claims import release, try_claim

    load_declarations()  # a fresh process (spawned or a cluster task) must know the lab's datasets too
    if parent_run_id:
        os.environ[schema.PARENT_RUN_ENV] = parent_run_id
    report = WorkerReport(worker)
    exp_id = client.experiment_id(experiment)
    items = [i for i in sweep.items() if i.spec is not None]
    attempted: set[str] = set()
    start, work_s, idle = time.monotonic(), 0.0, 0
    while idle < MAX_IDLE_PASSES and not report.interrupted:
        if _time_is_up(deadline):
            _echo(f"[sweep {sweep.name} {worker}] the job's time is up: no new spec")
            break
        table = client.retrying(lambda: status_table(sweep, experiment, items), "reading the sweep's status")
        todo = [item for item, status in zip(items, table["status"])
                if status in TODO and item.spec.spec_hash() not in attempted]
        if not todo:
            left = {s: int((table["status"] == s).sum()) for s in ("running", "to_train", "to_test", "resumable")}
            _echo(f"[sweep {sweep.name} {worker}] nothing left to claim ({', '.join(f'{k} {v}' for k, v in left.items() if v)})")
            break
        progress = Progress(len(todo))
        bar = LiveBar(len(todo), f"sweep {sweep.name}") if interactive() else None
        claimed_any = False
        for n, item in enumerate(todo, 1):
            if report.interrupted or _time_is_up(deadline):
                break
            claim = client.retrying(lambda: try_claim(exp_id, item.spec.spec_hash()), "claiming a spec")
            if claim is None:
                report.busy += 1
                continue
            claimed_any = True
            attempted.add(item.spec.spec_hash())
            if client.retrying(lambda: status_table(sweep, experiment, [item]),
                               "reading the spec's status")["status"].iloc[0] == "done":
                release(claim)  # finished by another worker since this pass's status was read
                continue
            line = f"[sweep {sweep.name} {worker}] {n}/{len(todo)} {item.label} ({progress.status()})"
            bar.note(line) if bar is not None else _echo(line)
            t0 = time.monotonic()  # only train() and test() are work; the rest is the runner's overhead
            try:
                _work(sweep, item, experiment, claim, report)
            finally:
                work_s += time.monotonic() - t0
                progress.advance()
                if bar is not None:
                    bar.update(progress.done)
        if bar is not None:
            bar.close()
        idle = 0 if claimed_any else idle + 1
        if not claimed_any:
            time.sleep(random.uniform(0.5, 2.0))  # contention: let the other worker win next time
    report.overhead_s = time.monotonic() - start - work_s
    return report


def _work(sweep: Sweep, item: SweepItem, experiment: str | None, claim, report: WorkerReport) -> None:
    """Train and test one claimed spec; a user error fails this spec, not the sweep."""
    from prove.evaluation.run import test
    from prove.tracking.claims import Keepalive
    from prove.training.engine import TrainingInterrupted
    from prove.training.run import train

    _CURRENT["claim"] = claim
    try:
        with Keepalive(claim):
            outcome = train(item.spec, experiment=experiment, study=item.study)
            for dataset, split in test_keys(sweep, item):
                test(run_id=outcome.run_id, checkpoint=sweep.checkpoint, test_dataset=dataset, test_split=split,
                     samples=2, experiment=experiment)
            report.done.append(item.label)
    except ProveError as exc:  # bad data root, missing weights...: the rest of the sweep goes on
        _echo(f"[sweep {sweep.name} {report.worker}] FAILED {item.label}: {exc}")
        report.failed.append((item.label, str(exc)))
    except TrainingInterrupted as exc:
        interrupt_current()  # the run is KILLED (resumable); the claim goes back now
        if not exc.wall_clock:
            raise
        _echo(f"[sweep {sweep.name} {report.worker}] {item.label}: {exc}; handed back for the next job")
        report.interrupted.append(item.label)
    finally:
        _CURRENT.pop("claim", None)


# where each scheduler puts an array element's index (LSF and SGE set theirs to 0 / "undefined"
# outside arrays)
ARRAY_INDEX_VARIABLES = ("SLURM_ARRAY_TASK_ID", "LSB_JOBINDEX", "PBS_ARRAY_INDEX", "PBS_ARRAYID", "SGE_TASK_ID")
ARRAY_INDEX = "{array_index}"


def array_index() -> str:
    """This job's index in its job array, from whichever scheduler started it ('' outside arrays)."""
    for variable in ARRAY_INDEX_VARIABLES:
        value = os.environ.get(variable, "")
        if value and value != "undefined" and not (variable == "LSB_JOBINDEX" and value == "0"):
            return value
    return ""


def expand_array_index(*values: str) -> list[str]:
    """`{array_index}` in a worker's name, report or log paths becomes the job's array index, so
    one job script serves every element of an array (each with its own files)."""
    if not any(ARRAY_INDEX in v for v in values):
        return list(values)
    index = array_index()
    if not index:
        raise ProveError(f"{ARRAY_INDEX} in {', '.join(v for v in values if ARRAY_INDEX in v)} needs an array job's "
                         f"index, and none of {', '.join(ARRAY_INDEX_VARIABLES)} is set (submit the script as a job "
                         f"array, or name the worker without {ARRAY_INDEX})")
    return [v.replace(ARRAY_INDEX, index) for v in values]


def _redirect(fd: int, path: str) -> None:
    """Send this process's stdout or stderr, and its children's, to `path` (appended)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    os.dup2(target, fd)
    os.close(target)


def run_pull_worker(sweep: Sweep, experiment: str | None, parent_run_id: str = "", worker: str = "",
                    stop_after_min: float = 0.0, report_path: str = "", stdout_path: str = "",
                    stderr_path: str = "") -> WorkerReport:
    """One worker as a command (`prove ablation --worker`): claim specs of `sweep` from the
    store until none is left or the job's time is up, then write its report (JSON) to
    `report_path`. Two such workers, started by two people on one plan, train each spec once.

    `stop_after_min` > 0: the job's run limit minus a margin; the worker stops by this clock
    even where the scheduler sends no warning (PBS), and SIGUSR2 stops it as well.
    `{array_index}` in the name and paths is the job array element's index."""
    import sys

    from prove.training.engine import STOP_AT_ENV, WALL_CLOCK_SIGNAL

    worker, report_path, stdout_path, stderr_path = expand_array_index(worker, report_path, stdout_path, stderr_path)
    for stream, fd, path in ((sys.stdout, 1, stdout_path), (sys.stderr, 2, stderr_path)):
        if path:
            stream.flush()
            _redirect(fd, path)
    worker = worker or f"{os.uname().nodename}-{os.getpid()}"
    deadline = time.time() + 60 * stop_after_min if stop_after_min > 0 else None
    if deadline is not None:
        os.environ[STOP_AT_ENV] = str(deadline)  # the training's GracefulStopHook reads it
    # between trainings the warning signal means: take no new spec (in training, the hook handles it)
    signal.signal(WALL_CLOCK_SIGNAL, lambda signum, frame: _STOP.setdefault("signal", signum))
    report = WorkerReport(worker)
    try:
        report = run_worker(sweep, experiment, parent_run_id, worker, deadline)
    finally:
        if report_path:
            Path(report_path).parent.mkdir(parents=True, exist_ok=True)
            Path(report_path).write_text(json.dumps(report.to_json(), indent=1))
    _echo(f"[sweep {sweep.name} {worker}] stopped: done {len(report.done)}, failed {len(report.failed)}, "
          f"handed back {len(report.interrupted)}")
    return report
