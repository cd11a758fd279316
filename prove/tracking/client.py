"""The only module that writes to MLflow: a pure client (no torch, no mmengine).

Runs are addressed by id through `MlflowClient` (never a global "active run"), so training
can resume into the same run from another process. Writes are batched (a call through a
tracking server costs tens of milliseconds); searches are paged with the garbage collector
paused (reading 10k runs makes a million small objects). Tag names: `prove.tracking.schema`.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import mlflow
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from prove.settings import DEFAULT_EXPERIMENT, stale_after_s
from prove.tracking import schema

_BATCH = 900  # MLflow accepts up to 1000 metrics per log_batch
_PAGE = 50_000  # MLflow's largest search page: each page is a query


def mlflow_client(tracking_uri: str | None = None) -> MlflowClient:
    return MlflowClient(tracking_uri) if tracking_uri else MlflowClient()


def tracking_uri() -> str:
    return mlflow.get_tracking_uri()


def experiment_name(name: str | None = None) -> str | None:
    """The experiment a verb writes to: `name` when given; else None, meaning the experiment
    MLflow Projects launched this process in (MLFLOW_EXPERIMENT_ID, set by `mlflow run`); else
    MLflow's MLFLOW_EXPERIMENT_NAME; else settings.DEFAULT_EXPERIMENT."""
    if name:
        return name
    if os.environ.get("MLFLOW_EXPERIMENT_ID"):
        return None
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT


def experiment_id(name: str | None = None) -> str:
    """The id of the experiment of `experiment_name(name)`, created when missing."""
    resolved = experiment_name(name)
    if resolved is None:
        return os.environ["MLFLOW_EXPERIMENT_ID"]
    found = mlflow_client().get_experiment_by_name(resolved)
    if found:
        return found.experiment_id
    try:
        return mlflow_client().create_experiment(resolved)
    except MlflowException as exc:  # parallel workers creating it at once: one wins, all use it
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return mlflow_client().get_experiment_by_name(resolved).experiment_id


def find_experiment_id(name: str | None = None) -> str | None:
    """As `experiment_id`, but None instead of creating a missing experiment (for read-only
    commands such as a dry run)."""
    resolved = experiment_name(name)
    if resolved is None:
        return os.environ["MLFLOW_EXPERIMENT_ID"]
    found = mlflow_client().get_experiment_by_name(resolved)
    return found.experiment_id if found else None


def experiment_ids(names: Iterable[str] | None = None, client: MlflowClient | None = None) -> list[str]:
    """Ids of the named experiments (all of the store's when none are named); an unknown
    name is a clear error."""
    from prove.errors import ProveError

    experiments = (client or mlflow_client()).search_experiments()
    names = list(names or [])
    if not names:
        return [e.experiment_id for e in experiments]
    by_name = {e.name: e.experiment_id for e in experiments}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ProveError(f"unknown experiment(s) {missing}; the store has: {', '.join(sorted(by_name))}")
    return [by_name[n] for n in names]


