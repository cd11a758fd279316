"""GPU: prove's real training path against raw mmseg's own training loop, same data, one run.

Both sides train the same model (prove's model config of `--model`, SegFormer-B3 by default,
from scratch) with the same optimizer and LR schedule (prove's resolved recipe) at batch 8 and
crop 512x512, on the same images: the embedded benchmark rendered at 1024x512 into a folder,
read from disk by a real data loader (decode, RandomResize 0.5-2.0, crop, flip) with the same
number of workers. Nothing is an in-memory random batch.

- **raw mmseg**: MMEngine's `Runner` with mmseg's own dataset class (`BaseSegDataset` over the
  same files) and mmseg's own train pipeline from its config (`_base_/datasets/cityscapes.py`,
  scale and crop set as above, PhotoMetricDistortion dropped as prove's baseline has none),
  `InfiniteSampler`, mmseg's default hooks; fp32 with TF32 off (PyTorch's defaults are
  TF32 off for matmuls, on for cuDNN; the anchor's "fp32" is both off). `--compile` adds raw
  mmseg TF32 + `torch.compile` (MMEngine's `compile=True`; its warm-up takes minutes).
- **prove**: `prove train` itself (`prove.training.run.train`): its sampler, audit, seeding,
  MLflow logging and progress, for each precision fp32 / tf32 / bf16.

Each side's time is measured by the same hook after each optimizer step (synchronised), over
the steady state after `--warmup` steps. Reported: img/s, the ratio to raw fp32, peak memory,
and the mean training loss of the last 5 steps (the same steps from the same seed: precision
must not change where the loss goes). Goal: prove's best >= 1.35x raw mmseg fp32 at equal loss.

    python bench/gpu_train_speed.py [--iters 60] [--warmup 10]            # on a CUDA GPU
    python bench/gpu_train_speed.py --device cpu --model fcn_r18-tiny \\
        --size 256x128 --crop 64x64 --batch-size 2 --iters 4 --warmup 2    # the CPU check
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path

LOSS_TAIL = 5


def parse_hw(text: str) -> tuple[int, int]:
    a, b = (int(x) for x in text.lower().split("x"))
    return a, b


def make_data(root: Path, size_wh: tuple[int, int], layouts: int) -> Path:
    """The embedded benchmark at `size_wh` (every layout in all seven domains), on disk, and an
    mmseg ann_file listing the training images (names without their suffix)."""
    from prove.data.synthetic import generate

    counts = dict(train=layouts, val=2, test=2)
    generate(root, size=size_wh, counts=counts, workers=os.cpu_count())
    names = sorted(str(p.relative_to(root))[: -len("_image.png")] for p in root.glob("*/train/*_image.png"))
    (root / "train.txt").write_text("\n".join(names) + "\n")
    return root


def step_timer(cuda: bool):
    """An MMEngine hook taking, after every optimizer step, a synchronised timestamp and the loss."""
    import torch
    from mmengine.hooks import Hook

    class StepTimer(Hook):
        priority = "LOWEST"

        def __init__(self):
            self.times, self.losses = [], []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if cuda:
                torch.cuda.synchronize()
            self.times.append(time.perf_counter())
            self.losses.append(float(outputs["loss"]))

    return StepTimer()


def summary(timer, batch: int, warmup: int, cuda: bool) -> dict:
    import torch

    steady = timer.times[warmup:]
    img_s = batch * (len(steady) - 1) / (steady[-1] - steady[0])
    out = dict(img_s=round(img_s, 2), steps=len(timer.times),
               loss_last5=round(sum(timer.losses[-LOSS_TAIL:]) / len(timer.losses[-LOSS_TAIL:]), 4))
    if cuda:
        out["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return out


def prove_spec(args, data_root: Path, precision: str, work: Path):
    from prove.spec import TrainSpec

    return TrainSpec.create(
        dataset="weather_bench", data_root=str(data_root), stage="s2", model=args.model, strategy="baseline",
        pretrained="false", crop_size=args.crop, batch_size=args.batch_size, max_iters=args.warmup + args.iters,
        precision=precision, eval_interval=10**6, checkpoint_interval=10**6, seed=0, work_dir=str(work))


def raw_mmseg_config(args, data_root: Path, work: Path, cuda: bool, precision: str, compile_model: bool) -> dict:
    """MMEngine config of raw mmseg: prove's model and recipe, mmseg's dataset class and pipeline."""
    from mmengine.config import Config

    import mmseg
    from prove.data.labels import CLASSES
    from prove.settings import data_workers
    from prove.training.config import model_cfg, optim_wrapper_cfg, param_scheduler_cfg
    from prove.training.resolve import resolve

    resolved = resolve(prove_spec(args, data_root, precision, work), cuda=cuda)
    crop = resolved.crop
    reference = Config.fromfile(Path(mmseg.__file__).parent / ".mim/configs/_base_/datasets/cityscapes.py")
    pipeline = []
    for step in copy.deepcopy(reference.train_pipeline):
        if step["type"] == "PhotoMetricDistortion":
            continue
        if step["type"] == "RandomResize":
            step["scale"] = parse_hw(args.size)
        if step["type"] == "RandomCrop":
            step["crop_size"] = crop
        pipeline.append(step)
    workers = data_workers()
    cfg = dict(
        default_scope="mmseg", work_dir=str(work), model=model_cfg(resolved),
        train_dataloader=dict(
            batch_size=args.batch_size, num_workers=workers, persistent_workers=workers > 0,
            sampler=dict(type="InfiniteSampler", shuffle=True),
            dataset=dict(type="BaseSegDataset", data_root=str(data_root), ann_file="train.txt",
                         data_prefix=dict(img_path="", seg_map_path=""), img_suffix="_image.png",
                         seg_map_suffix="_label.png", metainfo=dict(classes=CLASSES), pipeline=pipeline)),
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=args.warmup + args.iters),
        optim_wrapper=optim_wrapper_cfg(resolved), param_scheduler=param_scheduler_cfg(resolved),
        default_hooks=dict(timer=dict(type="IterTimerHook"), logger=dict(type="LoggerHook", interval=50),
                           param_scheduler=dict(type="ParamSchedulerHook"),
                           checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=10**9),
                           sampler_seed=dict(type="DistSamplerSeedHook")),
        env_cfg=dict(cudnn_benchmark=cuda, mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
                     dist_cfg=dict(backend="nccl" if cuda else "gloo")),
        randomness=dict(seed=0), launcher="none", log_level="WARNING",
    )
    if compile_model:
        cfg["compile"] = True
    return cfg


def set_tf32(enabled: bool) -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default="segformer_mit-b3")
    parser.add_argument("--size", default="1024x512", help="WxH of the rendered images")
    parser.add_argument("--crop", default="512x512", help="HxW training crop")
    parser.add_argument("--layouts", type=int, default=40, help="training layouts (x 7 domains = images)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--precisions", default="fp32,tf32,bf16")
    parser.add_argument("--compile", action="store_true", help="also raw mmseg TF32 + torch.compile")
    args = parser.parse_args()
    import torch

    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU (or --device cpu for the CPU check)")
    if not cuda:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    tmp = Path(tempfile.mkdtemp(prefix="prove-gpu-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["PROVE_CACHE_DIR"] = str(tmp / "cache")
    os.environ.setdefault("PROVE_PROGRESS", "lines")
    started = time.perf_counter()
    data_root = make_data(tmp / "data", parse_hw(args.size), args.layouts)
    print(f"data: {len(open(data_root / 'train.txt').read().split())} training images at {args.size} "
          f"({time.perf_counter() - started:.0f} s)", flush=True)

    from mmengine.config import Config
    from mmengine.runner import Runner

    from prove.compat import install

    install()
    from prove.training.run import train

    results: dict[str, dict] = {}
    raw_runs = [("raw_mmseg/fp32", "fp32", False)] + ([("raw_mmseg/tf32+compile", "tf32", True)] if args.compile else [])
    for label, precision, compile_model in raw_runs:
        set_tf32(precision == "tf32")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        timer = step_timer(cuda)
        runner = Runner.from_cfg(Config(raw_mmseg_config(args, data_root, tmp / label.replace("/", "-"), cuda,
                                                         "fp32" if not cuda else precision, compile_model)))
        runner.register_hook(timer)
        runner.train()
        results[label] = summary(timer, args.batch_size, args.warmup, cuda)
        print(label, results[label], flush=True)
        del runner
        if cuda:
            torch.cuda.empty_cache()

    precisions = [p for p in args.precisions.split(",") if p] if cuda else ["fp32"]
    for precision in precisions:
        set_tf32(False)  # prove turns TF32 on itself for precision tf32
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        timer = step_timer(cuda)
        train(prove_spec(args, data_root, precision, tmp / f"prove-{precision}"), extra_hooks=(timer,),
              system_metrics=False)
        results[f"prove/{precision}"] = summary(timer, args.batch_size, args.warmup, cuda)
        print(f"prove/{precision}", results[f"prove/{precision}"], flush=True)
        if cuda:
            torch.cuda.empty_cache()

    raw = results["raw_mmseg/fp32"]
    print(f"\n{'run':<24} {'img/s':>8} {'x raw fp32':>11} {'loss (last 5)':>14} {'peak GiB':>9}")
    for label, r in results.items():
        print(f"{label:<24} {r['img_s']:>8.2f} {r['img_s'] / raw['img_s']:>10.2f}x {r['loss_last5']:>14.4f} "
              f"{r.get('peak_gib', float('nan')):>9.2f}")
    device = torch.cuda.get_device_name() if cuda else "cpu"
    print(json.dumps(dict(device=device, torch=torch.__version__, date=time.strftime("%Y-%m-%d"), model=args.model,
                          batch=args.batch_size, crop=args.crop, results=results), indent=1))


if __name__ == "__main__":
    main()
