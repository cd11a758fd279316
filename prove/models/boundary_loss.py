"""Losses the study uses that mmseg does not provide in a form usable on segmentation logits.

`aux_loss=boundary`: mmseg's `BoundaryLoss` is PIDNet's loss on a separate boundary head's
output, not on class logits, so it cannot be added to an arbitrary model. We use the boundary
loss of Bokhovkin & Burnaev (2019, "Boundary Loss for Remote Sensing Imagery Semantic
Segmentation"): soft boundaries of the predicted class probabilities and of the one-hot label
via max-pooling, then 1 - boundary F1 (precision/recall with a tolerance of `theta` pixels),
averaged over the classes present. It is differentiable and works with any decode head.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from prove.compat import install

install()

from mmseg.registry import MODELS  # noqa: E402


def soft_boundary(x: torch.Tensor, width: int) -> torch.Tensor:
    """Boundary map of (N, C, H, W) maps in [0, 1]: maxpool(1 - x) - (1 - x), as in the paper."""
    inverted = 1.0 - x
    return F.max_pool2d(inverted, width, stride=1, padding=(width - 1) // 2) - inverted


@MODELS.register_module()
class BoundaryF1Loss(nn.Module):
    """1 - boundary F1 between prediction and label (Bokhovkin & Burnaev, 2019).

    Args: theta0 boundary width (odd), theta tolerance (odd), ignore_index, loss_weight, loss_name.
    """

    def __init__(self, theta0: int = 3, theta: int = 5, ignore_index: int = 255, loss_weight: float = 1.0,
                 loss_name: str = "loss_boundary"):
        super().__init__()
        if theta0 % 2 == 0 or theta % 2 == 0:
            raise ValueError("theta0 and theta must be odd")
        self.theta0, self.theta, self.ignore_index = theta0, theta, ignore_index
        self.loss_weight, self._loss_name = loss_weight, loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight=None, ignore_index: int = 255, **kwargs):
        num_classes = pred.shape[1]
        valid = (target != ignore_index).unsqueeze(1).to(pred.dtype)
        probs = pred.softmax(dim=1) * valid
        one_hot = F.one_hot(target.clamp(0, num_classes - 1).long(), num_classes).permute(0, 3, 1, 2).to(pred.dtype)
        one_hot = one_hot * valid
        gt_b = soft_boundary(one_hot, self.theta0)
        pred_b = soft_boundary(probs, self.theta0)
        gt_b_ext = F.max_pool2d(gt_b, self.theta, stride=1, padding=(self.theta - 1) // 2)
        pred_b_ext = F.max_pool2d(pred_b, self.theta, stride=1, padding=(self.theta - 1) // 2)
        eps = 1e-7
        precision = (pred_b * gt_b_ext).sum((2, 3)) / (pred_b.sum((2, 3)) + eps)
        recall = (pred_b_ext * gt_b).sum((2, 3)) / (gt_b.sum((2, 3)) + eps)
        f1 = 2 * precision * recall / (precision + recall + eps)
        present = (one_hot.sum((2, 3)) > 0).to(pred.dtype)  # classes in each image
        loss = ((1 - f1) * present).sum() / present.sum().clamp(min=1)
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        return self._loss_name
