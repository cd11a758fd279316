"""A real single-node SLURM cluster for tests (started by `bash ci/slurm.sh start`).

Fixtures:
- `slurm_cluster` (session): a `SlurmCluster` once `sinfo` answers with an idle/mixed/allocated
  node. When it does not, the fixture runs `bash ci/slurm.sh start` once with
  PROVE_SLURM_NO_INSTALL=1 (it starts installed daemons, it never installs packages from a
  test run), then skips with the precise reason: not installed, disabled, or a daemon that did
  not come up (with the reason `ci/slurm.sh` left and the last lines of the daemons' logs).

Environment:
- PROVE_SLURM=off          skip every SLURM test (simulates a machine without SLURM)
- PROVE_SLURM_AUTOSTART=0  do not try `bash ci/slurm.sh start` when sinfo does not answer
- PROVE_SLURM_HOME         where ci/slurm.sh keeps state and logs (default /tmp/prove-slurm)

Jobs run as the user of the test run, with `sys.executable`, so they use this very venv. The
cluster is this machine, so any local path is visible to the node. There is no accounting
daemon (`sacct` fails): job states come from `squeue` and `scontrol show job` (kept 300 s after
a job ends, MinJobAge).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "ci" / "slurm.sh"
HOME = Path(os.environ.get("PROVE_SLURM_HOME", "/tmp/prove-slurm"))
PARTITION = "debug"
HEALTHY = {"idle", "mixed", "allocated", "completing"}
# scontrol JobState values after which a job never runs again on its own.
FINAL_STATES = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
    "BOOT_FAIL", "DEADLINE", "PREEMPTED", "SPECIAL_EXIT", "REVOKED",
}


def _run(cmd: list[str], timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def node_states() -> tuple[list[str], str]:
    """(node states as sinfo prints them, sinfo's error text)."""
    if shutil.which("sinfo") is None:
        return [], "no sinfo on PATH"
    try:
        out = _run(["sinfo", "-h", "-o", "%T"])
    except subprocess.TimeoutExpired:
        return [], "sinfo timed out"
    return out.stdout.split(), out.stderr.strip()


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return f"\n  {path.name}: " + "\n    ".join(text[-lines:]) if text else ""


def unavailable_reason(try_start: bool = True) -> str | None:
    """None when the cluster answers with a usable node, else why not (a skip reason)."""
    if os.environ.get("PROVE_SLURM", "").lower() in {"off", "0", "no", "false"}:
        return "SLURM tests disabled by PROVE_SLURM=off"
    missing = [t for t in ("sinfo", "sbatch", "srun", "scontrol", "scancel") if shutil.which(t) is None]
    marker = HOME / "unavailable"
    if missing:
        left = f"; last `ci/slurm.sh start`: {marker.read_text().strip()}" if marker.exists() else ""
        return f"SLURM not installed (no {', '.join(missing)} on PATH); run `bash ci/slurm.sh start`{left}"
    states, error = node_states()
    if HEALTHY & set(states):
        return None
    if try_start and os.environ.get("PROVE_SLURM_AUTOSTART", "1") != "0" and SCRIPT.exists():
        # Start installed daemons only: a test run never installs packages.
        env = {**os.environ, "PROVE_SLURM_NO_INSTALL": "1", "PROVE_SLURM_STRICT": "0"}
        try:
            subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True,
                           timeout=180, check=False, env=env)
        except subprocess.TimeoutExpired:
            pass
        return unavailable_reason(try_start=False)
    reason = (f"SLURM installed but no usable node (sinfo: {' '.join(states) or error or 'no answer'}); "
              "start it with `bash ci/slurm.sh start`")
    if marker.exists():  # it carries the last lines of the log of the daemon that failed
        return reason + f"; `ci/slurm.sh start` said: {marker.read_text().strip()}"
    return reason + _tail(HOME / "slurmctld.log") + _tail(HOME / "slurmd.log")


def scontrol_job(job_id: str) -> dict[str, str]:
    """`scontrol show job -o` as a dict ({} once slurmctld has forgotten the job)."""
    out = _run(["scontrol", "show", "job", "-o", str(job_id)])
    if out.returncode != 0:
        return {}
    info: dict[str, str] = {}
    for token in out.stdout.split():
        key, sep, value = token.partition("=")
        if sep and key not in info:
            info[key] = value
    return info


@dataclass(frozen=True)
class SlurmCluster:
    partition: str
    node: str
    cpus: int
    memory_mb: int

    def job(self, job_id: str) -> dict[str, str]:
        return scontrol_job(job_id)

    def state(self, job_id: str) -> str:
        return scontrol_job(job_id).get("JobState", "UNKNOWN")


def wait_until(predicate, timeout_s: float, what: str, poll_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    out = _run(["sinfo", "-h", "-N", "-p", PARTITION, "-o", "%N %c %m"])
    fields = out.stdout.split()
    if len(fields) < 3:
        pytest.skip(f"SLURM answers but has no partition '{PARTITION}' (sinfo: {out.stdout or out.stderr})")
    return SlurmCluster(partition=PARTITION, node=fields[0], cpus=int(fields[1]), memory_mb=int(fields[2]))


