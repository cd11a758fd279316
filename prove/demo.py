"""`prove demo`: the whole study in miniature on the embedded benchmark.

Trains the demo's grid (`prove.sweeps.presets.demo_grid`: the baseline, two standard and two
generative strategies, stages S1 and S2, the tiny CNN), tests every checkpoint of every
training on every weather domain, and builds the leaderboard report from the store.
Everything goes through the same code as a real study (`prove ablation --preset demo`, then
`prove leaderboard`), so the demo is also the end-to-end check that the pieces fit. Rerunning
it skips what is done (trainings and tests are keyed by spec).

The trainings run in parallel local workers, one CPU each: a CPU-sized model trains 1.5x
faster per core that way than with two threads per training (docs/performance.md).

Importing this module is free (the CLI reads `DemoOptions` from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from prove.spec import option
from prove.sweeps.presets import DEMO_EXPERIMENT, DEMO_MAX_ITERS, DEMO_OUTPUT

MAX_DEMO_WORKERS = 4  # more tiny trainings at once gain little and each holds ~1.5 GB


@dataclass(frozen=True)
class DemoOptions:
    max_iters: int = option(DEMO_MAX_ITERS, "Training iterations per run.")
    output: str = option(DEMO_OUTPUT, "Folder for the leaderboard report.")
    experiment: str = option(DEMO_EXPERIMENT, "MLflow experiment of the demo runs.")
    workers: int = option(0, f"Trainings at once, each on one CPU (0: one per CPU this job may use, at most "
                          f"{MAX_DEMO_WORKERS}).")


def demo_workers(requested: int = 0) -> int:
    from prove.errors import ProveError
    from prove.settings import allowed_cpus

    if requested < 0:
        raise ProveError(f"workers must be >= 0 (0: one per CPU), got {requested}")
    return requested or max(1, min(MAX_DEMO_WORKERS, allowed_cpus()[0]))


def run_demo(max_iters: int = DEMO_MAX_ITERS, output: str | Path = DEMO_OUTPUT, experiment: str = DEMO_EXPERIMENT,
             workers: int = 0, echo=lambda s: click.echo(s, err=True)):
    import yaml

    from prove.analysis.run import LeaderboardRequest, build_leaderboard
    from prove.data.synthetic.benchmark import ensure_generated
    from prove.progress import Progress, format_duration
    from prove.sweeps.definition import from_mapping
    from prove.sweeps.presets import demo_grid
    from prove.sweeps.run import run_sweep
    from prove.tracking import client

    workers = demo_workers(workers)
    grid = from_mapping(demo_grid(max_iters), "demo")
    specs = grid.specs()  # validated before anything runs
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / "plan.yaml"  # the plan travels with the report (coverage reads it)
    plan_file.write_text(yaml.safe_dump(grid.to_mapping(), sort_keys=False))
    progress = Progress(len(specs))
    ensure_generated()  # once, here, not in each worker at the same time
    echo(f"[demo] {len(specs)} trainings, each tested at every checkpoint on every weather domain, "
         f"{workers} at a time")
    outcome = run_sweep(grid, experiment=experiment, workers=workers)
    failed = [f for r in outcome.reports for f in r.failed]
    if failed:
        from prove.errors import ProveError

        raise ProveError(f"{len(failed)} demo trainings failed: " + "; ".join(f"{name}: {err}" for name, err in failed))
    echo(f"[demo] {len(specs)} trainings tested in {format_duration(progress.elapsed)}; building the leaderboard")
    report = build_leaderboard(LeaderboardRequest(out_dir=out, experiments=(experiment,), plan=plan_file,
                                                  experiment=experiment), echo=echo)
    echo(f"[demo] done in {format_duration(progress.elapsed)}.")
    echo(f"[demo] report: {report.report.resolve()}")
    echo(f"[demo] the runs in the MLflow UI: {client.runs_url(client.experiment_id(experiment))}")
    return report
