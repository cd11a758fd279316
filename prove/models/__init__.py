"""The model zoo, by the users' names, and the losses the study trains with.

- `card`: `ModelCard` and the `MODELS` registry (no torch, no mmseg);
- `zoo`: the declarations, one card per model (imported here, so `MODELS` is full on import);
- `build`: card -> mmseg config, training recipe, built model (imports mmseg when called);
- `losses`: the `LOSSES` registry (main and auxiliary losses as mmseg loss dicts);
- `boundary_loss`: the boundary-F1 loss module (torch), registered into mmseg's registry.
"""

from prove.models.card import (
    MODELS, NUM_CLASSES, REQUIREMENT_HINTS, ModelCard, check_available, get_model_card, list_models,
)
from prove.models import zoo as _zoo  # noqa: F401  (the declarations)
from prove.models.build import (
    TrainRecipe, build_model, model_config, quiet_mmengine, train_recipe, upstream_model_config,
)
from prove.models.losses import LOSSES, Loss

__all__ = [
    "LOSSES", "Loss", "MODELS", "ModelCard", "NUM_CLASSES", "REQUIREMENT_HINTS", "TrainRecipe", "build_model",
    "check_available", "get_model_card", "list_models", "model_config", "quiet_mmengine",
    "train_recipe", "upstream_model_config",
]
