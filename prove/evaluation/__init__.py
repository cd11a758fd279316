"""The `test` verb: a finished training's checkpoints -> one result per (training, test set,
checkpoint), per domain and per class, in the tracking store.

- `metrics`: confusion matrices -> IoU, Acc, mIoU, mAcc, aAcc, fwIoU (pure numpy);
- `inference`: the model's own mmseg inference over a test split, one pass per checkpoint;
- `artifacts`: what a test run keeps (tables, confusion matrices, sample predictions);
- `run`: the verb (`test()`): selection, dedupe by result key, tracking.
"""
