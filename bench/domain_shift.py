"""Does the embedded benchmark show a real domain shift?

Trains the tiny CNN on clear_day only (S1) and on all domains (S2) with `prove train`, then
evaluates both on every domain of the test split. Prints mIoU per domain and the clear_day ->
night / foggy gaps. Uses a throw-away MLflow store and work folder.

    python bench/domain_shift.py [--iters 600] [--batch-size 8] [--model fcn_r18-tiny]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default="fcn_r18-tiny")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="prove-shift-"))
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    os.environ.setdefault("PROVE_WORK_DIR", str(tmp / "work_dirs"))

    from prove.data.domains import DOMAINS
    from prove.evaluation.inference import evaluate, load_model, evaluation_dataset
    from prove.spec import TrainSpec
    from prove.training.run import train

    dataset = evaluation_dataset("weather_bench", "test")
    table = {}
    for stage in ("s1", "s2"):
        spec = TrainSpec.create(stage=stage, model=args.model, max_iters=args.iters, batch_size=args.batch_size,
                                eval_interval=args.iters)
        start = time.perf_counter()
        outcome = train(spec)
        seconds = time.perf_counter() - start
        work = Path(outcome.work_dir)
        model = load_model(work / "config.py", work / f"iter_{args.iters}.pth")
        results = evaluate(model, dataset).results()
        table[stage] = {d: round(results[d]["mIoU"], 2) for d in (*DOMAINS, "all")} | {"train_s": round(seconds, 1)}
    print(f"{'domain':<10} {'S1 mIoU':>8} {'S2 mIoU':>8}")
    for d in (*DOMAINS, "all"):
        print(f"{d:<10} {table['s1'][d]:>8.2f} {table['s2'][d]:>8.2f}")
    for stage in ("s1", "s2"):
        t = table[stage]
        t["gap_night"] = round(t["clear_day"] - t["night"], 2)
        t["gap_foggy"] = round(t["clear_day"] - t["foggy"], 2)
        print(f"{stage}: clear_day-night {t['gap_night']:.2f}, clear_day-foggy {t['gap_foggy']:.2f} "
              f"(train {t['train_s']}s)")
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
