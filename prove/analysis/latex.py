"""`prove leaderboard --latex DIR`: the report's tables as booktabs LaTeX and its figures as
vector PDFs, for a paper repository to pull instead of copying numbers by hand.

- `leaderboard_<stage>.tex` (+ `.pdf`): rank, strategy, mean metric, gain, 95% CI, the seed
  noise floor (a dagger marks a gain within it) and the Holm-corrected Wilcoxon p.
- `compare_<column>_<a>_vs_<b>.tex` (+ `.pdf`, the rank slope): the gain and rank of each
  strategy in both settings, with Spearman and Kendall in the header comment.
- `domains_<stage>.tex` (+ `.pdf`, the heatmap): mean gain per strategy and weather domain.
- `noise_floor_<stage>.tex`: the baseline's seed spread per block.
- `manifest.json`: for every file, the test and training runs its numbers came from.

Rebuilt from an unchanged store, every file is byte-identical: no timestamps (PDFs are written
without a creation date), sorted rows and runs, fixed number formats. A folder that holds
files prove did not write is refused before anything is read or written; one an earlier
`--latex` wrote is replaced file by file (files others added to it are left alone).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from prove.errors import ProveError

MANIFEST_FILE = "manifest.json"
WRITTEN_BY = "prove leaderboard --latex"
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


@dataclass
class LatexInputs:
    """What the report computed, handed over as plain tables (prove.analysis.report fills it)."""

    metric: str
    leaderboards: dict[str, pd.DataFrame] = field(default_factory=dict)  # stage -> leaderboard (+ noise columns)
    noise: dict[str, pd.DataFrame] = field(default_factory=dict)  # stage -> baseline seed spread per block
    domains: dict[str, pd.DataFrame] = field(default_factory=dict)  # stage -> breakdown by domain
    # name -> (prove.analysis.compare.Comparison, (column, a, b))
    comparisons: dict[str, tuple[object, tuple[str, str, str]]] = field(default_factory=dict)
    gains: pd.DataFrame | None = None  # the labelled matched gains (run ids of every number)
    final: pd.DataFrame | None = None  # the results the gains came from (test run -> training run)


def check_folder(folder: Path) -> dict | None:
    """Refuse a folder that exists and holds files an earlier --latex did not write; the manifest
    of that earlier --latex, if any."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        raise ProveError(f"--latex {folder}: exists and is not a folder")
    entries = sorted(p.name for p in folder.iterdir())
    if not entries:
        return None
    owned = _manifest(folder)
    if owned is None:
        raise ProveError(f"--latex {folder}: the folder holds files prove did not write ({', '.join(entries[:5])}"
                         f"{', ...' if len(entries) > 5 else ''}); pass a new or empty folder, or one an earlier "
                         f"--latex wrote (it has {MANIFEST_FILE})")
    return owned


def _manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("written_by") == WRITTEN_BY else None


def escape(text: object) -> str:
    return "".join(_SPECIAL.get(c, c) for c in str(text))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _num(value, digits: int = 2, sign: bool = False) -> str:
    if _missing(value):
        return "--"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _p(value) -> str:
    if _missing(value):
        return "--"
    return f"{value:.3f}" if value >= 0.001 else r"$<$0.001"


