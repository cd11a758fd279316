"""The leaderboard at study scale: 10,000 test runs in a sqlite MLflow store.

Fills a sqlite tracking store with `--runs` test runs shaped exactly as `prove test` writes
them (tags, params and metrics of `prove.evaluate.run_test`), beside the training runs they
test, and measures in one invocation, each step in a fresh process from its own copy of the
same filled store:

- plain: `mlflow.search_runs` of every test run (a pandas DataFrame), the floor any reader pays;
- sync:  `prove.analysis.sync_results` into an empty cache (the store -> tidy-table part alone);
- cold:  `prove.analysis.run.build_leaderboard` with an empty cache and output folder;
- warm:  the same call again on the cache the cold build left (nothing new in the store).

Goals (issue): cold <= 1.2 x plain, warm <= 2 s. Times are of the call only (the same
imports, PRELOAD, are done before the clock starts in every step); peak RSS is the process's
high-water mark during the call (VmHWM reset after the imports). On a small or busy machine
the figures are noisy: compare ratios from one invocation, and use --repeats.

The study grid: stages s1, s2 x 4 datasets x the 7 zoo models x 22 strategies (baseline, the
6 std_*, 15 gen_*) x seeds 0, 1 (and seed 2 for the baselines), each training tested on its
own dataset's val split and cross-dataset on ACDC, at the middle and the last checkpoint;
the first `--runs` test runs of that grid (at most 10,080; blocks in order, baseline first, so
every strategy has its matched baseline). Values are seeded and plausible (baseline mIoU ~40-60, strategies a
few points around it, night and fog lower). The filled store is cached under
$PROVE_CACHE_DIR/bench/leaderboard_scale/v<VERSION>/ and reused (`--refill` rebuilds).

Rows go in with SQLAlchemy Core inserts into MLflow's own schema (created by MLflow); one
MLflow call per write would take tens of minutes for 10,000 runs. Every fill first checks on
a scratch store that a bulk-inserted run reads back (MlflowClient.get_run, search_runs and
prove's run_rows) exactly like the same run written through `prove.tracking`.

    python bench/leaderboard_scale.py [--runs 10000] [--refill] [--repeats 1] [--warm-repeats 3]
                                      [--steps plain,sync,cold,warm] [--json PATH] [--profile STEP]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

VERSION = 1  # bump when the filled store changes (grid, values, shapes)
EXPERIMENT = "prove"
MARK = "@@leaderboard_scale@@ "  # prefix of a child's result line
# imported by every measuring process before its clock starts (MLflow imports its SQL store
# lazily, on the first call: ~1 s that would otherwise land in whichever step comes first)
PRELOAD = ("pandas", "pyarrow.parquet", "matplotlib.pyplot", "scipy.stats", "mlflow", "mlflow.tracking",
           "mlflow.store.tracking.sqlalchemy_store", "prove.analysis.store", "prove.sweeps.definition", "prove.analysis.run")

# -- the study grid -----------------------------------------------------------------------
STAGES = ("s1", "s2")
TRAIN_DATASETS = ("bdd10k", "iddaw", "mapillary", "outside15k")
CROSS_DATASET = "acdc"  # every training is also tested cross-dataset on ACDC
ACDC_DOMAINS = ("foggy", "night", "rainy", "snowy")
GENERATORS_USED = ("albumentations_weather", "physics_fog", "photometric_night", "random_noise", "cycleGAN", "CUT",
                   "stargan_v2", "SUSTechGAN", "TSIT", "cyclediffusion", "InstructPix2Pix", "Img2Img",
                   "flux_kontext", "step1x_edit", "qwen_image_edit")
SEEDS, BASELINE_EXTRA_SEEDS = (0, 1), (2,)
MAX_ITERS, CHECKPOINTS = 20000, (10000, 20000)
MODEL_BASE = {"segformer_mit-b3": 58.0, "segformer_mit-b5": 60.0, "pspnet_r50": 50.0, "deeplabv3plus_r50": 53.0,
              "segnext_mscan-b": 58.5, "hrnet_hr48": 55.0, "mask2former_swin-b": 62.0}
DATASET_OFFSET = {"bdd10k": -3.0, "iddaw": -6.0, "mapillary": 2.0, "outside15k": -4.0}
DOMAIN_OFFSET = {"clear_day": 3.0, "cloudy": 1.5, "dawn_dusk": -1.5, "foggy": -4.0, "night": -9.0, "rainy": -2.5,
                 "snowy": -3.5}
CLASS_OFFSET = {"road": 40, "sidewalk": 14, "building": 30, "wall": -14, "fence": -10, "pole": -6,
                "traffic light": -4, "traffic sign": 6, "vegetation": 32, "terrain": -2, "sky": 36, "person": 12,
                "rider": -12, "car": 34, "truck": -6, "bus": 4, "train": -22, "motorcycle": -16, "bicycle": 2}
ABSENT_CLASSES = {"iddaw": ("train",), "outside15k": ("train",)}  # no such pixels in that test set: no metric


def default_cache() -> Path:
    if os.environ.get("PROVE_CACHE_DIR"):
        return Path(os.environ["PROVE_CACHE_DIR"]).expanduser()
    from prove.settings import cache_dir

    return cache_dir()


# -- building the runs ----------------------------------------------------------------------
def strategies() -> list[str]:
    from prove.strategies import STANDARD

    return [*STANDARD.names(), *(f"gen_{g}" for g in GENERATORS_USED)]  # baseline first


def _run_id(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def _manifest(root: Path, dataset: str, generator: str) -> str:
    """External generators need a manifest CSV; its content is part of the spec hash."""
    path = root / "manifests" / dataset / f"{generator}.csv"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"image,generated,domain\n{dataset}/0001.png,{generator}/0001.png,night\n")
    return str(path)


def plan_runs(n_tests: int, root: Path, with_train: bool = True, seed: int = 0) -> tuple[list, list, list]:
    """(training runs, test runs, other runs) of the first `n_tests` test runs of the grid, as
    dicts: id, name, start, end, status, deleted (time or None), tags, params, metrics
    [(key, value, timestamp, step), ...]. The other runs are what a live study also holds:
    results replaced with `prove test --force` (deleted), abandoned FAILED trainings and a few
    still RUNNING."""
    import numpy as np

    from prove.data.labels import CLASSES
    from prove.tracking.schema import TEST_KEY, TRAIN_RUN
    from prove.generators import get_generator
    from prove.spec import TrainSpec
    from prove.strategies import parse_strategy
    from prove.tracking.client import code_version, package_versions
    from prove.tracking.schema import HEARTBEAT, KIND, SPEC_HASH, WORK_DIR

    ids, rng = random.Random(seed), np.random.default_rng(seed)
    host, commit, versions = "gpu-node-07", code_version(), package_versions()
    strats = strategies()
    effect = {s: (0.0 if s == "baseline" else -0.3 if s == "gen_random_noise" else
                  float(rng.normal(0.6, 0.9)) if s.startswith("gen_") else float(rng.normal(0.3, 0.7)))
              for s in strats}
    class_gap = {c: float(rng.uniform(5, 15)) for c in CLASSES}
    clock = 1735689600_000  # 2025-01-01, ms; trainings start one after the other on a cluster
    trains, tests, others = [], [], []

    blocks = [(seed_, stage, ds, model) for seed_ in (*SEEDS, *BASELINE_EXTRA_SEEDS)
              for stage in STAGES for ds in TRAIN_DATASETS for model in MODEL_BASE]
    for seed_, stage, ds, model in blocks:
        block_strats = strats if seed_ in SEEDS else ["baseline"]
        interaction = rng.normal(0, 0.5, len(block_strats))
        for strategy, inter in zip(block_strats, interaction):
            if len(tests) >= n_tests:
                return trains, tests, others
            parsed = parse_strategy(strategy)
            generator = parsed.generator
            manifest = _manifest(root, ds, generator) if generator and not get_generator(generator).offline else ""
            spec = TrainSpec(stage=stage, dataset=ds, model=model, strategy=strategy,
                             ratio=0.5 if generator else 1.0, pretrained="true", max_iters=MAX_ITERS, seed=seed_,
                             manifest=manifest)
            spec_hash, family = spec.spec_hash(), parsed.family
            train_id = _run_id(ids)
            work_dir = f"/scratch/prove/work_dirs/{spec_hash}"
            t_start = clock + int(rng.integers(0, 600_000))
            t_end = t_start + int(rng.uniform(6, 20) * 3600_000)
            clock += int(rng.uniform(0.2, 0.6) * 3600_000)  # many trainings run at once
            quality = (MODEL_BASE[model] + DATASET_OFFSET[ds] + (-4.0 if stage == "s1" else 0.0)
                       + effect[strategy] + inter + rng.normal(0, 0.4))
            train_metrics = []
            if with_train:
                step_t = (t_end - t_start) / MAX_ITERS
                for it in range(500, MAX_ITERS + 1, 500):
                    ts = t_start + int(it * step_t)
                    loss = 0.15 + 1.4 * np.exp(-it / 4000) + rng.normal(0, 0.02)
                    train_metrics += [("train/loss", loss, ts, it), ("train/decode.loss_ce", loss * 0.9, ts, it),
                                      ("train/lr", 6e-5 * (1 - it / MAX_ITERS) ** 1.0 + 1e-8, ts, it),
                                      ("train/real_fraction", 0.5 if generator else 1.0, ts, it)]
                for it in range(MAX_ITERS // 5, MAX_ITERS + 1, MAX_ITERS // 5):
                    ts = t_start + int(it * step_t)
                    v = quality - 6 * (1 - it / MAX_ITERS) + rng.normal(0, 0.3)
                    train_metrics += [("val/mIoU", v, ts, it), ("val/mAcc", v + 9, ts, it),
                                      ("val/aAcc", 88 + v / 10, ts, it)]
            test_clock = t_end
            for test_ds in (ds, CROSS_DATASET):
                for it in CHECKPOINTS:
                    if len(tests) >= n_tests:
                        break
                    test_clock += int(rng.uniform(3, 15) * 60_000)
                    start, end = test_clock, test_clock + int(rng.uniform(2, 8) * 60_000)
                    test_clock = end
                    level = quality - (10.0 if test_ds == CROSS_DATASET else 0.0) - (2.0 if it < MAX_ITERS else 0.0)
                    metrics = _test_metrics(rng, level, stage, parsed.uses_generated, test_ds, CLASSES, class_gap)
                    key = f"{train_id}/{test_ds}/val/iter_{it}"
                    params = {**spec.to_params(), "test_dataset": test_ds, "test_split": "val",
                              "checkpoint_iter": str(it), "checkpoint": f"{work_dir}/iter_{it}.pth",
                              "train_run_id": train_id}
                    name = f"test:{spec.run_name}@{test_ds}/val#{it}"
                    tags = {KIND: "test", TEST_KEY: key, TRAIN_RUN: train_id, SPEC_HASH: spec_hash,
                            "prove.family": family, HEARTBEAT: f"{start / 1000:.6f}", "prove.host": host,
                            "prove.git_commit": commit, "prove.versions": versions, "mlflow.runName": name}
                    tests.append(dict(id=_run_id(ids), name=name, start=start, end=end, status="FINISHED",
                                      deleted=None, tags=tags, params=params,
                                      metrics=[(k, v, end - 1000, it) for k, v in metrics.items()]))
                    if rng.random() < 0.01:  # an earlier result of the same key, replaced with --force
                        old = {k: v + float(rng.normal(0, 0.3)) for k, v in metrics.items()}
                        o_start, o_end = start - 3600_000, end - 3600_000
                        others.append(dict(id=_run_id(ids), name=name, start=o_start, end=o_end, status="FINISHED",
                                           deleted=end + 500, tags=dict(tags, **{HEARTBEAT: f"{o_start / 1000:.6f}"}),
                                           params=params, metrics=[(k, v, o_end - 1000, it) for k, v in old.items()]))
                    if it == MAX_ITERS:
                        train_metrics.append((f"test.{test_ds}.val/mIoU", metrics["test/mIoU"], end - 1000, it))
            if with_train:
                params = {**spec.to_params(), "resolved.lr": "6e-05", "resolved.precision": "tf32",
                          "resolved.crop_size": "512x512", "resolved.warmup_iters": "1500",
                          "resolved.checkpoint_interval": str(MAX_ITERS // 5),
                          "resolved.eval_interval": str(MAX_ITERS // 5),
                          "resolved.train_domains": "clear_day" if stage == "s1" else "all",
                          "resolved.manifest": manifest or "none", "strategy_family": family,
                          "generator": generator or "none", "pretrained.matched_keys": "412",
                          "pretrained.missing_keys": "0", "pretrained.unexpected_keys": "2"}
                tags = {KIND: "train", SPEC_HASH: spec_hash, WORK_DIR: work_dir, "prove.family": family,
                        HEARTBEAT: f"{t_end / 1000:.6f}", "prove.host": host, "prove.git_commit": commit,
                        "prove.versions": versions, "mlflow.runName": spec.run_name}
                if parsed.generator_family:
                    tags["prove.generator_family"] = parsed.generator_family
                trains.append(dict(id=train_id, name=spec.run_name, start=t_start, end=t_end, status="FINISHED",
                                   deleted=None, tags=tags, params=params, metrics=train_metrics))
                fate = rng.random()
                if fate < 0.025:  # a crashed attempt at another seed, never resumed (no tests), or still running
                    status = "FAILED" if fate < 0.02 else "RUNNING"
                    lost = dict(spec.to_params(), seed=str(seed_ + 10), **{k: v for k, v in params.items()
                                                                          if k.startswith("resolved.")})
                    cut = [m for m in train_metrics if not m[0].startswith("test.") and m[3] <= MAX_ITERS // 2]
                    others.append(dict(id=_run_id(ids), name=spec.run_name, start=t_start + 1800_000,
                                       end=t_end if status == "FAILED" else None, status=status, deleted=None,
                                       tags=dict(tags, **{SPEC_HASH: replace(spec, seed=seed_ + 10).spec_hash()}),
                                       params=lost, metrics=cut))
    if len(tests) < n_tests:
        raise SystemExit(f"the grid holds {len(tests)} test runs; ask for at most that many")
    return trains, tests, others


def _test_metrics(rng, level: float, stage: str, generated: bool, test_ds: str, classes, class_gap) -> dict:
    """`prove.evaluate.result_metrics` of one plausible result around `level` mIoU."""
    from prove.data.domains import DOMAINS
    from prove.tracking.schema import metric_name

    absent = ABSENT_CLASSES.get(test_ds, ())
    iou = {c: float(min(99.0, max(1.0, level + CLASS_OFFSET[c] - 7.8 + rng.normal(0, 1.5))))
           for c in classes if c not in absent}
    acc = {c: min(100.0, v + class_gap[c] + rng.normal(0, 1.0)) for c, v in iou.items()}
    miou = sum(iou.values()) / len(iou)
    macc = sum(acc.values()) / len(acc)
    aacc = min(99.0, 88.0 + 0.12 * (miou - 50) + rng.normal(0, 0.3))
    fwiou = aacc - 6.5 + rng.normal(0, 0.3)
    out = {"test/mIoU": miou, "test/aAcc": aacc, "test/mAcc": macc, "test/fwIoU": fwiou}
    for domain in (ACDC_DOMAINS if test_ds == CROSS_DATASET else DOMAINS):
        offset = DOMAIN_OFFSET[domain]
        if stage == "s1":  # trained on clear_day only: adverse domains suffer more ...
            offset = offset * 2.2 if domain != "clear_day" else offset + 2.0
            if generated and domain != "clear_day":  # ... and generated weather helps most there
                offset += 1.2
        d = miou + offset + rng.normal(0, 0.6)
        out |= {f"test/{domain}/mIoU": d, f"test/{domain}/aAcc": aacc + offset / 4 + rng.normal(0, 0.2),
                f"test/{domain}/mAcc": d + (macc - miou) + rng.normal(0, 0.5),
                f"test/{domain}/fwIoU": fwiou + offset / 4 + rng.normal(0, 0.2)}
    for c in iou:
        out[f"test/IoU/{metric_name(c)}"] = iou[c]
        out[f"test/Acc/{metric_name(c)}"] = acc[c]
    return {k: float(v) for k, v in out.items()}


# -- writing them ---------------------------------------------------------------------------
def new_store(db: Path) -> tuple[str, list[str]]:
    """An empty MLflow sqlite store (schema made by MLflow) with the experiment; its ids."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{db}"
    client = MlflowClient(uri)
    exp_id = client.create_experiment(EXPERIMENT, artifact_location=str(db.parent / "mlartifacts" / "1"))
    return uri, sorted({e.experiment_id for e in client.search_experiments()} | {exp_id})


