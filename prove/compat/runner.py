"""An MMEngine `Runner` whose checkpoints can be resumed on current PyTorch, and whose config
is formatted once.

Why: resuming needs full unpickling (see `prove.compat.checkpoint`), which we allow only for
files we vouch for. This subclass writes the trust sidecar right after each save, so every
checkpoint of a prove run (periodic, best, last) resumes. Remove together with
`prove.compat.checkpoint`.

MMEngine formats the whole config with yapf (`Config.pretty_text`) each time it dumps the
config and at every checkpoint it saves (the text goes into the checkpoint's meta): 11 times
in a 5-checkpoint training, 0.1-0.7 s each on 2 cores, more than the training itself in a
short run. The config does not change once the runner is built, so the text is made once.
"""

from __future__ import annotations

import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

from prove.compat.checkpoint import mark_written_by_prove


class FormattedOnce(Config):
    """A Config whose `pretty_text` is computed on first use and then kept (see the module doc)."""

    @property
    def pretty_text(self) -> str:
        text = self.__dict__.get("_prove_text")
        if text is None:
            text = Config.pretty_text.fget(self)
            object.__setattr__(self, "_prove_text", text)  # Config.__setattr__ writes config keys
        return text


class ProveRunner(Runner):
    @classmethod
    def from_cfg(cls, cfg) -> "ProveRunner":
        # the runner deep-copies its config: a FormattedOnce keeps its class and its text
        return super().from_cfg(cfg if isinstance(cfg, FormattedOnce) else FormattedOnce(dict(cfg)))

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        super().save_checkpoint(out_dir, filename, *args, **kwargs)
        path = osp.join(out_dir, filename)
        if osp.isfile(path):  # local backend; remote backends keep their own integrity
            mark_written_by_prove(path, note=f"checkpoint of {self.experiment_name}")
