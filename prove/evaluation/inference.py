"""Inference over a test split: predictions -> confusion matrices per domain (and overall).

This is the core of `prove test` (prove.evaluation.run adds run selection, tracking, artifacts).
Predictions come from the model's own mmseg inference (`test_step`, resized back to the
original image size); labels come through the dataset adapter at their original size, with
ignore and invalid pixels excluded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from prove.compat import install

install()

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmseg.registry import DATASETS as MMSEG_DATASETS  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402

import prove.data.mmseg_dataset  # noqa: E402,F401  (ProveSegDataset, LoadDatasetLabel)
import prove.models.boundary_loss  # noqa: E402,F401  (BoundaryF1Loss, named in trained configs)
import prove.strategies.mixing  # noqa: E402,F401
from prove.compat.checkpoint import load_checkpoint_file  # noqa: E402
from prove.evaluation.metrics import DomainConfusion  # noqa: E402
from prove.settings import data_workers, stop_image_threads_before_fork  # noqa: E402
from prove.training.config import eval_pipeline  # noqa: E402


def evaluation_dataset(dataset: str, split: str, root: str | None = None, domain_csv: str | None = None,
                       domains: list[str] | None = None, split_csv: str | None = None):
    return MMSEG_DATASETS.build(dict(
        type="ProveSegDataset", pipeline=eval_pipeline(dataset), test_mode=True,
        source=dict(kind="split", dataset=dataset, root=root, domain_csv=domain_csv, split_csv=split_csv, split=split,
                    domains=domains),
    ))


def load_model(config_path: str | Path, checkpoint: str | Path, device: str = "cpu"):
    """The model of a training run's resolved config with a checkpoint's weights, in eval mode."""
    cfg = Config.fromfile(str(config_path))
    model_cfg = dict(cfg.model)
    if model_cfg.get("type") == "MixLossEncoderDecoder":  # mixing only matters for training
        model_cfg["type"] = "EncoderDecoder"
        pre = dict(model_cfg["data_preprocessor"])
        for key in ("mix", "prob", "alpha"):
            pre.pop(key, None)
        pre["type"] = "SegDataPreProcessor"
        model_cfg["data_preprocessor"] = pre
    model_cfg["pretrained"] = None
    model_cfg["backbone"] = {k: v for k, v in model_cfg["backbone"].items() if k != "init_cfg"}
    model = MODELS.build(model_cfg)
    state = load_checkpoint_file(checkpoint, map_location="cpu")
    model.load_state_dict(state.get("state_dict", state))
    return model.to(device).eval()


def predictions(model, dataset, batch_size: int = 4, device: str = "cpu",
                num_workers: int | None = None) -> Iterator[tuple[dict, np.ndarray, np.ndarray]]:
    """(metainfo, prediction, label) per image, labels at original size (255 = ignore).

    Images are loaded by a DataLoader with workers (prove.settings.data_workers), in order."""
    workers = data_workers() if num_workers is None else num_workers
    stop_image_threads_before_fork(workers)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                                         collate_fn=pseudo_collate)
    for batch in loader:
        with torch.no_grad():
            outputs = model.test_step(batch)
        for sample in outputs:
            pred = sample.pred_sem_seg.data.squeeze(0).cpu().numpy()
            label = sample.gt_sem_seg.data.squeeze(0).cpu().numpy()
            yield sample.metainfo, pred, label


def evaluate(model, dataset, batch_size: int = 4, device: str = "cpu",
             on_image: Callable[[dict, np.ndarray, np.ndarray], None] | None = None,
             num_workers: int | None = None) -> DomainConfusion:
    """Accumulate confusion per domain and overall in one pass over `dataset`."""
    confusion = DomainConfusion()
    for meta, pred, label in predictions(model, dataset, batch_size, device, num_workers):
        confusion.add(meta.get("domain", "unknown"), pred, label)
        if on_image is not None:
            on_image(meta, pred, label)
    return confusion
