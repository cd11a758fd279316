"""From a model card to an mmseg model: its config for our label space and crop size, its
training recipe (optimizer, LR schedule, batch size) and the built `EncoderDecoder`.

`model_config()` applies only what the study needs (19 classes, BN instead of SyncBN, crop
size, pretrained or not) to mmseg's own config; `train_recipe()` reads mmseg's optimizer and
schedule from the same file.
"""

from __future__ import annotations

import copy
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from prove.errors import ProveError
from prove.models.card import NUM_CLASSES, ModelCard, check_available, get_model_card

def mmseg_config_root() -> Path:
    import mmseg

    return Path(mmseg.__file__).parent / ".mim" / "configs"


@lru_cache(maxsize=None)
def _upstream_model(config: str) -> dict:
    from mmengine.config import Config

    path = mmseg_config_root() / config
    if not path.is_file():
        raise ProveError(f"mmseg model-zoo config not found: {path} (is mmsegmentation==1.2.2 installed?)")
    return Config.fromfile(str(path)).to_dict()["model"]


def upstream_model_config(card: ModelCard) -> dict:
    """The model dict exactly as mmseg's model-zoo config defines it (a deep copy)."""
    if card.config is not None:
        return copy.deepcopy(_upstream_model(card.config))
    assert card.inline is not None, f"model card {card.name} declares neither config nor inline"
    return card.inline()


@dataclass(frozen=True)
class TrainRecipe:
    """The optimizer and LR schedule of a model's zoo config, and the batch size it was tuned for."""

    optim_wrapper: dict
    lr_power: float
    lr_eta_min: float
    base_batch_size: int


@lru_cache(maxsize=None)
def _upstream_config(config: str) -> dict:
    from mmengine.config import Config

    return Config.fromfile(str(mmseg_config_root() / config)).to_dict()


def train_recipe(name: str) -> TrainRecipe:
    """Optimizer (with paramwise settings), poly-LR power/eta_min and the base batch size
    (GPUs x per-GPU batch, from the config name, e.g. `8xb1` -> 8) of the model's zoo config."""
    card = get_model_card(name)
    if card.config is None:
        assert card.recipe is not None, f"inline model {name} declares no recipe"
        return TrainRecipe(**card.recipe())
    cfg = _upstream_config(card.config)
    optim = copy.deepcopy(cfg["optim_wrapper"])
    optim.pop("_delete_", None)
    poly = [s for s in cfg["param_scheduler"] if s["type"] == "PolyLR"]
    match = re.search(r"_(\d+)xb(\d+)", card.config)
    if not poly or not match:
        raise ValueError(f"cannot read the schedule/batch of {card.config}")
    return TrainRecipe(optim, float(poly[0].get("power", 1.0)), float(poly[0].get("eta_min", 0.0)),
                       int(match.group(1)) * int(match.group(2)))


def _walk(node: Any, fn: Callable[[dict], None]) -> None:
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            _walk(value, fn)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _walk(value, fn)


def model_config(
    name: str,
    *,
    crop_size: tuple[int, int] = (512, 512),
    pretrained: bool | str = False,
    num_classes: int = NUM_CLASSES,
) -> dict:
    """mmseg model dict for `name`, adapted to our label space and crop size.

    - every head predicts `num_classes` (19 Cityscapes train classes);
    - SyncBN becomes BN (MMEngine's `sync_bn` option converts back under DDP);
    - the data preprocessor pads to `crop_size` (H, W);
    - `pretrained`: False = from scratch (no init_cfg, `pretrained=None`); True = the zoo's
      ImageNet weights; a path = that checkpoint for the backbone.
    """
    card = get_model_card(name)
    cfg = upstream_model_config(card)

    def adapt(node: dict) -> None:
        if "num_classes" in node:
            node["num_classes"] = num_classes
        if node.get("type") == "SyncBN":
            node["type"] = "BN"

    _walk(cfg, adapt)
    if "data_preprocessor" in cfg:
        cfg["data_preprocessor"]["size"] = tuple(crop_size)
    test_cfg = cfg.get("test_cfg") or {}
    if test_cfg.get("mode") == "slide":
        h, w = crop_size
        test_cfg.update(crop_size=(h, w), stride=(h * 3 // 4, w * 3 // 4))
    _set_pretrained(cfg, card, pretrained)
    return cfg


def _set_pretrained(cfg: dict, card: ModelCard, pretrained: bool | str) -> None:
    backbone = cfg["backbone"]
    cfg["pretrained"] = None
    backbone.pop("init_cfg", None)
    backbone.pop("pretrained", None)
    if pretrained is False:
        return
    if pretrained is True:
        if card.pretrained is None:
            raise ProveError(f"model {card.name!r} has no pretrained weights in the zoo; use pretrained=false or a checkpoint path")
        source = card.pretrained
    else:
        source = str(pretrained)
        if not Path(source).expanduser().is_file():
            raise ProveError(f"pretrained checkpoint not found: {source!r}; pass true, false or an existing file")
    backbone["init_cfg"] = dict(type="Pretrained", checkpoint=source)


def build_model(name: str, **kwargs):
    """Build the mmseg `EncoderDecoder` (weights initialised) for `name`; see `model_config`."""
    check_available(name)
    from prove.compat import install

    install()
    from mmseg.registry import MODELS as MMSEG_MODELS

    from mmengine.config import ConfigDict

    # ConfigDict, as in a config file: mmseg reads test_cfg by attribute (`test_cfg.mode`)
    model = MMSEG_MODELS.build(ConfigDict(model_config(name, **kwargs)))
    with quiet_mmengine():  # init_weights logs one INFO block per parameter
        model.init_weights()
    return model


@contextmanager
def quiet_mmengine(level: int = logging.WARNING):
    """Temporarily raise the level of MMEngine's current logger."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
