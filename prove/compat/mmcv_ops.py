"""Pure-PyTorch stand-ins for the two compiled mmcv ops that mmseg imports.

Why: mmseg 1.2.2 imports `mmcv.ops.point_sample` (utils, point/SAN/mask2former heads) and
`mmcv.ops.sigmoid_focal_loss` (FocalLoss) at import time. Compiled mmcv has no wheels for
current PyTorch, and mmcv-lite ships the Python files of `mmcv.ops` but not the `mmcv._ext`
extension they load, so `import mmseg.models` fails. We install a small `mmcv.ops` module
with exactly these two ops; any other op raises an error naming what to install.

When compiled ops are present (`mmcv._ext` importable, i.e. full mmcv), nothing is touched.
Remove when: mmcv publishes wheels for the torch in use, or mmseg stops importing these.
"""

from __future__ import annotations

import sys
import types

import torch
import torch.nn.functional as F

INSTALL_FULL_MMCV = (
    "full mmcv with compiled ops (mmcv==2.1.0 built for your torch/CUDA: "
    "`pip uninstall -y mmcv-lite && MMCV_WITH_OPS=1 pip install --no-binary mmcv mmcv==2.1.0`)"
)


def compiled_ops_available() -> bool:
    """True when mmcv's compiled extension is installed (full mmcv, not mmcv-lite)."""
    from prove.compat.detect import compiled_mmcv_ops_available

    return compiled_mmcv_ops_available()


def point_sample(input: torch.Tensor, points: torch.Tensor, align_corners: bool = False, **kwargs) -> torch.Tensor:
    """Sample `input` (N, C, H, W) at normalised `points` in [0, 1]: (N, P, 2) or (N, Hp, Wp, 2).

    Same contract as `mmcv.ops.point_sample`: bilinear `grid_sample` on coordinates mapped
    from [0, 1] to [-1, 1]; a 3-D `points` gives (N, C, P).
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    output = F.grid_sample(input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return output.squeeze(3) if add_dim else output


def sigmoid_focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    alpha: float = 0.25,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Sigmoid focal loss with the contract of `mmcv.ops.sigmoid_focal_loss`.

    `input` (N, C) logits, `target` (N,) class indices; a target outside 0..C-1 makes every
    class a negative (as mmcv's kernel does). Per element:
    positive: -alpha (1-p)^gamma log p; negative: -(1-alpha) p^gamma log(1-p); times
    `weight[target]` if given. 'mean' divides the sum by N (not N*C), like mmcv.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if input.dim() != 2 or target.dim() != 1 or input.size(0) != target.size(0):
        raise ValueError(f"expected input (N, C) and target (N,), got {tuple(input.shape)} and {tuple(target.shape)}")
    num_classes = input.size(1)
    classes = torch.arange(num_classes, device=input.device)
    positive = (target.unsqueeze(1) == classes).to(input.dtype)
    prob = input.sigmoid()
    # logsigmoid is the numerically stable log p and log(1-p) = logsigmoid(-x)
    loss_pos = -alpha * (1 - prob).pow(gamma) * F.logsigmoid(input)
    loss_neg = -(1 - alpha) * prob.pow(gamma) * F.logsigmoid(-input)
    loss = positive * loss_pos + (1 - positive) * loss_neg
    if weight is not None and weight.numel() > 0:
        in_range = (target >= 0) & (target < num_classes)
        per_sample = torch.where(in_range, weight[target.clamp(0, num_classes - 1)], weight.new_zeros(()))
        loss = loss * per_sample.unsqueeze(1)
    if reduction == "mean":
        return loss.sum() / input.size(0)
    if reduction == "sum":
        return loss.sum()
    return loss


class MissingCompiledOp(ModuleNotFoundError):
    """Raised for mmcv ops that need compiled mmcv. A ModuleNotFoundError, so mmseg's own
    `try: from mmcv.ops import X / except ModuleNotFoundError` fallbacks keep working."""


def _missing(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise MissingCompiledOp(f"mmcv.ops.{name} needs {INSTALL_FULL_MMCV}; prove only provides point_sample and sigmoid_focal_loss")


def install() -> str:
    """Install the stand-in `mmcv.ops` unless compiled ops exist. Returns which is active."""
    if compiled_ops_available():
        return "compiled"
    existing = sys.modules.get("mmcv.ops")
    if existing is not None and getattr(existing, "__prove_shim__", False):
        return "shim"
    import mmcv

    ops = types.ModuleType("mmcv.ops", doc="prove's pure-PyTorch stand-in for mmcv.ops (see prove.compat.mmcv_ops)")
    ops.point_sample = point_sample
    ops.sigmoid_focal_loss = sigmoid_focal_loss
    ops.__getattr__ = _missing  # type: ignore[attr-defined]
    ops.__prove_shim__ = True  # type: ignore[attr-defined]
    sys.modules["mmcv.ops"] = ops
    mmcv.ops = ops  # type: ignore[attr-defined]
    return "shim"
