"""What an executor is: a declared name and the function that starts a sweep's workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from prove.registry import Registry


@dataclass(frozen=True)
class Executor:
    name: str
    description: str
    # (sweep, experiment, parent run id, workers) -> [WorkerReport]
    run: Callable = field(repr=False, compare=False)
    aliases: tuple[str, ...] = ()
    # (sweep, experiment, workers) -> text: what a dry run shows would be submitted
    describe: Callable | None = field(default=None, repr=False, compare=False)
    # (sweep) -> None, raising ProveError: checked before anything is written or submitted
    preflight: Callable | None = field(default=None, repr=False, compare=False)


EXECUTORS: Registry[Executor] = Registry("executor")
