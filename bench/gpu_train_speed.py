"""GPU: SegFormer-B3, 512x512, batch 8 -- prove's training path against raw mmseg, in one run.

Raw mmseg = the model built from mmseg's zoo config, trained by a bare loop in fp32 with
TF32 off (the anchor in shared/anchors/mmseg_raw_step.py; H100 anchor ~53-56 img/s).
prove = `prove train` on the embedded benchmark at crop 512x512 (its real data loader,
pipeline, sampler, hooks and MLflow logging), for each precision: fp32, tf32, bf16.
Reports img/s, the ratio to raw fp32, peak memory, and the final training loss of each
precision after the same number of steps from the same seed (an accuracy sanity check; the
accuracy evidence in docs/performance.md comes from full runs).

    python bench/gpu_train_speed.py [--iters 60] [--warmup 10]
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
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    import torch

    assert torch.cuda.is_available(), "this benchmark needs a CUDA GPU"
    tmp = Path(tempfile.mkdtemp(prefix="prove-gpu-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ.setdefault("PROVE_NUM_WORKERS", "8")

    from mmengine.hooks import Hook

    from prove.training.doctor import random_batch, train_step
    from prove.models import build_model
    from prove.spec import TrainSpec
    from prove.training.run import train

    results = {}

    # raw mmseg, fp32, TF32 off: the anchor's default
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    model = build_model("segformer_mit-b3", crop_size=(512, 512)).cuda().train()
    opt = torch.optim.AdamW(model.parameters(), 6e-5)
    batch = random_batch(size=512, batch=args.batch_size)

    for _ in range(args.warmup):
        train_step(model, opt, batch)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.iters):
        train_step(model, opt, batch)
    torch.cuda.synchronize()
    raw = args.batch_size * args.iters / (time.perf_counter() - start)
    results["raw_mmseg/fp32"] = dict(img_s=round(raw, 1), peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2))
    del model, opt
    torch.cuda.empty_cache()

    class Timer(Hook):
        priority = "LOWEST"

        def __init__(self):
            self.times, self.loss = [], None

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            torch.cuda.synchronize()
            self.times.append(time.perf_counter())
            self.loss = float(outputs["loss"])

    for precision in ("fp32", "tf32", "bf16"):
        torch.cuda.reset_peak_memory_stats()
        timer = Timer()
        spec = TrainSpec.create(model="segformer_mit-b3", crop_size="512x512", batch_size=args.batch_size,
                                max_iters=args.warmup + args.iters, precision=precision, eval_interval=10**6,
                                checkpoint_interval=10**6, work_dir=str(tmp / precision))
        train(spec, extra_hooks=(timer,))
        steady = timer.times[args.warmup:]
        ips = args.batch_size * (len(steady) - 1) / (steady[-1] - steady[0])
        results[f"prove/{precision}"] = dict(img_s=round(ips, 1), ratio_to_raw_fp32=round(ips / raw, 3),
                                             peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2),
                                             final_loss=round(timer.loss, 4))
        print(precision, results[f"prove/{precision}"], flush=True)
    print(json.dumps(dict(device=torch.cuda.get_device_name(), torch=torch.__version__, results=results), indent=1))


if __name__ == "__main__":
    main()
