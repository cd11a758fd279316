"""Remove the run `mlflow run` made for a prove command that did not take it over.

Started detached by `prove.tracking.client.settle_project_run` as
`python -m prove.tracking.reaper URI RUN_ID PID`: waits for process PID (the entry point) to
exit, then for `mlflow run` to set its run's status (it does so right after the entry point
exits, and fails if the run is deleted before), then deletes the run. Imports only MLflow.
"""

from __future__ import annotations

import os
import sys
import time

WAIT_FOR_STATUS_S = 30.0  # `mlflow run` ends its run within a second of the entry point's exit
POLL_S = 0.2


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(uri: str, run_id: str, pid: int) -> None:
    while _alive(pid):
        time.sleep(POLL_S)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    deadline = time.monotonic() + WAIT_FOR_STATUS_S
    while time.monotonic() < deadline:
        run = client.get_run(run_id)
        if run.info.lifecycle_stage != "active" or "prove.kind" in run.data.tags:
            return
        if run.info.status not in ("RUNNING", "SCHEDULED"):
            break
        time.sleep(POLL_S)
    else:  # `mlflow run` itself is gone (killed): end the run so that it can be deleted
        client.set_terminated(run_id, "KILLED")
    client.delete_run(run_id)


if __name__ == "__main__":
    reap(sys.argv[1], sys.argv[2], int(sys.argv[3]))
