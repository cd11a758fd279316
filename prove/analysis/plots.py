"""Figures of the analysis tables. Each `draw_*` draws one table onto a given axes (so a test
can read the plotted data back); each public figure function draws into a new figure, writes
a PNG and returns its path. No figure recomputes anything: its data are the table it is given.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: reports are built on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from prove.analysis.cd import CriticalDifference  # noqa: E402
from prove.analysis.compare import Comparison  # noqa: E402
from prove.analysis.schema import DOMAIN_VALUES, require_columns  # noqa: E402
from prove.errors import ProveError  # noqa: E402


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".pdf":  # vector, and without a creation date: a rebuild is byte-identical
        fig.savefig(path, bbox_inches="tight", metadata={"CreationDate": None})
    else:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def leaderboard_title(table: pd.DataFrame, prefix: str = "Leaderboard") -> str:
    """`prefix` and "(95% bootstrap CI)" where the table has a CI, else says there is none."""
    has_ci = bool(np.isfinite(table[["ci_low", "ci_high"]].to_numpy(float)).any())
    return prefix + (" (95% bootstrap CI)" if has_ci else " (one pair per strategy: no CI)")


def draw_leaderboard(ax, table: pd.DataFrame, title: str | None = None) -> None:
    """Bars of mean gain (in table order) with asymmetric bootstrap-CI error bars."""
    require_columns(table, ["strategy", "mean_gain", "ci_low", "ci_high"], "the leaderboard table")
    x = np.arange(len(table))
    gain = table["mean_gain"].to_numpy(float)
    err = np.vstack([gain - table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float) - gain])
    colors = ["tab:green" if g > 0 else "tab:red" for g in gain]
    # a gain inside the seed noise floor (prove.analysis.noise) is drawn hollow over a grey band
    within = table["within_noise"].to_numpy(bool) if "within_noise" in table else np.zeros(len(table), bool)
    ax.bar(x, gain, yerr=err, capsize=3, color=[c if not w else "white" for c, w in zip(colors, within)],
           edgecolor=colors)
    if "noise_sd" in table and np.isfinite(table["noise_sd"].to_numpy(float)).any():
        sd = table["noise_sd"].to_numpy(float)
        ax.bar(x, 2 * sd, bottom=-sd, width=1.0, color="grey", alpha=0.2, zorder=0,
               label="baseline seed SD (noise floor)")
        ax.legend(loc="best", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, table["strategy"], rotation=60, ha="right")
    ax.set_ylabel("mean mIoU gain over matched baseline (pp)")
    ax.set_title(title or leaderboard_title(table))


def leaderboard_bars(table: pd.DataFrame, path, title: str | None = None) -> Path:
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(table) + 2), 4.5))
    draw_leaderboard(ax, table, title)
    return _save(fig, path)


def draw_rank_slope(ax, comparison: Comparison) -> None:
    """One line per strategy from its rank in A (x=0) to its rank in B (x=1); rank 1 on top."""
    t = comparison.table
    for row in t.itertuples():
        color = "tab:green" if row.rank_change > 0 else "tab:red" if row.rank_change < 0 else "grey"
        ax.plot([0, 1], [row.rank_a, row.rank_b], marker="o", color=color, label=row.strategy)
    # strategies tied at a rank share it: one label joining their names, not labels drawn over each other
    for side, x, ha in (("rank_a", -0.03, "right"), ("rank_b", 1.03, "left")):
        for rank, names in t.groupby(side, sort=True)["strategy"]:
            ax.text(x, rank, ", ".join(sorted(names)), ha=ha, va="center", fontsize=8)
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylim(len(t) + 0.5, 0.5)
    ax.set_xticks([0, 1], [comparison.label_a, comparison.label_b])
    ax.set_ylabel("rank by mean gain")
    ax.set_title(f"Rank change {comparison.label_a} -> {comparison.label_b}")


def rank_slope(comparison: Comparison, path) -> Path:
    fig, ax = plt.subplots(figsize=(6, max(4, 0.3 * len(comparison.table) + 1)))
    draw_rank_slope(ax, comparison)
    return _save(fig, path)


def draw_gain_scatter(ax, comparison: Comparison) -> None:
    """Mean gain in A (x) vs in B (y) per strategy; title carries Spearman rho and Kendall tau."""
    t, c = comparison.table, comparison.correlation
    ax.scatter(t["gain_a"], t["gain_b"], color="tab:blue")
    for row in t.itertuples():
        ax.annotate(row.strategy, (row.gain_a, row.gain_b), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"mean gain, {comparison.label_a} (pp)")
    ax.set_ylabel(f"mean gain, {comparison.label_b} (pp)")
    ax.set_title(f"Spearman ρ = {c.spearman_rho:.2f} (p = {c.spearman_p:.3g}), "
                 f"Kendall τ = {c.kendall_tau:.2f} (p = {c.kendall_p:.3g})")


def gain_scatter(comparison: Comparison, path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 5))
    draw_gain_scatter(ax, comparison)
    return _save(fig, path)


def heatmap_matrix(breakdown_table: pd.DataFrame, column: str = "domain", value: str = "mean_gain") -> pd.DataFrame:
    """strategy x `column` matrix of `value`, as the heatmap shows it."""
    require_columns(breakdown_table, ["strategy", column, value], "the breakdown table")
    m = breakdown_table.pivot(index="strategy", columns=column, values=value)
    if column == "domain":  # 'all' first, then the study's domain order, not alphabetical
        m = m[[d for d in DOMAIN_VALUES if d in m.columns]]
    return m


def draw_domain_heatmap(ax, breakdown_table: pd.DataFrame, column: str = "domain", value: str = "mean_gain",
                        label: str = "mean mIoU gain (pp)", title: str | None = None) -> None:
    """Heatmap of a strategy x `column` table. Gains: diverging colours centred on zero;
    absolute values (value not a gain): a sequential scale from 0."""
    m = heatmap_matrix(breakdown_table, column, value)
    values = m.to_numpy(float)
    finite = np.isfinite(values).any()
    if "gain" in value:
        lim = float(np.nanmax(np.abs(values))) if finite else 1.0
        im = ax.imshow(values, cmap="RdBu", vmin=-lim or -1, vmax=lim or 1, aspect="auto")
    else:
        im = ax.imshow(values, cmap="viridis", vmin=0, vmax=float(np.nanmax(values)) if finite else 1, aspect="auto")
    ax.set_xticks(range(m.shape[1]), m.columns, rotation=45, ha="right")
    ax.set_yticks(range(m.shape[0]), m.index)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=7,
                        color="black" if "gain" in value else "white")
    ax.figure.colorbar(im, ax=ax, label=label)
    ax.set_title(title or f"Mean gain by strategy and {column}")


def domain_heatmap(breakdown_table: pd.DataFrame, path, column: str = "domain", value: str = "mean_gain",
                   label: str = "mean mIoU gain (pp)", title: str | None = None) -> Path:
    m = heatmap_matrix(breakdown_table, column, value)
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * m.shape[1] + 3), max(3, 0.35 * m.shape[0] + 1.5)))
    draw_domain_heatmap(ax, breakdown_table, column, value, label, title)
    return _save(fig, path)


def draw_convergence(ax, table: pd.DataFrame, value: str = "mean_mIoU", title: str | None = None) -> None:
    """One line per strategy: `value` (from `convergence(...)`) against the checkpoint iteration."""
    require_columns(table, ["strategy", "checkpoint_iter", value], "the convergence table")
    for strategy, g in table.groupby("strategy", sort=True):
        g = g.sort_values("checkpoint_iter")
        ax.plot(g["checkpoint_iter"], g[value], marker="o", label=strategy)
    ax.set_xlabel("training iteration of the tested checkpoint")
    ax.set_ylabel(value.replace("_", " ") + " (%)")
    ax.legend(fontsize=7)
    ax.set_title(title or "Test result over training")


def convergence_lines(table: pd.DataFrame, path, value: str = "mean_mIoU", title: str | None = None) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    draw_convergence(ax, table, value, title)
    return _save(fig, path)


def draw_cd(ax, result: CriticalDifference) -> None:
    """The classic CD diagram (Demšar 2006, fig. 1): an average-rank axis (best on the left),
    each strategy hooked to its rank, the CD interval, and bars joining strategies whose
    ranks differ by less than CD."""
    avg = result.avg_ranks
    k = len(avg)
    if k < 2:
        raise ProveError("a CD diagram needs at least 2 strategies")
    ax.set_xlim(0.5, k + 0.5)
    ax.hlines(0, 1, k, color="black")
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.1, color="black")
        ax.text(r, 0.15, str(r), ha="center", va="bottom", fontsize=8)
    ax.hlines(0.6, 1, 1 + result.cd, color="black", linewidth=1.5)  # the CD interval
    ax.vlines([1, 1 + result.cd], 0.55, 0.65, color="black")
    ax.text(1 + result.cd / 2, 0.7, f"CD = {result.cd:.2f}", ha="center", va="bottom", fontsize=8)
    half = math.ceil(k / 2)
    step = 0.35
    for i, (name, rank) in enumerate(avg.items()):
        left = i < half
        depth = -(0.5 + step * (i if left else k - 1 - i))
        end = 0.6 if left else k + 0.4
        ax.plot([rank, rank, end], [0, depth, depth], color="black", linewidth=0.8)
        ax.text(end + (-0.05 if left else 0.05), depth, f"{name} ({rank:.2f})",
                ha="right" if left else "left", va="center", fontsize=8)
    for g, members in enumerate(result.cliques):
        lo, hi = avg[members].min(), avg[members].max()
        y = -0.2 - 0.08 * g
        ax.plot([lo - 0.03, hi + 0.03], [y, y], color="tab:red", linewidth=3)
    ax.set_ylim(-(0.7 + step * half), 1.0)
    ax.axis("off")
    ax.set_title(f"Friedman p = {result.p_value:.3g}, N = {result.n_blocks}, alpha = {result.alpha}", fontsize=9)


def cd_diagram(result: CriticalDifference, path) -> Path:
    k = len(result.avg_ranks)
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * k + 4), 1.2 + 0.25 * k))
    draw_cd(ax, result)
    return _save(fig, path)


def draw_ratio_lines(ax, spread: pd.DataFrame) -> None:
    """One line per (stage, strategy) of a `ratio_spread` table: mean gain against the ratio of
    real images; the best ratio marked."""
    require_columns(spread, ["stage", "strategy", "best_ratio", "best_gain"], "the ratio spread table")
    columns = sorted((c for c in spread.columns if c.startswith("gain@")), key=lambda c: float(c[5:]))
    for row in spread.itertuples(index=False):
        values = dict(zip(spread.columns, row))
        points = [(float(c[5:]), values[c]) for c in columns if np.isfinite(values[c])]
        x, y = zip(*points)
        ax.plot(x, y, marker="o", label=f"{values['stage']} {values['strategy']}")
        ax.plot([values["best_ratio"]], [values["best_gain"]], marker="*", markersize=12, color="black")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("ratio of real images per batch")
    ax.set_ylabel("mean mIoU gain over matched baseline (pp)")
    ax.legend(fontsize=7)
    ax.set_title("Gain against ratio (star: best ratio)")


def ratio_lines(spread: pd.DataFrame, path) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    draw_ratio_lines(ax, spread)
    return _save(fig, path)


def draw_quality_scatter(ax, points: pd.DataFrame, title: str) -> None:
    """A generator's quality score (x) against its strategy's mean gain (y), each point labelled."""
    require_columns(points, ["generator", "value", "mean_gain"], "the quality points")
    ax.scatter(points["value"], points["mean_gain"], color="tab:blue")
    for row in points.itertuples():
        ax.annotate(row.generator, (row.value, row.mean_gain), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("quality score")
    ax.set_ylabel("mean mIoU gain over matched baseline (pp)")
    ax.set_title(title)


def quality_scatter(points: pd.DataFrame, path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    draw_quality_scatter(ax, points, title)
    return _save(fig, path)