def bulk_insert(uri: str, exp_id: str, runs: list[dict], chunk: int = 500) -> None:
    """Insert FINISHED runs into MLflow's tables as MLflow's own writes leave them."""
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from mlflow.tracking import MlflowClient

    artifact_root = MlflowClient(uri).get_experiment(exp_id).artifact_location
    engine = sa.create_engine(uri)
    try:
        for start in range(0, len(runs), chunk):
            part = runs[start:start + chunk]
            rows = dict(runs=[], params=[], tags=[], metrics=[], latest=[])
            for r in part:
                rows["runs"].append(dict(
                    run_uuid=r["id"], name=r["name"], source_type="UNKNOWN", source_name="", entry_point_name="",
                    user_id="unknown", status=r["status"], start_time=r["start"], end_time=r["end"],
                    deleted_time=r["deleted"], source_version="",
                    lifecycle_stage="active" if r["deleted"] is None else "deleted",
                    artifact_uri=f"{artifact_root}/{r['id']}/artifacts", experiment_id=int(exp_id)))
                rows["params"] += [dict(key=k, value=v, run_uuid=r["id"]) for k, v in r["params"].items()]
                rows["tags"] += [dict(key=k, value=v, run_uuid=r["id"]) for k, v in r["tags"].items()]
                latest = {}
                for key, value, ts, step in r["metrics"]:
                    rows["metrics"].append(dict(key=key, value=value, timestamp=ts, step=step, is_nan=False,
                                                run_uuid=r["id"]))
                    if key not in latest or (step, ts) >= (latest[key]["step"], latest[key]["timestamp"]):
                        latest[key] = dict(key=key, value=value, timestamp=ts, step=step, is_nan=False,
                                           run_uuid=r["id"])
                rows["latest"] += latest.values()
            with engine.begin() as conn:
                for table, name in ((SqlRun, "runs"), (SqlParam, "params"), (SqlTag, "tags"), (SqlMetric, "metrics"),
                                    (SqlLatestMetric, "latest")):
                    if rows[name]:
                        conn.execute(table.__table__.insert(), rows[name])
    finally:
        engine.dispose()


