"""The options of `prove ablation` (CLI and MLproject read them)."""

from __future__ import annotations

from dataclasses import dataclass

from prove.spec import EXPERIMENT_HELP, option
from prove.sweeps.presets import PRESETS


@dataclass(frozen=True)
class AblationOptions:
    preset: str = option("", f"Built-in sweep: {', '.join(PRESETS.names())} (`prove list presets`).")
    sweep: str = option("", "Sweep YAML file (docs/ablation.md) instead of a preset.")
    executor: str = option("local", "Where the workers run: local (processes here) or slurm (a submitit job "
                           "array); `prove list executors`.")
    workers: int = option(1, "Parallel workers (local processes or cluster array tasks).")
    experiment: str = option("", EXPERIMENT_HELP)
    plan_csv: str = option("", "Also write the plan (one row per training) to this CSV.")
    dry_run: bool = option(False, "Print the plan with counts; run nothing.")
    reconcile: bool = option(False, "First mark runs left RUNNING by dead jobs as resumable and drop expired claims.")
