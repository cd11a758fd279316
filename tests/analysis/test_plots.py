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


def test_rank_slope_labels_tied_strategies_once_not_on_top_of_each_other():
    from tests.analysis.tables import frame, row

    # s1: x and y tie (gain 1.0 each): the old plot wrote both names at rank 1 over each other
    rows = []
    for stage, gains in (("s1", dict(x=1.0, y=1.0, z=-1.0)), ("s2", dict(x=2.0, y=0.5, z=1.0))):
        rows.append(row("baseline", stage=stage, miou=50.0))
        rows += [row(s, stage=stage, miou=50.0 + g) for s, g in gains.items()]
    g = matched_gains(frame(rows)).gains
    c = compare_settings(g[g["stage"] == "s1"], g[g["stage"] == "s2"], "S1", "S2", n_boot=50)
    fig, ax = plt.subplots()
    plots.draw_rank_slope(ax, c)
    left = sorted((t.get_position()[1], t.get_text()) for t in ax.texts if t.get_position()[0] < 0.5)
    assert left == [(1, "x, y"), (3, "z")]
    positions = [t.get_position() for t in ax.texts]
    assert len(positions) == len(set(positions))  # no two labels at one spot
    plt.close(fig)


def test_leaderboard_title_says_95_ci_only_when_there_is_one(gains):
    one_pair = leaderboard(gains[gains["seed"] == 0].drop_duplicates("strategy"), n_boot=50).table
    assert one_pair["ci_low"].isna().all()
    fig, ax = plt.subplots()
    plots.draw_leaderboard(ax, one_pair)
    assert "95%" not in ax.get_title()
    ax.clear()
    plots.draw_leaderboard(ax, leaderboard(gains, n_boot=50).table)
    assert "95% bootstrap CI" in ax.get_title()
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
