"""The training data pipeline, per CPU core, at the real datasets' image sizes.

What one data-loader worker does for one training image, timed in one single-threaded
process (OpenCV, torch and BLAS held to one thread, as prove's workers are), so img/s here is
img/s per core:

    decode image + label -> RandomResize 0.5-2.0 -> RandomCrop 512x512 -> RandomFlip
    -> the strategy's transforms -> PackSegInputs

For each dataset a small tree is written in its official layout (BDD10k 1280x720 JPEG,
Cityscapes 2048x1024 PNG, ACDC 1920x1080 PNG), with the embedded benchmark's street scenes
rendered at that size (so decode costs what a real photo costs, unlike noise). prove's side is
the dataset `prove train` builds (`build_config` -> `MixedSourceDataset` behind the
`RealGeneratedSampler`), for baseline, every std_* strategy and gen_physics_fog at ratio 0.5
(half of every batch read from generated images on disk).

The reference is mmseg's own pipeline from its dataset config
(`configs/_base_/datasets/cityscapes.py`, as mmseg ships it), read by mmseg's own dataset
class for that layout (CityscapesDataset, BDD100KDataset, BaseSegDataset for ACDC), in the
same run. The config's scale and crop are set to prove's (the dataset's native size, 512x512)
so both do the same geometric work; `mmseg baseline` is that pipeline without its
PhotoMetricDistortion (the same ops as prove's baseline, the ratio's denominator), and
`mmseg config` is the pipeline as configured (with PhotoMetricDistortion).

CutMix and MixUp run on the batch in the model's data preprocessor (on the device), not in
the workers: their per-image pipeline is the baseline's; their batch step is timed on the CPU
and reported beside it.

Goals: every strategy >= 0.7x `mmseg baseline`, and prove's baseline >= 10 img/s per core.

    python bench/data_pipeline.py [--images 8] [--rounds 3] [--per-round 12]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy/torch load: one core, like a loader worker

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

CROP = (512, 512)
GENERATED_STRATEGY = "gen_physics_fog"
# Half the images clear (the generator's sources), half adverse.
DOMAINS = ("clear_day", "rainy", "clear_day", "night")


# -- dataset trees in their official layouts ------------------------------------------------
def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array), path


def _scene(i: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    from prove.data.synthetic import render_scene

    rgb, label = render_scene(1000 + i, DOMAINS[i % len(DOMAINS)], size)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), label


def write_cityscapes(root: Path, n: int) -> dict:
    rows = ["image,domain"]  # Cityscapes has no weather tags: a domain CSV, as users supply
    for i in range(n):
        img, label = _scene(i, (2048, 1024))
        stem = f"aachen_{i:06d}_000019"
        _write(root / f"leftImg8bit/train/aachen/{stem}_leftImg8bit.png", img)
        _write(root / f"gtFine/train/aachen/{stem}_gtFine_labelTrainIds.png", label)
        rows.append(f"leftImg8bit/train/aachen/{stem}_leftImg8bit.png,{DOMAINS[i % len(DOMAINS)]}")
    (root / "domains.csv").write_text("\n".join(rows) + "\n")
    return dict(type="CityscapesDataset", data_prefix=dict(img_path="leftImg8bit/train", seg_map_path="gtFine/train"))


def write_acdc(root: Path, n: int) -> dict:
    for i in range(n):
        img, label = _scene(i, (1920, 1080))
        stem = f"GOPR0475_frame_{i:06d}"
        _write(root / f"rgb_anon/fog/train/GOPR0475/{stem}_rgb_anon.png", img)
        _write(root / f"gt/fog/train/GOPR0475/{stem}_gt_labelTrainIds.png", label)
        _write(root / f"gt/fog/train/GOPR0475/{stem}_gt_invIds.png", np.zeros(label.shape, np.uint8))
    return dict(type="BaseSegDataset", data_prefix=dict(img_path="rgb_anon/fog/train", seg_map_path="gt/fog/train"),
                img_suffix="_rgb_anon.png", seg_map_suffix="_gt_labelTrainIds.png")


def write_bdd10k(root: Path, n: int) -> dict:
    attributes = []  # BDD100K's det_20 attribute JSON tags weather and time of day
    tags = {"clear_day": ("clear", "daytime"), "rainy": ("rainy", "daytime"), "night": ("clear", "night")}
    for i in range(n):
        img, label = _scene(i, (1280, 720))
        stem = f"0a0a0b1a-{i:08x}"
        _write(root / f"images/10k/train/{stem}.jpg", img)
        _write(root / f"labels/sem_seg/masks/train/{stem}.png", label)
        weather, timeofday = tags[DOMAINS[i % len(DOMAINS)]]
        attributes.append({"name": f"{stem}.jpg", "attributes": {"weather": weather, "timeofday": timeofday,
                                                                  "scene": "city street"}})
    (root / "labels/det_20").mkdir(parents=True, exist_ok=True)
    (root / "labels/det_20/det_train.json").write_text(json.dumps(attributes))
    return dict(type="BDD100KDataset", data_prefix=dict(img_path="images/10k/train",
                                                        seg_map_path="labels/sem_seg/masks/train"))


TREES = {"bdd10k": write_bdd10k, "cityscapes": write_cityscapes, "acdc": write_acdc}


# -- the pipelines ----------------------------------------------------------------------------
def prove_pipeline(dataset: str, root: Path, strategy: str, work: Path):
    """prove's training dataset and the keys its sampler draws, as `prove train` builds them."""
    from mmseg.registry import DATASETS as MMSEG_DATASETS

    from prove.spec import TrainSpec
    from prove.training.config import build_config
    from prove.training.resolve import resolve

    domain_csv = root / "domains.csv"
    spec = TrainSpec.create(dataset=dataset, data_root=str(root), strategy=strategy, stage="s2",
                            domain_csv=str(domain_csv) if domain_csv.is_file() else "",
                            ratio=0.5 if strategy.startswith("gen_") else 1.0, crop_size="x".join(map(str, CROP)),
                            batch_size=8, max_iters=1000, pretrained="false")
    cfg = build_config(resolve(spec), str(work))
    loader = cfg["train_dataloader"]
    data = MMSEG_DATASETS.build(loader["dataset"])
    from prove.data.sampler import RealGeneratedSampler

    sampler = iter(RealGeneratedSampler(data, **{k: v for k, v in loader["sampler"].items() if k != "type"}))
    return lambda: data[next(sampler)]


