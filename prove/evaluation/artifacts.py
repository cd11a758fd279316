"""Files a test run keeps: the per-domain x per-class table, confusion matrices (array and
plot) and a few sample predictions (image | label | prediction)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prove.data.labels import CLASSES, colorize
from prove.evaluation.metrics import ALL


class SampleCollector:
    """Keeps the first `limit` images of each domain seen during inference (callback of
    `prove.evaluation.inference.evaluate`), spread over domains so night and fog are shown too."""

    def __init__(self, limit: int):
        self.limit = limit
        self.items: list[tuple[dict, np.ndarray, np.ndarray]] = []
        self._per_domain: dict[str, int] = {}

    def __call__(self, meta: dict, pred: np.ndarray, label: np.ndarray) -> None:
        domain = meta.get("domain", "unknown")
        if self._per_domain.get(domain, 0) >= max(1, self.limit // 4) or len(self.items) >= self.limit:
            return
        self._per_domain[domain] = self._per_domain.get(domain, 0) + 1
        self.items.append((meta, pred.astype(np.uint8), label.astype(np.uint8)))


def _plot_confusion(matrix: np.ndarray, out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(8, 7))
    image = ax.imshow(normalised, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=90, fontsize=7)
    ax.set_yticks(range(len(CLASSES)), CLASSES, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the label's pixels")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _sample_png(meta: dict, pred: np.ndarray, label: np.ndarray, out: Path) -> Path:
    import cv2

    image = cv2.imread(meta["img_path"], cv2.IMREAD_COLOR)[:, :, ::-1]
    if image.shape[:2] != label.shape:
        image = cv2.resize(image, (label.shape[1], label.shape[0]))
    strip = np.concatenate([image, colorize(label), colorize(pred)], axis=1)
    cv2.imwrite(str(out), strip[:, :, ::-1])
    return out


def write_artifacts(out: Path, results: dict, matrices: dict, samples: SampleCollector, table) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "per_domain_per_class.parquet", out / "per_domain_per_class.csv", out / "confusion.npz"]
    table.to_parquet(paths[0], index=False)
    table.to_csv(paths[1], index=False)
    np.savez_compressed(paths[2], classes=np.array(CLASSES), **{f"domain_{k}": v for k, v in matrices.items()})
    paths.append(_plot_confusion(matrices[ALL], out / "confusion.png", f"confusion (all domains), mIoU {results[ALL]['mIoU']:.1f}"))
    for i, (meta, pred, label) in enumerate(samples.items):
        paths.append(_sample_png(meta, pred, label, out / f"sample_{i:02d}_{meta.get('domain', 'unknown')}.png"))
    return paths
