"""Segmentation metrics from confusion matrices, accumulated per domain in one pass.

Definitions (the same as mmseg's IoUMetric, written out so they can be checked by hand):
  confusion C[t, p] = number of pixels with label t predicted as p (ignore pixels excluded)
  IoU_c  = C[c,c] / (sum_p C[c,p] + sum_t C[t,c] - C[c,c])    (NaN if class c absent from
           both labels and predictions)
  Acc_c  = C[c,c] / sum_p C[c,p]                                (NaN if absent from labels)
  aAcc   = trace(C) / sum(C)
  mIoU   = nanmean_c IoU_c ;  mAcc = nanmean_c Acc_c
  fwIoU  = sum_c freq_c * IoU_c over classes with a defined IoU, freq_c = sum_p C[c,p] / sum(C)
Percentages (x100), as mmseg reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prove.data.labels import IGNORE_INDEX, NUM_CLASSES
from prove.tracking.schema import ALL_DOMAINS

ALL = ALL_DOMAINS  # the key of the overall (all domains) result


def confusion_matrix(pred: np.ndarray, label: np.ndarray, num_classes: int = NUM_CLASSES,
                     ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """(num_classes, num_classes) int64 counts; pixels labelled `ignore_index` are skipped."""
    pred = np.asarray(pred).reshape(-1).astype(np.int64)
    label = np.asarray(label).reshape(-1).astype(np.int64)
    if pred.shape != label.shape:
        raise ValueError(f"prediction has {pred.size} pixels, label {label.size}")
    keep = (label != ignore_index) & (label >= 0) & (label < num_classes)
    index = label[keep] * num_classes + pred[keep]
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def metrics_from_confusion(cm: np.ndarray) -> dict:
    """Overall and per-class metrics (in %) of one confusion matrix."""
    cm = cm.astype(np.float64)
    tp = np.diag(cm)
    label_count = cm.sum(axis=1)
    pred_count = cm.sum(axis=0)
    union = label_count + pred_count - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        acc = np.where(label_count > 0, tp / label_count, np.nan)
    total = cm.sum()
    freq = label_count / total if total else np.zeros_like(label_count)
    defined = ~np.isnan(iou)
    return dict(
        aAcc=100 * tp.sum() / total if total else float("nan"),
        mIoU=100 * float(np.nanmean(iou)) if defined.any() else float("nan"),
        mAcc=100 * float(np.nanmean(acc)) if (~np.isnan(acc)).any() else float("nan"),
        fwIoU=100 * float((freq[defined] * iou[defined]).sum()) if total else float("nan"),
        IoU=100 * iou,
        Acc=100 * acc,
        pixels=int(total),
    )


@dataclass
class DomainConfusion:
    """Confusion matrices per domain plus the overall one, filled image by image."""

    num_classes: int = NUM_CLASSES
    matrices: dict[str, np.ndarray] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)

    def add(self, domain: str, pred: np.ndarray, label: np.ndarray) -> np.ndarray:
        cm = confusion_matrix(pred, label, self.num_classes)
        for key in (domain, ALL):
            if key not in self.matrices:
                self.matrices[key] = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
                self.images[key] = 0
            self.matrices[key] += cm
            self.images[key] += 1
        return cm

    def results(self) -> dict[str, dict]:
        return {key: {**metrics_from_confusion(cm), "images": self.images[key]} for key, cm in self.matrices.items()}
