"""The learning-rate schedule a training gets, stepped through MMEngine's own schedulers, and
the loss the progress line prints."""

from __future__ import annotations

import pytest
import torch

from prove.spec import TrainSpec
from prove.training.config import param_scheduler_cfg
from prove.training.engine import total_loss
from prove.training.resolve import resolve


def lrs_of(max_iters: int) -> tuple[float, list[float]]:
    """(target LR, the LR at every iteration) of a tiny training, through MMEngine's schedulers."""
    from mmengine.optim.scheduler import LinearLR, PolyLR

    resolved = resolve(TrainSpec.create(max_iters=max_iters))
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([p], lr=resolved.lr)
    types = {"LinearLR": LinearLR, "PolyLR": PolyLR}
    schedulers = [types[c.pop("type")](optimizer, **c) for c in [dict(c) for c in param_scheduler_cfg(resolved)]]
    seen = []
    for _ in range(max_iters):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        for s in schedulers:
            s.step()
    return resolved.lr, seen


@pytest.mark.parametrize("max_iters", [10, 12, 19, 20, 50, 300])
def test_the_learning_rate_reaches_its_target(max_iters):
    """With 10-19 iterations the warm-up was one iteration, which MMEngine's LinearLR never
    completes: the LR stayed near zero (2e-9 -> 1e-5 against a target of 2e-3)."""
    target, lrs = lrs_of(max_iters)
    assert max(lrs) == pytest.approx(target, rel=0.05), (max_iters, lrs[:5])
    peak = lrs.index(max(lrs))
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))  # then it only decays (poly)
    assert lrs[-1] < target


def test_the_progress_line_prints_the_loss_once():
    """MMEngine's outputs hold the total `loss` beside its parts; summing every key with "loss"
    in its name printed twice the loss."""
    from prove.models import build_model
    from prove.training.doctor import random_batch

    torch.manual_seed(0)
    model = build_model("fcn_r18-tiny", crop_size=(32, 32))
    data = model.data_preprocessor(random_batch(size=32), True)
    parts = model(**data, mode="loss")
    total, _ = model.parse_losses(parts)  # what MMEngine back-propagates and logs as `loss`
    outputs = {"loss": total, **parts}
    assert total_loss(outputs) == pytest.approx(total.item())
    assert total_loss(parts) == pytest.approx(total.item())  # without the total: the parts' sum