def api_insert(uri: str, exp_id: str, runs: list[dict]) -> None:
    """The same runs through MLflow's store API: create_run, one log_batch, update_run_info."""
    from mlflow.entities import Metric, Param, RunStatus, RunTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, str(Path(uri[len("sqlite:///"):]).parent / "mlartifacts"))
    for r in runs:
        tags = [RunTag(k, v) for k, v in r["tags"].items()]
        run_id = store.create_run(exp_id, "unknown", r["start"], tags, r["name"]).info.run_id
        metrics = [Metric(k, v, ts, step) for k, v, ts, step in r["metrics"]]
        for i in range(0, max(1, len(metrics)), 900):
            store.log_batch(run_id, metrics[i:i + 900], [Param(k, v) for k, v in r["params"].items()] if i == 0 else [],
                            [])
        if r["status"] != "RUNNING":
            store.update_run_info(run_id, RunStatus.from_string(r["status"]), r["end"], None)
        if r["deleted"] is not None:
            store.delete_run(run_id)


def check_equivalence(root: Path) -> str:
    """Write two test runs (and their training run) through `prove.tracking` into a scratch
    store, bulk-insert the same runs, and compare what MLflow and prove read back."""
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    from prove.analysis.store import run_rows
    from prove.tracking import client as tracking

    scratch = Path(tempfile.mkdtemp(prefix="prove-lb-equiv-"))
    try:
        uri, _ = new_store(scratch / "mlflow.db")
        mlflow.set_tracking_uri(uri)
        exp_id = tracking.experiment_id(EXPERIMENT)
        trains, tests, _ = plan_runs(6, root, seed=12345)
        rng = random.Random(7)
        samples = [trains[0], tests[0], tests[3], dict(tests[1], id=_run_id(rng), deleted=tests[1]["end"] + 500),
                   dict(trains[0], id=_run_id(rng), status="FAILED"),
                   dict(trains[0], id=_run_id(rng), status="RUNNING", end=None)]
        pairs = []
        for r in samples:
            volatile = ("prove.heartbeat", "prove.host", "prove.git_commit", "prove.versions", "mlflow.runName")
            tags = {k: v for k, v in r["tags"].items() if k not in volatile}
            run_id = tracking.create_run(exp_id, r["name"], tags, r["params"])
            tracking.log_metrics(run_id, [Metric(k, v, ts, step) for k, v, ts, step in r["metrics"]])
            if r["status"] != "RUNNING":
                tracking.end_run(run_id, r["status"])
            if r["deleted"] is not None:
                tracking.delete_run(run_id)
            pairs.append((run_id, r["id"]))
        bulk_insert(uri, exp_id, samples)
        client = MlflowClient(uri)
        problems = []
        for api_id, bulk_id in pairs:
            a, b = client.get_run(api_id), client.get_run(bulk_id)
            for what, x, y in (("params", a.data.params, b.data.params), ("metrics", a.data.metrics, b.data.metrics)):
                if x != y:
                    problems.append(f"{what} differ: {sorted(set(x.items()) ^ set(y.items()))[:4]}")
            if set(a.data.tags) != set(b.data.tags):
                problems.append(f"tag keys differ: {sorted(set(a.data.tags) ^ set(b.data.tags))}")
            for k in set(a.data.tags) & set(b.data.tags) - {"prove.heartbeat", "prove.host"}:
                if a.data.tags[k] != b.data.tags[k]:
                    problems.append(f"tag {k}: {a.data.tags[k]!r} != {b.data.tags[k]!r}")
            for field in ("status", "lifecycle_stage", "user_id", "run_name", "experiment_id"):
                if getattr(a.info, field) != getattr(b.info, field):
                    problems.append(f"{field}: {getattr(a.info, field)!r} != {getattr(b.info, field)!r}")
            if (a.info.end_time is None) != (b.info.end_time is None) or \
                    a.info.artifact_uri.replace(api_id, bulk_id) != b.info.artifact_uri:
                problems.append(f"end_time/artifact_uri: {b.info.end_time} {b.info.artifact_uri}")
            if a.data.tags.get("prove.kind") == "test":
                ra, rb = run_rows(a), run_rows(b)
                strip = lambda rows: [{k: v for k, v in row.items() if k != "run_id"} for row in rows]  # noqa: E731
                if strip(ra[0]) != strip(rb[0]) or strip(ra[1]) != strip(rb[1]):
                    problems.append("prove's run_rows differ")
        from mlflow.entities import ViewType

        for view, kind, expected in ((ViewType.ACTIVE_ONLY, "test", 4), (ViewType.DELETED_ONLY, "test", 2),
                                     (ViewType.ACTIVE_ONLY, "train", 6)):
            found = client.search_runs([exp_id], f"tags.`prove.kind` = '{kind}'", run_view_type=view)
            if len(found) != expected:
                problems.append(f"search_runs found {len(found)} {kind} runs ({view}), expected {expected}")
        if problems:
            raise SystemExit("bulk-inserted runs do not read back like API-written ones:\n  " + "\n  ".join(problems))
        return "bulk-inserted runs read back like prove.tracking-written ones (get_run, search_runs, run_rows)"
    finally:
        mlflow.set_tracking_uri(None)
        shutil.rmtree(scratch, ignore_errors=True)


