"""The `prove` command line: one sub-command per verb.

MLproject entry points run `entrypoints/<name>.py`, which call `main()` here, so
`mlflow run . -e X -P k=v` and `prove X --k v` are the same code with the same defaults
(a test compares the MLproject defaults with the options below).

User errors (`ProveError`) print one line and exit with code 2.
"""

from __future__ import annotations

import json
import sys
from typing import Sequence

import click

from prove import __version__
from prove.errors import ProveError


class ProveGroup(click.Group):
    """Turns `ProveError` into a clean message and exit code 2 for every sub-command."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ProveError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=ProveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prove")
def cli() -> None:
    """Reproducible augmentation studies for segmentation under adverse weather."""
    from prove.settings import load_plugins

    load_plugins()


@cli.command("models")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True,
              help="Output format.")
def models_command(fmt: str) -> None:
    """List the model zoo (name, family, availability, pretrained weights)."""
    from prove.models import REQUIREMENT_HINTS, get_model_card, list_models, markdown_table

    if fmt == "markdown":
        click.echo(markdown_table())
        return

    rows = []
    for name in list_models():
        card = get_model_card(name)
        missing = card.missing_requirements()
        rows.append(dict(
            name=name, family=card.family, tiny=card.tiny, available=not missing,
            needs=[REQUIREMENT_HINTS[m] for m in missing], pretrained=card.pretrained,
            source=card.config or "inline (prove.models.zoo)", description=card.description,
        ))
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
        return
    width = max(len(r["name"]) for r in rows)
    click.echo(f"{'model':<{width}}  {'family':<13} {'size':<6} {'status':<12} description")
    for r in rows:
        status = "available" if r["available"] else "needs deps"
        click.echo(f"{r['name']:<{width}}  {r['family']:<13} {'tiny' if r['tiny'] else 'full':<6} {status:<12} {r['description']}")
    for r in rows:
        if r["needs"]:
            click.echo(f"\n{r['name']} needs: " + "; ".join(r["needs"]))


@cli.command("doctor")
@click.option("--model", default="fcn_r18-tiny", show_default=True, help="Model to train one step with.")
def doctor_command(model: str) -> None:
    """Check the installation: versions, compatibility shims, one training step on CPU/GPU."""
    from prove.doctor import run_doctor

    run_doctor(model)


@cli.command("trust-checkpoint")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def trust_checkpoint_command(paths: tuple[str, ...]) -> None:
    """Vouch for checkpoint files so they may be fully unpickled (e.g. resumed).

    Only for files whose origin you trust: unpickling can run code.
    """
    from prove.compat.checkpoint import mark_written_by_prove

    for path in paths:
        side = mark_written_by_prove(path, note="vouched for with `prove trust-checkpoint`")
        click.echo(f"trusted {path} (record: {side})")


def spec_options(func):
    """One click option per `TrainSpec` field, with the dataclass default (the one home)."""
    from dataclasses import fields

    from prove.spec import HELP, TrainSpec

    for f in reversed(fields(TrainSpec)):
        kind = {int: int, float: float}.get(type(f.default), str)
        func = click.option(f"--{f.name.replace('_', '-')}", f.name, type=kind, default=f.default,
                            show_default=True, help=HELP[f.name])(func)
    return func


@cli.command("train")
@spec_options
@click.option("--force", is_flag=True, default=False, help="Train again even if a finished run has this spec.")
@click.option("--experiment", default="prove", show_default=True, help="MLflow experiment name.")
def train_command(force: bool, experiment: str, **options) -> None:
    """Train one model; logged to MLflow, resumable, skipped when already done."""
    from prove.spec import TrainSpec

    spec = TrainSpec.create(**options)  # validates before anything heavy is imported
    from prove.engine import TrainingInterrupted
    from prove.train import exit_code_for, train

    try:
        outcome = train(spec, force=force, experiment=experiment)
    except TrainingInterrupted as exc:
        sys.exit(exit_code_for(exc))
    click.echo(outcome.run_id)


@cli.command("test")
@click.option("--run-id", default="", help="Training run to test (default: the finished run of the spec given by the options below).")
@click.option("--checkpoint", default="last", show_default=True, help="last, best, all, or an iteration number.")
@click.option("--test-dataset", default="", help="Test set (any registered dataset; default: the training dataset).")
@click.option("--test-split", default="", help="Split to test on (default: test where the dataset has one, else val).")
@click.option("--test-data-root", default="", help="Root of the test dataset (default: its env var / the training root).")
@click.option("--test-domain-csv", default="", help="image,domain CSV for a test set without weather tags.")
@click.option("--samples", default=4, show_default=True, type=int, help="Sample predictions saved as PNGs.")
@click.option("--eval-batch-size", default=4, show_default=True, type=int, help="Images per inference batch.")
@spec_options
@click.option("--force", is_flag=True, default=False, help="Evaluate again and replace an existing result.")
@click.option("--experiment", default="prove", show_default=True, help="MLflow experiment name.")
def test_command(run_id, checkpoint, test_dataset, test_split, test_data_root, test_domain_csv, samples,
                 eval_batch_size, force, experiment, **options) -> None:
    """Evaluate a training run per domain and per class; one result per (run, test set, checkpoint)."""
    from prove.spec import TrainSpec

    spec = None if run_id else TrainSpec.create(**options)
    from prove.evaluate import outcome_json, test

    outcomes = test(run_id or None, spec, checkpoint, test_dataset, test_split, test_data_root, test_domain_csv,
                    force, samples, eval_batch_size, experiment)
    click.echo(outcome_json(outcomes))


@cli.command("leaderboard")
@click.option("--stage", default="all", show_default=True, help="Stages to report, comma-separated (s1,s2,cg) or all.")
@click.option("--experiments", default="", help="MLflow experiments to read, comma-separated (default: all).")
@click.option("--tracking-uri", default="", help="Tracking store (default: MLFLOW_TRACKING_URI / ./mlruns).")
@click.option("--output", default="leaderboard", show_default=True, help="Folder for report.md, tables/ and plots/.")
@click.option("--metric", default="mIoU", show_default=True, help="Metric ranked: mIoU, mAcc, aAcc or fwIoU.")
@click.option("--filter", "filters", default="", help="Keep only rows with column=value, comma-separated "
              "(e.g. dataset=acdc,pretrained=true).")
@click.option("--exclusions", default="exclusions.yaml", show_default=True,
              help="YAML file of exclusions (field, value, reason); used when it exists.")
@click.option("--plan", default="", help="Plan YAML (grid of specs) for coverage: planned vs trained vs tested.")
@click.option("--compare", default="auto", show_default=True, help="Settings to compare, column:a:b comma-separated "
              "(e.g. stage:s1:s2,pretrained:true:false); auto = those present.")
@click.option("--cd-blocks", default="dataset,model", show_default=True,
              help="Columns whose combinations are the blocks of the critical-difference test.")
@click.option("--experiment", default="prove", show_default=True, help="MLflow experiment of the analysis run.")
@click.option("--refresh", is_flag=True, default=False,
              help="Rebuild the cached tables from the store (after `mlflow gc` or restoring a backup).")
def leaderboard_command(stage, experiments, tracking_uri, output, metric, filters, exclusions, plan, compare,
                        cd_blocks, experiment, refresh) -> None:
    """Leaderboards, comparisons, CD diagrams, coverage: a report computed from the store."""
    from pathlib import Path

    from prove.analysis.report import ReportOptions, parse_comparisons, parse_filters
    from prove.leaderboard import DEFAULT_EXCLUSIONS, LeaderboardRequest, build_leaderboard, existing_file, parse_list

    options = ReportOptions(metric=metric, stages=parse_list(stage), filters=parse_filters(filters),
                            comparisons=parse_comparisons(compare), cd_blocks=parse_list(cd_blocks) or ("dataset", "model"))
    request = LeaderboardRequest(
        out_dir=Path(output), tracking_uri=tracking_uri or None, experiments=parse_list(experiments), options=options,
        exclusions=existing_file(exclusions, "exclusions", DEFAULT_EXCLUSIONS), plan=existing_file(plan, "plan"),
        experiment=experiment, refresh=refresh)
    outcome = build_leaderboard(request)
    click.echo(str(outcome.report))


@cli.command("import-results")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--experiment", default="prove", show_default=True, help="MLflow experiment to import into.")
@click.option("--force", is_flag=True, default=False, help="Replace imported results whose values changed.")
def import_results_command(file: str, experiment: str, force: bool) -> None:
    """Bring results kept in a CSV into the store as test runs (docs/leaderboard.md#import)."""
    from prove.importer import import_results

    report = import_results(file, experiment=experiment, force=force)
    click.echo(json.dumps(dict(imported=report.imported, skipped=report.skipped, replaced=report.replaced)))


@cli.command("demo")
@click.option("--max-iters", default=300, show_default=True, type=int, help="Training iterations per run.")
@click.option("--output", default="demo", show_default=True, help="Folder for the leaderboard report.")
@click.option("--experiment", default="prove-demo", show_default=True, help="MLflow experiment of the demo runs.")
def demo_command(max_iters: int, output: str, experiment: str) -> None:
    """The study in miniature: 5 strategies x S1/S2 on the embedded benchmark, tested, ranked."""
    from prove.demo import run_demo

    outcome = run_demo(max_iters=max_iters, output=output, experiment=experiment)
    click.echo(str(outcome.report))


@cli.command("ablation")
@click.option("--preset", default="", help="Built-in sweep: stage1, stage2, cityscapes-gen, ratio, combination, "
              "from-scratch, noise, loss, batch-size, demo.")
@click.option("--sweep", "sweep_file", default="", help="Sweep YAML file (docs/ablation.md) instead of a preset.")
@click.option("--executor", default="local", show_default=True, help="local or slurm (submitit job array).")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Parallel workers (local processes or SLURM array tasks).")
@click.option("--experiment", default="prove", show_default=True, help="MLflow experiment of the sweep's runs.")
@click.option("--plan-csv", default="", help="Also write the plan (one row per training) to this CSV.")
@click.option("--dry-run", is_flag=True, default=False, help="Print the plan with counts; run nothing.")
@click.option("--reconcile", is_flag=True, default=False,
              help="First mark runs left RUNNING by dead jobs as resumable and drop expired claims.")
def ablation_command(preset, sweep_file, executor, workers, experiment, plan_csv, dry_run, reconcile) -> None:
    """Run a sweep: train then test only what is missing, locally or on SLURM."""
    from prove.ablation import run_sweep
    from prove.sweep import resolve

    sweep = resolve(preset, sweep_file)
    run_sweep(sweep, experiment, dry_run=dry_run, executor=executor, workers=workers, do_reconcile=reconcile,
              plan_csv=plan_csv)


def _register_server() -> None:
    from prove.server import server_command  # imports only click and the standard library

    cli.add_command(server_command, "server")


_register_server()


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="prove")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
