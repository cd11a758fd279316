"""Writing many finished runs at once: an import of a study's history (thousands of results).

One result through MLflow's client is three requests (create the run, log its params, tags and
metrics, end it), each a transaction: 10,000 results are 30,000 commits on sqlite and, through a
tracking server at 50-120 ms a request, an hour. Here:
- on a SQL store (sqlite, PostgreSQL, MySQL) the runs of a page go in one transaction through
  MLflow's own SQLAlchemy store and its ORM rows (mlflow is pinned to 3.17, whose tables these
  are; tests/tracking/test_bulk.py reads the runs back through the public API and compares them
  with runs written one by one);
- on any other store (a tracking server) the three requests of each run are made by parallel
  writers.
"""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from mlflow.entities import Metric, Param

from prove.tracking import schema

PAGE = 500  # runs per transaction: a failure loses at most one page (rolled back, nothing half-written)
WRITERS = 8  # parallel requests to a tracking server


@dataclass
class NewRun:
    """A FINISHED run to write: name, tags, params, metrics (key -> (value, step))."""

    name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, tuple[float, int]]
    run_id: str = field(default="")


def write_runs(exp_id: str, runs: list[NewRun], on_written: Callable[[list[int]], None] = lambda done: None,
               page: int | None = None, writers: int | None = None) -> list[str]:
    """Write every run FINISHED (see the module docstring); their ids, in order.
    `on_written(indices)` is called as runs land (a page, or one run), with their positions in
    `runs`. A run is complete or absent: a failure raises after removing what it half-wrote."""
    from prove.tracking.client import mlflow_client

    store = _sql_store(mlflow_client())
    if store is not None:
        return _write_sql(store, exp_id, runs, on_written, page or PAGE)
    return _write_parallel(exp_id, runs, on_written, writers or WRITERS)


def _sql_store(c):
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:  # pragma: no cover  (mlflow without its SQL extras)
        return None
    store = getattr(getattr(c, "_tracking_client", None), "store", None)
    return store if isinstance(store, SqlAlchemyStore) else None


def _write_sql(store, exp_id: str, runs: list[NewRun], on_written, page: int) -> list[str]:
    from mlflow.entities import LifecycleStage
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from mlflow.utils.uri import append_to_uri_path

    from prove.tracking.client import user_name

    experiment = store.get_experiment(exp_id)
    user, ids = user_name(), []
    for start in range(0, len(runs), page):
        chunk = runs[start:start + page]
        now = int(time.time() * 1000)
        with store.ManagedSessionMaker(read_only=False) as session:  # one transaction: all of the page or none of it
            for run in chunk:
                run_id = uuid.uuid4().hex
                sql = SqlRun(name=run.name, run_uuid=run_id, experiment_id=int(exp_id), user_id=user,
                             source_type="LOCAL", source_name=run.tags.get(schema.MLFLOW_SOURCE_NAME, ""),
                             entry_point_name="", source_version="", status="FINISHED", start_time=now,
                             end_time=now, deleted_time=None, lifecycle_stage=LifecycleStage.ACTIVE,
                             artifact_uri=append_to_uri_path(experiment.artifact_location, run_id, "artifacts"))
                tags = {**run.tags, schema.MLFLOW_RUN_NAME: run.name}
                sql.tags = [SqlTag(key=k, value=str(v)) for k, v in tags.items()]
                sql.params = [SqlParam(key=k, value=str(v)) for k, v in run.params.items()]
                session.add(sql)
                for key, (value, step) in run.metrics.items():
                    row = dict(key=key, value=float(value), timestamp=now, step=int(step), is_nan=False,
                               run_uuid=run_id)
                    session.add(SqlMetric(**row))
                    session.add(SqlLatestMetric(**row))
                ids.append(run_id)
        on_written(list(range(start, start + len(chunk))))
    return ids


