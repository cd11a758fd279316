"""An MMEngine `Runner` whose checkpoints can be resumed on current PyTorch, and whose config
is formatted once.

Why: resuming needs full unpickling (see `prove.compat.checkpoint`), which we allow only for
files we vouch for. This subclass writes the trust sidecar right after each save, so every
checkpoint of a prove run (periodic, best, last) resumes. Remove together with
`prove.compat.checkpoint`.

Its logger keeps the stack's known messages off the console (`prove.compat.console`).

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
from prove.compat.console import attach_training_log


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

    def build_logger(self, *args, **kwargs):
        logger = super().build_logger(*args, **kwargs)
        attach_training_log(logger)  # the stack's known messages: in this log file, not on the console
        return logger

    def load_or_resume(self) -> None:
        # A fresh work dir has nothing to resume: mmengine would print "Did not find
        # last_checkpoint to be resumed." on every new training.
        if self._resume and self._load_from is None and not osp.isfile(osp.join(self.work_dir, "last_checkpoint")):
            self._resume = False
        super().load_or_resume()

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        super().save_checkpoint(out_dir, filename, *args, **kwargs)
        path = osp.join(out_dir, filename)
        if osp.isfile(path):  # local backend; remote backends keep their own integrity
            mark_written_by_prove(path, note=f"checkpoint of {self.experiment_name}")
