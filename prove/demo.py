"""`prove demo`: the whole study in miniature on the embedded benchmark.

Trains the demo's grid (`prove.sweeps.presets.demo_grid`: the baseline, two standard and two
generative strategies, stages S1 and S2, the tiny CNN), tests every checkpoint of every
training on every weather domain, and builds the leaderboard report from the store.
Everything goes through the same code as a real study (train -> test -> store ->
leaderboard), so the demo is also the end-to-end check that the pieces fit. Rerunning it
skips what is done (trainings and tests are keyed by spec).

Importing this module is free (the CLI reads `DemoOptions` from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from prove.spec import option
from prove.sweeps.presets import DEMO_EXPERIMENT, DEMO_MAX_ITERS, DEMO_OUTPUT


@dataclass(frozen=True)
class DemoOptions:
    max_iters: int = option(DEMO_MAX_ITERS, "Training iterations per run.")
    output: str = option(DEMO_OUTPUT, "Folder for the leaderboard report.")
    experiment: str = option(DEMO_EXPERIMENT, "MLflow experiment of the demo runs.")


def run_demo(max_iters: int = DEMO_MAX_ITERS, output: str | Path = DEMO_OUTPUT, experiment: str = DEMO_EXPERIMENT,
             echo=lambda s: click.echo(s, err=True)):
    import yaml

    from prove.analysis.run import LeaderboardRequest, build_leaderboard
    from prove.evaluation.run import test
    from prove.progress import LiveBar, Progress, format_duration, interactive
    from prove.sweeps.definition import from_mapping
    from prove.sweeps.presets import demo_grid
    from prove.tracking import client
    from prove.training.run import train

    grid = from_mapping(demo_grid(max_iters), "demo")
    specs = grid.specs()  # validated before anything runs
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / "plan.yaml"  # the plan travels with the report (coverage reads it)
    plan_file.write_text(yaml.safe_dump(grid.to_mapping(), sort_keys=False))
    progress = Progress(len(specs))
    bar = LiveBar(len(specs), "demo trainings") if interactive() else None
    for i, spec in enumerate(specs, 1):
        line = f"[demo {i}/{len(specs)}] {spec.run_name}: train + test every checkpoint ({progress.status()})"
        bar.note(line) if bar is not None else echo(line)
        trained = train(spec, experiment=experiment)
        test(run_id=trained.run_id, checkpoint="all", samples=2, experiment=experiment)
        progress.advance()
        if bar is not None:
            bar.update(progress.done)
    if bar is not None:
        bar.close()
    echo(f"[demo] {len(specs)} trainings tested in {format_duration(progress.elapsed)}; building the leaderboard")
    outcome = build_leaderboard(LeaderboardRequest(out_dir=out, experiments=(experiment,), plan=plan_file,
                                                   experiment=experiment), echo=echo)
    echo(f"[demo] done in {format_duration(progress.elapsed)}.")
    echo(f"[demo] report: {outcome.report.resolve()}")
    echo(f"[demo] the runs in the MLflow UI: {client.runs_url(client.experiment_id(experiment))}")
    return outcome
