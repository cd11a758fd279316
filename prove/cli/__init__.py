"""The `prove` command line: one sub-command per verb, each built from its request dataclass.

MLproject entry points run `entrypoints/<name>.py`, which call `main()` here, and MLproject
itself is generated from the same request dataclasses (`prove.cli.generated`), so
`mlflow run . -e X -P k=v` and `prove X --k v` are the same code with the same defaults.

User errors (`ProveError`) print one line and exit with code 2, with nothing written.
Building the commands imports only the (light) request modules; each verb imports its heavy
machinery when it runs.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Sequence

import click

from prove import __version__
from prove.analysis.options import LeaderboardOptions
from prove.cli.listing import LISTINGS, text_table
from prove.cli.options import request_options, split
from prove.demo import DemoOptions
from prove.errors import ProveError
from prove.settings import COMMAND_ENV
from prove.evaluation.options import TestOptions
from prove.spec import TrainSpec, option
from prove.quality.options import QualityOptions
from prove.sweeps.options import AblationOptions
from prove.tracking.options import ImportOptions
from prove.tracking.server import ServerOptions
from prove.training.options import AdoptOptions, DoctorOptions, TrainOptions

FORMATS = ("table", "json", "markdown")


@dataclass(frozen=True)
class ListOptions:
    what: str = option(help="What to list.", argument=True, choices=tuple(LISTINGS))
    format: str = option("table", "Output format.", choices=FORMATS)


@dataclass(frozen=True)
class ModelsOptions:
    format: str = option("table", "Output format.", choices=FORMATS)


@dataclass(frozen=True)
class TrustOptions:
    paths: tuple = option(help="Checkpoint files.", argument=True, many=True, path=True)


@dataclass(frozen=True)
class GenerateOptions:
    check: bool = option(False, "Only say which generated files are stale (exit 1 if any); write nothing.")


# verb -> the request dataclasses its options come from (MLproject is generated from these too)
REQUESTS: dict[str, tuple] = {
    "list": (ListOptions,), "models": (ModelsOptions,), "doctor": (DoctorOptions,),
    "trust-checkpoint": (TrustOptions,), "train": (TrainSpec, TrainOptions), "test": (TestOptions, TrainSpec),
    "leaderboard": (LeaderboardOptions,), "import-results": (ImportOptions,), "demo": (DemoOptions,),
    "ablation": (AblationOptions,), "server": (ServerOptions,), "generate": (GenerateOptions,),
    "adopt": (AdoptOptions,), "quality": (QualityOptions,),
}


class ProveGroup(click.Group):
    """Turns `ProveError` into a clean message and exit code 2 for every sub-command."""

    def invoke(self, ctx: click.Context):
        if ctx.protected_args:  # runs say which command made them (mlflow.source.name); workers inherit it
            os.environ[COMMAND_ENV] = f"prove {ctx.protected_args[0]}"
        try:
            from prove.settings import apply_shared_umask

            apply_shared_umask()  # group-writable outputs inside cluster jobs (PROVE_SHARED_OUTPUTS)
            return super().invoke(ctx)
        except ProveError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except Exception as exc:
            if not type(exc).__module__.startswith("mlflow."):
                raise
            # the store refused or failed a request (a URI that is no MLflow server, a permission):
            # what it said, without a traceback through MLflow's REST layer
            uri = os.environ.get("MLFLOW_TRACKING_URI", "the tracking store")
            click.echo(f"Error: {uri}: {str(exc).splitlines()[0]}", err=True)
            ctx.exit(1)
        finally:  # the run `mlflow run` made, unless prove made it its own (also after bad input)
            if "MLFLOW_RUN_ID" in os.environ or "prove.tracking.client" in sys.modules:
                from prove.tracking import client

                client.settle_project_run()


@click.group(cls=ProveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prove")
def cli() -> None:
    """Reproducible augmentation studies for segmentation under adverse weather."""
    from prove.spec import load_declarations

    load_declarations()


def verb(name: str, hidden: bool = False):
    """A sub-command whose options are generated from `REQUESTS[name]`."""

    def decorate(func):
        return cli.command(name, hidden=hidden)(request_options(*REQUESTS[name])(func))

    return decorate


@verb("list")
def list_command(what: str, format: str) -> None:
    """List strategies, generators, datasets, presets, studies, models, losses, stages, executors or schedules."""
    listing = LISTINGS[what]
    if format == "markdown":
        if listing.markdown is None:
            raise ProveError(f"{what} have no markdown table; use --format table or json")
        click.echo(listing.markdown())
        return
    rows = listing.rows()
    click.echo(json.dumps(rows, indent=1, default=str) if format == "json" else text_table(rows, listing.columns))
    if what == "models" and format == "table":
        for r in rows:
            if r["needs"]:
                click.echo(f"\n{r['name']} needs: " + "; ".join(r["needs"]))


@verb("models")
def models_command(format: str) -> None:
    """List the model zoo (the same as `prove list models`)."""
    list_command.callback("models", format)


@verb("doctor")
def doctor_command(model: str) -> None:
    """Check the installation: versions, compatibility shims, one training step on CPU/GPU."""
    from prove.training.doctor import run_doctor

    run_doctor(model)


@verb("trust-checkpoint")
def trust_checkpoint_command(paths: tuple[str, ...]) -> None:
    """Vouch for checkpoint files so they may be fully unpickled (e.g. resumed).

    Only for files whose origin you trust: unpickling can run code.
    """
    from prove.compat.checkpoint import mark_written_by_prove

    for path in paths:
        side = mark_written_by_prove(path, note="vouched for with `prove trust-checkpoint`")
        click.echo(f"trusted {path} (record: {side})")


@verb("train")
def train_command(**values) -> None:
    """Train one model; logged to MLflow, resumable, skipped when already done."""
    options = TrainOptions(**split(values, TrainOptions))
    spec = TrainSpec.create(**values)  # validates before anything heavy is imported
    from prove.training.engine import TrainingInterrupted
    from prove.training.run import exit_code_for, train

    try:
        outcome = train(spec, force=options.force, experiment=options.experiment or None,
                        system_metrics=options.system_metrics == "on", study=options.study)
    except TrainingInterrupted as exc:
        sys.exit(exit_code_for(exc))
    click.echo(outcome.run_id)


@verb("test")
def test_command(**values) -> None:
    """Evaluate a training run per domain and per class; one result per (run, test set, checkpoint)."""
    o = TestOptions(**split(values, TestOptions))
    spec = None if o.run_id else TrainSpec.create(**values)
    from prove.evaluation.run import outcome_json, test

    outcomes = test(o.run_id or None, spec, o.checkpoint, o.test_dataset, o.test_split, o.test_data_root,
                    o.test_domain_csv, o.force, o.samples, o.eval_batch_size, o.experiment or None, o.test_split_csv,
                    o.study)
    click.echo(outcome_json(outcomes))


@verb("leaderboard")
def leaderboard_command(**values) -> None:
    """Leaderboards, comparisons, CD diagrams, coverage: a report computed from the store."""
    from prove.analysis.run import build_leaderboard, request_from

    click.echo(str(build_leaderboard(request_from(LeaderboardOptions(**values))).report))


@verb("quality")
def quality_command(**values) -> None:
    """KID and FID of generated images against real images of their target domain (or --import-csv scores)."""
    from prove.quality.run import run_quality

    results = run_quality(QualityOptions(**values))
    click.echo(json.dumps([dict(generator=r.generator, dataset=r.dataset, target_domain=r.target_domain,
                                features=r.features, FID=r.fid, KID=r.kid, KID_std=r.kid_std, run_id=r.run_id)
                           for r in results]))


@verb("adopt")
def adopt_command(**values) -> None:
    """Register an existing mmseg training folder (config + checkpoints) as a training run, to test it."""
    o = AdoptOptions(**values)
    given = {k: getattr(o, k) for k in ("stage", "dataset", "model", "strategy", "ratio", "aux_loss", "pretrained",
                                        "seed")}
    from prove.training.adopt import adopt

    outcome = adopt(o.folder, given, config=o.config, experiment=o.experiment or None, trust=o.trust, study=o.study)
    click.echo(json.dumps(dict(run_id=outcome.run_id, action=outcome.action, run_name=outcome.spec.run_name,
                               checkpoints=outcome.checkpoints)))


@verb("import-results")
def import_results_command(**values) -> None:
    """Bring results kept in a CSV into the store as test runs (docs/leaderboard.md#import)."""
    o = ImportOptions(**values)
    from prove.tracking.importer import import_results

    report = import_results(o.file, experiment=o.experiment or None, force=o.force, study=o.study)
    click.echo(json.dumps(dict(imported=report.imported, skipped=report.skipped, replaced=report.replaced)))


@verb("demo")
def demo_command(**values) -> None:
    """The study in miniature: 5 strategies x S1/S2 on the embedded benchmark, tested, ranked."""
    from prove.demo import run_demo

    o = DemoOptions(**values)
    click.echo(str(run_demo(max_iters=o.max_iters, output=o.output, experiment=o.experiment, workers=o.workers).report))


@verb("ablation")
def ablation_command(**values) -> None:
    """Run a sweep: train then test only what is missing, here or on SLURM, LSF or PBS."""
    o = AblationOptions(**values)
    from prove.sweeps.presets import resolve_sweep
    from prove.sweeps.run import run_sweep

    if o.worker:
        from prove.sweeps.worker import run_pull_worker

        run_pull_worker(resolve_sweep(o.preset, o.sweep), o.experiment or None, o.parent_run, o.worker_name,
                        o.stop_after_min, o.report, o.stdout, o.stderr)
        return
    run_sweep(resolve_sweep(o.preset, o.sweep), o.experiment or None, dry_run=o.dry_run, executor=o.executor,
              workers=o.workers, do_reconcile=o.reconcile, plan_csv=o.plan_csv)


@verb("server")
def server_command(**values) -> None:
    """Run the shared MLflow tracking server (PostgreSQL, basic auth, proxied artifacts)."""
    from prove.tracking.server import run_server

    o = ServerOptions(**values)
    code = run_server(o.backend_store_uri, o.artifacts_destination, o.host, o.port, o.workers, o.admin_username,
                      o.admin_password or None, o.no_auth, o.default_permission, o.allowed_hosts,
                      o.auth_cache_seconds, echo=click.echo)
    if code:
        raise SystemExit(code)


@verb("generate", hidden=True)
def generate_command(check: bool) -> None:
    """(For contributors) write MLproject and the docs tables from what the code declares."""
    from prove.cli.generated import ROOT, doc_tables, mlproject_text, write_all

    if check:
        stale = [] if (ROOT / "MLproject").read_text() == mlproject_text(REQUESTS) else ["MLproject"]
        stale += [f"{p.relative_to(ROOT)} ({marker})" for p, marker, old, new in doc_tables() if old != new]
        for name in stale:
            click.echo(f"stale: {name}")
        raise SystemExit(1 if stale else 0)
    for path in write_all(REQUESTS):
        click.echo(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="prove")


if __name__ == "__main__":  # pragma: no cover  (`python -m prove.cli ARGS` == `prove ARGS`)
    main(sys.argv[1:])
