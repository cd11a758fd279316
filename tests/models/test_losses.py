"""Every declared loss builds through mmseg's own registry in each role it declares, gives a
finite loss on segmentation logits with ignore pixels, and back-propagates (docs/lessons.md#2:
a loss that cannot be built once crashed every run of a study)."""

from __future__ import annotations

import pytest
import torch

from prove.models import LOSSES
from prove.models.losses import NONE, aux_losses, main_losses
from prove.training.config import decode_losses  # registers BoundaryF1Loss with mmseg

from mmseg.registry import MODELS  # noqa: E402  (after prove.compat.install, via the import above)

ROLES = [(name, role) for name, loss in LOSSES.items() for role in loss.roles if loss.config is not None]


def logits_and_labels(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 19, 12, 16, generator=gen, requires_grad=True)
    labels = torch.randint(0, 19, (2, 12, 16), generator=gen)
    labels[:, 0, :] = 255  # ignore pixels, as every dataset has
    return logits, labels


@pytest.mark.parametrize("name,role", ROLES, ids=[f"{n}-{r}" for n, r in ROLES])
def test_loss_builds_and_backpropagates(name, role):
    loss = LOSSES.get(name)
    config = loss.as_main() if role == "main" else loss.as_aux()
    module = MODELS.build(config)
    logits, labels = logits_and_labels()
    value = module(logits, labels, ignore_index=255)
    value = value.mean() if value.ndim else value
    assert torch.isfinite(value) and value.item() >= 0
    value.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    assert module.loss_name == config["loss_name"]


def test_roles_and_the_decode_head_losses():
    assert main_losses() == ("ce", "lovasz") and aux_losses() == (NONE, "lovasz", "boundary", "focal")
    assert LOSSES.get("focal").as_aux()["use_sigmoid"] is True  # mmseg asserts otherwise
    assert decode_losses("ce", NONE) == [LOSSES.get("ce").as_main()]
    main, aux = decode_losses("ce", "boundary")
    assert main["type"] == "CrossEntropyLoss" and aux["type"] == "BoundaryF1Loss" and aux["loss_weight"] == 0.5
    assert LOSSES.canonical("Cross-Entropy") == "ce"
