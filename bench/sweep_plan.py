"""Sweep planning at study scale, and the sweep runner's own cost per spec.

1. plan: a 1,008-spec grid (2 stages x 4 datasets x 7 models x 18 strategies) planned against
   the store of bench/leaderboard_scale.py (10,000 test runs, 2,500 training runs, deleted and
   failed runs; filled once and cached). Goal: <= 5 s (imports excluded, reported apart).
   The grid shares its specs with the store's trainings, so the plan finds real runs.
2. overhead: a real sweep of small specs (tiny CNN, 2 iterations, embedded benchmark) run by
   `prove.sweeps.worker.run_worker` on a sqlite store; the runner's time outside train() and
   test() (planning, claims, keepalive, bookkeeping) per spec. Goal: <= 2 s. Measured on an
   empty store and on a copy of the 10,000-run store (where each planning pass reads 2,500
   training runs).

    python bench/sweep_plan.py [--specs 6] [--skip-overhead]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import leaderboard_scale as lb  # noqa: E402  (the filled store and its grid)


def grid_sweep(root: Path) -> dict:
    return dict(name="plan-bench",
                grid=dict(stage=list(lb.STAGES), dataset=list(lb.TRAIN_DATASETS), model=list(lb.MODEL_BASE),
                          strategy=lb.strategies()[:18]),
                fixed=dict(pretrained="true", max_iters=lb.MAX_ITERS, seed=0),
                manifests={"{generator}": str(root / "manifests" / "{dataset}" / "{generator}.csv")})


def measure_plan(db: Path, root: Path) -> dict:
    import mlflow

    from prove.sweeps.definition import from_mapping
    from prove.sweeps.status import counts, status_table

    uri = f"sqlite:///{db}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    t0 = time.perf_counter()
    sweep = from_mapping(grid_sweep(root), "bench")
    items = sweep.items()
    t1 = time.perf_counter()
    table = status_table(sweep, lb.EXPERIMENT, items)
    t2 = time.perf_counter()
    return dict(specs=len(items), expand_s=round(t1 - t0, 2), plan_s=round(t2 - t1, 2), total_s=round(t2 - t0, 2),
                statuses=counts(table))


def measure_overhead(db: Path | None, specs: int, work: Path) -> dict:
    import mlflow

    from prove.sweeps.worker import run_worker
    from prove.sweeps.definition import from_mapping

    uri = f"sqlite:///{db or work / 'empty.db'}"
    os.environ.update(MLFLOW_TRACKING_URI=uri, PROVE_WORK_DIR=str(work / "runs"), PROVE_NUM_WORKERS="0")
    mlflow.set_tracking_uri(uri)
    seeds = list(range((specs + 1) // 2))
    sweep = from_mapping(dict(name="overhead-bench", grid=dict(strategy=["baseline", "std_minimal"], seed=seeds),
                              fixed=dict(stage="s1", model="fcn_r18-tiny", max_iters=2, eval_interval=2)), "bench")
    t0 = time.perf_counter()
    report = run_worker(sweep, lb.EXPERIMENT, "", "bench")
    total = time.perf_counter() - t0
    n = len(report.done) + len(report.failed)
    return dict(store="10k runs" if db else "empty", specs=n, failed=len(report.failed), total_s=round(total, 1),
                overhead_s=round(report.overhead_s, 2), overhead_per_spec_s=round(report.overhead_s / max(1, n), 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", type=int, default=6, help="specs of the overhead sweep")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--json", default="", help="also write the figures here")
    args = parser.parse_args()

    t_import = time.perf_counter()
    import prove.sweeps.run  # noqa: F401
    import prove.sweeps.status  # noqa: F401
    import_s = time.perf_counter() - t_import

    root = lb.default_cache() / "bench" / "leaderboard_scale"
    meta = lb.filled_store(root, 10000, refill=False, with_train=True, method="bulk")
    figures = dict(import_s=round(import_s, 2), store={k: meta[k] for k in ("test_runs", "train_runs", "db_mib")})
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "mlflow.db"
        shutil.copy(meta["db"], db)
        figures["plan"] = measure_plan(db, root)
        if not args.skip_overhead:
            figures["overhead"] = [measure_overhead(None, args.specs, tmp / "a"),
                                   measure_overhead(db, args.specs, tmp / "b")]
    p = figures["plan"]
    print(f"\nplanning {p['specs']} specs against {meta['test_runs']} test + {meta['train_runs']} training runs: "
          f"{p['total_s']} s (expand {p['expand_s']} s, store {p['plan_s']} s); imports {figures['import_s']} s "
          f"(untimed) -> {'PASS' if p['total_s'] <= 5 else 'FAIL'} (goal <= 5 s)")
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in p["statuses"].items()))
    for o in figures.get("overhead", []):
        print(f"runner overhead, {o['store']} store: {o['overhead_per_spec_s']} s/spec over {o['specs']} specs "
              f"({o['failed']} failed; sweep {o['total_s']} s in all) -> "
              f"{'PASS' if o['overhead_per_spec_s'] <= 2 else 'FAIL'} (goal <= 2 s)")
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
