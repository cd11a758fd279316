"""The stack's known messages, kept off prove's console and written to the training's log file.

A training's console used to be mostly messages that say nothing to a prove user:
- mmseg's UserWarning "Default ``avg_non_ignore`` is False ..." at every model build: prove keeps
  mmseg's default loss on purpose (the loss the group's numbers were trained with);
- mmengine's "FileClient" / "HardDiskBackend" deprecation warnings, raised by mmengine's own
  checkpoint hook, and "The prefix is not set in metric class IoUMetric." about mmseg's own metric;
- MLflow's INFO lines about its system-metrics monitor (started, no GPU, stopping, terminated);
- in a sweep's spawned workers, mmengine's note that it switches to forking data-loader workers.

Each is matched by its logger and message (`KNOWN`), so any other warning, a real one, still
reaches the console. While `quiet_console()` is active (every `prove train` and `prove test`),
known messages go to the training's log file only (MMEngine's `<work dir>/<timestamp>/<timestamp>.log`,
which `ProveRunner.build_logger` attaches); those of `prove test`, which has no log file, and
those of a training that failed before its runner existed, are dropped.
"""

from __future__ import annotations

import logging
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

WARNINGS_LOGGER = "py.warnings"  # the name logging.captureWarnings gives warnings, used here alike


@dataclass(frozen=True)
class Known:
    logger: str  # the record's logger name, or a parent of it
    pattern: str  # searched in the message
    why: str  # why a user need not see it
    max_level: int = logging.WARNING  # only records up to this level (an ERROR is never known noise)

    def matches(self, record: logging.LogRecord) -> bool:
        name = record.name
        return ((name == self.logger or name.startswith(self.logger + ".")) and record.levelno <= self.max_level
                and re.search(self.pattern, record.getMessage()) is not None)


KNOWN: tuple[Known, ...] = (
    Known(WARNINGS_LOGGER, r"Default ``avg_non_ignore`` is False",
          "mmseg's CrossEntropyLoss names its default at every build; prove keeps that default on purpose"),
    Known("mmengine", r'"FileClient" will be deprecated', "mmengine's checkpoint hook uses its own old API"),
    Known("mmengine", r'"HardDiskBackend" is the alias of "LocalBackend"', "the same, for the local disk"),
    Known("mmengine", r"The prefix is not set in metric class IoUMetric", "mmseg's metric class, not a prove choice"),
    Known(WARNINGS_LOGGER, r"Multi-processing start method `fork` is different from the previous setting",
          "a sweep worker is a spawned process; mmengine forks its data-loader workers from it, as in any training"),
    Known("mlflow.system_metrics", r"", "MLflow saying its monitor started, skipped the GPU or stopped",
          max_level=logging.INFO),
)


def is_known(record: logging.LogRecord) -> bool:
    return any(k.matches(record) for k in KNOWN)


class _KnownNoise(logging.Filter):
    """A filter for console handlers: known records are dropped there; those whose logger writes
    no log file of its own (warnings, MLflow) are handed to the training's log file."""

    def __init__(self):
        super().__init__()
        self.files: list[logging.Handler] = []
        self.pending: list[logging.LogRecord] = []  # before the training's log file exists
        self.active = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_known(record):
            return True
        if self.active and not record.name.startswith("mmengine"):  # mmengine's own file handler has it
            self.keep(record)
        return False

    def keep(self, record: logging.LogRecord) -> None:
        if self.files:
            for handler in self.files:  # whatever the file's level: these are what it keeps for the console
                handler.handle(record)
        else:
            self.pending.append(record)

    def attach(self, files: list[logging.Handler]) -> None:
        self.files = list(files)
        pending, self.pending = self.pending, []
        for record in pending:
            self.keep(record)


_NOISE = _KnownNoise()


def _console_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


def attach_training_log(logger: logging.Logger) -> None:
    """Called with a training's MMEngine logger: its console handlers leave known messages out,
    and its log file receives them (also those that came before it existed)."""
    for handler in _console_handlers(logger):
        handler.addFilter(_NOISE)
    if _NOISE.active:
        _NOISE.attach([h for h in logger.handlers if isinstance(h, logging.FileHandler)])


@contextmanager
def quiet_console():
    """Known messages (module doc) leave the console while the block runs; re-entrant, and a
    decorator too (`@quiet_console()` on a verb)."""
    if _NOISE.active:
        yield
        return
    mlflow_console = _console_handlers(logging.getLogger("mlflow"))
    previous_showwarning = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        record = logging.LogRecord(WARNINGS_LOGGER, logging.WARNING, filename, lineno,
                                   warnings.formatwarning(message, category, filename, lineno, line).rstrip(),
                                   None, None)
        if is_known(record):
            _NOISE.keep(record)
        else:
            previous_showwarning(message, category, filename, lineno, file, line)

    _NOISE.active = True
    warnings.showwarning = showwarning
    for handler in mlflow_console:
        handler.addFilter(_NOISE)
    try:
        yield
    finally:
        warnings.showwarning = previous_showwarning
        for handler in mlflow_console:
            handler.removeFilter(_NOISE)
        _NOISE.active = False
        _NOISE.files, _NOISE.pending = [], []


__all__ = ["KNOWN", "Known", "attach_training_log", "is_known", "quiet_console"]
