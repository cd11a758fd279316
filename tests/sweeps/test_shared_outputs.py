"""Shared outputs: group-writable work dirs and files, so a colleague resumes your killed run.

The two-user test creates two real Unix users in one group (root only, where `useradd` exists;
skipped with the reason otherwise): the first trains until SIGTERM (a `bkill`) leaves the run
KILLED, the second resumes it with the same command, in the same work dir and store.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from prove.errors import ProveError
from prove.settings import apply_shared_umask, shared_outputs


@pytest.fixture
def restore_umask():
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@pytest.mark.parametrize("env, cluster, expected", [
    ({}, False, False), ({}, True, True), ({"LSB_JOBID": "42"}, False, True), ({"SLURM_JOB_ID": "7"}, False, True),
    ({"PBS_JOBID": "9.pbs"}, False, True), ({"PROVE_SHARED_OUTPUTS": "off", "LSB_JOBID": "42"}, True, False),
    ({"PROVE_SHARED_OUTPUTS": "on"}, False, True),
])
def test_shared_outputs_default_on_in_cluster_jobs(monkeypatch, env, cluster, expected):
    for key in ("PROVE_SHARED_OUTPUTS", "LSB_JOBID", "SLURM_JOB_ID", "PBS_JOBID"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert shared_outputs(cluster) is expected


def test_a_bad_setting_is_named(monkeypatch):
    monkeypatch.setenv("PROVE_SHARED_OUTPUTS", "maybe")
    with pytest.raises(ProveError, match="PROVE_SHARED_OUTPUTS='maybe'; accepted: on, off"):
        shared_outputs()


def test_shared_umask_makes_775_folders_and_664_files(tmp_path, monkeypatch, restore_umask):
    monkeypatch.setenv("PROVE_SHARED_OUTPUTS", "on")
    os.umask(0o022)
    assert apply_shared_umask() == 0o002
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "ckpt.pth").write_bytes(b"x")
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o775
    assert stat.S_IMODE((tmp_path / "run" / "ckpt.pth").stat().st_mode) == 0o664
    monkeypatch.setenv("PROVE_SHARED_OUTPUTS", "off")
    os.umask(0o022)
    assert apply_shared_umask() == 0o022


def _two_users_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create two Unix users"
    if not (shutil.which("useradd") and shutil.which("groupadd") and shutil.which("runuser")):
        return "useradd/groupadd/runuser not installed"
    return None


@pytest.fixture
def two_users():
    reason = _two_users_reason()
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:6]
    group, users = f"pg{tag}", [f"pa{tag}", f"pb{tag}"]
    subprocess.run(["groupadd", group], check=True)
    for user in users:
        subprocess.run(["useradd", "-M", "-N", "-g", group, "-s", "/bin/bash", user], check=True)
    probe = subprocess.run(["runuser", "-u", users[0], "--", sys.executable, "-c", "import prove"],
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"],
                                                                "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    if probe.returncode != 0:
        for user in users:
            subprocess.run(["userdel", user], check=False)
        subprocess.run(["groupdel", group], check=False)
        pytest.skip(f"another Unix user cannot run this Python ({sys.executable}): "
                    f"{(probe.stderr.strip().splitlines() or ['?'])[-1]}")
    shared = Path(tempfile.mkdtemp(prefix="prove-shared-", dir="/tmp"))
    shutil.chown(shared, group=group)
    shared.chmod(0o2775)  # the group's project folder: setgid, group-writable
    yield group, users, shared
    for user in users:
        subprocess.run(["userdel", user], check=False)
    subprocess.run(["groupdel", group], check=False)
    shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.slow
def test_a_colleague_resumes_a_run_the_first_users_job_left_killed(two_users):
    from tests.data.fixtures import build_acdc

    group, (first, second), shared = two_users
    build_acdc(shared / "acdc")
    subprocess.run(["chmod", "-R", "g+rwX,o+rX", str(shared / "acdc")], check=True)
    repo = Path(__file__).resolve().parents[2]
    env = {"PATH": os.environ["PATH"], "HOME": str(shared), "PYTHONPATH": str(repo),
           "MLFLOW_TRACKING_URI": f"sqlite:///{shared / 'store.db'}", "PROVE_WORK_DIR": str(shared / "work"),
           "PROVE_CACHE_DIR": str(shared / "cache"), "PROVE_PLUGINS": "tests.support", "PROVE_PROGRESS": "lines",
           "LSB_JOBID": "4242",  # inside an LSF job: shared outputs by default
           "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "false"}
    command = [sys.executable, "-m", "prove.cli", "train", "--dataset", "acdc_mini", "--data-root",
               str(shared / "acdc"), "--stage", "s2", "--max-iters", "3000", "--batch-size", "2",
               "--checkpoint-interval", "50", "--eval-interval", "3000", "--system-metrics", "off"]

    def as_user(user: str, **kw):
        return subprocess.Popen(["runuser", "-u", user, "--", *command], env=env, cwd=str(shared),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

    job = as_user(first)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list((shared / "work").glob("*/iter_*.pth")):
        if job.poll() is not None:
            pytest.fail(f"the first user's training ended early:\n{job.stdout.read()[-3000:]}")
        time.sleep(0.3)
    job.send_signal(signal.SIGTERM)  # what bkill / TERM_OWNER sends
    out = job.communicate(timeout=120)[0]
    assert "marked KILLED" in out, out[-3000:]

    (work,) = [p for p in (shared / "work").iterdir() if p.is_dir()]
    assert stat.S_IMODE(work.stat().st_mode) & 0o070 == 0o070, oct(work.stat().st_mode)
    for path in work.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o060 == 0o060, (path, oct(path.stat().st_mode))

    resumed = as_user(second)
    out = resumed.communicate(timeout=900)[0]
    assert resumed.returncode == 0, out[-3000:]
    assert "resum" in out.lower(), out[-3000:]

    import mlflow

    client = mlflow.tracking.MlflowClient(env["MLFLOW_TRACKING_URI"])
    exps = [e.experiment_id for e in client.search_experiments()]
    (train,) = client.search_runs(exps, filter_string="tags.`prove.kind` = 'train'")
    assert train.info.status == "FINISHED"
    steps = {m.step for m in client.get_metric_history(train.info.run_id, "train/loss")}
    assert steps == set(range(1, 3001))  # one run: the colleague's job resumed it, not restarted it
