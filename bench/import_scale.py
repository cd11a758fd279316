"""Importing a study's history: `prove import-results` at 10,000 results.

Writes a results CSV in the users' format (stage, dataset, model, strategy, ... one row per
result and domain: the overall row and 7 weather domains) and measures, in one invocation:

- **new**: `prove.tracking.importer.import_results` into an empty sqlite store, i.e. a page of
  runs per transaction (prove.tracking.bulk). The goal is <= 60 s for 10,000 results.
- **again**: the same import into the filled store, where nothing is new. The goal is <= 5 s.
- **one by one**: the baseline, the path the importer used before. Every result is written
  with MLflow's public client (create_run, log_batch of params, log_batch of metrics,
  set_terminated), as `_write` did. It runs on `--baseline` results (default 500) of the same
  CSV in a fresh store; its per-result time is scaled to the full count and printed as a ratio.
- **server**: with `--server`, the REST path through a real `mlflow server` (sqlite behind
  it). It compares `--writers` parallel writers with 1 writer on `--baseline` results.

Run it alone: two heavy processes on a small machine slow each other and the figures.

    python bench/import_scale.py [--results 10000] [--baseline 500] [--server] [--writers 8]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DOMAINS = ("all", "clear_day", "cloudy", "dawn_dusk", "foggy", "night", "rainy", "snowy")
STAGES = ("s1", "s2")
DATASETS = ("bdd10k", "iddaw", "mapillary", "outside15k")
MODELS = ("segformer_mit-b3", "pspnet_r50", "deeplabv3plus_r50", "segnext_mscan-b", "segformer_mit-b5")
STRATEGIES = ("baseline", "std_cutmix", "std_mixup", "std_autoaugment", "std_randaugment", "std_photometric_distort",
              "gen_cycleGAN", "gen_CUT", "gen_IP2P", "gen_Qwen_Image_Edit", "gen_step1x_new", "gen_flux_kontext",
              "gen_TSIT", "gen_VisualCloze", "gen_UniControl", "gen_Img2Img", "gen_CNetSeg", "gen_LANIT",
              "gen_SUSTechGAN", "gen_stargan_v2", "gen_automold", "gen_augmenters", "gen_Weather_Effect_Generator",
              "gen_cyclediffusion", "gen_Attribute_Hallucination")
TEST_SETS = ("own", "acdc")
ITERS = (10000, 20000, 40000, 80000)
SEEDS = (0, 1)  # with the rest: 16,000 results at most
HEADER = ("stage", "dataset", "model", "strategy", "ratio", "aux_loss", "pretrained", "test_dataset", "domain",
          "mIoU", "checkpoint_iter", "seed")


def write_csv(path: Path, n: int) -> int:
    """The first `n` results of the grid, one row per domain; returns the row count."""
    rng, rows, count = random.Random(0), 0, 0
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for stage in STAGES:
            for dataset in DATASETS:
                for model in MODELS:
                    for strategy in STRATEGIES:
                        for seed, test, iteration in itertools.product(SEEDS, TEST_SETS, ITERS):
                            if count >= n:
                                return rows
                            base = rng.uniform(35, 60)
                            ratio = "1.0" if not strategy.startswith("gen_") else "0.5"
                            for domain in DOMAINS:
                                drop = 0 if domain in ("all", "clear_day") else rng.uniform(2, 15)
                                out.writerow((stage, dataset, model, strategy, ratio, "none", "true",
                                              dataset if test == "own" else "acdc", domain, f"{base - drop:.3f}",
                                              iteration, seed))
                                rows += 1
                            count += 1
    return rows


def _fresh_store(folder: Path, name: str) -> str:
    import mlflow

    uri = f"sqlite:///{folder / name}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    return uri


def one_by_one(csv_path: Path, limit: int) -> tuple[float, int]:
    """The importer's former path: MLflow's public client, 4 requests per result."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    from prove.tracking import client
    from prove.tracking.importer import _new_run, _read, _results

    rows, problems = _read(csv_path)
    results = _results(csv_path, rows, problems)[:limit]
    c, exp_id = MlflowClient(), client.experiment_id("baseline")
    start = time.perf_counter()
    for result in results:
        run = _new_run(result, csv_path, {})
        run_id = c.create_run(exp_id, run_name=run.name, tags=run.tags).info.run_id
        c.log_batch(run_id, params=[Param(k, v) for k, v in run.params.items()])
        now = int(time.time() * 1000)
        c.log_batch(run_id, metrics=[Metric(k, v, now, s) for k, (v, s) in run.metrics.items()])
        c.set_terminated(run_id, "FINISHED")
    return time.perf_counter() - start, len(results)


def timed_import(csv_path: Path) -> tuple[float, object]:
    from prove.tracking.importer import import_results

    start = time.perf_counter()
    report = import_results(csv_path, experiment="study", echo=lambda *a, **k: None)
    return time.perf_counter() - start, report


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                             f"sqlite:///{folder / 'server.db'}", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "4", "--artifacts-destination", str(folder / "artifacts")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    for _ in range(180):
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2).read()
            return proc, uri
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("mlflow server did not start")


def server_writers(csv_path: Path, limit: int, writers: int, folder: Path) -> dict[int, float]:
    import mlflow

    from prove.tracking import bulk, client
    from prove.tracking.importer import _new_run, _read, _results

    proc, uri = start_server(folder)
    try:
        os.environ["MLFLOW_TRACKING_URI"] = uri
        mlflow.set_tracking_uri(uri)
        rows, problems = _read(csv_path)
        runs = [_new_run(r, csv_path, {}) for r in _results(csv_path, rows, problems)[:limit]]
        out = {}
        for n in (1, writers):
            exp_id = client.experiment_id(f"writers-{n}")
            start = time.perf_counter()
            bulk.write_runs(exp_id, runs, writers=n)
            out[n] = time.perf_counter() - start
        return out
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=500)
    parser.add_argument("--server", action="store_true")
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "history.csv"
        rows = write_csv(csv_path, args.results)
        print(f"history.csv: {args.results} results, {rows} rows")

        _fresh_store(folder, "baseline.db")
        old_s, old_n = one_by_one(csv_path, args.baseline)
        per_old = old_s / old_n
        print(f"one by one (the former path): {old_n} results in {old_s:.1f} s = {per_old * 1000:.1f} ms/result "
              f"-> {per_old * args.results:.0f} s for {args.results}")

        _fresh_store(folder, "store.db")
        new_s, report = timed_import(csv_path)
        per_new = new_s / max(1, report.imported)
        print(f"import-results (bulk): {report.imported} imported in {new_s:.1f} s = {per_new * 1000:.2f} ms/result "
              f"(goal <= 60 s); {per_old / per_new:.1f}x faster than one by one")
        again_s, again = timed_import(csv_path)
        print(f"again, nothing new: {again.skipped} skipped in {again_s:.1f} s (goal <= 5 s)")

        if args.server:
            times = server_writers(csv_path, args.baseline, args.writers, folder)
            print(f"through mlflow server, {args.baseline} results: 1 writer {times[1]:.1f} s, "
                  f"{args.writers} writers {times[args.writers]:.1f} s = {times[1] / times[args.writers]:.1f}x; "
                  f"-> {times[args.writers] / args.baseline * args.results:.0f} s for {args.results}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
