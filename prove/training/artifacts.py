"""What a training run keeps besides its metrics: where its checkpoints are (with their
digests), the training-curve plot, and what the pretrained weights supplied.

Checkpoints are large, so the run stores references (path, iteration, size, SHA-256 from the
trust record), not copies.
"""

from __future__ import annotations

import json
from pathlib import Path

from prove.tracking import client


def checkpoint_iteration(path: Path) -> int | None:
    """The iteration of a periodic checkpoint `iter_<N>.pth` (None for best/other files)."""
    stem = Path(path).stem
    return int(stem.split("_")[-1]) if stem.startswith("iter_") and stem[5:].isdigit() else None


def iteration_checkpoints(work_dir: str | Path) -> dict[int, str]:
    """{iteration: path} of the periodic checkpoints in `work_dir`, by iteration."""
    found = {checkpoint_iteration(p): str(p) for p in Path(work_dir).glob("iter_*.pth")}
    return dict(sorted((k, v) for k, v in found.items() if k is not None))


def checkpoint_references(work_dir: str | Path) -> dict:
    """Every checkpoint in `work_dir` with its iteration, size and trust record (the files are
    large, so the run stores where they are and their digests, not copies)."""
    from prove.compat.checkpoint import sidecar_path

    work = Path(work_dir)
    entries = []
    for path in sorted(work.glob("*.pth")):
        side = sidecar_path(path)
        record = json.loads(side.read_text()) if side.is_file() else {}
        entries.append(dict(path=str(path.resolve()), file=path.name, iteration=checkpoint_iteration(path),
                            best="best" in path.stem, size=path.stat().st_size, sha256=record.get("sha256")))
    last = work / "last_checkpoint"
    return dict(work_dir=str(work.resolve()), last=last.read_text().strip() if last.is_file() else None,
                checkpoints=entries)


def plot_training_curves(run_id: str, out: Path) -> Path | None:
    """Losses and learning rate (left), validation mIoU/aAcc (right) against the iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = client.get_run(run_id)
    keys = run.data.metrics.keys()
    train_keys = sorted(k for k in keys if k.startswith("train/loss"))
    val_keys = [k for k in ("val/mIoU", "val/aAcc") if k in keys]
    if not train_keys and not val_keys:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for key in train_keys:
        history = client.metric_history(run_id, key)
        left.plot([s for s, _ in history], [v for _, v in history], label=key.removeprefix("train/"), lw=1)
    left.set_xlabel("iteration")
    left.set_ylabel("training loss")
    left.legend(fontsize=8)
    for key in val_keys:
        history = client.metric_history(run_id, key)
        right.plot([s for s, _ in history], [v for _, v in history], marker="o", label=key)
    right.set_xlabel("iteration")
    right.set_ylabel("validation (%)")
    right.legend(fontsize=8)
    fig.suptitle(run.info.run_name)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def pretrained_report(model, source: str) -> dict:
    """Which backbone weights a pretrained checkpoint provided: matched, missing, unexpected.

    Mirrors what MMEngine/mmseg do when loading (`state_dict` entry if present, `module.`
    prefixes removed, non-strict load into the backbone), so the report says what the model
    really got.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    checkpoint = CheckpointLoader.load_checkpoint(source, map_location="cpu")
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    provided = {k.removeprefix("module.").removeprefix("backbone.") for k in state}
    backbone = model.module.backbone if hasattr(model, "module") else model.backbone
    expected = set(backbone.state_dict())
    return dict(source=source, matched=len(expected & provided), missing_keys=sorted(expected - provided),
                unexpected_keys=sorted(provided - expected))