def tabular(header: list[str], rows: list[list[str]], align: str, comment: list[str]) -> str:
    lines = [f"% {line}" for line in comment]
    lines += [rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def leaderboard_tex(stage: str, table: pd.DataFrame, metric: str) -> str:
    has_noise = "noise_sd" in table.columns
    header = ["Rank", "Strategy", escape(metric), "Gain", r"95\% CI"] + (
        ["Noise SD", r"$p_\mathrm{Holm}$"] if has_noise else [])
    rows = []
    for r in table.itertuples(index=False):
        gain = _num(r.mean_gain, sign=True) + (r"$^\dagger$" if has_noise and bool(r.within_noise) else "")
        ci = "--" if math.isnan(r.ci_low) else f"[{_num(r.ci_low, sign=True)}, {_num(r.ci_high, sign=True)}]"
        row = [str(int(r.rank)), escape(r.strategy), _num(getattr(r, f"mean_{metric}")), gain, ci]
        if has_noise:
            row += [_num(r.noise_sd), _p(r.wilcoxon_p_holm)]
        rows.append(row)
    comment = [f"{WRITTEN_BY}: stage {stage}, {metric} gain over the matched baseline (pp); runs in {MANIFEST_FILE}",
               "95% CI: percentile bootstrap of the mean gain over pairs"]
    if has_noise:
        comment.append("Noise SD: the baseline's seed-to-seed SD pooled over the strategy's blocks; dagger: |gain| "
                       "below it; p_Holm: Wilcoxon signed-rank over blocks, Holm-corrected across strategies")
    return tabular(header, rows, "rl" + "r" * (len(header) - 2), comment)


def comparison_tex(name: str, c) -> str:
    cr = c.correlation
    header = ["Strategy", f"Gain {escape(c.label_a)}", f"Gain {escape(c.label_b)}", f"Rank {escape(c.label_a)}",
              f"Rank {escape(c.label_b)}", r"$\Delta$ rank"]
    rows = [[escape(r.strategy), _num(r.gain_a, sign=True), _num(r.gain_b, sign=True), str(int(r.rank_a)),
             str(int(r.rank_b)), f"{int(r.rank_change):+d}"] for r in c.table.itertuples(index=False)]
    comment = [f"{WRITTEN_BY}: {c.label_a} vs {c.label_b}; runs in {MANIFEST_FILE}",
               f"Spearman rho = {cr.spearman_rho:.3f} (p = {cr.spearman_p:.3g}, 95% CI [{cr.spearman_ci[0]:.2f}, "
               f"{cr.spearman_ci[1]:.2f}]); Kendall tau = {cr.kendall_tau:.3f} (p = {cr.kendall_p:.3g}); "
               f"n = {cr.n}; {c.n_reversals} direction reversals"]
    return tabular(header, rows, "lrrrrr", comment)


def domains_tex(stage: str, breakdown: pd.DataFrame) -> str:
    from prove.analysis.plots import heatmap_matrix

    m = heatmap_matrix(breakdown)
    header = ["Strategy", *(escape(d.replace("_", " ")) for d in m.columns)]
    rows = [[escape(s), *(_num(v, sign=True) for v in m.loc[s])] for s in m.index]
    comment = [f"{WRITTEN_BY}: stage {stage}, mean gain (pp) per weather domain; runs in {MANIFEST_FILE}"]
    return tabular(header, rows, "l" + "r" * len(m.columns), comment)


def noise_tex(stage: str, spread: pd.DataFrame, metric: str) -> str:
    header = ["Dataset", "Model", "Test set", "Seeds", escape(metric), "Seed SD"]
    rows = [[escape(r["dataset"]), escape(r["model"]), escape(f"{r['test_dataset']}/{r['test_split']}"),
             str(int(r["n_seeds"])), _num(r[f"mean_{metric}"]), _num(r["seed_sd"])]
            for _, r in spread.sort_values(["dataset", "model", "test_dataset", "test_split"]).iterrows()]
    comment = [f"{WRITTEN_BY}: stage {stage}, the baseline's seed-to-seed SD per block (pp); runs in {MANIFEST_FILE}"]
    return tabular(header, rows, "lllrrr", comment)


def _runs(inputs: LatexInputs, test_runs: set[str]) -> dict:
    """The test runs and the training runs behind them, sorted."""
    final = inputs.final
    trainings = set(final.loc[final["run_id"].isin(test_runs), "train_run_id"]) if final is not None else set()
    return {"test_runs": sorted(test_runs), "training_runs": sorted(trainings)}


def _gain_runs(gains: pd.DataFrame) -> set[str]:
    runs = set(gains["run_id"])
    for ids in gains["baseline_run_ids"]:
        runs.update(ids.split(","))
    return runs


def write_latex(inputs: LatexInputs, folder: Path) -> dict[str, Path]:
    """Write every table and figure into `folder` (see the module doc); returns name -> path."""
    from prove.analysis import plots
    from prove.analysis.noise import baseline_rows
    from prove.analysis.schema import ALL_DOMAINS

    previous = check_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (previous or {}).get("files", {}):
        (folder / name).unlink(missing_ok=True)
    files: dict[str, dict] = {}
    gains = inputs.gains
    metric = inputs.metric

    def put(name: str, text: str, runs: dict) -> None:
        (folder / name).write_text(text)
        files[name] = runs

    def figure(name: str, draw, runs: dict) -> None:
        draw(folder / name)
        files[name] = runs

    for stage, table in sorted(inputs.leaderboards.items()):
        in_stage = gains[gains["stage"] == stage]
        runs = _runs(inputs, _gain_runs(in_stage[in_stage["domain"] == ALL_DOMAINS]))
        put(f"leaderboard_{stage}.tex", leaderboard_tex(stage, table, metric), runs)
        figure(f"leaderboard_{stage}.pdf", lambda p, t=table, st=stage: plots.leaderboard_bars(
            t, p, plots.leaderboard_title(t, f"Stage {st}: mean {metric} gain over the matched baseline")), runs)
        if stage in inputs.domains:
            domain_runs = _runs(inputs, _gain_runs(in_stage))
            put(f"domains_{stage}.tex", domains_tex(stage, inputs.domains[stage]), domain_runs)
            figure(f"domains_{stage}.pdf", lambda p, t=inputs.domains[stage], st=stage: plots.domain_heatmap(
                t, p, title=f"Stage {st}: mean gain by domain (pp)"), domain_runs)
        spread = inputs.noise.get(stage)
        if spread is not None and (spread["n_seeds"] >= 2).any():
            base = baseline_rows(inputs.final[inputs.final["stage"] == stage])
            put(f"noise_floor_{stage}.tex", noise_tex(stage, spread, metric), _runs(inputs, set(base["run_id"])))
    for name, (c, (column, a, b)) in sorted(inputs.comparisons.items()):
        rows = gains[gains[column].astype(str).isin([a, b]) & (gains["domain"] == ALL_DOMAINS)]
        runs = _runs(inputs, _gain_runs(rows))
        put(f"compare_{name}.tex", comparison_tex(name, c), runs)
        figure(f"compare_{name}.pdf", lambda p, c=c: plots.rank_slope(c, p), runs)
    manifest = {"written_by": WRITTEN_BY, "metric": metric, "files": dict(sorted(files.items()))}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return {name: folder / name for name in files}
