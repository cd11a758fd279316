"""prove's evaluation against mmseg's own test loop with IoUMetric: time ratio.

Same model (the tiny CNN, fixed weights), same data (the embedded benchmark's test split,
168 images in 7 domains), same batch size and data workers. mmseg's loop is
`Runner.test()` with `IoUMetric` (overall metrics only); prove's is
`prove.inference.evaluate` (overall + per domain + per class, one pass). Runs alternate; the
median ratio is reported. Goal (issue 5): prove / mmseg <= 1.05.

    python bench/eval_overhead.py [--repeats 5] [--batch-size 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    from prove.training.config import eval_pipeline
    from prove.evaluation.inference import evaluate, evaluation_dataset
    from prove.models import build_model, model_config

    tmp = Path(tempfile.mkdtemp(prefix="prove-eval-bench-"))
    torch.manual_seed(0)
    model = build_model("fcn_r18-tiny", crop_size=(128, 128)).eval()
    checkpoint = tmp / "model.pth"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    dataset = evaluation_dataset("weather_bench", "test")

    cfg = Config(dict(
        default_scope="mmseg", work_dir=str(tmp / "mmseg"), model=model_config("fcn_r18-tiny", crop_size=(128, 128)),
        test_dataloader=dict(batch_size=args.batch_size, num_workers=args.workers, persistent_workers=False,
                             sampler=dict(type="DefaultSampler", shuffle=False),
                             dataset=dict(type="ProveSegDataset", pipeline=eval_pipeline("weather_bench"), test_mode=True,
                                          source=dict(kind="split", dataset="weather_bench", split="test"))),
        test_evaluator=dict(type="IoUMetric", iou_metrics=["mIoU"]), test_cfg=dict(type="TestLoop"),
        load_from=str(checkpoint), log_level="WARNING",
    ))
    runner = Runner.from_cfg(cfg)

    def time_mmseg():
        start = time.perf_counter()
        metrics = runner.test()
        return time.perf_counter() - start, float(metrics["mIoU"])

    def time_prove():
        start = time.perf_counter()
        results = evaluate(model, dataset, batch_size=args.batch_size, num_workers=args.workers).results()
        return time.perf_counter() - start, results["all"]["mIoU"]

    time_mmseg(), time_prove()  # warm caches and the checkpoint load
    rows, ratios = [], []
    for i in range(args.repeats):
        mm, mm_miou = time_mmseg()
        pv, pv_miou = time_prove()
        ratios.append(pv / mm)
        rows.append(dict(mmseg_s=round(mm, 3), prove_s=round(pv, 3), ratio=round(pv / mm, 3)))
        print(f"repeat {i}: mmseg {mm:.2f}s (mIoU {mm_miou:.2f}), prove {pv:.2f}s (mIoU {pv_miou:.2f}), "
              f"ratio {pv / mm:.3f}", flush=True)
    print(json.dumps(dict(images=len(dataset), batch_size=args.batch_size, workers=args.workers, runs=rows,
                          median_ratio=round(statistics.median(ratios), 3)), indent=1))


if __name__ == "__main__":
    main()