def filled_store(root: Path, runs: int, refill: bool, with_train: bool, method: str) -> dict:
    """The cached filled store for `runs` test runs (filled now if missing); its metadata."""
    folder = root / f"v{VERSION}" / f"{runs}{'' if with_train else '-tests-only'}{'' if method == 'bulk' else '-api'}"
    db, meta_path = folder / "mlflow.db", folder / "store.json"
    if db.is_file() and meta_path.is_file() and not refill:
        meta = json.loads(meta_path.read_text())
        print(f"reusing the filled store {db} (filled in {meta['fill_s']} s; --refill rebuilds)", flush=True)
        return meta
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if method == "bulk":
        print(check_equivalence(root), flush=True)
    started = time.perf_counter()
    trains, tests, others = plan_runs(runs, root, with_train)
    planned = time.perf_counter()
    uri, exp_ids = new_store(db)
    exp_id = exp_ids[-1]
    insert = bulk_insert if method == "bulk" else api_insert
    everything = sorted(trains + tests + others, key=lambda r: r["start"])  # the order a study writes them
    for i in range(0, len(everything), 2000):
        insert(uri, exp_id, everything[i:i + 2000])
        done = min(i + 2000, len(everything))
        print(f"  filled {done}/{len(everything)} runs ({time.perf_counter() - planned:.0f} s)", flush=True)
    fill_s = time.perf_counter() - started
    meta = dict(version=VERSION, db=str(db), experiment_ids=exp_ids, test_runs=len(tests), train_runs=len(trains),
                deleted_test_runs=sum(r["deleted"] is not None for r in others),
                other_train_runs=sum(r["deleted"] is None for r in others),
                metric_rows=sum(len(r["metrics"]) for r in everything), method=method,
                fill_s=round(fill_s, 1), plan_s=round(planned - started, 1), db_mib=round(db.stat().st_size / 2**20, 1))
    meta_path.write_text(json.dumps(meta, indent=1))
    print(f"filled {db}: {len(tests)} test + {len(trains)} training runs (+ {meta['deleted_test_runs']} deleted "
          f"test runs, {meta['other_train_runs']} failed/running trainings), {meta['metric_rows']} metric rows, "
          f"{meta['db_mib']} MiB in {fill_s:.1f} s ({method}; planning {meta['plan_s']} s)", flush=True)
    return meta


