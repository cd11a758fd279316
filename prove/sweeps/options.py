"""The options of `prove ablation` (CLI and MLproject read them)."""

from __future__ import annotations

from dataclasses import dataclass

from prove.spec import EXPERIMENT_HELP, option
from prove.sweeps.presets import PRESETS


@dataclass(frozen=True)
class AblationOptions:
    preset: str = option("", f"Built-in sweep: {', '.join(PRESETS.names())} (`prove list presets`).")
    sweep: str = option("", "Sweep YAML file (docs/ablation.md) instead of a preset.")
    executor: str = option("local", "Where the workers run: local (processes here), or slurm, lsf, pbs (one "
                           "batch job per worker, through PSI/J); `prove list executors`.")
    workers: int = option(1, "Parallel workers (local processes or cluster jobs).")
    experiment: str = option("", EXPERIMENT_HELP)
    plan_csv: str = option("", "Also write the plan (one row per training) to this CSV.")
    dry_run: bool = option(False, "Print the plan with counts; run nothing.")
    reconcile: bool = option(False, "First mark runs left RUNNING by dead jobs as resumable and drop expired claims.")
    worker: bool = option(False, "Run one pull worker here: claim specs from the store until none is left or its "
                          "time is up (for any scheduler's job script; docs/cluster.md#pull-workers).")
    worker_name: str = option("", "--worker: its name in logs and reports (default: host-pid); {array_index} in it, "
                              "--report, --stdout and --stderr is the job array element's index.")
    stop_after_min: float = option(0.0, "--worker: hand the spec back and stop after this many minutes (the job's "
                                   "run limit minus a margin); 0 = no limit. SIGUSR2 stops it too.")
    parent_run: str = option("", "--worker: the sweep run its trainings are nested under (set by the executors).")
    report: str = option("", "--worker: write the worker's report (JSON) to this file.")
    stdout: str = option("", "--worker: append its output to this file (one per array element with {array_index}).")
    stderr: str = option("", "--worker: append its errors and progress to this file.")
