"""The losses a training can use, declared once: as the main loss, beside it (`aux_loss`), or both.

Each `Loss` is an mmseg loss dict plus the weight it gets in each role; `prove.training.config`
writes `[main.as_main(), aux.as_aux()]` into the decode head, the spec validates names
against these roles, and sweeps, presets, imports and `prove list losses` read the same
registry. Nothing here imports torch or mmseg.

Why these settings:
- `focal`: mmseg's FocalLoss asserts unless `use_sigmoid=True`; every one of the users'
  twelve focal runs once crashed on it (docs/lessons.md#2).
- `boundary`: mmseg's BoundaryLoss needs a separate boundary head (PIDNet), so the boundary
  loss here is prove's `BoundaryF1Loss` on class logits (`prove.models.boundary_loss`).
- Lovasz as an auxiliary loss gets half the weight of cross-entropy, as in the users' runs;
  as the main loss it replaces cross-entropy (weight 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from prove.registry import Registry

NONE = "none"  # the aux_loss meaning "no auxiliary loss"


@dataclass(frozen=True)
class Loss:
    name: str
    description: str
    config: Mapping[str, Any] | None = field(default=None, compare=False)  # mmseg dict without loss_weight
    main_weight: float | None = None  # None: cannot be the main loss
    aux_weight: float | None = None  # None: cannot be an auxiliary loss
    aliases: tuple[str, ...] = ()

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r, w in (("main", self.main_weight), ("aux", self.aux_weight)) if w is not None)

    def as_main(self) -> dict:
        assert self.main_weight is not None and self.config is not None, f"{self.name} is not a main loss"
        return {**self.config, "loss_weight": self.main_weight}

    def as_aux(self) -> dict | None:
        assert self.aux_weight is not None, f"{self.name} is not an auxiliary loss"
        return None if self.config is None else {**self.config, "loss_weight": self.aux_weight}


# Declared with `LOSSES.declare(Loss(...))`; the order is the order of `prove list losses`.
LOSSES: Registry[Loss] = Registry("loss")

LOSSES.declare(Loss(NONE, "no auxiliary loss", aux_weight=0.0))
LOSSES.declare(Loss("ce", "cross-entropy (mmseg CrossEntropyLoss, softmax)",
                    dict(type="CrossEntropyLoss", use_sigmoid=False, loss_name="loss_ce"), main_weight=1.0,
                    aliases=("cross_entropy",)))
LOSSES.declare(Loss("lovasz", "Lovasz-softmax (mmseg LovaszLoss, multi-class, per batch)",
                    dict(type="LovaszLoss", loss_type="multi_class", per_image=False, reduction="none",
                         loss_name="loss_lovasz"), main_weight=1.0, aux_weight=0.5))
LOSSES.declare(Loss("boundary", "1 - boundary F1 of the class probabilities (Bokhovkin & Burnaev 2019)",
                    dict(type="BoundaryF1Loss", theta0=3, theta=5, loss_name="loss_boundary"), aux_weight=0.5))
LOSSES.declare(Loss("focal", "focal loss, gamma 2, alpha 0.5 (mmseg FocalLoss with use_sigmoid=True)",
                    dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.5, loss_name="loss_focal"),
                    aux_weight=1.0))


def main_losses() -> tuple[str, ...]:
    return tuple(n for n, loss in LOSSES.items() if "main" in loss.roles)


def aux_losses() -> tuple[str, ...]:
    return tuple(n for n, loss in LOSSES.items() if "aux" in loss.roles)
