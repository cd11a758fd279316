"""An MMEngine `Runner` whose checkpoints can be resumed on current PyTorch.

Why: resuming needs full unpickling (see `prove.compat.checkpoint`), which we allow only for
files we vouch for. This subclass writes the trust sidecar right after each save, so every
checkpoint of a prove run (periodic, best, last) resumes. Remove together with
`prove.compat.checkpoint`.
"""

from __future__ import annotations

import os.path as osp

from mmengine.runner import Runner

from prove.compat.checkpoint import mark_written_by_prove


class ProveRunner(Runner):
    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        super().save_checkpoint(out_dir, filename, *args, **kwargs)
        path = osp.join(out_dir, filename)
        if osp.isfile(path):  # local backend; remote backends keep their own integrity
            mark_written_by_prove(path, note=f"checkpoint of {self.experiment_name}")
