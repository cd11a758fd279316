"""`build_config(resolved)`: the one place a resolved training becomes an MMEngine config.

Strategy transforms are written into `train_dataloader.dataset...pipeline` (the pipeline of
the dataset that is actually built), never into a `train_pipeline` variable: a copy that no
dataset reads is how the users once trained 49 runs without their noise transform
(docs/lessons.md#1). The audit (`prove.training.audit`) reads the built objects back and
compares them with `expected_setup(resolved)`.

Every value that is not the spec's own (LR, warm-up, intervals, precision, crop) comes
resolved from `prove.training.resolve`; this module only writes them where MMEngine reads them.
"""

from __future__ import annotations

import copy

# Every type the config names is registered with mmseg here, so a config from `build_config` can
# always be built (ProveSegDataset, MixedSourceDataset, LoadDatasetLabel, RealGeneratedSampler,
# ResumableIterLoop, StepSeedHook, SegAutoAugment, SegRandAugment, MixSegDataPreProcessor,
# MixLossEncoderDecoder, BoundaryF1Loss).
import prove.data.mmseg_dataset  # noqa: F401
import prove.data.sampler  # noqa: F401
import prove.models.boundary_loss  # noqa: F401
import prove.strategies.mixing  # noqa: F401
import prove.strategies.transforms  # noqa: F401
import prove.training.engine  # noqa: F401
from prove.data import DATASETS
from prove.data.mmseg_dataset import PACK_META_KEYS
from prove.errors import ProveError
from prove.models import LOSSES, model_config
from prove.settings import data_workers
from prove.training.resolve import ResolvedTraining

# RandomResize 0.5-2.0 is part of every training: its absence once ruined a whole round
# (docs/lessons.md#10).
RANDOM_RESIZE_RATIO = (0.5, 2.0)
CAT_MAX_RATIO = 0.75
FLIP_PROB = 0.5


def train_pipeline(resolved: ResolvedTraining) -> list[dict]:
    standard = resolved.strategy.standard
    return [
        dict(type="LoadImageFromFile"),
        dict(type="LoadDatasetLabel"),
        dict(type="RandomResize", scale=resolved.scale, ratio_range=RANDOM_RESIZE_RATIO, keep_ratio=True),
        dict(type="RandomCrop", crop_size=resolved.crop, cat_max_ratio=CAT_MAX_RATIO),
        dict(type="RandomFlip", prob=FLIP_PROB),
        *copy.deepcopy(standard.transforms),
        dict(type="PackSegInputs", meta_keys=PACK_META_KEYS),
    ]


def eval_pipeline(dataset: str) -> list[dict]:
    adapter = DATASETS.get(dataset)
    return [
        dict(type="LoadImageFromFile"),
        dict(type="Resize", scale=tuple(adapter.scale), keep_ratio=True),
        dict(type="LoadDatasetLabel"),
        dict(type="PackSegInputs", meta_keys=PACK_META_KEYS),
    ]


def decode_losses(main_loss: str, aux_loss: str) -> list[dict]:
    """The decode head's losses: the main loss, and the auxiliary one beside it (prove.models.losses)."""
    aux = LOSSES.get(aux_loss).as_aux()
    return [LOSSES.get(main_loss).as_main()] + ([aux] if aux else [])


def model_cfg(resolved: ResolvedTraining) -> dict:
    spec = resolved.spec
    pretrained: bool | str = {"true": True, "false": False}.get(spec.pretrained, spec.pretrained)
    cfg = model_config(spec.model, crop_size=resolved.crop, pretrained=pretrained)
    if resolved.card.family == "mask2former":
        if spec.aux_loss != "none" or spec.main_loss != "ce":
            raise ProveError("mask2former has its own set-prediction losses; aux_loss/main_loss cannot be changed")
    else:
        cfg["decode_head"]["loss_decode"] = decode_losses(spec.main_loss, spec.aux_loss)
    mix = resolved.strategy.standard.batch_mix
    if mix:
        cfg["type"] = "MixLossEncoderDecoder"
        cfg["data_preprocessor"] = {**cfg["data_preprocessor"], "type": "MixSegDataPreProcessor", **mix}
    return cfg


def optim_wrapper_cfg(resolved: ResolvedTraining) -> dict:
    optim = copy.deepcopy(resolved.recipe.optim_wrapper)
    optim["optimizer"]["lr"] = resolved.lr
    if resolved.precision == "bf16":
        optim["type"] = "AmpOptimWrapper"
        optim["dtype"] = "bfloat16"
    return optim


def param_scheduler_cfg(resolved: ResolvedTraining) -> list[dict]:
    recipe, warm = resolved.recipe, resolved.warmup_iters
    poly = dict(type="PolyLR", eta_min=recipe.lr_eta_min, power=recipe.lr_power, begin=warm,
                end=resolved.spec.max_iters, by_epoch=False)
    if not warm:
        return [poly]
    return [dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=warm), poly]


def build_config(resolved: ResolvedTraining, work_dir: str, cuda: bool = False, launcher: str = "none") -> dict:
    """The full MMEngine config dict of a resolved training (pure: reads no data, writes nothing)."""
    spec, plan = resolved.spec, resolved.data
    precision = resolved.precision
    checkpoint_every, eval_every = resolved.checkpoint_interval, resolved.eval_interval
    real = dict(type="ProveSegDataset", pipeline=train_pipeline(resolved),
                source=dict(kind="split", dataset=spec.dataset, root=plan.root, domain_csv=plan.domain_csv,
                            split_csv=plan.split_csv,
                            split="train", domains=list(plan.train_domains) if plan.train_domains else None))
    generated = None
    if plan.manifest:
        generated = dict(type="ProveSegDataset", pipeline=train_pipeline(resolved),
                         source=dict(kind="manifest", path=plan.manifest, dataset=spec.dataset, root=plan.root,
                                     domain_csv=plan.domain_csv, split_csv=plan.split_csv,
                                     target_domains=list(plan.gen_domains) or None))
    workers = data_workers()
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
        model=model_cfg(resolved),
        train_dataloader=dict(
            batch_size=spec.batch_size, num_workers=workers, persistent_workers=workers > 0,
            sampler=dict(type="RealGeneratedSampler", batch_size=spec.batch_size, ratio=spec.ratio, seed=spec.seed,
                         schedule=spec.ratio_schedule, split=spec.ratio_schedule_split, max_iters=spec.max_iters),
            dataset=dict(type="MixedSourceDataset", real=real, generated=generated),
        ),
        val_dataloader=dict(
            batch_size=1, num_workers=min(workers, 2), persistent_workers=False,
            sampler=dict(type="DefaultSampler", shuffle=False),
            dataset=dict(type="ProveSegDataset", pipeline=eval_pipeline(spec.dataset), test_mode=True,
                         source=dict(kind="split", dataset=spec.dataset, root=plan.root, domain_csv=plan.domain_csv,
                                     split_csv=plan.split_csv, split="val",
                                     domains=list(plan.train_domains) if plan.train_domains else None)),
        ),
        val_evaluator=dict(type="IoUMetric", iou_metrics=["mIoU"]),
        train_cfg=dict(type="ResumableIterLoop", max_iters=spec.max_iters, val_interval=eval_every),
        val_cfg=dict(type="ValLoop"),
        optim_wrapper=optim_wrapper_cfg(resolved),
        param_scheduler=param_scheduler_cfg(resolved),
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
        precision=precision,  # informational: read by prove.training.run (TF32 flags), ignored by MMEngine
    )