def mmseg_pipeline(root: Path, dataset_cfg: dict, scale: tuple[int, int], photometric: bool):
    """mmseg's train pipeline from its own config file, read by mmseg's own dataset class."""
    from mmengine.config import Config
    from mmseg.registry import DATASETS as MMSEG_DATASETS
    from mmseg.utils import register_all_modules

    import mmseg

    register_all_modules()
    config = Config.fromfile(Path(mmseg.__file__).parent / ".mim/configs/_base_/datasets/cityscapes.py")
    pipeline = []
    for step in copy.deepcopy(config.train_pipeline):
        if step["type"] == "RandomResize":
            step["scale"] = scale
        elif step["type"] == "RandomCrop":
            step["crop_size"] = CROP
        elif step["type"] == "PhotoMetricDistortion" and not photometric:
            continue
        pipeline.append(step)
    data = MMSEG_DATASETS.build(dict(dataset_cfg, data_root=str(root), pipeline=pipeline))
    count = iter(range(10**9))

    def item():
        i = next(count)
        np.random.seed(i)  # mmengine seeds each worker; a fixed stream keeps rounds comparable
        return data[i % len(data)]
    return item


def rate(item, rounds: int, per_round: int) -> float:
    """Median img/s over `rounds` of `per_round` images, after one warm-up image."""
    item()
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            out = item()
        rates.append(per_round / (time.perf_counter() - start))
    assert tuple(out["inputs"].shape[-2:]) == CROP, out["inputs"].shape
    return statistics.median(rates)


