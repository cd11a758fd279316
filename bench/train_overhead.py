"""prove train vs a plain MMEngine Runner on the same config and data: throughput ratio.

Both train the same model on the same embedded-benchmark images with the same pipeline,
optimizer and batch size. The plain run is the config `prove train` resolved, with prove's
parts taken out: MMEngine's InfiniteSampler over the real dataset, IterBasedTrainLoop, no
MLflow, audit, seeding or progress hooks. Throughput is measured by the same timing hook
over the steady state (after `--warmup` iterations), runs alternate (ABBA), and the median
ratio is reported. Goal (issue 4): prove / plain >= 0.98.

    python bench/train_overhead.py [--iters 200] [--repeats 4]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def timer_hook(warmup: int):
    """An MMEngine hook that times every training iteration; `throughput(batch)` is images per
    second over the steady state (after `warmup` iterations). Shared by the training benchmarks."""
    from mmengine.hooks import Hook

    class Timer(Hook):
        priority = "LOWEST"

        def __init__(self):
            self.warmup, self.times = warmup, []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.times.append(time.perf_counter())

        def throughput(self, batch):
            steady = self.times[self.warmup:]
            return batch * (len(steady) - 1) / (steady[-1] - steady[0])

    return Timer()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="prove-bench-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"

    from mmengine.config import Config
    from mmengine.runner import Runner

    from prove.spec import TrainSpec
    from prove.training.run import train

    def run_prove(i):
        spec = TrainSpec.create(max_iters=args.iters, batch_size=args.batch_size, seed=i + 1,
                                eval_interval=10 * args.iters, checkpoint_interval=args.iters,
                                work_dir=str(tmp / f"prove{i}"))
        timer = timer_hook(args.warmup)
        outcome = train(spec, extra_hooks=(timer,))
        return timer.throughput(args.batch_size), Path(outcome.work_dir) / "config.py"

    def run_plain(config_path, i):
        cfg = Config.fromfile(str(config_path)).to_dict()
        cfg = copy.deepcopy(cfg)
        cfg["work_dir"] = str(tmp / f"plain{i}")
        loader = cfg["train_dataloader"]
        loader["dataset"] = loader["dataset"]["real"]
        loader["sampler"] = dict(type="InfiniteSampler", shuffle=True)
        cfg["train_cfg"]["type"] = "IterBasedTrainLoop"
        cfg["custom_hooks"] = []
        cfg.pop("precision", None)
        timer = timer_hook(args.warmup)
        runner = Runner.from_cfg(Config(cfg))
        runner.register_hook(timer)
        runner.train()
        return timer.throughput(args.batch_size)

    ratios, rows = [], []
    _, config_path = run_prove(-1)  # the resolved config both sides train with; also warms caches
    for i in range(args.repeats):
        # alternate which side goes first (ABBA), so drift of the machine does not favour one
        if i % 2 == 0:
            prove_ips, _ = run_prove(i)
            plain_ips = run_plain(config_path, i)
        else:
            plain_ips = run_plain(config_path, i)
            prove_ips, _ = run_prove(i)
        ratios.append(prove_ips / plain_ips)
        rows.append(dict(prove_img_s=round(prove_ips, 2), plain_img_s=round(plain_ips, 2), ratio=round(ratios[-1], 3)))
        print(f"repeat {i}: prove {prove_ips:.2f} img/s, plain MMEngine {plain_ips:.2f} img/s, ratio {ratios[-1]:.3f}",
              flush=True)
    result = dict(iters=args.iters, warmup=args.warmup, batch_size=args.batch_size, runs=rows,
                  median_ratio=round(statistics.median(ratios), 3))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