# -- measuring ------------------------------------------------------------------------------
def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:  # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(step: str, meta: dict, db: Path, work: Path, profile: str, gc_off: bool = False) -> None:
    """One measurement in this (fresh) process; prints a MARK line with the figures."""
    import importlib
    import resource

    uri = f"sqlite:///{db}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    started = time.perf_counter()
    for module in PRELOAD:  # the same imports for every step, none inside the clock
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    import_s = time.perf_counter() - started
    import mlflow
    from prove.analysis.store import sync_results

    build_leaderboard = LeaderboardRequest = None
    if step in ("cold", "warm"):
        from prove.analysis.run import LeaderboardRequest, build_leaderboard  # noqa: F811
    cache, out = work / "cache", work / "out"

    def call():
        if step == "plain":
            df = mlflow.search_runs(experiment_ids=meta["experiment_ids"],
                                    filter_string="tags.`prove.kind` = 'test'", max_results=100000)
            return dict(rows=len(df))
        if step == "sync":
            results, classes, report = sync_results(cache, experiments=None, tracking_uri=uri)
            return dict(rows=len(results), class_rows=len(classes), fetched_runs=report.fetched_runs,
                        total_runs=report.total_runs)
        outcome = build_leaderboard(LeaderboardRequest(out_dir=Path(out), tracking_uri=uri, cache_dir=Path(cache),
                                                       log_run=False))
        s, t = outcome.sync, getattr(outcome, "trainings_sync", None)
        return dict(fetched_runs=s.fetched_runs, removed_runs=s.removed_runs, total_runs=s.total_runs,
                    trainings_fetched=t.fetched_runs if t else None, trainings_total=t.total_runs if t else None,
                    up_to_date=getattr(outcome, "up_to_date", None), report=str(outcome.report))

    if gc_off:  # what-if: Python's cyclic garbage collector off during the call
        import gc

        gc.disable()
    rss_before = _status_kib("VmRSS")
    exact_peak = _reset_peak()
    profiler = None
    if profile == step:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    figures = call()
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        import pstats

        stats_path = work / f"{step}.pstats"
        profiler.dump_stats(str(stats_path))
        pstats.Stats(str(stats_path), stream=sys.stderr).sort_stats("cumulative").print_stats(35)
        pstats.Stats(str(stats_path), stream=sys.stderr).sort_stats("tottime").print_stats(20)
    peak_kib = _status_kib("VmHWM") if exact_peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(MARK + json.dumps(dict(step=step, seconds=seconds, import_s=import_s, peak_rss_mib=peak_kib / 1024,
                                 rss_before_mib=rss_before / 1024, peak_exact=exact_peak, **figures)), flush=True)