def batch_mix_ms(mix: dict, repeats: int = 20) -> float:
    """Extra ms per batch of 8 crops that `MixSegDataPreProcessor` spends over mmseg's own
    `SegDataPreProcessor` (the batch step of CutMix/MixUp), on this CPU core."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.models.data_preprocessor import SegDataPreProcessor
    from mmseg.structures import SegDataSample

    from prove.strategies.mixing import MixSegDataPreProcessor

    norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size=CROP)
    gen = torch.Generator().manual_seed(0)

    def batch():
        samples = []
        for _ in range(8):
            s = SegDataSample()
            s.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, *CROP), generator=gen))
            s.set_metainfo(dict(img_shape=CROP, pad_shape=CROP))
            samples.append(s)
        return dict(inputs=[torch.randint(0, 256, (3, *CROP), dtype=torch.uint8, generator=gen) for _ in range(8)],
                    data_samples=samples)

    def ms(pre) -> float:
        times = []
        for _ in range(repeats):
            data = batch()
            start = time.perf_counter()
            pre(data, training=True)
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    plain = SegDataPreProcessor(**norm)
    mixed = MixSegDataPreProcessor(**norm, **{**mix, "prob": 1.0})  # time a mixed batch, not a coin flip
    return ms(mixed) - ms(plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="training images per dataset tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=12)
    parser.add_argument("--datasets", default=",".join(TREES))
    parser.add_argument("--strategies", default="", help="comma list (default: baseline, every std_*, a gen_*)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    tmp = Path(tempfile.mkdtemp(prefix="prove-pipeline-"))
    os.environ["PROVE_CACHE_DIR"] = str(tmp / "cache")  # generated images go to this run's folder
    from prove.compat import install

    install()
    from prove.data import DATASETS
    from prove.strategies import STANDARD

    strategies = [s for s in args.strategies.split(",") if s] or [*STANDARD.names(), GENERATED_STRATEGY]
    print(f"one core (OpenCV/torch/BLAS threads = 1); {args.rounds} rounds x {args.per_round} images, median; "
          f"crop {CROP[0]}x{CROP[1]}; {time.strftime('%Y-%m-%d')}")
    worst = {}
    for dataset in args.datasets.split(","):
        root = tmp / dataset
        mmseg_cfg = TREES[dataset](root, args.images)
        scale = tuple(DATASETS.get(dataset).scale)
        print(f"\n{dataset} {scale[0]}x{scale[1]} ({args.images} images in its official layout)")
        reference = rate(mmseg_pipeline(root, mmseg_cfg, scale, photometric=False), args.rounds, args.per_round)
        configured = rate(mmseg_pipeline(root, mmseg_cfg, scale, photometric=True), args.rounds, args.per_round)
        print(f"  {'mmseg baseline (reference)':<32} {reference:6.1f} img/s/core   1.00x")
        print(f"  {'mmseg config (+PhotoMetricDist.)':<32} {configured:6.1f} img/s/core   {configured / reference:.2f}x")
        for strategy in strategies:
            value = rate(prove_pipeline(dataset, root, strategy, tmp / "work"), args.rounds, args.per_round)
            ratio = value / reference
            worst[strategy] = min(ratio, worst.get(strategy, ratio))
            note = ""
            mix = STANDARD.get(strategy).batch_mix if not strategy.startswith("gen_") else None
            if mix:
                note = f"   + batch step {batch_mix_ms(mix):.1f} ms per batch of 8 (data preprocessor)"
            if strategy == "baseline":
                note = "   (goal >= 10 img/s/core)"
            print(f"  {'prove ' + strategy:<32} {value:6.1f} img/s/core   {ratio:.2f}x{note}")
    print("\nworst ratio to mmseg baseline over the datasets (goal >= 0.70x):")
    for strategy, ratio in worst.items():
        print(f"  {strategy:<32} {ratio:.2f}x{'' if ratio >= 0.7 else '   BELOW GOAL'}")


if __name__ == "__main__":
    main()
