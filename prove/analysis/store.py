"""The tracking store -> the tidy results table, cached as parquet and synced incrementally.

Reads every FINISHED test run (`prove.kind = test`) of the chosen experiments and turns it
into one row per domain (`domain = all` for the overall result) with the spec columns of
`schema.RESULT_COLUMNS`, plus the per-class table from the `test/IoU/<class>` metrics.

Incremental sync: the cache remembers the latest end time it has seen; the next sync fetches
only runs that ended later, and drops cached rows of runs that were deleted since (a result
replaced with `prove test --force` is deleted, and must leave the table with it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prove.analysis.schema import ALL_DOMAINS, CLASS_COLUMNS, METRICS, RESULT_COLUMNS, one_result_per_key
from prove.data.labels import CLASSES

CACHE_VERSION = 1
_PAGE = 1000


@dataclass(frozen=True)
class SyncReport:
    fetched_runs: int
    removed_runs: int
    total_runs: int


def _client(tracking_uri: str | None):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri) if tracking_uri else MlflowClient()


def experiment_ids(client, names: list[str] | None) -> list[str]:
    from prove.errors import ProveError

    experiments = client.search_experiments()
    if not names:
        return [e.experiment_id for e in experiments]
    by_name = {e.name: e.experiment_id for e in experiments}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ProveError(f"unknown experiment(s) {missing}; the store has: {', '.join(sorted(by_name))}")
    return [by_name[n] for n in names]


def _search(client, exp_ids: list[str], filter_string: str, view=None) -> list:
    from mlflow.entities import ViewType

    runs, token = [], None
    while True:
        page = client.search_runs(exp_ids, filter_string=filter_string, run_view_type=view or ViewType.ACTIVE_ONLY,
                                  max_results=_PAGE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _pretrained(value: str) -> str:
    if value in ("true", "false"):
        return value
    from prove.spec import _file_digest

    return "sha256:" + (_file_digest(value) if Path(value).is_file() else "unavailable")


def _generator_family(strategy: str) -> str:
    from prove.errors import ProveError
    from prove.strategies import parse_strategy

    try:
        return parse_strategy(strategy).generator_family or ""
    except ProveError:
        return ""


def run_rows(run) -> tuple[list[dict], list[dict]]:
    """One test run -> result rows (one per domain) and per-class rows (overall)."""
    p, m, tags = run.data.params, run.data.metrics, run.data.tags
    base = dict(
        run_id=run.info.run_id, train_run_id=tags.get("prove.train_run_id", p.get("train_run_id", "")),
        stage=p["stage"], dataset=p["dataset"], model=p["model"], strategy=p["strategy"],
        strategy_family=tags.get("prove.family", ""), generator_family=_generator_family(p["strategy"]),
        ratio=float(p["ratio"]), aux_loss=p["aux_loss"], main_loss=p["main_loss"],
        pretrained=_pretrained(p["pretrained"]), seed=int(p["seed"]), test_dataset=p["test_dataset"],
        test_split=p["test_split"], checkpoint_iter=int(p["checkpoint_iter"]),
    )
    domains = {ALL_DOMAINS: "test"}
    for key in m:
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "test" and parts[2] == "mIoU" and parts[1] not in ("IoU", "Acc"):
            domains[parts[1]] = f"test/{parts[1]}"
    rows = [dict(base, domain=domain, **{k: float(m.get(f"{prefix}/{k}", float("nan"))) for k in METRICS})
            for domain, prefix in domains.items()]
    classes = []
    for name in CLASSES:
        key = "test/IoU/" + name.replace(" ", "_")
        if key in m:
            classes.append({"run_id": run.info.run_id, "domain": ALL_DOMAINS, "class": name, "IoU": float(m[key])})
    return rows, classes


def _empty(columns: dict) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype={"str": object, "int": "int64", "float": "float64"}[k])
                         for c, k in columns.items()})


def sync_results(cache_dir: str | Path, experiments: list[str] | None = None,
                 tracking_uri: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, SyncReport]:
    """The results and per-class tables of the store, updated incrementally in `cache_dir`."""
    from mlflow.entities import ViewType

    client = _client(tracking_uri)
    exp_ids = experiment_ids(client, experiments)
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    meta_path, results_path, classes_path = cache / "results.json", cache / "results.parquet", cache / "classes.parquet"
    key = dict(version=CACHE_VERSION, uri=client.tracking_uri if hasattr(client, "tracking_uri") else str(tracking_uri),
               experiments=sorted(exp_ids))
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    fresh = meta.get("key") != key or not results_path.is_file()
    results = _empty(RESULT_COLUMNS) if fresh else pd.read_parquet(results_path)
    classes = _empty(CLASS_COLUMNS) if fresh else pd.read_parquet(classes_path)
    since = 0 if fresh else int(meta.get("last_end_time", 0))

    base_filter = "tags.`prove.kind` = 'test' and attributes.status = 'FINISHED'"
    new_runs = _search(client, exp_ids, f"{base_filter} and attributes.end_time > {since}")
    deleted = {r.info.run_id for r in _search(client, exp_ids, "tags.`prove.kind` = 'test'", ViewType.DELETED_ONLY)}
    replaced = {r.info.run_id for r in new_runs} | deleted
    removed = len(set(results["run_id"]) & deleted)
    results = results[~results["run_id"].isin(replaced)]
    classes = classes[~classes["run_id"].isin(replaced)]
    new_rows, new_classes = [], []
    for run in new_runs:
        rows, cls = run_rows(run)
        new_rows.extend(rows)
        new_classes.extend(cls)
    if new_rows:
        results = pd.concat([results, pd.DataFrame(new_rows)[list(RESULT_COLUMNS)]], ignore_index=True)
    if new_classes:
        classes = pd.concat([classes, pd.DataFrame(new_classes)[list(CLASS_COLUMNS)]], ignore_index=True)
    results = one_result_per_key(results.reset_index(drop=True))
    last = max([since, *(r.info.end_time or 0 for r in new_runs)])
    results.to_parquet(results_path, index=False)
    classes.to_parquet(classes_path, index=False)
    meta_path.write_text(json.dumps(dict(key=key, last_end_time=last)))
    return results, classes, SyncReport(len(new_runs), removed, results["run_id"].nunique())
