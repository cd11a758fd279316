"""`build_config(spec)`: the one place a `TrainSpec` becomes an MMEngine config.

Strategy transforms are written into `train_dataloader.dataset...pipeline` (the pipeline of
the dataset that is actually built), never into a `train_pipeline` variable: a copy that no
dataset reads is how the users once trained 49 runs without their noise transform
(FIELD_NOTES "What went wrong" #1). The audit (`prove.audit`) reads the built objects back
and compares them with `expected_training_setup(spec)`.

Learning rate: the model zoo's LR, scaled linearly with the batch size
(lr = zoo_lr * batch_size / zoo_batch_size, Goyal et al. 2017), unless `lr` is given.
Schedule: linear warm-up over min(1000, max_iters // 10) iterations, then the zoo's poly decay.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

from prove.data import DATASETS
from prove.data.domains import CLEAR_DAY, DOMAINS
from prove.errors import ProveError
from prove.models import get_model_card, model_config, train_recipe
from prove.spec import TrainSpec
from prove.strategies import parse_strategy

RANDOM_RESIZE_RATIO = (0.5, 2.0)  # its absence once ruined a whole round (FIELD_NOTES)
CAT_MAX_RATIO = 0.75
FLIP_PROB = 0.5
MAX_WARMUP = 1000


@dataclass(frozen=True)
class DataPlan:
    """Where the run's data comes from (resolved by `prove.train` before building)."""

    root: str  # the dataset root actually used
    domain_csv: str
    train_domains: tuple[str, ...] | None  # None = every image (datasets without domains, stage cg)
    manifest: str  # "" when the strategy uses no generated images


def train_domains(spec: TrainSpec) -> tuple[str, ...] | None:
    """S1 trains on clear_day only, S2 on every domain; CG on all of Cityscapes."""
    if spec.stage == "s1":
        return (CLEAR_DAY,)
    if spec.stage == "s2":
        return DOMAINS
    return None


def scaled_lr(spec: TrainSpec) -> float:
    if spec.lr != "auto":
        return float(spec.lr)
    recipe = train_recipe(spec.model)
    return recipe.optim_wrapper["optimizer"]["lr"] * spec.batch_size / recipe.base_batch_size


def warmup_iters(spec: TrainSpec) -> int:
    return min(MAX_WARMUP, spec.max_iters // 10)


def intervals(spec: TrainSpec) -> tuple[int, int]:
    auto = max(1, spec.max_iters // 5)
    return spec.checkpoint_interval or auto, spec.eval_interval or auto


def resolved_precision(spec: TrainSpec, cuda: bool) -> str:
    if spec.precision == "auto":
        return "tf32" if cuda else "fp32"
    if spec.precision in ("tf32", "bf16") and not cuda:
        raise ProveError(f"precision {spec.precision!r} needs a CUDA GPU; use fp32 (or auto) on this machine")
    return spec.precision


def train_pipeline(spec: TrainSpec) -> list[dict]:
    adapter = DATASETS.get(spec.dataset)
    crop = spec.crop_hw
    standard = parse_strategy(spec.strategy).standard
    return [
        dict(type="LoadImageFromFile"),
        dict(type="LoadDatasetLabel"),
        dict(type="RandomResize", scale=tuple(adapter.scale), ratio_range=RANDOM_RESIZE_RATIO, keep_ratio=True),
        dict(type="RandomCrop", crop_size=crop, cat_max_ratio=CAT_MAX_RATIO),
        dict(type="RandomFlip", prob=FLIP_PROB),
        *copy.deepcopy(standard.transforms),
        dict(type="PackSegInputs", meta_keys=_pack_meta_keys()),
    ]


def eval_pipeline(dataset: str) -> list[dict]:
    adapter = DATASETS.get(dataset)
    return [
        dict(type="LoadImageFromFile"),
        dict(type="Resize", scale=tuple(adapter.scale), keep_ratio=True),
        dict(type="LoadDatasetLabel"),
        dict(type="PackSegInputs", meta_keys=_pack_meta_keys()),
    ]


def _pack_meta_keys() -> tuple[str, ...]:
    from prove.data.mmseg_dataset import PACK_META_KEYS

    return PACK_META_KEYS


def decode_losses(spec: TrainSpec) -> list[dict]:
    main = (
        dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0, loss_name="loss_ce")
        if spec.main_loss == "ce"
        else dict(type="LovaszLoss", loss_type="multi_class", per_image=False, reduction="none",
                  loss_weight=1.0, loss_name="loss_lovasz")
    )
    aux = {
        "none": None,
        "lovasz": dict(type="LovaszLoss", loss_type="multi_class", per_image=False, reduction="none",
                       loss_weight=0.5, loss_name="loss_lovasz"),
        # mmseg's FocalLoss asserts use_sigmoid=True (FIELD_NOTES "What went wrong" #2)
        "focal": dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.5, loss_weight=1.0, loss_name="loss_focal"),
        "boundary": dict(type="BoundaryF1Loss", theta0=3, theta=5, loss_weight=0.5, loss_name="loss_boundary"),
    }[spec.aux_loss]
    return [main] + ([aux] if aux else [])


