"""The leaderboard report: every table of the study, its plots and a markdown summary.

`write_report` takes the tidy tables (from the store or any other source), applies the
filters and the declared exclusions to every one of them, computes each analysis once and
writes it three ways: `tables/<name>.csv` and `.parquet` (the numbers), `plots/<name>.png`
(drawn from those same tables) and `report.md` (the tables a reader needs first, the key
findings, and what was excluded, unmatched or missing). Column meanings: docs/leaderboard.md.

A section whose analysis cannot run on the data (one stage only, too few strategies for a
rank correlation, ...) says why in the report instead of failing the whole report.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from prove.analysis import plots
from prove.analysis.html import HTML_FILE, write_html
from prove.analysis.ablations import SMALL_OBJECTS, combination_synergy, ratio_spread, setting_effect, small_objects
from prove.analysis.cd import critical_difference
from prove.analysis.compare import compare_by
from prove.analysis.coverage import SPEC_KEYS, convergence, coverage, coverage_by, val_test_gap
from prove.analysis.exclusions import Exclusion, apply_exclusions, exclusions_note
from prove.analysis.options import DEFAULT_CD_BLOCKS, DEFAULT_METRIC
from prove.analysis.gains import class_gains, last_checkpoint, matched_gains
from prove.analysis.leaderboard import absolute_by_domain, breakdown, class_breakdown, family_summary, leaderboard
from prove.analysis.latex import LatexInputs, write_latex
from prove.analysis.noise import baseline_seed_spread, noise_summary, noise_table
from prove.analysis.quality import MIN_POINTS, quality_correlations, quality_points
from prove.analysis.targeting import targeting_summary, targeting_table
from prove.analysis.settings import BASE_STRATEGY, SETTING_FIELDS, label_settings, settings_present
from prove.analysis.schema import ALL_DOMAINS, METRICS, STAGES, validate_results
from prove.analysis.stats import DEFAULT_N_BOOT, DEFAULT_SEED
from prove.data.domains import ADVERSE_DOMAINS, CLEAR_DAY
from prove.errors import ProveError

REPORT_FILE = "report.md"
RUNS_READ_FILE = "runs_read.csv"  # every run the report read: the analysis run's links to its inputs
# settings whose absolute effect on the same strategies is reported where they vary (ratio has its own table)
EFFECT_FIELDS = ("aux_loss", "main_loss", "pretrained", "max_iters", "batch_size")
OUTPUT_DIRS = ("tables", "plots")
# settings compared when present in the data and no comparison is asked for
AUTO_COMPARISONS: tuple[tuple[str, str, str], ...] = (
    ("stage", "s1", "s2"),
    ("pretrained", "true", "false"),
    ("test_setting", "in_domain", "cross_domain"),
)


@dataclass(frozen=True)
class ReportOptions:
    metric: str = DEFAULT_METRIC
    stages: tuple[str, ...] = ()  # empty: every stage in the data
    filters: tuple[tuple[str, str], ...] = ()  # (column, value): keep rows where str(column) == value
    comparisons: tuple[tuple[str, str, str], ...] | None = None  # None: AUTO_COMPARISONS present in the data
    cd_blocks: tuple[str, ...] = DEFAULT_CD_BLOCKS
    n_boot: int = DEFAULT_N_BOOT
    seed: int = DEFAULT_SEED

    def __post_init__(self):
        if self.metric not in METRICS:
            raise ProveError(f"unknown metric {self.metric!r}; accepted: {', '.join(METRICS)}")
        bad = [s for s in self.stages if s not in STAGES]
        if bad:
            raise ProveError(f"unknown stage(s) {bad}; accepted: {', '.join(STAGES)}")


@dataclass
class ReportInputs:
    results: pd.DataFrame  # RESULT_COLUMNS
    classes: pd.DataFrame  # CLASS_COLUMNS
    trainings: pd.DataFrame | None = None  # TRAINING_COLUMNS; None: coverage and val-vs-test are skipped
    planned: pd.DataFrame | None = None  # SPEC_KEYS rows of a plan
    exclusions: Sequence[Exclusion] = ()
    source: dict = field(default_factory=dict)  # where the tables came from, shown in the header
    quality: pd.DataFrame | None = None  # prove.quality.scores.QUALITY_COLUMNS: scores per generator x dataset


@dataclass
class ReportFiles:
    report: Path
    tables: dict[str, Path]
    plots: dict[str, Path]
    findings: list[str]
    summary: dict


def _filter(df: pd.DataFrame, filters, what: str, strict: bool) -> pd.DataFrame:
    for column, value in filters:
        if column not in df.columns:
            if strict:
                raise ProveError(f"filter column {column!r} is not a column of the {what}; "
                                 f"columns: {', '.join(df.columns)}")
            continue
        df = df[df[column].astype(str) == value]
    return df


def _exclude(df: pd.DataFrame, exclusions: Sequence[Exclusion]) -> pd.DataFrame:
    """Apply the exclusions whose field this table has (the result table must have them all)."""
    applicable = [e for e in exclusions if e.field in df.columns]
    return apply_exclusions(df, applicable)[0]


def md_table(df: pd.DataFrame, digits: int = 2, max_rows: int | None = None) -> str:
    """A markdown table (pandas' to_markdown needs an extra package)."""
    if df.empty:
        return "_(none)_"
    shown = df if max_rows is None else df.head(max_rows)

    def cell(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        if isinstance(v, (list, tuple)):
            return ", ".join(map(str, v))
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    if max_rows is not None and len(df) > max_rows:
        lines.append(f"\n_({len(df) - max_rows} more rows in the CSV)_")
    return "\n".join(lines)


class _Writer:
    """Collects the tables and plots of one report under `out`."""

    def __init__(self, out: Path):
        self.out = out
        self.tables: dict[str, Path] = {}
        self.plots: dict[str, Path] = {}
        self.md: list[str] = []

    def table(self, name: str, df: pd.DataFrame) -> pd.DataFrame:
        csv = self.out / "tables" / f"{name}.csv"
        csv.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(csv, index=False)
        df.to_parquet(csv.with_suffix(".parquet"), index=False)
        self.tables[name] = csv
        return df

    def plot(self, name: str, draw: Callable[[Path], Path], caption: str) -> None:
        path = draw(self.out / "plots" / f"{name}.png")
        self.plots[name] = path
        self.md.append(f"![{caption}](plots/{path.name})\n")

    def add(self, *lines: str) -> None:
        self.md.extend(lines)


def _clean(out: Path) -> None:
    """Remove the outputs of a previous report (only what a report writes), so a stage or a
    comparison that is gone leaves no stale file behind."""
    for name in OUTPUT_DIRS:
        shutil.rmtree(out / name, ignore_errors=True)
    for name in (REPORT_FILE, HTML_FILE, RUNS_READ_FILE):
        (out / name).unlink(missing_ok=True)


def _test_setting(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["test_setting"] = np.where(df["test_dataset"] == df["dataset"], "in_domain", "cross_domain")
    return df


def _baseline_domains(final: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Absolute mean metric per stage, strategy and domain (what the gains are relative to)."""
    return final.groupby(["stage", "strategy", "domain"], sort=True).agg(
        **{f"mean_{metric}": (metric, "mean")}, n=(metric, "size")).reset_index()


def _domain_highlights(by_domain: dict[str, pd.DataFrame], top: int = 3) -> list[str]:
    """Per stage, the largest gains in a single weather domain: where a strategy helps most."""
    out = []
    for stage, table in by_domain.items():
        rows = table[table["domain"] != ALL_DOMAINS].sort_values(["mean_gain", "strategy"], ascending=[False, True])
        rows = rows[rows["mean_gain"] > 0].head(top)
        if not rows.empty:
            out.append(f"{stage}: largest gains in one domain: " + ", ".join(
                f"{r.strategy} on {r.domain} {r.mean_gain:+.1f} pp" for r in rows.itertuples()) + ".")
    return out


def _findings(lbs: dict, absolute: pd.DataFrame, comparisons: list, metric: str,
              by_domain: dict[str, pd.DataFrame] | None = None) -> list[str]:
    out = []
    base = absolute[absolute["strategy"] == "baseline"]
    for stage, g in base.groupby("stage", sort=True):
        by = dict(zip(g["domain"], g[f"mean_{metric}"]))
        if CLEAR_DAY in by:
            adverse = {d: by[d] for d in ADVERSE_DOMAINS if d in by}
            if adverse:
                worst = sorted(adverse, key=adverse.get)[:2]
                drops = ", ".join(f"{d} {adverse[d]:.1f} ({adverse[d] - by[CLEAR_DAY]:+.1f})" for d in worst)
                out.append(f"{stage}: the baseline reaches {by[CLEAR_DAY]:.1f} {metric} on {CLEAR_DAY}; "
                           f"its weakest domains are {drops}.")
    for stage, lb in lbs.items():
        s, t = lb.summary, lb.table
        best = t.iloc[0]
        ci = f" [{best['ci_low']:+.2f}, {best['ci_high']:+.2f}]" if best["n_pairs"] > 1 else \
            " (one matched pair: no CI; more seeds, datasets or models give one)"
        out.append(f"{stage}: {s['n_beat_baseline']} of {s['n_strategies']} strategies beat the baseline on average "
                   f"({s['n_beat_baseline_ci']} with the 95% CI above 0); best {best['strategy']} "
                   f"{best['mean_gain']:+.2f} pp{ci}.")
    out += _domain_highlights(by_domain or {})
    for c in comparisons:
        r = c.correlation
        out.append(f"{c.label_a} vs {c.label_b}: Spearman rho {r.spearman_rho:+.2f} (p {r.spearman_p:.3g}), "
                   f"{c.n_reversals} of {len(c.table)} strategies change the sign of their gain.")
    return out


@dataclass
class _Report:
    """What every section reads and adds to: the writer, the tables computed once, the summary."""

    w: _Writer
    inputs: ReportInputs
    options: ReportOptions
    kept: pd.DataFrame  # results after filters and exclusions
    excluded: pd.DataFrame
    classes: pd.DataFrame
    final: pd.DataFrame = None  # the last checkpoint of each training, with its test setting, settings labelled
    raw_final: pd.DataFrame = None  # the same, strategies not labelled by setting (comparisons relabel it)
    matched: object = None  # MatchedGains, strategies labelled by setting (prove.analysis.settings)
    raw_gains: pd.DataFrame = None  # the matched gains before labelling
    absolute: pd.DataFrame = None  # mean metric per stage, strategy and domain over common blocks
    baseline_domains: pd.DataFrame = None  # the baseline's mean metric per stage and domain (all its results)
    summary: dict = field(default_factory=dict)
    leaderboards: dict = field(default_factory=dict)  # stage -> Leaderboard
    by_domain: dict = field(default_factory=dict)  # stage -> gains by domain
    comparisons: dict = field(default_factory=dict)  # name -> (Comparison, (column, a, b))
    noise: dict = field(default_factory=dict)  # stage -> the baseline's seed spread per block
    class_gains: pd.DataFrame | None = None  # per-class gains (every domain), when per-class IoUs exist

    @property
    def metric(self) -> str:
        return self.options.metric

    @property
    def gains(self) -> pd.DataFrame:
        return self.matched.gains  # labelled by setting

    def stages(self) -> list[str]:
        return [s for s in STAGES if s in set(self.final["stage"])]


def write_report(inputs: ReportInputs, options: ReportOptions, out: str | Path,
                 echo: Callable[[str], None] = lambda s: None, latex: Path | None = None) -> ReportFiles:
    """Every section of the report, in order, into `out` (see the module docstring); with
    `latex`, its tables and figures for a paper there too (prove.analysis.latex)."""
    out = Path(out)
    kept, excluded = apply_exclusions(_selected_results(inputs, options), inputs.exclusions)
    _clean(out)
    r = _Report(_Writer(out), inputs, options, kept, excluded,
                inputs.classes[inputs.classes["run_id"].isin(kept["run_id"])])
    r.summary = {"metric": options.metric, "n_results": int(kept["run_id"].nunique()), "stages": {}}
    _header(r)
    _gains(r)
    echo("leaderboards")
    _leaderboards(r)
    _per_class(r)
    echo("ablations")
    _ablations(r)
    _unmatched(r)
    echo("comparisons")
    _comparisons(r)
    echo("critical difference")
    _critical_differences(r)
    echo("coverage")
    _coverage_and_validation(r)
    _convergence(r)
    findings = _findings(r.leaderboards, r.baseline_domains, [c for c, _ in r.comparisons.values()], r.metric,
                         r.by_domain)
    header_end = r.w.md.index("## Exclusions")
    r.w.md[header_end:header_end] = ["## Key findings", "", *[f"- {f}" for f in findings], ""]
    report = out / REPORT_FILE
    report.write_text("\n".join(r.w.md) + "\n")
    write_html(report)  # the same report as one self-contained page (MLflow's artifact viewer shows it)
    _runs_read(inputs, out)
    r.summary["findings"] = findings
    if latex is not None:
        echo("LaTeX tables and PDF figures")
        write_latex(LatexInputs(
            r.metric, {stage: lb.table for stage, lb in r.leaderboards.items()}, r.noise, r.by_domain,
            r.comparisons, r.gains, r.final), Path(latex))
    return ReportFiles(report, r.w.tables, r.w.plots, findings, r.summary)


def _runs_read(inputs: ReportInputs, out: Path) -> None:
    """Every run the report was computed from (test results and trainings), by id."""
    frames = [pd.DataFrame({"run_id": sorted(set(df["run_id"])), "kind": kind})
              for df, kind in ((inputs.results, "test"), (inputs.trainings, "train"))
              if df is not None and "run_id" in df.columns]
    pd.concat(frames or [pd.DataFrame(columns=["run_id", "kind"])]).to_csv(out / RUNS_READ_FILE, index=False)


def _selected_results(inputs: ReportInputs, options: ReportOptions) -> pd.DataFrame:
    results = validate_results(inputs.results)
    if results.empty:
        raise ProveError("no test results to report on: run `prove test` (or `prove import-results`) first")
    results = _filter(results, options.filters, "result table", strict=True)
    if options.stages:
        results = results[results["stage"].isin(options.stages)]
    if results.empty:
        raise ProveError(f"no test results left after the filters {dict(options.filters)} and stages "
                         f"{list(options.stages) or 'all'}")
    return results


def _header(r: _Report) -> None:
    src, kept, o = r.inputs.source, r.kept, r.options
    r.w.add("# Leaderboard report", "",
            f"Source: {src.get('tracking_uri', 'tables given directly')}; experiments: "
            f"{', '.join(src.get('experiments') or ['all'])}; generated {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC.",
            f"{kept['run_id'].nunique()} test results ({len(kept)} rows) of {kept['train_run_id'].nunique()} "
            f"trainings; metric {o.metric} (%), gains in percentage points (pp).",
            f"Filters: {', '.join(f'{c}={v}' for c, v in o.filters) or 'none'}; stages: "
            f"{', '.join(o.stages) or 'all'}. Column glossary: docs/leaderboard.md.",
            f"Every figure below is computed on these test sets (dataset/split, results): {_test_sets(kept)}; "
            "validation numbers appear only in the validation-vs-test section.", "",
            "## Exclusions", "", exclusions_note(r.excluded), "")
    r.w.table("exclusions", r.excluded)
    r.w.table("results", kept)


def _test_sets(kept: pd.DataFrame) -> str:
    counts = kept.groupby(["test_dataset", "test_split"])["run_id"].nunique()
    return ", ".join(f"{d}/{s} ({n})" for (d, s), n in counts.items())


def _gains(r: _Report) -> None:
    """The matched gains every later section reads, computed once, and the settings kept apart."""
    r.raw_final = _test_setting(last_checkpoint(r.kept))
    r.matched = matched_gains(r.raw_final, r.metric)
    r.raw_gains = r.matched.gains
    r.matched.gains = label_settings(r.raw_gains)
    r.final = label_settings(r.raw_final)
    r.w.table("gains", r.gains)
    r.w.table("unmatched", r.matched.unmatched)
    r.absolute = r.w.table("domain_" + r.metric, absolute_by_domain(r.final, r.metric))
    base = r.final[r.final[BASE_STRATEGY] == "baseline"]
    r.baseline_domains = _baseline_domains(base.assign(strategy="baseline"), r.metric)
    _settings_present(r)


def _settings_present(r: _Report) -> None:
    present = r.w.table("settings_present", settings_present(r.final))
    apart = present[present["kept_apart"]]
    r.w.add("## Settings present", "")
    if apart.empty:
        r.w.add("Each strategy has one setting per stage (ratio, batch size, iterations, losses, "
                "pretraining): nothing is kept apart.", "")
    else:
        fields = apart.groupby("stage")["field"].unique()
        r.w.add("Settings that vary within one strategy are kept apart, never pooled into one mean: the "
                "strategy is labelled with them, e.g. `gen_X [ratio=0.25]` ("
                + "; ".join(f"{st}: {', '.join(f)}" for st, f in fields.items()) + ").", "")
    r.w.add(md_table(present, max_rows=40), "")


def _leaderboards(r: _Report) -> None:
    w, metric, gains = r.w, r.metric, r.gains
    for stage in r.stages():
        w.add(f"## Stage {stage}", "")
        if stage not in set(gains["stage"]):
            in_stage = r.final[r.final["stage"] == stage]
            if (in_stage[BASE_STRATEGY] == "baseline").all():
                w.add(f"Only baseline results in {stage}: no strategy to rank against them yet.", "")
            else:
                w.add(f"No matched results in {stage}: no non-baseline result has a baseline (see Unmatched).", "")
            continue
        lb = r.leaderboards[stage] = leaderboard(gains, stage=stage, n_boot=r.options.n_boot, seed=r.options.seed)
        spread = r.noise[stage] = w.table(f"noise_floor_{stage}", baseline_seed_spread(r.final, metric, stage))
        lb.table = lb.table.merge(noise_table(gains, spread, stage), on="strategy", how="left")
        lb.summary.update(noise_summary(lb.table, spread))
        r.summary["stages"][stage] = lb.summary
        w.table(f"leaderboard_{stage}", lb.table)
        s = lb.summary
        w.add(f"{s['n_beat_baseline']} of {s['n_strategies']} strategies beat the baseline on average; "
              f"{s['n_beat_baseline_ci']} with the whole 95% bootstrap CI above 0, {s['n_below_baseline_ci']} "
              f"with it below 0 ({s['n_pairs']} matched pairs, domain {ALL_DOMAINS}).", "",
              _noise_note(s, metric), "",
              md_table(lb.table.drop(columns=["noise_blocks", "wilcoxon_W"]), digits=3), "")
        title = plots.leaderboard_title(lb.table, f"Stage {stage}: mean {metric} gain over the matched baseline")
        w.plot(f"leaderboard_{stage}", lambda p, t=lb.table, title=title: plots.leaderboard_bars(t, p, title),
               f"leaderboard {stage}")
        _domains(r, stage)
        _targeting(r, stage)
        _quality(r, stage, lb.table)
        for column in ("dataset", "model"):
            w.table(f"breakdown_{column}_{stage}", breakdown(gains, column, stage=stage))
        for by in ("strategy_family", "generator_family"):
            fam = family_summary(gains, by=by, stage=stage)
            if by == "generator_family":
                fam = fam[fam[by] != ""]
            w.table(f"family_{by}_{stage}", fam)
            w.add(f"By {by.replace('_', ' ')}:", "", md_table(fam), "")


def _quality(r: _Report, stage: str, board: pd.DataFrame) -> None:
    """Each image-quality score against the mean gain of its generator's strategy."""
    quality = r.inputs.quality
    if quality is None or quality.empty:
        return
    w = r.w
    datasets = set(r.gains.loc[r.gains["stage"] == stage, "dataset"])
    points = quality_points(quality, board, datasets)
    w.add(f"### Image quality vs gain ({stage})", "")
    if points.empty:
        w.add("No quality score is of a generator ranked in this stage on its datasets.", "")
        return
    w.table(f"quality_points_{stage}", points)
    table = w.table(f"quality_{stage}", quality_correlations(points, r.options.n_boot, r.options.seed))
    w.add("Spearman ρ of each quality score (mean over the stage's datasets) with the generator's mean gain, "
          f"95% bootstrap CI over generators; {MIN_POINTS} generators at least (FID, KID, LPIPS: lower is better, so "
          "helpful quality reads as ρ < 0).", "", md_table(table, digits=3), "")
    for (features, score), g in points.groupby(["features", "score"], sort=True):
        safe = "".join(ch if ch.isalnum() else "_" for ch in f"{score}_{features}")
        w.plot(f"quality_{stage}_{safe}", lambda p, g=g, t=f"Stage {stage}: {score} ({features}) vs gain":
               plots.quality_scatter(g, p, t), f"{score} vs gain, {stage}")


def _targeting(r: _Report, stage: str) -> None:
    """Strategies trained on generated images aimed at some domains only (--gen-domains)."""
    table = targeting_table(r.gains, stage)
    if table.empty:
        return
    w = r.w
    w.table(f"targeting_{stage}", table)
    summary = w.table(f"targeting_summary_{stage}", targeting_summary(table))
    w.add(f"### Domain-targeted generated images ({stage})", "",
          "Each row keeps only the generated images aimed at `gen_domains` (`all`: every one). `gain_targeted` is "
          "the mean gain on those domains, `gain_other_adverse` on the other adverse domains, `gain_clear_day` "
          "on clear_day: what targeting one domain does to the others.", "", md_table(summary), "")
    w.plot(f"targeting_{stage}", lambda p, t=table, st=stage: plots.domain_heatmap(
        t[t["domain"] != ALL_DOMAINS], p, title=f"Stage {st}: gain by test domain of domain-targeted images (pp)"),
        f"domain targeting, {stage}")


def _noise_note(s: dict, metric: str) -> str:
    if not s["noise_blocks"]:
        return ("Seed noise floor: none, since every baseline block has one seed. Add `seed: [0, 1, 2]` to "
                "the sweep to see which gains a reseed alone could produce.")
    return (f"Seed noise floor: the baseline's {metric} moves by {s['noise_sd']:.2f} pp (seed-to-seed SD, pooled "
            f"over {s['noise_blocks']} blocks with two or more seeds; per block in tables/noise_floor_<stage>.csv). "
            f"{s['n_within_noise']} of {s['n_strategies']} strategies have a mean gain smaller than their floor "
            f"(`within_noise`). `wilcoxon_p`: Wilcoxon signed-rank of the per-block gains against 0, "
            f"`wilcoxon_p_holm` Holm-corrected across the stage's strategies; {s['n_holm_05']} below 0.05.")


def _domains(r: _Report, stage: str) -> None:
    """Gains and absolute values by weather domain, as tables and heatmaps."""
    w, metric = r.w, r.metric
    by_domain = r.by_domain[stage] = breakdown(r.gains, "domain", stage=stage)
    w.table(f"breakdown_domain_{stage}", by_domain)
    w.plot(f"domain_gain_{stage}", lambda p, t=by_domain, st=stage: plots.domain_heatmap(
        t, p, title=f"Stage {st}: mean gain by domain (pp)"), f"gain by domain, {stage}")
    stage_abs = r.absolute[r.absolute["stage"] == stage]
    if not stage_abs.empty:
        w.plot(f"domain_{metric}_{stage}", lambda p, t=stage_abs, st=stage: plots.domain_heatmap(
            t, p, value=f"mean_{metric}", label=f"mean {metric} (%)",
            title=f"Stage {st}: mean {metric} by domain (common blocks)"), f"{metric} by domain, {stage}")
    if stage_abs.empty:
        w.add(f"Mean {metric} by domain (absolute): no (dataset, model, setting, test set) block has every "
              "strategy of this stage; the matched gains above compare each strategy with its own baseline.", "")
        return
    n_blocks = int(stage_abs.loc[stage_abs["domain"] == stage_abs["domain"].iloc[0], "n_blocks"].max())
    w.add(f"Mean {metric} by domain (absolute), over the {n_blocks} (dataset, model, setting, test set) blocks "
          "that every strategy of this stage has, so each row averages the same models and data:", "",
          md_table(plots.heatmap_matrix(stage_abs, value=f"mean_{metric}").reset_index()), "")


def _per_class(r: _Report) -> None:
    if r.classes.empty:
        return
    cls_gain, cls_unmatched = class_gains(r.matched, r.classes)
    r.class_gains = cls_gain
    for stage in r.leaderboards:
        table = class_breakdown(cls_gain, stage=stage)
        if not table.empty:
            r.w.table(f"breakdown_class_{stage}", table)
    if not cls_unmatched.empty:
        r.w.table("class_unmatched", cls_unmatched)


def _ablations(r: _Report) -> None:
    """The analyses of the group's ablations, each where its data exist (docs/leaderboard.md#ablations)."""
    w = r.w
    w.add("## Ablations", "")
    said = False
    spread = ratio_spread(label_settings(r.raw_gains, keep=("ratio",)))
    if not spread.empty:
        said = True
        w.table("ratio_spread", spread)
        w.add("Ratio spread (mean gain per real-image ratio; a gen_* strategy at ratio 1.0 is its baseline, "
              "gain 0, where 1.0 was not trained: `implied_1.0`):", "",
              md_table(spread.drop(columns=["ratios"]), max_rows=30), "")
        w.plot("ratio_spread", lambda p, t=spread: plots.ratio_lines(t, p), "gain against ratio")
    per_cell, synergy = combination_synergy(r.raw_gains)
    if not synergy.empty:
        said = True
        w.table("combination_synergy_cells", per_cell)
        w.table("combination_synergy", synergy)
        w.add("Combination synergy (gain of gen+std against gen alone at the same ratio and std alone, "
              "same setting; additive: combo − (gen + std); vs best: combo − max(gen, std)):", "",
              md_table(synergy), "")
    if r.class_gains is not None and not r.class_gains.empty:
        small, small_domain = small_objects(r.class_gains)
        if not small.empty:
            said = True
            w.table("small_objects", small)
            w.table("small_objects_by_domain", small_domain)
            w.add(f"Small objects ({', '.join(SMALL_OBJECTS)}): mean IoU gain per class (pp), overall domain; "
                  "per domain x class in tables/small_objects_by_domain.csv:", "", md_table(small, max_rows=30), "")
            for stage, t in small.groupby("stage", sort=True):
                long = t.drop(columns=["stage"]).melt(id_vars="strategy", var_name="class", value_name="mean_gain")
                w.plot(f"small_objects_{stage}", lambda p, t=long, st=stage: plots.domain_heatmap(
                    t, p, column="class", title=f"Stage {st}: small-object IoU gain (pp)"),
                       f"small objects {stage}")
    effects = [e for e in (setting_effect(r.raw_final, f, r.metric) for f in EFFECT_FIELDS) if not e.empty]
    if effects:
        said = True
        effect = w.table("setting_effect", pd.concat(effects, ignore_index=True))
        summary = effect.groupby(["stage", "field", "reference", "value"], sort=True).agg(
            mean_effect=("effect", "mean"), strategies=("strategy", "nunique"), n_pairs=("n_pairs", "sum"),
            n_positive=("effect", lambda s: int((s > 0).sum()))).reset_index()
        w.add(f"Absolute effect of a setting on the same strategies ({r.metric} at the value − at the "
              "reference, paired on everything else; tables/setting_effect.csv per strategy):", "",
              md_table(summary), "")
    if not said:
        w.add("No ablation in these results (several ratios of a strategy, gen+std combinations, per-class "
              "IoUs, or one strategy under two settings).", "")


def _unmatched(r: _Report) -> None:
    r.w.add("## Unmatched results", "")
    unmatched = r.matched.unmatched
    if unmatched.empty:
        r.w.add("Every non-baseline result has a matched baseline.", "")
        return
    reasons = unmatched.groupby(["stage", "strategy", "reason"]).size().reset_index(name="rows")
    r.w.add(f"{unmatched['run_id'].nunique()} results have no matched baseline and are in no "
            "leaderboard (tables/unmatched.csv):", "", md_table(reasons, max_rows=30), "")


def _comparisons(r: _Report) -> None:
    w, gains, o = r.w, r.gains, r.options
    w.add("## Setting comparisons", "")
    wanted = o.comparisons if o.comparisons is not None else [
        c for c in AUTO_COMPARISONS if {c[1], c[2]} <= set(gains[c[0]].astype(str))]
    if not wanted:
        w.add("No two settings to compare in these results (e.g. only one stage).", "")
    for column, a, b in wanted:
        if column not in gains.columns:
            raise ProveError(f"comparison column {column!r} is not a column of the gains table; "
                             f"columns: {', '.join(gains.columns)}")
        name = f"{column}_{a}_vs_{b}"
        try:
            kept_apart = label_settings(r.raw_gains, keep=(column,)) if column in SETTING_FIELDS else gains
            gains_str = kept_apart.assign(**{column: kept_apart[column].astype(str)})
            c = compare_by(gains_str, column, a, b, n_boot=o.n_boot, seed=o.seed)
        except ProveError as exc:
            w.add(f"### {column}: {a} vs {b}", "", f"Not compared: {exc}.", "")
            continue
        r.comparisons[name] = (c, (column, a, b))
        _comparison(r, name, c)


def _comparison(r: _Report, name: str, c) -> None:
    w, cr = r.w, c.correlation
    w.table(f"compare_{name}", c.table)
    w.add(f"### {c.label_a} vs {c.label_b}", "",
          f"{cr.n} strategies in both. Spearman ρ = {cr.spearman_rho:.3f} (p = {cr.spearman_p:.3g}, 95% CI "
          f"[{cr.spearman_ci[0]:.2f}, {cr.spearman_ci[1]:.2f}]); Kendall τ = {cr.kendall_tau:.3f} "
          f"(p = {cr.kendall_p:.3g}, 95% CI [{cr.kendall_ci[0]:.2f}, {cr.kendall_ci[1]:.2f}]); "
          f"{c.n_reversals} direction reversals.", "",
          "Biggest risers:", "", md_table(c.winners), "", "Biggest fallers:", "", md_table(c.losers), "")
    if c.only_a or c.only_b:
        w.add(f"Only in {c.label_a}: {', '.join(c.only_a) or '-'}; only in {c.label_b}: "
              f"{', '.join(c.only_b) or '-'}.", "")
    r.summary.setdefault("comparisons", {})[name] = dict(
        spearman_rho=cr.spearman_rho, spearman_p=cr.spearman_p, kendall_tau=cr.kendall_tau,
        kendall_p=cr.kendall_p, n=cr.n, reversals=c.n_reversals)
    w.plot(f"rank_slope_{name}", lambda p, c=c: plots.rank_slope(c, p), f"rank change {name}")
    w.plot(f"gain_scatter_{name}", lambda p, c=c: plots.gain_scatter(c, p), f"gain scatter {name}")


def _critical_differences(r: _Report) -> None:
    w, metric, blocks0 = r.w, r.metric, r.options.cd_blocks
    w.add("## Critical difference", "")
    for stage in r.stages():
        rows = r.final[r.final["stage"] == stage]
        blocks, note = list(blocks0), ""
        try:
            cd = critical_difference(rows, blocks, metric, domain=ALL_DOMAINS)
        except ProveError as first:
            # too few independent blocks (e.g. one dataset and one model): rank per weather
            # domain instead, and say that those blocks share their trainings
            blocks = [*blocks0, "domain"]
            note = (f" Blocks {' x '.join(blocks0)} were too few ({first}); ranked per "
                    f"{' x '.join(blocks)} instead: the domains share their trainings, so read the p-value "
                    "as descriptive.")
            try:
                cd = critical_difference(rows[rows["domain"] != ALL_DOMAINS], blocks, metric, domain=None)
            except ProveError as exc:
                w.add(f"Stage {stage}: not computed: {exc}.", "")
                continue
        table = pd.DataFrame({"strategy": cd.avg_ranks.index, "avg_rank": cd.avg_ranks.to_numpy()})
        w.table(f"cd_{stage}", table)
        w.add(f"Stage {stage}: Friedman χ² = {cd.statistic:.2f}, p = {cd.p_value:.3g}; k = {cd.k} strategies, "
              f"N = {cd.n_blocks} blocks ({' x '.join(blocks)}); Nemenyi CD = {cd.cd:.2f} at α = {cd.alpha}."
              + note + (f" {len(cd.dropped_blocks)} incomplete blocks dropped." if cd.dropped_blocks else ""), "")
        w.plot(f"cd_{stage}", lambda p, cd=cd: plots.cd_diagram(cd, p), f"critical difference {stage}")


def _coverage_and_validation(r: _Report) -> None:
    w, o, kept = r.w, r.options, r.kept
    w.add("## Coverage", "")
    trainings = r.inputs.trainings
    if trainings is None:
        w.add("Not computed: no training runs were read (results given without their trainings).", "")
        return
    trainings = _exclude(_filter(trainings, o.filters, "trainings", strict=False), r.inputs.exclusions)
    if o.stages:
        trainings = trainings[trainings["stage"].isin(o.stages)]
    finished = trainings[trainings["status"] == "FINISHED"]
    tested_ids = set(kept["train_run_id"])
    tested = pd.concat([finished[finished["run_id"].isin(tested_ids)][list(SPEC_KEYS)],
                        kept[~kept["train_run_id"].isin(set(trainings["run_id"]))][list(SPEC_KEYS)]])
    planned = r.inputs.planned
    if planned is not None:
        planned = _exclude(_filter(planned, o.filters, "plan", strict=False), r.inputs.exclusions)
        if o.stages:
            planned = planned[planned["stage"].isin(o.stages)]
    if planned is None:
        planned = pd.concat([finished[list(SPEC_KEYS)], tested])
    cov = coverage(planned, finished, tested, keys=list(SPEC_KEYS))
    w.table("coverage", cov.summary)
    w.table("planned_not_trained", cov.planned_not_trained)
    w.table("trained_not_tested", cov.trained_not_tested)
    by_status = trainings.groupby("status").size().to_dict()
    w.add(("" if r.inputs.planned is not None else "No plan given (`--plan`): planned = what was trained or tested. ")
          + "Training runs by status: " + (", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "none")
          + ".", "", md_table(cov.summary), "")
    per_group = coverage_by(planned, finished, tested, keys=list(SPEC_KEYS))
    w.table("coverage_by_stage_model_dataset", per_group)
    if len(per_group) > 1:
        w.add("Per stage x model x dataset (trained and tested of planned specs):", "",
              md_table(per_group[["stage", "model", "dataset", "trained_of", "tested_of"]], max_rows=60), "")
    if not cov.planned_not_trained.empty:
        w.add("Planned but not trained:", "", md_table(cov.planned_not_trained, max_rows=20), "")
    if not cov.trained_not_tested.empty:
        w.add("Trained but not tested:", "", md_table(cov.trained_not_tested, max_rows=20), "")
    r.summary["coverage"] = {row.step: dict(specs=int(row.specs), missing=int(row.missing))
                             for row in cov.summary.itertuples()}
    _validation_vs_test(r, finished)


def _validation_vs_test(r: _Report, finished: pd.DataFrame) -> None:
    """Validation and test numbers side by side, never in one column (docs/lessons.md#8)."""
    w, kept = r.w, r.kept
    val = finished[finished["val_iter"] >= 0].rename(
        columns={"run_id": "train_run_id", "val_iter": "checkpoint_iter", "val_mIoU": "mIoU"})
    gap = val_test_gap(val, kept[kept["train_run_id"].isin(set(val["train_run_id"]))])
    gap = gap.dropna(subset=["test_mIoU", "val_mIoU"])
    w.add("## Validation vs test", "")
    if gap.empty:
        w.add("No training run has both a validation mIoU and a test result.", "")
        return
    w.table("val_test_gap", gap)
    w.add(f"{len(gap)} (training, test set) pairs: mean test − validation mIoU = {gap['gap'].mean():+.2f} pp "
          f"(min {gap['gap'].min():+.2f}, max {gap['gap'].max():+.2f}); validation and test numbers are "
          "kept apart, never mixed in one table column.", "")


def _convergence(r: _Report) -> None:
    w, metric = r.w, r.metric
    w.add("## Convergence", "")
    conv = convergence(label_settings(r.kept), by=("stage", "strategy"), metric=metric)
    w.table("convergence", conv)
    if conv["checkpoint_iter"].nunique() < 2:
        w.add("One checkpoint per training was tested (`prove test --checkpoint all` tests every one).", "")
        return
    for stage in sorted(set(conv["stage"])):
        t = conv[conv["stage"] == stage]
        w.plot(f"convergence_{stage}", lambda p, t=t, st=stage: plots.convergence_lines(
            t, p, f"mean_{metric}", f"Stage {st}: mean test {metric} over training"), f"convergence {stage}")
