"""`prove demo`: the whole study in miniature on the embedded benchmark.

Trains a small grid (the baseline, two standard and two generative strategies, stages S1 and
S2, the tiny CNN), tests every checkpoint of every training on every weather domain, and
builds the leaderboard report from the store. Everything goes through the same code as a real
study (train -> test -> store -> leaderboard), so the demo is also the end-to-end check that
the pieces fit. Rerunning it skips what is done (trainings and tests are keyed by spec).

The strategies are chosen so the findings mean something: S1 trains on clear_day only, so
its baseline collapses on night and fog, and the two generators make exactly those
conditions (physics-based fog, photometric night) from clear images.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import yaml

from prove.leaderboard import LeaderboardOutcome, LeaderboardRequest, build_leaderboard
from prove.sweep import Sweep, from_mapping

DEMO_EXPERIMENT = "prove-demo"
DEMO_MAX_ITERS = 300
DEMO_STRATEGIES = ("baseline", "std_autoaugment", "std_photometric_distort", "gen_physics_fog",
                   "gen_photometric_night")


def demo_plan(max_iters: int = DEMO_MAX_ITERS) -> Sweep:
    return from_mapping(dict(name="demo", grid={"stage": ["s1", "s2"], "strategy": list(DEMO_STRATEGIES)},
                             fixed={"dataset": "weather_bench", "model": "fcn_r18-tiny", "max_iters": max_iters},
                             checkpoint="all"), "demo")


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def run_demo(max_iters: int = DEMO_MAX_ITERS, output: str | Path = "demo", experiment: str = DEMO_EXPERIMENT,
             echo=lambda s: click.echo(s, err=True)) -> LeaderboardOutcome:
    import mlflow

    from prove.evaluate import test
    from prove.train import train

    plan = demo_plan(max_iters)
    specs = plan.specs()  # validated before anything runs
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / "plan.yaml"  # the plan travels with the report (coverage reads it)
    plan_file.write_text(yaml.safe_dump(plan.to_mapping(), sort_keys=False))
    start = time.monotonic()
    for i, spec in enumerate(specs, 1):
        elapsed = time.monotonic() - start
        eta = f", about {_clock(elapsed / (i - 1) * (len(specs) - i + 1))} left" if i > 1 else ""
        echo(f"[demo {i}/{len(specs)}] {spec.run_name}: train + test every checkpoint "
             f"(elapsed {_clock(elapsed)}{eta})")
        trained = train(spec, experiment=experiment)
        test(run_id=trained.run_id, checkpoint="all", samples=2, experiment=experiment)
    echo(f"[demo] {len(specs)} trainings tested in {_clock(time.monotonic() - start)}; building the leaderboard")
    outcome = build_leaderboard(LeaderboardRequest(out_dir=out, experiments=(experiment,), plan=plan_file,
                                                   experiment=experiment), echo=echo)
    uri = mlflow.get_tracking_uri()
    echo(f"[demo] done in {_clock(time.monotonic() - start)}.")
    echo(f"[demo] report: {outcome.report.resolve()}")
    echo(f"[demo] browse the runs: mlflow ui --backend-store-uri {uri}")
    return outcome
