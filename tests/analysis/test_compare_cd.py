"""Setting comparisons (rank correlation, rank changes, reversals) and critical differences."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from prove.analysis.cd import critical_difference

from prove.analysis.compare import compare_by, compare_settings

from prove.analysis.stats import nemenyi_cd, rank_correlation
from prove.errors import ProveError
from tests.analysis.tables import A, B, MATRIX, NAMES, cd_table, gains_of


def test_comparison_against_scipy_and_hand_ranks():
    c = compare_settings(gains_of(A, "a"), gains_of(B, "b"), "S1", "S2", n_boot=500, seed=0)
    t = c.table.set_index("strategy")
    gain_a, gain_b = [3.0, 2.0, 1.0, -1.0, -2.0, 0.5], [1.0, 2.5, -0.5, -1.5, 0.2, 3.0]
    assert t.loc[["s1", "s2", "s3", "s4", "s5", "s6"], "gain_a"].tolist() == gain_a
    rho, rho_p = stats.spearmanr(gain_a, gain_b)
    tau, tau_p = stats.kendalltau(gain_a, gain_b)
    cr = c.correlation
    assert (cr.spearman_rho, cr.spearman_p) == pytest.approx((rho, rho_p))
    assert (cr.kendall_tau, cr.kendall_p) == pytest.approx((tau, tau_p))
    assert cr.spearman_ci[0] <= rho <= cr.spearman_ci[1] and cr.kendall_ci[0] <= tau <= cr.kendall_ci[1]
    # by hand: ranks A s1..s6 = 1,2,3,5,6,4; ranks B = 3,2,5,6,4,1
    assert t.loc[["s1", "s2", "s3", "s4", "s5", "s6"], "rank_a"].tolist() == [1, 2, 3, 5, 6, 4]
    assert t.loc[["s1", "s2", "s3", "s4", "s5", "s6"], "rank_b"].tolist() == [3, 2, 5, 6, 4, 1]
    assert t.loc[["s1", "s2", "s3", "s4", "s5", "s6"], "rank_change"].tolist() == [-2, 0, -2, -1, 2, 3]
    assert c.n_reversals == 2 and set(t.index[t["reversal"]]) == {"s3", "s5"}
    assert c.winners["strategy"].tolist() == ["s6", "s5"]
    assert c.losers["strategy"].tolist() == ["s1", "s3", "s4"]
    assert c.only_b == ["s7"] and c.only_a == []
    again = compare_settings(gains_of(A, "a"), gains_of(B, "b"), n_boot=500, seed=0).correlation
    assert again.spearman_ci == cr.spearman_ci


def test_compare_by_column():
    both = pd.concat([gains_of(A, "a"), gains_of(B, "b")], ignore_index=True)
    c = compare_by(both, "setting", "a", "b", n_boot=100)
    assert c.label_a == "setting=a" and len(c.table) == 6
    with pytest.raises(ProveError, match=">= 3 strategies"):
        compare_settings(gains_of({"x": [1.0]}, "a"), gains_of({"x": [2.0]}, "b"))


def test_bootstrap_rank_correlations_match_scipy_on_each_resample():
    # the vectorised tau-b / rho used for the CIs equal scipy on resamples with ties
    import numpy as np
    from prove.analysis.stats import _kendall_rows, _spearman_rows
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=8), rng.normal(size=8)
    idx = rng.integers(0, 8, size=(20, 8))
    for i, (x, y) in enumerate(zip(a[idx], b[idx])):
        assert _kendall_rows(a[idx], b[idx])[i] == pytest.approx(stats.kendalltau(x, y)[0])
        assert _spearman_rows(a[idx], b[idx])[i] == pytest.approx(stats.spearmanr(x, y)[0])


def test_friedman_and_nemenyi():
    r = critical_difference(cd_table())
    assert r.k == 4 and r.n_blocks == 6 and r.dropped_blocks == [("acdc", "segformer")]
    assert r.avg_ranks.to_dict() == pytest.approx({"baseline": 7 / 6, "std_cutmix": 2.0, "gen_a": 17 / 6, "gen_b": 4.0})
    assert list(r.avg_ranks.index) == NAMES
    stat, p = stats.friedmanchisquare(*[[MATRIX[b][j] for b in range(6)] for j in range(4)])
    assert (r.statistic, r.p_value) == pytest.approx((stat, p))
    # Demšar 2006, table 5(a): q_0.05 = 2.569 for k = 4
    assert r.cd == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 6)), abs=1e-3)
    assert nemenyi_cd(4, 6) == pytest.approx(1.915, abs=1e-3)
    assert r.cliques == [["baseline", "std_cutmix", "gen_a"], ["gen_a", "gen_b"]]


def test_rank_correlation_needs_three_pairs():
    with pytest.raises(ProveError):
        rank_correlation([1, 2], [2, 1])
