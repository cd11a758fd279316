"""FocalLoss (sigmoid) and Lovasz train on CPU through mmseg's own classes."""

import numpy as np
import pytest
import torch

from prove.compat import install
from prove.training.doctor import random_batch, train_step
from prove.models import model_config

install()
from mmseg.registry import MODELS  # noqa: E402


def test_focal_loss_on_cpu_equals_independent_formula():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 19, 4, 5))
    target = rng.integers(0, 19, size=(2, 4, 5))
    target[0, 0, :] = 255
    loss = MODELS.build(dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.5, loss_weight=1.0))
    got = loss(torch.tensor(logits), torch.tensor(target)).item()

    flat = logits.transpose(0, 2, 3, 1).reshape(-1, 19)
    t = target.reshape(-1)
    p = 1 / (1 + np.exp(-flat))
    positive = t[:, None] == np.arange(19)[None, :]
    per_element = np.where(positive, -0.5 * (1 - p) ** 2 * np.log(p), -0.5 * p**2 * np.log(1 - p))
    valid = (t != 255)[:, None]
    expected = (per_element * valid).mean()  # mmseg's weight_reduce_loss: mean over N*C
    assert got == pytest.approx(expected, rel=1e-9)


def test_upstream_cpu_focal_loss_is_the_reason_for_the_shim():
    from mmseg.models.losses.focal_loss import FocalLoss as Upstream

    pred, target = torch.randn(2, 19, 8, 8), torch.randint(0, 19, (2, 8, 8))
    with pytest.raises(RuntimeError):  # when this stops failing upstream, the shim can go
        Upstream(use_sigmoid=True)(pred, target)


@pytest.mark.parametrize(
    "losses",
    [
        [dict(type="CrossEntropyLoss", loss_weight=1.0), dict(type="FocalLoss", use_sigmoid=True, loss_weight=1.0)],
        [dict(type="CrossEntropyLoss", loss_weight=1.0),
         dict(type="LovaszLoss", loss_type="multi_class", per_image=False, reduction="none", loss_weight=1.0)],
        [dict(type="LovaszLoss", loss_type="multi_class", per_image=False, reduction="none", loss_weight=1.0)],
    ],
    ids=["ce+focal", "ce+lovasz", "lovasz-main"],
)
def test_model_trains_with_aux_losses(losses):
    torch.manual_seed(0)
    cfg = model_config("fcn_r18-tiny", crop_size=(32, 32))
    cfg["decode_head"]["loss_decode"] = losses
    model = MODELS.build(cfg).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    batch = random_batch(size=32)
    before = [p.detach().clone() for p in model.parameters()]
    first = train_step(model, optimizer, batch)
    for _ in range(4):
        last = train_step(model, optimizer, batch)
    assert np.isfinite(first) and np.isfinite(last)
    assert last < first  # it learns the (fixed) batch
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
