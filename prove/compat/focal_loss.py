"""mmseg's FocalLoss, made to compute the same loss on every device.

Why: mmseg 1.2.2 `FocalLoss.forward` takes the `mmcv.ops.sigmoid_focal_loss` path only for
CUDA tensors. Its CPU branch one-hot encodes the target and then keeps column
`[:, num_classes]` (the ignore column) instead of `[:, :num_classes]`, so on CPU the target
has the wrong shape and the loss fails or is wrong. We re-register `FocalLoss` under the
same name with the op path on every device; the op is mmcv's compiled one where installed,
else `prove.compat.mmcv_ops.sigmoid_focal_loss`. Configs keep saying `type='FocalLoss'`,
`use_sigmoid=True` (mmseg asserts on anything else; docs/lessons.md#2).

Remove when: mmseg fixes the CPU branch (upstream `focal_loss.py`, `target[:, num_classes]`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmseg.models.losses import focal_loss as mmseg_focal
from mmseg.registry import MODELS


class FocalLoss(mmseg_focal.FocalLoss):
    """`mmseg.models.losses.FocalLoss` with the device-independent op path (same arguments)."""

    def forward(self, pred, target, weight=None, avg_factor=None, reduction_override=None, ignore_index=255, **kwargs):
        if reduction_override not in (None, "none", "mean", "sum"):
            raise ValueError(f"reduction_override must be None, 'none', 'mean' or 'sum', got {reduction_override!r}")
        original_shape = pred.shape
        num_classes = pred.size(1)
        # [B, C, *spatial] -> [N, C]
        pred = pred.transpose(0, 1).reshape(num_classes, -1).transpose(0, 1).contiguous()
        if original_shape == target.shape:  # soft / one-hot targets [B, C, *spatial]
            one_hot = target.transpose(0, 1).reshape(num_classes, -1).transpose(0, 1).contiguous()
            target = one_hot.argmax(dim=1)
            valid_mask = torch.ones_like(target, dtype=torch.bool).view(-1, 1)
        else:
            target = target.reshape(-1).contiguous()
            valid_mask = (target != ignore_index).view(-1, 1)
            target = torch.where(target == ignore_index, target.new_tensor(0), target)
            one_hot = F.one_hot(target, num_classes=num_classes + 1)[:, :num_classes]
        reduction = reduction_override or self.reduction
        loss = self.loss_weight * mmseg_focal.sigmoid_focal_loss(
            pred,
            target,
            one_hot,
            weight,
            gamma=self.gamma,
            alpha=self.alpha,
            class_weight=self.class_weight,
            valid_mask=valid_mask,
            reduction=reduction,
            avg_factor=avg_factor,
        )
        if reduction == "none":
            loss = loss.transpose(0, 1).reshape(original_shape[1], original_shape[0], *original_shape[2:])
            loss = loss.transpose(0, 1).contiguous()
        return loss


def install() -> None:
    # mmseg's module-level name was bound at import to whatever mmcv.ops offered (compiled
    # op or our stand-in); the wrapper `sigmoid_focal_loss` calls it. Nothing to rebind.
    MODELS.register_module(name="FocalLoss", module=FocalLoss, force=True)