def measure(step: str, meta: dict, work: Path, fresh_db: bool, profile: str, gc_off: bool = False) -> dict:
    """Run one step in a fresh process on a copy of the filled store."""
    db = work / "mlflow.db"
    if fresh_db or not db.is_file():
        shutil.copyfile(meta["db"], db)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", step, "--child-work", str(work),
           "--child-meta", json.dumps(meta), "--profile", profile] + (["--gc-off"] if gc_off else [])
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(MARK)]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-8000:])
        raise SystemExit(f"step {step} failed (exit {done.returncode})")
    if profile == step:
        sys.stderr.write(done.stderr)
    result = json.loads(lines[-1][len(MARK):])
    shown = {k: result[k] for k in ("rows", "fetched_runs", "total_runs", "trainings_fetched", "up_to_date")
             if k in result}
    print(f"  {step}: {result['seconds']:.2f} s, peak RSS {result['peak_rss_mib']:.0f} MiB ({shown})", flush=True)
    return result


def has_leaderboard() -> bool:
    try:
        from prove.analysis.run import LeaderboardRequest, build_leaderboard  # noqa: F401
        return True
    except ImportError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10000, help="test runs in the store")
    parser.add_argument("--refill", action="store_true", help="rebuild the cached filled store")
    parser.add_argument("--repeats", type=int, default=1, help="repeats of plain, sync and cold (median)")
    parser.add_argument("--warm-repeats", type=int, default=3, help="repeats of warm (median)")
    parser.add_argument("--steps", default="plain,sync,cold,warm", help="comma-separated: plain, sync, cold, warm")
    parser.add_argument("--no-train-runs", action="store_true", help="store only the test runs")
    parser.add_argument("--fill", choices=("bulk", "api"), default="bulk",
                        help="bulk: SQLAlchemy inserts (checked against the API); api: MLflow's store API")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--profile", default="", help="cProfile this step (plain, sync, cold, warm); to stderr")
    parser.add_argument("--gc-off", action="store_true",
                        help="what-if: every step with Python's cyclic GC disabled during the call")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--child-work", default="", help=argparse.SUPPRESS)
    parser.add_argument("--child-meta", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        work = Path(args.child_work)
        child(args.child, json.loads(args.child_meta), work / "mlflow.db", work, args.profile, args.gc_off)
        return

    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = set(steps) - {"plain", "sync", "cold", "warm"}
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}")
    pending = bool({"cold", "warm"} & set(steps)) and not has_leaderboard()
    if pending:
        print("prove.analysis.run.build_leaderboard is not importable yet: cold/warm skipped "
              "(the sync step measures its store part)", flush=True)
        steps = [s for s in steps if s not in ("cold", "warm")]

    root = default_cache() / "bench" / "leaderboard_scale"
    meta = filled_store(root, args.runs, args.refill, not args.no_train_runs, args.fill)
    n = meta["test_runs"]
    tmp = Path(tempfile.mkdtemp(prefix="prove-lb-scale-"))
    results: dict[str, list[dict]] = {s: [] for s in steps}
    checks = []
    try:
        for i in range(args.repeats):  # plain, sync and cold alternate, so drift of the machine spreads over all
            for step in ("plain", "sync", "cold"):
                if step in steps:
                    work = tmp / f"{step}{i}"
                    work.mkdir()
                    results[step].append(measure(step, meta, work, True, args.profile, args.gc_off))
        if "warm" in steps:
            # warm: the same store file (the cache is keyed by its URI), cache and output folder
            # as the last cold build; the store was not written since
            if "cold" in steps:
                work = tmp / f"cold{args.repeats - 1}"
            else:
                work = tmp / "warm"
                work.mkdir()
                measure("cold", meta, work, True, "", args.gc_off)
            for _ in range(args.warm_repeats):
                results["warm"].append(measure("warm", meta, work, False, args.profile, args.gc_off))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for step, expected in (("plain", ("rows", n)), ("sync", ("fetched_runs", n)), ("cold", ("fetched_runs", n)),
                           ("warm", ("fetched_runs", 0))):
        for r in results.get(step, []):
            if r[expected[0]] != expected[1]:
                checks.append(f"{step}: {expected[0]} = {r[expected[0]]}, expected {expected[1]}")

    def median(step, key):
        return statistics.median(r[key] for r in results[step]) if results.get(step) else None

    plain_s = median("plain", "seconds")
    table = {s: dict(seconds=round(median(s, "seconds"), 3),
                     peak_rss_mib=round(max(r["peak_rss_mib"] for r in results[s]), 1),
                     rss_before_mib=round(median(s, "rss_before_mib"), 1),
                     import_s=round(median(s, "import_s"), 2), repeats=len(results[s]),
                     ratio_to_plain=round(median(s, "seconds") / plain_s, 3) if plain_s else None)
             for s in steps if results.get(s)}
    goals = {}
    if "cold" in table and plain_s:
        goals["cold/plain <= 1.2"] = table["cold"]["ratio_to_plain"] <= 1.2
    if "warm" in table:
        goals["warm <= 2 s"] = table["warm"]["seconds"] <= 2.0

    print(f"\n{n} test runs + {meta['train_runs']} training runs ({meta['db_mib']} MiB sqlite, "
          f"filled in {meta['fill_s']} s by {meta['method']}); {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
          f"{'; WHAT-IF: cyclic GC off in every step' if args.gc_off else ''}\n")
    print("| step | seconds | peak RSS MiB | RSS after imports MiB | ratio to plain | repeats | imports s (untimed) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s, row in table.items():
        ratio = f"{row['ratio_to_plain']:.2f}" if row["ratio_to_plain"] is not None else "-"
        print(f"| {s} | {row['seconds']:.2f} | {row['peak_rss_mib']:.0f} | {row['rss_before_mib']:.0f} | {ratio} "
              f"| {row['repeats']} | {row['import_s']:.1f} |")
    print()
    for goal, ok in goals.items():
        print(f"- {goal}: {'PASS' if ok else 'FAIL'}")
    if pending:
        print("- goals: pending (prove.analysis.run.build_leaderboard not importable: cold and warm not measured)")
    for problem in checks:
        print(f"- CHECK FAILED {problem}")
    result = dict(test_runs=n, train_runs=meta["train_runs"], store=meta, cpus=os.cpu_count(), gc_off=args.gc_off,
                  load_avg=os.getloadavg()[0], steps=table, goals=goals, checks=checks,
                  raw={s: results[s] for s in table})
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
