"""Everything that makes MMSegmentation 1.2.2 / MMEngine 0.10.7 work on current PyTorch.

One entry point: `install()`, idempotent, called by every prove module before it imports
mmseg. Each shim lives in its own module with a comment saying why it exists and when it
can go:

- `mmcv_ops`:   pure-PyTorch `point_sample` / `sigmoid_focal_loss` when compiled mmcv ops
                are missing (mmcv-lite); stays out of the way when they are installed.
- `focal_loss`: mmseg's FocalLoss computes the op-path loss on every device (its CPU branch
                is broken upstream).
- `checkpoint`: resuming on torch >= 2.6 (`weights_only`), unpickling only checkpoints prove
                wrote; `runner.ProveRunner` writes the trust records.
"""

from __future__ import annotations

from dataclasses import dataclass

from prove.compat.detect import compiled_mmcv_ops_available  # noqa: F401  (light: re-exported)

_state: "CompatStatus | None" = None


@dataclass(frozen=True)
class CompatStatus:
    mmcv_ops: str  # "compiled" or "shim"
    torch_version: str
    mmseg_version: str
    mmengine_version: str
    mmcv_version: str


def install() -> CompatStatus:
    """Apply every shim once, register mmseg's modules, and report what is active."""
    global _state
    if _state is not None:
        return _state
    from prove.compat import mmcv_ops

    _silence_known_warnings()
    ops_mode = mmcv_ops.install()  # must precede the first `import mmseg.models`

    import mmcv
    import mmengine
    import mmseg
    import torch
    from mmseg.utils import register_all_modules

    register_all_modules(init_default_scope=True)  # mmseg resolves nested types via the scope

    from prove.compat import checkpoint, focal_loss

    focal_loss.install()
    checkpoint.install()
    _state = CompatStatus(ops_mode, torch.__version__, mmseg.__version__, mmengine.__version__, mmcv.__version__)
    return _state


def _silence_known_warnings() -> None:
    """Warnings the unmaintained stack prints on every import/build, none actionable for users."""
    import warnings

    for message in (
        r"Fail to import ``MultiScaleDeformableAttention``",  # mmcv-lite: op unused by our models
        r"``build_loss`` would be deprecated soon",  # mmseg heads call their own deprecated API
        r"Default upsampling behavior when mode=",
    ):
        warnings.filterwarnings("ignore", message=message)