@contextmanager
def no_gc():
    """Reading 10k runs makes about a million small objects that all live until the rows are
    built; the cyclic garbage collector rescans them again and again (2/3 of the sync time in
    bench/leaderboard_scale.py). Nothing here makes cycles, so it is paused while reading."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def search_runs(exp_ids: list[str], filter_string: str, view=None, client: MlflowClient | None = None) -> list:
    """Every run matching `filter_string`, all pages, with the GC paused (see `no_gc`)."""
    c = client or mlflow_client()
    runs, token = [], None
    with no_gc():
        while True:
            page = c.search_runs(exp_ids, filter_string=filter_string, run_view_type=view or ViewType.ACTIVE_ONLY,
                                 max_results=_PAGE, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs


@dataclass(frozen=True)
class ExistingRun:
    run_id: str
    status: str
    heartbeat: float
    work_dir: str
    name: str

    @property
    def stale(self) -> bool:
        return self.status == "RUNNING" and time.time() - self.heartbeat > stale_after_s()


def find_train_runs(exp_id: str, spec_hash: str) -> list[ExistingRun]:
    """The training runs of a spec in an experiment, newest first."""
    runs = mlflow_client().search_runs(
        [exp_id], filter_string=f"tags.`{schema.SPEC_HASH}` = '{spec_hash}' and tags.`{schema.KIND}` = '{schema.TRAIN}'",
        max_results=50, order_by=["attributes.start_time DESC"],
    )
    return [ExistingRun(r.info.run_id, r.info.status, float(r.data.tags.get(schema.HEARTBEAT, 0) or 0),
                        r.data.tags.get(schema.WORK_DIR, ""), r.info.run_name) for r in runs]


def code_version() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for pkg in ("prove", "torch", "mmsegmentation", "mmengine", "mmcv-lite", "mmcv", "mlflow"):
        try:
            parts.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            continue
    return " ".join(parts)


def create_run(exp_id: str, run_name: str, tags: dict[str, str], params: dict[str, str], adopt: str | None = None) -> str:
    """A new RUNNING run with its params and tags; `adopt` reuses a run MLflow Projects made."""
    c = mlflow_client()
    all_tags = {**tags, schema.HEARTBEAT: str(time.time()), schema.HOST: socket.gethostname(),
                schema.GIT_COMMIT: code_version(), schema.VERSIONS: package_versions()}
    parent = os.environ.get(schema.PARENT_RUN_ENV)
    if parent and parent != adopt:
        all_tags[schema.MLFLOW_PARENT] = parent  # runs made for a sweep are its children in the MLflow UI
    if adopt:
        run_id = adopt
        c.set_tag(run_id, schema.MLFLOW_RUN_NAME, run_name)
    else:
        run_id = c.create_run(exp_id, run_name=run_name).info.run_id
    existing = c.get_run(run_id).data.params
    c.log_batch(run_id, params=[Param(k, v) for k, v in params.items() if k not in existing],
                tags=[RunTag(k, v) for k, v in all_tags.items()])
    return run_id


def get_run(run_id: str):
    return mlflow_client().get_run(run_id)


def set_tags(run_id: str, tags: dict[str, str]) -> None:
    mlflow_client().log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def log_params(run_id: str, params: dict[str, str]) -> None:
    c = mlflow_client()
    existing = c.get_run(run_id).data.params
    new = [Param(k, str(v)) for k, v in params.items() if k not in existing]
    for start in range(0, len(new), 100):
        c.log_batch(run_id, params=new[start:start + 100])


def log_metrics(run_id: str, metrics: Iterable[Metric]) -> None:
    batch = list(metrics)
    for start in range(0, len(batch), _BATCH):
        mlflow_client().log_batch(run_id, metrics=batch[start:start + _BATCH])


def metric(key: str, value: float, step: int = 0, timestamp_ms: int | None = None) -> Metric:
    return Metric(key, float(value), int(time.time() * 1000) if timestamp_ms is None else timestamp_ms, int(step))


def log_artifact(run_id: str, path: str | os.PathLike, artifact_path: str | None = None) -> None:
    mlflow_client().log_artifact(run_id, str(path), artifact_path)


def log_artifacts(run_id: str, folder: str | os.PathLike, artifact_path: str | None = None) -> None:
    mlflow_client().log_artifacts(run_id, str(folder), artifact_path)


def log_dataset(run_id: str, dataset, context: str) -> None:
    """Log an `mlflow.data` dataset (prove.data.provenance.Provenance.to_mlflow()) as an input.

    MLflow stores a dataset once per experiment, checking whether it exists before inserting it:
    two workers logging the same dataset at once both insert, and the second fails on the
    unique constraint. The dataset then exists, so that one failure is retried once."""
    inputs = [DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", context)])]
    try:
        mlflow_client().log_inputs(run_id, datasets=inputs)
    except MlflowException as exc:
        if "UNIQUE constraint failed: datasets" not in str(exc) and "duplicate key" not in str(exc):
            raise
        mlflow_client().log_inputs(run_id, datasets=inputs)


def mark_launcher(links: dict[str, str], own_run: str | None = None) -> None:
    """`mlflow run` made a run for this process (MLFLOW_RUN_ID). Unless prove adopted it as its
    own run, tag it `prove.kind=launch` with links to the runs it produced, so analyses that
    filter on prove.kind never mistake it for a result."""
    launched = os.environ.get("MLFLOW_RUN_ID")
    if launched and launched != own_run:
        set_tags(launched, {schema.KIND: schema.LAUNCH, **links})


def end_run(run_id: str, status: str) -> None:
    mlflow_client().set_terminated(run_id, status=status)


def set_status(run_id: str, status: str) -> None:
    mlflow_client().update_run(run_id, status=status)


def delete_run(run_id: str) -> None:
    mlflow_client().delete_run(run_id)


def heartbeat(run_id: str) -> None:
    mlflow_client().set_tag(run_id, schema.HEARTBEAT, str(time.time()))


def metric_history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in mlflow_client().get_metric_history(run_id, key)]
