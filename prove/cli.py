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


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="prove")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
