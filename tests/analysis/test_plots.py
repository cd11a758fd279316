"""Each figure writes a PNG and plots exactly the table it is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from prove.analysis.cd import critical_difference  # noqa: E402
from prove.analysis.compare import compare_settings  # noqa: E402
from prove.analysis.gains import matched_gains  # noqa: E402
from prove.analysis.leaderboard import breakdown, leaderboard  # noqa: E402
from prove.analysis import plots  # noqa: E402
from tests.analysis.tables import A, B, cd_table, gains_of, results  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def gains():
    return matched_gains(results()).gains


@pytest.fixture(scope="module")
def comparison():
    return compare_settings(gains_of(A, "a"), gains_of(B, "b"), "S1", "S2", n_boot=200)


def _is_png(path):
    return path.exists() and path.read_bytes()[:8] == PNG


def test_leaderboard_bars(gains, tmp_path):
    table = leaderboard(gains, n_boot=200).table
    assert _is_png(plots.leaderboard_bars(table, tmp_path / "lb.png"))
    fig, ax = plt.subplots()
    plots.draw_leaderboard(ax, table)
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx(table["mean_gain"].tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == table["strategy"].tolist()
    plt.close(fig)


def test_rank_slope(comparison, tmp_path):
    assert _is_png(plots.rank_slope(comparison, tmp_path / "slope.png"))
    fig, ax = plt.subplots()
    plots.draw_rank_slope(ax, comparison)
    drawn = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert drawn == {r.strategy: [r.rank_a, r.rank_b] for r in comparison.table.itertuples()}
    plt.close(fig)


def test_gain_scatter(comparison, tmp_path):
    assert _is_png(plots.gain_scatter(comparison, tmp_path / "scatter.png"))
    fig, ax = plt.subplots()
    plots.draw_gain_scatter(ax, comparison)
    offsets = ax.collections[0].get_offsets()
    assert np.allclose(offsets, comparison.table[["gain_a", "gain_b"]].to_numpy())
    assert f"ρ = {comparison.correlation.spearman_rho:.2f}" in ax.get_title()
    plt.close(fig)


def test_domain_heatmap(gains, tmp_path):
    table = breakdown(gains, "domain")
    assert _is_png(plots.domain_heatmap(table, tmp_path / "heat.png"))
    fig, ax = plt.subplots()
    plots.draw_domain_heatmap(ax, table)
    shown = ax.images[0].get_array()
    expected = table.pivot(index="strategy", columns="domain", values="mean_gain")[["all", "foggy", "night"]].to_numpy()
    assert np.allclose(shown, expected)
    plt.close(fig)


def test_cd_diagram(tmp_path):
    result = critical_difference(cd_table())
    assert _is_png(plots.cd_diagram(result, tmp_path / "sub" / "cd.png"))
    fig, ax = plt.subplots()
    plots.draw_cd(ax, result)
    texts = {t.get_text() for t in ax.texts}
    assert f"CD = {result.cd:.2f}" in texts
    assert {f"{n} ({r:.2f})" for n, r in result.avg_ranks.items()} <= texts
    plt.close(fig)
