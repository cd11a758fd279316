"""The tracking store -> the tidy tables, cached as parquet and synced incrementally.

`sync_results` reads every FINISHED test run (`prove.kind = test`) of the chosen experiments
and turns it into one row per domain (`domain = all` for the overall result) with the spec
columns of `schema.RESULT_COLUMNS`, plus the per-class table from the `test/IoU/<class>`
metrics. `sync_trainings` reads the training runs (`prove.kind = train`): one row per run with
its spec, status and last validation mIoU (for coverage and the validation-vs-test gap).

Incremental sync: the cache remembers the latest end time it has seen; the next sync fetches
only runs that ended later (with a small overlap, deduplicated by run id) and drops cached
rows of runs that were deleted since (a result replaced with `prove test --force` is deleted,
and must leave the table with it). An experiment that appeared since is read whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prove.analysis.schema import (
    ALL_DOMAINS, CLASS_COLUMNS, METRICS, RESULT_COLUMNS, TRAINING_COLUMNS, one_result_per_key,
)
from prove.data.labels import CLASSES
from prove.tracking import schema
from prove.tracking.client import no_gc, experiment_ids, mlflow_client, search_runs

# 2: experiment creation times recorded; 3: batch_size and max_iters columns; 4: ratio_schedule, gen_domains;
# 5: study
CACHE_VERSION = 5


@dataclass(frozen=True)
class SyncReport:
    fetched_runs: int
    removed_runs: int
    total_runs: int


def _pretrained(value: str) -> str:
    if value in ("true", "false"):
        return value
    from prove.spec import file_identity

    return file_identity(value) if Path(value).is_file() else "sha256:unavailable"


def _generator_family(strategy: str) -> str:
    from prove.errors import ProveError
    from prove.strategies import parse_strategy

    try:
        return parse_strategy(strategy).generator_family or ""
    except ProveError:
        return ""


def spec_columns(params: dict[str, str]) -> dict:
    """The SPEC_KEYS of a run's params in the result table's dtypes (a pretrained checkpoint
    path becomes the digest of its content, as in the spec identity)."""
    return dict(
        stage=params["stage"], dataset=params["dataset"], model=params["model"], strategy=params["strategy"],
        ratio=float(params["ratio"]), ratio_schedule=params.get("ratio_schedule", "constant"),
        gen_domains=params.get("gen_domains", ""), aux_loss=params["aux_loss"], main_loss=params.get("main_loss", "ce"),
        pretrained=_pretrained(params["pretrained"]), seed=int(params.get("seed", 0)),
    )


def setting_columns(params: dict[str, str]) -> dict:
    """The training budget of a run's params (batch size, iterations); -1 where not recorded."""
    def number(key: str) -> int:
        text = str(params.get(key, "")).strip()
        return int(text) if text.isdigit() else -1

    return dict(batch_size=number("batch_size"), max_iters=number("max_iters"))


def run_rows(run) -> tuple[list[dict], list[dict]]:
    """One test run -> result rows (one per domain) and per-class rows (overall)."""
    p, m, tags = run.data.params, run.data.metrics, run.data.tags
    base = dict(
        run_id=run.info.run_id, train_run_id=tags.get(schema.TRAIN_RUN, p.get("train_run_id", "")),
        study=tags.get(schema.STUDY, ""), **spec_columns(p), **setting_columns(p), strategy_family=tags.get(schema.FAMILY, ""),
        generator_family=_generator_family(p["strategy"]), test_dataset=p["test_dataset"],
        test_split=p["test_split"], checkpoint_iter=int(p["checkpoint_iter"]),
    )
    # an imported result may hold only per-domain values: no overall row is made up for it
    domains = [ALL_DOMAINS] if schema.test_metric("mIoU") in m else []
    for key in m:
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "test" and parts[2] == "mIoU" and parts[1] not in schema.CLASS_METRICS:
            domains.append(parts[1])
    rows = [dict(base, domain=domain, **{k: float(m.get(schema.test_metric(k, domain), float("nan"))) for k in METRICS})
            for domain in domains]
    classes = []
    for domain in domains or [ALL_DOMAINS]:
        for name in CLASSES:
            key = schema.class_metric("IoU", name, domain)
            if key in m:
                classes.append({"run_id": run.info.run_id, "domain": domain, "class": name, "IoU": float(m[key])})
    return rows, classes


