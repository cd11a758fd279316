"""`prove leaderboard`: the tracking store -> the report (prove.analysis.report) -> an
analysis run that holds it.

Data flow: the store is synced into the tidy parquet tables (incremental, cached per store and
experiment set under the prove cache), the filters and declared exclusions are applied to
every table, the report is written to the output folder and the folder is logged as the
artifacts of a run tagged `prove.kind = analysis` (never read back as a result).

When nothing changed since the last report (same tables, options, exclusions and plan), the
existing report is kept and no new analysis run is made: a rerun in a loop costs two
store queries per table.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import pandas as pd

from prove.analysis.exclusions import load_exclusions
from prove.analysis.latex import MANIFEST_FILE as LATEX_MANIFEST, check_folder as check_latex_folder
from prove.analysis.options import (
    DEFAULT_CD_BLOCKS, DEFAULT_EXCLUSIONS, DEFAULT_OUTPUT, LeaderboardOptions, existing_file, parse_comparisons,
    parse_filters, parse_list,
)
from prove.analysis.report import REPORT_FILE, RUNS_READ_FILE, ReportFiles, ReportInputs, ReportOptions, write_report
from prove.analysis.store import SyncReport, planned_table, sync_results, sync_trainings
from prove.errors import ProveError
from prove.settings import cache_dir
from prove.tracking import client, schema

FINGERPRINT_FILE = ".prove-report.json"


@dataclass(frozen=True)
class LeaderboardRequest:
    out_dir: Path = Path(DEFAULT_OUTPUT)
    tracking_uri: str | None = None
    experiments: tuple[str, ...] = ()  # empty: every experiment of the store
    options: ReportOptions = field(default_factory=ReportOptions)
    exclusions: Path | None = None
    plan: Path | None = None
    plan_preset: str = ""  # a preset named as the plan (`--plan ratio`)
    cache_dir: Path | None = None  # default: <prove cache>/leaderboard/<store + experiments>
    log_run: bool = True
    experiment: str | None = None  # where the analysis run goes (default: as for train/test)
    refresh: bool = False  # rebuild the cached tables from the store
    latex: Path | None = None  # also the paper's tables and figures (prove.analysis.latex)
    quality: pd.DataFrame | None = None  # scores from a --quality CSV, read and checked up front


@dataclass
class LeaderboardOutcome:
    report: Path
    out_dir: Path
    sync: SyncReport
    trainings_sync: SyncReport
    up_to_date: bool
    run_id: str | None = None
    files: ReportFiles | None = None


def canonical_filters(filters: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Filter values of name columns in their canonical spelling (`stage=stage1` keeps the s1
    rows, `dataset=IDD-AW` the iddaw ones); an unknown name is an error listing the accepted."""
    from prove.data import DATASETS
    from prove.models import LOSSES, get_model_card
    from prove.spec import stage_of
    from prove.strategies import parse_strategy
    from prove.studies import STUDIES

    canonical = {"stage": lambda v: stage_of(v).name, "dataset": DATASETS.canonical,
                 "test_dataset": DATASETS.canonical, "model": lambda v: get_model_card(v).name,
                 "strategy": lambda v: parse_strategy(v).name, "aux_loss": LOSSES.canonical,
                 "main_loss": LOSSES.canonical, "study": STUDIES.canonical}
    return tuple((column, canonical[column](value) if column in canonical else value) for column, value in filters)


def request_from(options: LeaderboardOptions) -> LeaderboardRequest:
    """The validated request: every file and name checked, nothing read from the store yet."""
    from prove.spec import stage_of

    preset = _plan_preset(options.plan)
    latex = Path(options.latex).expanduser() if options.latex else None
    quality = None
    if options.quality:
        from prove.quality.scores import read_scores

        quality = read_scores(options.quality)
    if latex is not None:
        check_latex_folder(latex)
    report = ReportOptions(metric=options.metric, stages=tuple(stage_of(s).name for s in parse_list(options.stage)),
                           filters=canonical_filters(parse_filters(options.filter)),
                           comparisons=parse_comparisons(options.compare),
                           cd_blocks=parse_list(options.cd_blocks) or DEFAULT_CD_BLOCKS)
    return LeaderboardRequest(
        out_dir=Path(options.output), tracking_uri=options.tracking_uri or None,
        experiments=parse_list(options.experiments), options=report,
        exclusions=existing_file(options.exclusions, "exclusions", DEFAULT_EXCLUSIONS),
        plan=None if preset else existing_file(options.plan, "plan"), plan_preset=preset,
        experiment=options.experiment or None, refresh=options.refresh, latex=latex, quality=quality)


def _plan_preset(text: str) -> str:
    """The canonical preset `--plan` names, '' for a file (or nothing); neither: an error naming both."""
    if not text or Path(text).expanduser().is_file():
        return ""
    from prove.sweeps.presets import PRESETS

    try:
        return PRESETS.canonical(text)
    except ProveError:
        pass
    raise ProveError(f"plan file not found: {text}; --plan takes a sweep YAML file or a preset: "
                     f"{', '.join(PRESETS.names())}")


def default_cache(uri: str, experiments: tuple[str, ...]) -> Path:
    key = hashlib.sha256(json.dumps([uri, sorted(experiments)]).encode()).hexdigest()[:16]
    return cache_dir() / "leaderboard" / key


def _frame_digest(df: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes()).hexdigest()


