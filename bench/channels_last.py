"""Channels-last vs contiguous weights for the tiny CNN on CPU: training throughput ratio.

`fcn_r18-tiny` declares `channels_last=True` (prove/models/zoo.py), so `prove train` puts its
weights in NHWC memory before the first step (`ChannelsLastHook`). This checks that choice:
the config `prove train` resolves is trained by a plain MMEngine Runner twice per repeat, once
as is and once with the hook, alternating which goes first (ABBA), over the steady state
(after `--warmup` iterations), the way the demo trains: `--concurrent 2` trainings at once in
separate processes, one torch thread each (two workers on two cores; memory bandwidth is
shared, which is where the layouts differ). Reports channels_last / contiguous aggregate
throughput; > 1 means the hook pays.

    python bench/channels_last.py [--iters 150] [--repeats 4] [--concurrent 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--child", nargs=3, metavar=("CONFIG", "FORMAT", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config, fmt, work_dir = args.child
        print(json.dumps(dict(img_s=train_plain(Path(config), fmt == "channels_last", work_dir, args))))
        return
    tmp = Path(tempfile.mkdtemp(prefix="prove-bench-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["PROVE_NUM_CPUS"] = str(args.threads)

    from prove.spec import TrainSpec
    from prove.training.run import train

    spec = TrainSpec.create(max_iters=args.warmup + 5, work_dir=str(tmp / "resolve"))
    config_path = Path(train(spec).work_dir) / "config.py"  # the config prove trains the demo with

    def run_concurrent(channels_last: bool, i: int) -> float:
        fmt = "channels_last" if channels_last else "contiguous"
        procs = [subprocess.Popen([sys.executable, __file__, "--iters", str(args.iters), "--warmup", str(args.warmup),
                                   "--threads", str(args.threads), "--child", str(config_path), fmt,
                                   str(tmp / f"{fmt}{i}-{k}")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True) for k in range(args.concurrent)]
        outs = [p.communicate()[0] for p in procs]
        return sum(json.loads(out.strip().splitlines()[-1])["img_s"] for out in outs)

    ratios, rows = [], []
    for i in range(args.repeats):
        order = (False, True) if i % 2 == 0 else (True, False)  # ABBA against machine drift
        speed = {fmt: run_concurrent(fmt, i) for fmt in order}
        ratios.append(speed[True] / speed[False])
        rows.append(dict(contiguous_img_s=round(speed[False], 2), channels_last_img_s=round(speed[True], 2),
                         ratio=round(ratios[-1], 3)))
        print(f"repeat {i}: contiguous {speed[False]:.2f} img/s, channels_last {speed[True]:.2f} img/s, "
              f"ratio {ratios[-1]:.3f}", flush=True)
    print(json.dumps(dict(iters=args.iters, warmup=args.warmup, threads=args.threads, concurrent=args.concurrent,
                          runs=rows,
                          median_ratio=round(statistics.median(ratios), 3)), indent=1))


def train_plain(config_path: Path, channels_last: bool, work_dir: str, args) -> float:
    """One plain MMEngine training of `config_path`; its steady-state images per second."""
    os.environ["PROVE_NUM_CPUS"] = str(args.threads)
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    import prove.training.run  # noqa: F401  (installs the compat shims, registers prove's datasets/hooks)
    from prove.training.engine import ChannelsLastHook
    from train_overhead import timer_hook  # bench/ is the script's folder, on sys.path

    cfg = copy.deepcopy(Config.fromfile(str(config_path)).to_dict())
    cfg["work_dir"] = work_dir
    cfg["train_cfg"].update(type="IterBasedTrainLoop", max_iters=args.iters)
    loader = cfg["train_dataloader"]
    loader["dataset"] = loader["dataset"]["real"]
    loader["sampler"] = dict(type="InfiniteSampler", shuffle=True)
    cfg["custom_hooks"] = []
    cfg["default_hooks"]["checkpoint"] = dict(type="CheckpointHook", interval=10 * args.iters)
    cfg.pop("precision", None)
    torch.set_num_threads(args.threads)
    timer = timer_hook(args.warmup)
    runner = Runner.from_cfg(Config(cfg))
    runner.register_hook(timer)
    if channels_last:
        runner.register_hook(ChannelsLastHook())
    runner.train()
    return timer.throughput(loader["batch_size"])


if __name__ == "__main__":
    main()