def _write_parallel(exp_id: str, runs: list[NewRun], on_written, writers: int) -> list[str]:
    from prove.tracking.client import mlflow_client

    import threading

    c = mlflow_client()
    lock = threading.Lock()

    def write(item: tuple[int, NewRun]) -> str:
        index, run = item
        created = c.create_run(exp_id, run_name=run.name, tags={k: str(v) for k, v in run.tags.items()})
        run_id = created.info.run_id
        try:
            now = int(time.time() * 1000)
            params = [Param(k, str(v)) for k, v in run.params.items()]
            metrics = [Metric(k, float(v), now, int(s)) for k, (v, s) in run.metrics.items()]
            param_batches = [params[i:i + 100] for i in range(0, len(params), 100)] or [[]]  # MLflow: <= 100
            c.log_batch(run_id, params=param_batches[0], metrics=metrics[:800])
            for batch in param_batches[1:]:
                c.log_batch(run_id, params=batch)
            for i in range(800, len(metrics), 900):
                c.log_batch(run_id, metrics=metrics[i:i + 900])
            c.set_terminated(run_id, "FINISHED")
        except BaseException:
            c.set_terminated(run_id, "FAILED")
            c.delete_run(run_id)  # never a half-written result
            raise
        with lock:
            on_written([index])
        return run_id

    # MLflow prints a "View run ... at <url>" line for every run ended through a server: 10,000
    # lines for an import; prove reports the import itself
    quiet = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
    before = os.environ.get(quiet)
    os.environ[quiet] = "true"
    try:
        with ThreadPoolExecutor(max(1, writers)) as pool:
            return list(pool.map(write, enumerate(runs)))
    finally:
        if before is None:
            os.environ.pop(quiet, None)
        else:
            os.environ[quiet] = before


@dataclass(frozen=True)
class StoredRun:
    """A finished run as a re-import needs it: its id and latest metrics."""

    run_id: str
    metrics: dict[str, float]


def finished_runs(tags: dict[str, str], key_tag: str) -> dict[str, list[StoredRun]]:
    """Every FINISHED, active run of an active experiment carrying all of `tags`, grouped by
    the value of `key_tag`. On a SQL store three queries read only those columns (a 10,000-run
    study in about a second: the public search loads every param and tag of every run too);
    elsewhere, MLflow's paged search."""
    from prove.tracking import client

    store = _sql_store(client.mlflow_client())
    found: dict[str, list[StoredRun]] = {}
    if store is None:
        query = " and ".join([*(f"tags.`{k}` = '{v}'" for k, v in tags.items()), "attributes.status = 'FINISHED'"])
        for run in client.search_runs(client.experiment_ids(), query):
            found.setdefault(run.data.tags.get(key_tag, ""), []).append(StoredRun(run.info.run_id, dict(run.data.metrics)))
        return found
    from mlflow.entities import LifecycleStage
    from mlflow.store.tracking.dbmodels.models import SqlExperiment, SqlLatestMetric, SqlRun, SqlTag
    from sqlalchemy import select

    with store.ManagedSessionMaker() as session:
        wanted = (select(SqlRun.run_uuid).join(SqlExperiment, SqlRun.experiment_id == SqlExperiment.experiment_id)
                  .where(SqlRun.status == "FINISHED", SqlRun.lifecycle_stage == LifecycleStage.ACTIVE,
                         SqlExperiment.lifecycle_stage == LifecycleStage.ACTIVE))
        for key, value in tags.items():
            wanted = wanted.where(SqlRun.run_uuid.in_(select(SqlTag.run_uuid).where(SqlTag.key == key,
                                                                                     SqlTag.value == value)))
        ids = wanted.subquery()
        keys = dict(session.execute(select(SqlTag.run_uuid, SqlTag.value).where(
            SqlTag.key == key_tag, SqlTag.run_uuid.in_(select(ids.c.run_uuid)))).all())
        metrics: dict[str, dict[str, float]] = {run_id: {} for run_id in keys}
        for run_id, key, value in session.execute(select(SqlLatestMetric.run_uuid, SqlLatestMetric.key,
                                                         SqlLatestMetric.value).where(
                SqlLatestMetric.run_uuid.in_(select(ids.c.run_uuid)))):
            if run_id in metrics:
                metrics[run_id][key] = value
    for run_id, key in keys.items():
        found.setdefault(key, []).append(StoredRun(run_id, metrics[run_id]))
    return found
