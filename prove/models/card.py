"""What a model of the zoo is: a `ModelCard`, declared once in `prove.models.zoo`.

A card names which of mmseg's own model-zoo configs the model comes from (so hyper-parameters
are mmseg's, not retyped), its ImageNet-pretrained weights and what it needs installed.
Nothing here imports torch or mmseg: listing and validating names stays cheap.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

from prove.errors import MissingDependencyError
from prove.registry import Registry

NUM_CLASSES = 19


@dataclass(frozen=True)
class ModelCard:
    """One entry of the zoo.

    `config` is a path under mmseg's bundled model-zoo configs (`mmseg/.mim/configs`);
    `inline` builds the model dict directly for models that have no upstream config (tiny
    test/demo models). `pretrained` is the upstream ImageNet checkpoint of the backbone.
    """

    name: str
    family: str
    description: str
    config: str | None = None
    inline: Callable[[], dict] | None = None
    pretrained: str | None = None
    tiny: bool = False
    requires: tuple[str, ...] = ()  # see `missing_requirements`
    recipe: Callable[[], dict] | None = None  # optimizer recipe of inline models (see `train_recipe`)
    aliases: tuple[str, ...] = ()
    # trains in channels-last memory (NHWC), where measured faster (docs/performance.md); the
    # results are the same model, up to floating-point order
    channels_last: bool = False

    def missing_requirements(self) -> list[str]:
        return [req for req in self.requires if not REQUIREMENT_CHECKS[req]()]

    @property
    def available(self) -> bool:
        return not self.missing_requirements()


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _compiled_mmcv_ops() -> bool:
    from prove.compat import compiled_mmcv_ops_available

    return compiled_mmcv_ops_available()


# requirement name -> (check, how to install)
REQUIREMENT_CHECKS: dict[str, Callable[[], bool]] = {
    "mmdet": lambda: _has_module("mmdet"),
    "mmcv-ops": _compiled_mmcv_ops,
}
REQUIREMENT_HINTS: dict[str, str] = {
    "mmdet": "mmdet>=3.0,<3.4 (`pip install 'mmdet>=3.0,<3.4'`)",
    "mmcv-ops": (
        "full mmcv 2.1.0 with compiled ops instead of mmcv-lite (`pip uninstall -y mmcv-lite && "
        "MMCV_WITH_OPS=1 pip install --no-binary mmcv mmcv==2.1.0`, built for your torch/CUDA)"
    ),
}

# Declared with `MODELS.declare(ModelCard(...))` in `prove.models.zoo`.
MODELS: Registry[ModelCard] = Registry("model")


def list_models(include_tiny: bool = True) -> list[str]:
    return [n for n, c in MODELS.items() if include_tiny or not c.tiny]


def get_model_card(name: str) -> ModelCard:
    return MODELS.get(name)


def check_available(name: str) -> ModelCard:
    """The card, or a `MissingDependencyError` saying exactly what to install."""
    card = get_model_card(name)
    missing = card.missing_requirements()
    if missing:
        needs = "; ".join(REQUIREMENT_HINTS[m] for m in missing)
        raise MissingDependencyError(f"model {card.name!r} needs {needs}")
    return card