def _empty(columns: dict) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype={"str": object, "int": "int64", "float": "float64"}[k])
                         for c, k in columns.items()})


# Runs are fetched again if they ended up to this long before the last one seen: a run that
# ended in the same instant but committed after the previous query is not missed.
OVERLAP_MS = 5000


class _Cache:
    """The sync state of one table: which store and experiments, the last end time seen and
    the experiments already read (a new experiment is read whole, the others incrementally).

    The experiments' creation times identify the store behind the URI: a store deleted and
    made again at the same path (a new mlflow.db) has new ones, and the cache is rebuilt
    instead of keeping results of runs that no longer exist. `refresh` rebuilds it too (after
    `mlflow gc`, which removes deleted runs for good, or restoring a backup)."""

    def __init__(self, cache_dir: str | Path, name: str, client, experiments: list[str] | None,
                 refresh: bool = False):
        self.dir = Path(cache_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.meta_path = self.dir / f"{name}.json"
        self.exp_ids = experiment_ids(experiments, client)
        created = {e.experiment_id: int(e.creation_time or 0) for e in client.search_experiments()}
        self.created = {e: created.get(e, 0) for e in self.exp_ids}
        self.key = dict(version=CACHE_VERSION, uri=str(client.tracking_uri), experiments=sorted(experiments or []))
        meta = json.loads(self.meta_path.read_text()) if self.meta_path.is_file() and not refresh else {}
        same_store = all(self.created.get(e, -1) == t for e, t in meta.get("experiment_created", {}).items())
        self.fresh = meta.get("key") != self.key or not same_store
        self.since = 0 if self.fresh else int(meta.get("last_end_time", 0))
        self.known = set() if self.fresh else set(meta.get("experiment_ids", []))

    def ended_since(self, client, filter_string: str) -> list:
        known = [e for e in self.exp_ids if e in self.known]
        new = [e for e in self.exp_ids if e not in self.known]
        runs = search_runs(known, f"{filter_string} and attributes.end_time > {self.since - OVERLAP_MS}",
                           client=client) if known else []
        return runs + (search_runs(new, filter_string, client=client) if new else [])

    def save(self, runs: list) -> None:
        last = max([self.since, *(r.info.end_time or 0 for r in runs)])
        self.meta_path.write_text(json.dumps(dict(key=self.key, last_end_time=last, experiment_ids=self.exp_ids,
                                                  experiment_created=self.created)))


def sync_results(cache_dir: str | Path, experiments: list[str] | None = None, tracking_uri: str | None = None,
                 refresh: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, SyncReport]:
    """The results and per-class tables of the store, updated incrementally in `cache_dir`."""
    from mlflow.entities import ViewType

    client = mlflow_client(tracking_uri)
    state = _Cache(cache_dir, "results", client, experiments, refresh)
    results_path, classes_path = state.dir / "results.parquet", state.dir / "classes.parquet"
    fresh = state.fresh or not results_path.is_file() or not classes_path.is_file()
    if fresh:
        state.since, state.known = 0, set()
    results = _empty(RESULT_COLUMNS) if fresh else pd.read_parquet(results_path)
    classes = _empty(CLASS_COLUMNS) if fresh else pd.read_parquet(classes_path)

    kind = f"tags.`{schema.KIND}` = '{schema.TEST}'"
    candidates = state.ended_since(client, f"{kind} and attributes.status = 'FINISHED'")
    cached = set(results["run_id"])
    # a finished test run never changes (a new result is a new run), so only unseen ids are read
    new_runs = [r for r in candidates if r.info.run_id not in cached]
    deleted = {r.info.run_id for r in search_runs(state.exp_ids, kind, ViewType.DELETED_ONLY, client)}
    removed = len(cached & deleted)
    results = results[~results["run_id"].isin(deleted)]
    classes = classes[~classes["run_id"].isin(deleted)]
    new_rows, new_classes = [], []
    with no_gc():
        for run in new_runs:
            rows, cls = run_rows(run)
            new_rows.extend(rows)
            new_classes.extend(cls)
    if new_rows:
        results = pd.concat([results, pd.DataFrame(new_rows)[list(RESULT_COLUMNS)]], ignore_index=True)
    if new_classes:
        classes = pd.concat([classes, pd.DataFrame(new_classes)[list(CLASS_COLUMNS)]], ignore_index=True)
    results = one_result_per_key(results.reset_index(drop=True))
    results.to_parquet(results_path, index=False)
    classes.to_parquet(classes_path, index=False)
    state.save(candidates)
    return results, classes, SyncReport(len(new_runs), removed, results["run_id"].nunique())


def training_row(run) -> dict:
    """One training run -> its spec columns, status and last validation mIoU with its iteration."""
    p = run.data.params
    val_iter, val_miou = -1, float("nan")
    if "val/mIoU" in run.data.metrics:
        # the step of a latest metric is only in the proto form of the run data (public API)
        (latest,) = [m for m in run.data.to_proto().metrics if m.key == "val/mIoU"]
        val_iter, val_miou = int(latest.step), float(latest.value)
    return dict(
        run_id=run.info.run_id, status=run.info.status, study=run.data.tags.get(schema.STUDY, ""), **spec_columns(p), **setting_columns(p),
        strategy_family=run.data.tags.get(schema.FAMILY, ""),
        val_iter=val_iter, val_mIoU=val_miou, end_time=int(run.info.end_time or 0),
    )


def sync_trainings(cache_dir: str | Path, experiments: list[str] | None = None, tracking_uri: str | None = None,
                   refresh: bool = False) -> tuple[pd.DataFrame, SyncReport]:
    """The training-runs table of the store, updated incrementally in `cache_dir`.

    Ended runs (FINISHED, FAILED, KILLED) are cached and read again when they end later (a
    resumed run ends again); RUNNING runs are always read fresh, they are few and change.
    """
    from mlflow.entities import ViewType

    client = mlflow_client(tracking_uri)
    state = _Cache(cache_dir, "trainings", client, experiments, refresh)
    table_path = state.dir / "trainings.parquet"
    if state.fresh or not table_path.is_file():
        state.since, state.known = 0, set()
        table = _empty(TRAINING_COLUMNS)
    else:
        table = pd.read_parquet(table_path)

    kind = f"tags.`{schema.KIND}` = '{schema.TRAIN}'"
    ended = state.ended_since(client, f"{kind} and attributes.status != 'RUNNING'")
    running = search_runs(state.exp_ids, f"{kind} and attributes.status = 'RUNNING'", client=client)
    deleted = {r.info.run_id for r in search_runs(state.exp_ids, kind, ViewType.DELETED_ONLY, client)}
    seen = dict(zip(table["run_id"], table["end_time"]))
    changed = [r for r in ended if seen.get(r.info.run_id) != int(r.info.end_time or 0)] + running
    removed = len(set(seen) & deleted)
    drop = {r.info.run_id for r in changed} | deleted
    table = table[~table["run_id"].isin(drop) & (table["status"] != "RUNNING")]
    if changed:
        table = pd.concat([table, pd.DataFrame([training_row(r) for r in changed])[list(TRAINING_COLUMNS)]],
                          ignore_index=True)
    table = table.reset_index(drop=True)
    table.to_parquet(table_path, index=False)
    state.save(ended)
    return table, SyncReport(len(changed), removed, len(table))


def planned_table(sweep) -> pd.DataFrame:
    """The trainings a plan (a `prove.sweeps.definition.Sweep`) means to run, as rows of
    `coverage.SPEC_KEYS` in the result table's dtypes (coverage: planned vs trained vs tested)."""
    from prove.analysis.coverage import SPEC_KEYS

    return pd.DataFrame([{**spec_columns(s.to_params()), **setting_columns(s.to_params())}
                         for s in sweep.planned_specs()], columns=list(SPEC_KEYS))
