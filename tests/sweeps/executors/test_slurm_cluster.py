"""The single-node SLURM cluster of ci/slurm.sh runs what the sweep runner needs through
submitit: a function in this venv with its CPUs, memory and time limit; a job array; an error
that comes back as an exception; and a Checkpointable job that is interrupted (by a signal, and
by its wall-clock limit), requeued, and resumes from the progress it saved."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pytest
import submitit

from tests.services.slurm import wait_for_result, wait_until

# The jobs unpickle the callables below; pickle them by value so a job never needs to import
# this test module (its working directory and sys.path are not the test run's).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


# ---- what the jobs run ------------------------------------------------------------------------

def describe(a: int, b: int) -> dict:
    return {
        "sum": a + b,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "hostname": socket.gethostname(),
        "job_id": os.environ.get("SLURM_JOB_ID"),
        "partition": os.environ.get("SLURM_JOB_PARTITION"),
        "cpus_per_task": os.environ.get("SLURM_CPUS_PER_TASK"),
        "mem_per_node_mb": os.environ.get("SLURM_MEM_PER_NODE"),
    }


def square(x: int) -> tuple[int, str | None, str | None]:
    return x * x, os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")


def fail(message: str) -> None:
    raise ValueError(message)


class ResumableCounter(submitit.helpers.Checkpointable):
    """Stands in for a training run: counts steps, saving progress to a file after each (the
    checkpoint); a requeued attempt reads it and goes on from there. The first attempt counts
    until it is interrupted; a requeued attempt does `steps_after_restart` more and returns."""

    def __call__(self, workdir: str, steps_after_restart: int = 3, step_s: float = 0.25) -> dict:
        work = Path(workdir)
        progress = work / "progress"
        start = int(progress.read_text()) if progress.exists() else 0
        restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
        with (work / "attempts.jsonl").open("a") as log:
            log.write(json.dumps({"restarts": restarts, "start": start, "pid": os.getpid()}) + "\n")
        step = start
        while restarts == 0 or step < start + steps_after_restart:
            time.sleep(step_s)
            step += 1
            tmp = progress.with_suffix(".tmp")
            tmp.write_text(str(step))
            tmp.replace(progress)
        return {"start": start, "end": step, "restarts": restarts}


# ---- helpers ----------------------------------------------------------------------------------

def executor(folder: Path, cluster, **parameters) -> submitit.AutoExecutor:
    ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
    assert ex.cluster == "slurm"  # a real SLURM executor, not submitit's local fallback
    defaults = dict(slurm_partition=cluster.partition, cpus_per_task=1, mem_gb=1, timeout_min=5, name="prove-test")
    ex.update_parameters(**{**defaults, **parameters})
    return ex


def attempts(workdir: Path) -> list[dict]:
    path = workdir / "attempts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def progress(workdir: Path) -> int:
    try:
        return int((workdir / "progress").read_text())
    except (OSError, ValueError):
        return 0


def check_resumed(job, cluster, workdir: Path, result: dict, min_start: int = 2) -> None:
    runs = attempts(workdir)
    assert [r["restarts"] for r in runs] == [0, 1], runs  # interrupted once, requeued once
    assert runs[0]["start"] == 0
    assert runs[1]["start"] >= min_start, runs  # the requeued attempt began from the saved progress
    assert runs[1]["pid"] != runs[0]["pid"]
    assert result == {"start": runs[1]["start"], "end": runs[1]["start"] + 3, "restarts": 1}
    assert progress(workdir) == result["end"]
    info = wait_until(lambda: (i := cluster.job(job.job_id)).get("JobState") == "COMPLETED" and i,
                      30, f"job {job.job_id} COMPLETED")
    assert info["Restarts"] == "1" and info["ExitCode"] == "0:0", info
    # submitit's own account: SIGUSR2 caught (stderr), checkpoint dumped and job requeued (stdout).
    assert "Caught signal SIGUSR2" in (job.stderr() or ""), job.stderr()
    out = job.stdout() or ""
    assert "Calling checkpoint method." in out and f"Requeued job {job.job_id} " in out, out


# ---- tests ------------------------------------------------------------------------------------

def test_cluster_has_a_usable_node(slurm_cluster):
    assert slurm_cluster.cpus >= 1 and slurm_cluster.memory_mb >= 1024
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == slurm_cluster.node


def test_submitit_runs_a_function_in_this_venv_with_its_resources(slurm_cluster, submitit_folder):
    job = executor(submitit_folder, slurm_cluster).submit(describe, 20, 22)
    result = wait_for_result(job, timeout_s=60)
    assert result["sum"] == 42
    assert result["executable"] == sys.executable and result["prefix"] == sys.prefix
    assert result["hostname"] == socket.gethostname()
    assert result["job_id"] == job.job_id
    assert result["partition"] == "debug"
    assert result["cpus_per_task"] == "1"
    assert result["mem_per_node_mb"] == "1024"
    info = wait_until(lambda: (i := slurm_cluster.job(job.job_id)).get("JobState") == "COMPLETED" and i,
                      30, f"job {job.job_id} COMPLETED")
    assert info["TimeLimit"] == "00:05:00", info
    assert info["NumCPUs"] == "1" and info["Partition"] == "debug" and info["ExitCode"] == "0:0", info


def test_a_job_array_runs_every_task(slurm_cluster, submitit_folder):
    ex = executor(submitit_folder, slurm_cluster, slurm_array_parallelism=3)
    jobs = ex.map_array(square, [1, 2, 3])
    assert len({job.job_id.split("_")[0] for job in jobs}) == 1  # one array, three tasks
    results = [wait_for_result(job, timeout_s=90) for job in jobs]
    array_id = jobs[0].job_id.split("_")[0]
    assert results == [(1, array_id, "0"), (4, array_id, "1"), (9, array_id, "2")]


def test_an_error_in_the_job_comes_back_as_an_exception(slurm_cluster, submitit_folder):
    job = executor(submitit_folder, slurm_cluster).submit(fail, "boom 1234")
    wait_until(job.paths.result_pickle.exists, 60, "the error pickle")
    with pytest.raises(submitit.core.utils.FailedJobError, match="ValueError: boom 1234"):
        job.result()


@pytest.mark.slow
def test_an_interrupted_checkpointable_job_is_requeued_and_resumes(slurm_cluster, submitit_folder, tmp_path):
    """What SLURM does before the wall clock or a preemption: send SIGUSR2 (submitit asks for
    it with --signal=USR2@<signal_delay_s>) to the job's steps. submitit then calls
    `checkpoint()`, dumps the callable, runs `scontrol requeue` and exits; the job starts again
    after the credential lifetime (cred_expire=20 in ci/slurm.sh) and resumes."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    job = executor(submitit_folder, slurm_cluster).submit(ResumableCounter(), str(workdir))
    wait_until(lambda: progress(workdir) >= 4, 60, "the first attempt to make progress")
    # = job._interrupt(timeout=True), submitit's own test hook, spelt out.
    subprocess.run(["scancel", "--signal=USR2", job.job_id], check=True)
    result = wait_for_result(job, timeout_s=120)
    check_resumed(job, slurm_cluster, workdir, result)


@pytest.mark.slow
def test_a_job_at_its_time_limit_is_requeued_and_resumes(slurm_cluster, submitit_folder, tmp_path):
    """The real wall-clock path, no signal from the test: a 1-minute job whose callable never
    ends by itself. slurmctld checks time limits every 30 s and sends the --signal=USR2@15 at
    the first check with under 15 + 30 s left, i.e. 15-45 s after the start: late enough for
    the first attempt to make progress, and never before a requeued attempt (1-2 s) is done.
    (A delay >= limit - 30 s would signal at the first check, 0-30 s after each start, which
    races both.) About 40-75 s."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    ex = executor(submitit_folder, slurm_cluster, timeout_min=1, slurm_signal_delay_s=15)
    job = ex.submit(ResumableCounter(), str(workdir))
    result = wait_for_result(job, timeout_s=150)
    # >= 14 s of 0.25 s steps before the signal: it came from the time limit, not at once.
    check_resumed(job, slurm_cluster, workdir, result, min_start=40)
