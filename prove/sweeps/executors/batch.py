"""A sweep's workers as batch jobs on SLURM, LSF or PBS, through PSI/J.

PSI/J (`psij-python`, ExaWorks) drives every batch scheduler from one API: prove describes
each worker job once (`worker_job`: the command, its resources, its run limit, its warning
signal) and PSI/J renders the scheduler's own job script (`#SBATCH`, `#BSUB`, `#PBS` lines)
from its templates, submits it (`sbatch`, `bsub`, `qsub`), follows it (`squeue`, `bjobs`,
`qstat`) and cancels it. prove builds no scheduler command line itself. Why PSI/J and not
dask-jobqueue or submitit: docs/cluster.md#job-engine.

A worker job runs `prove ablation --worker` in this Python environment (the same
interpreter, the job inheriting this shell's environment, so MLFLOW_TRACKING_URI, credentials
and PROVE_PLUGINS reach it without ever being on a command line or in a job script). N > 1
workers are one job array of N elements (SLURM `--array`, LSF `-J "name[1-N]"`, PBS `-J`),
each element naming its worker, report and log files by its array index. PSI/J follows one
job id; the elements of an array are folded into it here (`array_status`): queued or running
while any element is, failed if any failed. Workers share the sweep through claims in the
tracking store, so N is simply the parallelism.

Wall clock: the job asks the scheduler for a warning signal `warn_min` minutes before its
run limit (SLURM `--signal=USR2@s`, LSF `-wa USR2 -wt min`; PBS has none, so the worker also
stops by its own clock at the same moment). On it the worker checkpoints, marks the run KILLED
(resumable) and hands its spec back. The next round's jobs (`prove.sweeps.run`) resume it in
the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Callable

import click

from prove.errors import ProveError
from prove.settings import work_root
from prove.sweeps.definition import Sweep
from prove.sweeps.executors.base import EXECUTORS, Executor
from prove.sweeps.worker import WorkerReport

POLL_S = float(os.environ.get("PROVE_BATCH_POLL", 15))


@dataclass(frozen=True)
class Scheduler:
    """What differs between schedulers, for PSI/J: its executor name, the commands it needs on
    PATH, how a worker process is launched, and the directives PSI/J renders from custom
    attributes (`<scheduler>.<flag>` becomes `-<flag> "<value>"` or `--<flag>="<value>"`)."""

    name: str
    psij: str
    commands: tuple[str, ...]
    launcher: str  # PSI/J launcher: srun makes the worker a SLURM step, which --signal reaches
    resources: Callable[[dict], dict]  # sweep resources -> ResourceSpecV1 arguments
    custom: Callable[[dict], dict]  # sweep resources -> PSI/J custom attributes
    # (job name, N elements) -> the custom attributes that name the job (PSI/J's templates read a
    # `job.name` that Job lacks) and make it an array of N
    array: Callable[[str, int], dict]
    first_index: int  # the index of an array's first element
    element_statuses: Callable | None = None  # (executor, exit code, status output) -> [(job id, JobStatus)]
    environment: Callable[[dict], dict] = field(default=lambda r: {})
    refuse: Callable[[dict], str] = field(default=lambda r: "")  # a resource this scheduler cannot express

    def indices(self, workers: int) -> range:
        return range(self.first_index, self.first_index + workers)


def warn_minutes(resources: dict) -> int:
    """Minutes before the run limit at which the worker is warned (and stops by its own clock)."""
    return int(resources["warn_min"])


def _memory(r: dict) -> dict:
    return {"memory": int(r["mem_gb"]) * 2**30} if r.get("mem_gb") else {}


def _slurm_elements(executor, exit_code: int, out: str) -> list:
    """squeue's JobArrayID column names elements `123_4` (pending ones `123_[5-7]`): the array is
    job 123."""
    statuses = type(executor).parse_status_output(executor, exit_code, out)
    return [(native_id.split("_")[0], status) for native_id, status in statuses.items()]


def _lsf_elements(executor, exit_code: int, out: str) -> list:
    """bjobs lists each element of an array as a record with the array's JOBID. PSI/J's parser
    keeps only the last record per JOBID (and reads a `reason` key no record has); this keeps
    them all."""
    from psij import JobStatus
    from psij.executors.batch.batch_scheduler_executor import check_status_exit_code

    check_status_exit_code("bjobs", exit_code, out)
    elements = []
    for record in json.loads(out)["RECORDS"]:
        if "ERROR" in record:
            continue
        reason = next((record[k] for k in ("EXIT_REASON", "KILL_REASON", "SUSPEND_REASON") if record.get(k)), None)
        elements.append((record["JOBID"], JobStatus(executor._STATE_MAP[record["STAT"]], message=reason)))
    return elements


def array_status(elements: list):
    """One status per job id from its elements': queued or running while any element is (running
    first), then failed if any failed, canceled if any was, completed otherwise."""
    from psij import JobState

    def precedence(status) -> int:
        if not status.state.final:
            return 0 if status.state == JobState.ACTIVE else 1
        return {JobState.FAILED: 2, JobState.CANCELED: 3}.get(status.state, 4)

    by_job: dict[str, list] = {}
    for native_id, status in elements:
        by_job.setdefault(native_id, []).append(status)
    return {native_id: min(statuses, key=precedence) for native_id, statuses in by_job.items()}


SCHEDULERS: dict[str, Scheduler] = {s.name: s for s in (
    Scheduler(
        "slurm", "slurm", ("sbatch", "squeue", "scancel"), "srun",
        resources=lambda r: dict(process_count=1, cpu_cores_per_process=int(r["cpus"]),
                                 gpu_cores_per_process=int(r["gpus"]) or None, **_memory(r)),
        # USR2 to the job's steps (the worker runs as one, through srun) warn_min before the end
        custom=lambda r: {"slurm.signal": f"USR2@{warn_minutes(r) * 60}"},
        # srun does not inherit sbatch's --cpus-per-task (SLURM >= 22.05); this hands it on
        environment=lambda r: {"SRUN_CPUS_PER_TASK": str(int(r["cpus"]))},
        array=lambda name, n: {"slurm.job-name": name, **({"slurm.array": f"0-{n - 1}"} if n > 1 else {})},
        first_index=0, element_statuses=_slurm_elements,
    ),
    Scheduler(
        "lsf", "lsf", ("bsub", "bjobs", "bkill"), "single",
        # No PSI/J resource spec: its LSF template renders any as `-nnodes`, a CSM-only option.
        # Cores are LSF slots (-n) on one host; memory is a limit (-M) and a reservation (rusage).
        resources=lambda r: {},
        custom=lambda r: {
            "lsf.n": str(int(r["cpus"])),
            **({"lsf.M": f"{int(r['mem_gb']) * 2**20}KB"} if r.get("mem_gb") else {}),
            "lsf.R": "span[hosts=1]" + (f" rusage[mem={int(r['mem_gb'])}GB]" if r.get("mem_gb") else ""),
            **({"lsf.gpu": f"num={int(r['gpus'])}"} if r.get("gpus") else {}),
            "lsf.wa": "USR2", "lsf.wt": str(warn_minutes(r)),
        },
        # an LSF array is named with its index range; its elements share the array's job id
        array=lambda name, n: {"lsf.J": f"{name}[1-{n}]" if n > 1 else name},
        first_index=1, element_statuses=_lsf_elements,
    ),
    Scheduler(
        "pbs", "pbs", ("qsub", "qstat", "qdel"), "single",
        resources=lambda r: dict(node_count=1, processes_per_node=int(r["cpus"]), **_memory(r)),
        custom=lambda r: {},  # PBS has no warning signal: the worker stops by its own clock
        # the array's own id (`123[].server`) has a state of its own (B while elements run)
        array=lambda name, n: {"pbs.N": name, **({"pbs.J": f"0-{n - 1}"} if n > 1 else {})},
        first_index=0,
        refuse=lambda r: ("PSI/J's PBS template has no GPU directive; send GPU jobs to a GPU queue "
                          "(resources.queue) with gpus: 0, or run pull workers from your own job script "
                          "(docs/cluster.md#pbs)") if r.get("gpus") else "",
    ),
)}


def log_folder(parent: str) -> Path:
    """Job scripts, worker logs and reports: under the work dir, which compute nodes must see."""
    return (work_root() / "batch" / parent).resolve()


def worker_command(sweep_file: Path, experiment: str | None, parent: str, worker: str, folder: Path,
                   stop_after_min: float) -> list[str]:
    """The command a worker job runs: prove's own pull worker, with this interpreter, writing its
    report and logs in `folder` under its name (`{array_index}` in it: one set per element)."""
    command = [sys.executable, "-m", "prove.cli", "ablation", "--sweep", str(sweep_file), "--worker",
               "--worker-name", worker, "--parent-run", parent, "--report", str(folder / f"{worker}.json"),
               "--stdout", str(folder / f"{worker}.out"), "--stderr", str(folder / f"{worker}.err"),
               "--stop-after-min", f"{stop_after_min:g}"]
    if experiment:
        command += ["--experiment", experiment]
    return command


def worker_names(scheduler: Scheduler, round_no: int, workers: int) -> list[str]:
    return [f"{scheduler.name}{round_no}.{i}" for i in scheduler.indices(workers)]


def worker_job(scheduler: Scheduler, sweep: Sweep, sweep_file: Path, experiment: str | None, parent: str,
               round_no: int, workers: int, folder: Path):
    """The PSI/J job of a round's workers (not yet submitted): one job, an array of `workers`
    elements when there are several."""
    from psij import Job, JobAttributes, JobSpec, ResourceSpecV1

    from prove.sweeps.worker import ARRAY_INDEX

    r = sweep.resources
    stop_after = int(r["time_min"]) - warn_minutes(r)
    worker = f"{scheduler.name}{round_no}." + (ARRAY_INDEX if workers > 1 else str(scheduler.first_index))
    command = worker_command(sweep_file, experiment, parent, worker, folder, stop_after)
    resources = {k: v for k, v in scheduler.resources(r).items() if v is not None}
    custom = {**scheduler.array(f"prove-{sweep.name}", workers), **scheduler.custom(r)}
    custom = {key: DirectiveValue(value) for key, value in custom.items()}
    spec = JobSpec(
        name=f"prove-{sweep.name}", executable=command[0], arguments=command[1:], directory=Path.cwd(),
        inherit_environment=True, environment=scheduler.environment(r) or None,
        # the worker writes its own output and error files: PSI/J's launcher would send every
        # element of an array to one path, truncating it
        stdout_path=None, stderr_path=None,
        resources=ResourceSpecV1(**resources) if resources else None, launcher=scheduler.launcher,
        attributes=JobAttributes(duration=timedelta(minutes=int(r["time_min"])), queue_name=r.get("queue") or None,
                                 account=r.get("account") or None, custom_attributes=custom))
    return Job(spec)


class DirectiveValue(str):
    """A custom attribute's value. PSI/J's templates put it between double quotes
    (`#BSUB -R "{{value}}"`) but escape it with `shlex.quote`, which wraps values with spaces
    or brackets in single quotes that then reach the scheduler literally (`-R "'span[hosts=1]'"`).
    Values of this type are escaped for the double quotes they stand in instead."""


def _escape(value: object) -> str:
    from psij.executors.batch.escape_functions import bash_escape

    if isinstance(value, DirectiveValue):
        return "".join("\\" + c if c in '"\\$`' else c for c in value)
    return bash_escape(value)  # PSI/J's own: paths and the launch command's arguments


def _executor(scheduler: Scheduler, folder: Path):
    from psij import JobExecutor
    from psij.executors.batch.batch_scheduler_executor import BatchSchedulerExecutorConfig
    import pystache

    # a scheduler's status command failing now and then (a busy bjobs) must not end a job's
    # tracking: PSI/J calls a job FAILED after this many failed polls in a row
    config = BatchSchedulerExecutorConfig(work_directory=folder / "psij", queue_polling_interval=int(max(1, POLL_S)),
                                          initial_queue_polling_delay=1, queue_polling_error_threshold=10,
                                          keep_files=True)
    executor = JobExecutor.get_instance(scheduler.psij, config=config)
    if scheduler.element_statuses is not None:  # follow an array's elements under its job id
        def parse_status_output(exit_code: int, out: str) -> dict:
            return array_status(scheduler.element_statuses(executor, exit_code, out))
        executor.parse_status_output = parse_status_output
    # the scheduler's own PSI/J template and renderer, with directive values escaped for their quotes
    executor.generator.renderer = pystache.Renderer(escape=_escape)
    return executor


def render_script(scheduler: Scheduler, sweep: Sweep, experiment: str | None, workers: int = 1,
                  parent: str = "SWEEP_RUN_ID") -> str:
    """The job script PSI/J would submit for the first round's workers, rendered by PSI/J's own
    template. PSI/J installs its launcher scripts where it renders, so it renders in a temporary
    folder that then stands for the real one: a dry run writes nothing."""
    import tempfile

    check_resources(scheduler, sweep)
    real = log_folder(parent) / "round-0"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "round-0"
        job = worker_job(scheduler, sweep, folder / "sweep.yaml", experiment, parent, 0, workers, folder)
        executor = _executor(scheduler, folder)
        out = StringIO()
        # PSI/J's own rendering path (what submit() writes to the job file), without the submit
        executor.generate_submit_script(job, executor._create_script_context(job), out)
        return out.getvalue().replace(str(folder), str(real))


def describe(scheduler: Scheduler) -> Callable:
    def dry_run(sweep: Sweep, experiment: str | None, workers: int) -> str:
        script = render_script(scheduler, sweep, experiment, workers)
        submit = " ".join(scheduler.commands[:1]) + " <job script>"
        what = (f"one job array of {workers} workers ({', '.join(worker_names(scheduler, 0, workers))})"
                if workers > 1 else "one worker job")
        return (f"{scheduler.name}: {what}, submitted by PSI/J as `{submit}` (later rounds: "
                f"round-<n>):\n{script}")
    return dry_run


def check_resources(scheduler: Scheduler, sweep: Sweep) -> None:
    r = sweep.resources
    reason = scheduler.refuse(r)
    if reason:
        raise ProveError(f"executor {scheduler.name}: resources {dict(r)} cannot be submitted: {reason}")


def preflight(scheduler: Scheduler) -> Callable:
    def check(sweep: Sweep) -> None:
        check_resources(scheduler, sweep)
        missing = [c for c in scheduler.commands if shutil.which(c) is None]
        if missing:
            raise ProveError(f"executor {scheduler.name} needs {', '.join(scheduler.commands)} on PATH; not found: "
                             f"{', '.join(missing)} (run prove ablation on the cluster's login node, or use "
                             f"--executor local)")
    return check


def run_batch(scheduler: Scheduler) -> Callable:
    def run(sweep: Sweep, experiment: str | None, parent: str, workers: int) -> list[WorkerReport]:
        import yaml
        from psij import SubmitException

        from prove.settings import apply_shared_umask

        apply_shared_umask(cluster=True)  # a colleague can resume from these folders (docs/cluster.md)
        folder = log_folder(parent)
        folder.mkdir(parents=True, exist_ok=True)
        round_no = len(list(folder.glob("round-*")))
        here = folder / f"round-{round_no}"
        here.mkdir()
        sweep_file = here / "sweep.yaml"
        sweep_file.write_text(yaml.safe_dump(sweep.to_mapping(), sort_keys=False))
        executor = _executor(scheduler, here)
        job = worker_job(scheduler, sweep, sweep_file, experiment, parent, round_no, workers, here)
        try:
            executor.submit(job)
        except SubmitException as exc:
            raise ProveError(f"{scheduler.commands[0]} refused the worker job: {str(exc).strip()[:400]}") from None
        what = f"a job array of {workers} workers" if workers > 1 else "1 worker job"
        click.echo(f"submitted {what} to {scheduler.name} (job {job.native_id}); scripts and logs in {here}", err=True)
        try:
            _wait(job, workers, sweep, experiment, scheduler)
        except KeyboardInterrupt:
            _cancel(executor, job)
            raise
        return [_report(name, job, here) for name in worker_names(scheduler, round_no, workers)]
    return run


def _cancel(executor, job) -> None:
    try:
        executor.cancel(job)
    except Exception:  # already ended
        pass


def _wait(job, workers: int, sweep: Sweep, experiment: str | None, scheduler: Scheduler) -> None:
    from prove.sweeps.status import counts, status_table

    last = 0.0
    while not job.status.final:
        if time.monotonic() - last > 4 * POLL_S:
            c = counts(status_table(sweep, experiment))
            click.echo(f"[{scheduler.name}] job {job.native_id} ({workers} worker(s)) {job.status.state}; specs done "
                       f"{c['done']}/{c['total'] - c['blocked']}", err=True)
            last = time.monotonic()
        job.wait(timedelta(seconds=POLL_S))


def _report(name: str, job, folder: Path) -> WorkerReport:
    path = folder / f"{name}.json"
    if path.is_file():
        return WorkerReport.from_json(json.loads(path.read_text()))
    status = job.status
    reason = f"job {job.native_id} ended {status.state}" + (f" ({status.message})" if status.message else "")
    return WorkerReport(name, failed=[(f"job {job.native_id}", f"{reason}, and worker {name} wrote no report; see "
                                       f"{folder / name}.err and {folder / 'psij'}")])


for _scheduler in SCHEDULERS.values():
    EXECUTORS.declare(Executor(
        _scheduler.name, f"one worker job each on {_scheduler.name.upper()}, through PSI/J (docs/cluster.md)",
        run_batch(_scheduler), describe=describe(_scheduler), preflight=preflight(_scheduler)))