def _fingerprint(tables: list[pd.DataFrame], request: LeaderboardRequest) -> str:
    files = [p.read_text() if p and p.is_file() else "" for p in (request.exclusions, request.plan)]
    payload = [*(_frame_digest(t) for t in tables), repr(asdict(request.options)), *files, request.plan_preset,
               request.experiments, str(request.out_dir.resolve())]
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()


def build_leaderboard(request: LeaderboardRequest, echo=lambda s: click.echo(s, err=True)) -> LeaderboardOutcome:
    from prove.sweeps.definition import load_plan

    # read everything the user passed before the store is touched: a bad file changes nothing
    exclusions = load_exclusions(request.exclusions) if request.exclusions else []
    if request.plan_preset:
        from prove.sweeps.presets import PRESETS

        planned = planned_table(PRESETS.get(request.plan_preset).sweep())
    else:
        planned = planned_table(load_plan(request.plan)) if request.plan else None
    uri = request.tracking_uri or client.tracking_uri()
    cache = request.cache_dir or default_cache(uri, request.experiments)
    experiments = list(request.experiments) or None
    echo(f"reading test and training runs from {uri}")
    results, classes, sync = sync_results(cache, experiments, uri, request.refresh)
    trainings, trainings_sync = sync_trainings(cache, experiments, uri, request.refresh)
    echo(f"{sync.total_runs} test results ({sync.fetched_runs} fetched, {sync.removed_runs} removed since the "
         f"last sync); {trainings_sync.total_runs} training runs")

    from prove.quality.run import quality_table

    quality = pd.concat([t for t in (quality_table(experiments, uri), request.quality) if t is not None],
                        ignore_index=True)
    out = request.out_dir
    marker = out / FINGERPRINT_FILE
    fingerprint = _fingerprint([results, classes, trainings, quality], request)
    if marker.is_file() and (out / REPORT_FILE).is_file():
        previous = json.loads(marker.read_text())
        latex_current = request.latex is None or (
            previous.get("latex") == str(request.latex.resolve()) and (request.latex / LATEX_MANIFEST).is_file())
        if previous.get("fingerprint") == fingerprint and latex_current:
            echo(f"nothing changed since the last report: {out / REPORT_FILE}")
            return LeaderboardOutcome(out / REPORT_FILE, out, sync, trainings_sync, True, previous.get("run_id"))

    marker.unlink(missing_ok=True)  # a report that fails half-way is never taken as current
    inputs = ReportInputs(results, classes, trainings, planned, exclusions,
                          source=dict(tracking_uri=uri, experiments=list(request.experiments)), quality=quality)
    files = write_report(inputs, request.options, out, echo=lambda s: echo(f"computing {s}"), latex=request.latex)
    for line in files.findings:
        echo(f"  {line}")
    run_id = _log_analysis_run(request, files, sync) if request.log_run else None
    marker.write_text(json.dumps(dict(fingerprint=fingerprint, run_id=run_id,
                                      latex=str(request.latex.resolve()) if request.latex else None)))
    echo(f"report: {files.report} (and {files.report.with_name('report.html').name}, self-contained)")
    if request.latex is not None:
        echo(f"LaTeX tables and figures: {request.latex} (which runs each came from: "
             f"{request.latex / LATEX_MANIFEST})")
    if run_id:
        echo(f"analysis run {run_id}: {client.runs_url(client.experiment_id(request.experiment), run_id)}")
    return LeaderboardOutcome(files.report, out, sync, trainings_sync, False, run_id, files)


def _log_analysis_run(request: LeaderboardRequest, files: ReportFiles, sync: SyncReport) -> str:
    o = request.options
    params = dict(metric=o.metric, stages=",".join(o.stages) or "all",
                  filters=",".join(f"{c}={v}" for c, v in o.filters) or "none",
                  experiments=",".join(request.experiments) or "all", n_boot=o.n_boot, seed=o.seed,
                  exclusions=str(request.exclusions or ""), plan=str(request.plan or request.plan_preset or ""),
                  test_results=sync.total_runs)
    exp_id = client.experiment_id(request.experiment)
    read = pd.read_csv(request.out_dir / RUNS_READ_FILE)
    note = (f"Leaderboard of {o.metric} computed from {int((read['kind'] == 'test').sum())} test results and "
            f"{int((read['kind'] == 'train').sum())} training runs of {client.tracking_uri()} (experiments: "
            f"{', '.join(request.experiments) or 'all'}); their run ids are in the artifact `{RUNS_READ_FILE}`. "
            f"Open `report.html` in the artifacts for the report with its plots.")
    run_id = client.create_run(exp_id, f"leaderboard · {o.metric}", {schema.KIND: schema.ANALYSIS, schema.MLFLOW_NOTE: note},
                               {k: str(v) for k, v in params.items()})
    try:
        metrics = []
        for stage, s in files.summary["stages"].items():
            for key in ("n_strategies", "n_beat_baseline", "n_beat_baseline_ci", "n_pairs"):
                metrics.append(client.metric(f"{stage}/{key}", s[key], 0, 0))
        for name, c in files.summary.get("comparisons", {}).items():
            metrics += [client.metric(f"compare/{name}/spearman_rho", c["spearman_rho"], 0, 0),
                        client.metric(f"compare/{name}/kendall_tau", c["kendall_tau"], 0, 0)]
        client.log_metrics(run_id, metrics)
        client.log_artifacts(run_id, request.out_dir)
        if request.latex is not None:
            client.log_artifacts(run_id, request.latex, "latex")
    except BaseException:
        client.end_run(run_id, "FAILED")
        raise
    client.end_run(run_id, "FINISHED")
    return run_id