def model_cfg(spec: TrainSpec) -> dict:
    pretrained: bool | str = {"true": True, "false": False}.get(spec.pretrained, spec.pretrained)
    cfg = model_config(spec.model, crop_size=spec.crop_hw, pretrained=pretrained)
    if get_model_card(spec.model).family == "mask2former":
        if spec.aux_loss != "none" or spec.main_loss != "ce":
            raise ProveError("mask2former has its own set-prediction losses; aux_loss/main_loss cannot be changed")
    else:
        # the main loss of the zoo config is CE; we keep its weight and add the spec's losses
        cfg["decode_head"]["loss_decode"] = decode_losses(spec)
    mix = parse_strategy(spec.strategy).standard.batch_mix
    if mix:
        import prove.strategies.mixing  # noqa: F401  (registers the two types)

        cfg["type"] = "MixLossEncoderDecoder"
        cfg["data_preprocessor"] = {**cfg["data_preprocessor"], "type": "MixSegDataPreProcessor", **mix}
    return cfg


def optim_wrapper_cfg(spec: TrainSpec, precision: str) -> dict:
    optim = copy.deepcopy(train_recipe(spec.model).optim_wrapper)
    optim["optimizer"]["lr"] = scaled_lr(spec)
    if precision == "bf16":
        optim["type"] = "AmpOptimWrapper"
        optim["dtype"] = "bfloat16"
    return optim


def param_scheduler_cfg(spec: TrainSpec) -> list[dict]:
    recipe = train_recipe(spec.model)
    warm = warmup_iters(spec)
    poly = dict(type="PolyLR", eta_min=recipe.lr_eta_min, power=recipe.lr_power, begin=warm,
                end=spec.max_iters, by_epoch=False)
    if not warm:
        return [poly]
    return [dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=warm), poly]


def num_workers() -> int:
    return int(os.environ.get("PROVE_NUM_WORKERS", min(4, max(0, (os.cpu_count() or 1) - 1))))


def build_config(spec: TrainSpec, plan: DataPlan, work_dir: str, cuda: bool = False, launcher: str = "none") -> dict:
    """The full MMEngine config dict for `spec` (pure: reads no data, writes nothing)."""
    precision = resolved_precision(spec, cuda)
    checkpoint_every, eval_every = intervals(spec)
    real = dict(type="ProveSegDataset", pipeline=train_pipeline(spec),
                source=dict(kind="split", dataset=spec.dataset, root=plan.root, domain_csv=plan.domain_csv,
                            split="train", domains=list(plan.train_domains) if plan.train_domains else None))
    generated = None
    if plan.manifest:
        generated = dict(type="ProveSegDataset", pipeline=train_pipeline(spec),
                         source=dict(kind="manifest", path=plan.manifest, dataset=spec.dataset, root=plan.root,
                                     domain_csv=plan.domain_csv))
    workers = num_workers()
    distributed = {}
    if launcher != "none":
        # SyncBN across GPUs, as mmseg's zoo configs intend (gloo on CPU has no SyncBN);
        # on CPU, DDP must not be given device ids.
        distributed = dict(sync_bn="torch") if cuda else dict(
            model_wrapper_cfg=dict(type="MMDistributedDataParallel", device_ids=None, broadcast_buffers=False))
    return dict(
        **distributed,
        default_scope="mmseg",
        work_dir=work_dir,
        model=model_cfg(spec),
        train_dataloader=dict(
            batch_size=spec.batch_size, num_workers=workers, persistent_workers=workers > 0,
            sampler=dict(type="RealGeneratedSampler", batch_size=spec.batch_size, ratio=spec.ratio, seed=spec.seed),
            dataset=dict(type="MixedSourceDataset", real=real, generated=generated),
        ),
        val_dataloader=dict(
            batch_size=1, num_workers=min(workers, 2), persistent_workers=False,
            sampler=dict(type="DefaultSampler", shuffle=False),
            dataset=dict(type="ProveSegDataset", pipeline=eval_pipeline(spec.dataset), test_mode=True,
                         source=dict(kind="split", dataset=spec.dataset, root=plan.root, domain_csv=plan.domain_csv,
                                     split="val",
                                     domains=list(plan.train_domains) if plan.train_domains else None)),
        ),
        val_evaluator=dict(type="IoUMetric", iou_metrics=["mIoU"]),
        train_cfg=dict(type="ResumableIterLoop", max_iters=spec.max_iters, val_interval=eval_every),
        val_cfg=dict(type="ValLoop"),
        optim_wrapper=optim_wrapper_cfg(spec, precision),
        param_scheduler=param_scheduler_cfg(spec),
        default_hooks=dict(
            timer=dict(type="IterTimerHook"),
            logger=dict(type="LoggerHook", interval=max(1, min(50, spec.max_iters // 20)), log_metric_by_epoch=False),
            param_scheduler=dict(type="ParamSchedulerHook"),
            checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=checkpoint_every, max_keep_ckpts=-1,
                            save_best="mIoU", rule="greater", save_last=True),
            sampler_seed=dict(type="DistSamplerSeedHook"),
        ),
        custom_hooks=[dict(type="StepSeedHook", seed=spec.seed)],
        env_cfg=dict(cudnn_benchmark=cuda, mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
                     dist_cfg=dict(backend="nccl" if cuda else "gloo")),
        randomness=dict(seed=spec.seed, deterministic=False),
        launcher=launcher,
        log_processor=dict(by_epoch=False),
        log_level="WARNING",
        resume=True,  # resumes from work_dir/last_checkpoint when there is one
        load_from=None,
        precision=precision,  # informational: read by prove.train (TF32 flags), ignored by MMEngine
    )
