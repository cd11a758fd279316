"""The seed noise floor and the paired test per strategy: standard deviations by hand, the
Wilcoxon p-values by hand (exact null distribution) and against scipy, Holm against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from prove.analysis.gains import matched_gains
from prove.analysis.noise import baseline_seed_spread, holm, noise_table, pooled_sd
from tests.analysis.tables import frame, row

# four blocks (dataset x model); the baseline with seeds 0-2 in bdd10k/segformer, 0-1 in
# iddaw/segformer, one seed elsewhere
BASE = {("bdd10k", "segformer"): [40.0, 42.0, 44.0], ("iddaw", "segformer"): [50.0, 51.0],
        ("bdd10k", "pspnet"): [30.0], ("iddaw", "pspnet"): [35.0]}
# per strategy and block, the gain over the same seed's baseline (seed 0 only for strategies)
GAIN = {"gen_big": [3.0, 2.5, 4.0, 3.5], "gen_small": [0.5, -0.25, 0.75, 0.25], "std_cutmix": [2.0, 3.0, 3.0, -0.5]}  # mean 1.875, floor 1.68


def table():
    rows = []
    for (dataset, model), values in BASE.items():
        rows += [row("baseline", dataset, model, seed=s, miou=v) for s, v in enumerate(values)]
    for strategy, gains in GAIN.items():
        for (dataset, model), gain in zip(BASE, gains):
            rows.append(row(strategy, dataset, model, seed=0, miou=BASE[(dataset, model)][0] + gain))
    return frame(rows)


def test_the_baselines_seed_to_seed_sd_per_block_by_hand():
    spread = baseline_seed_spread(table()).set_index(["dataset", "model"])
    assert spread.loc[("bdd10k", "segformer"), "seed_sd"] == pytest.approx(2.0)  # 40, 42, 44
    assert spread.loc[("iddaw", "segformer"), "seed_sd"] == pytest.approx(math.sqrt(0.5))  # 50, 51
    assert spread.loc[("bdd10k", "pspnet"), "n_seeds"] == 1 and np.isnan(spread.loc[("bdd10k", "pspnet"), "seed_sd"])
    # pooled over blocks with >= 2 seeds, weighted by their degrees of freedom
    assert pooled_sd([3, 2, 1], [2.0, math.sqrt(0.5), np.nan]) == pytest.approx(math.sqrt((2 * 4 + 1 * 0.5) / 3))
    assert np.isnan(pooled_sd([1, 1], [np.nan, np.nan]))


def test_gains_within_the_noise_floor_are_marked_and_each_strategy_is_tested_over_blocks():
    final = table()
    gains = matched_gains(final).gains
    noise = noise_table(gains, baseline_seed_spread(final), "s1").set_index("strategy")
    floor = math.sqrt((2 * 4 + 1 * 0.5) / 3)  # every strategy was compared in both multi-seed blocks
    assert noise["noise_sd"].tolist() == pytest.approx([floor] * 3)
    assert (noise["noise_blocks"] == 2).all() and (noise["n_blocks"] == 4).all()
    assert noise["within_noise"].to_dict() == {"gen_big": False, "gen_small": True, "std_cutmix": False}
    # four positive block gains: the exact two-sided p is 2 / 2^4 (all signs + or all -)
    assert noise.loc["gen_big", "wilcoxon_p"] == pytest.approx(2 / 16)
    assert noise.loc["gen_big", "wilcoxon_W"] == 0
    # gen_small: ranks of |0.5, -0.25, 0.75, 0.25| are 3, 1.5, 4, 1.5 -> W = 1.5
    for strategy, gains_ in GAIN.items():
        expected = stats.wilcoxon(gains_)
        assert noise.loc[strategy, "wilcoxon_W"] == pytest.approx(expected.statistic)
        assert noise.loc[strategy, "wilcoxon_p"] == pytest.approx(expected.pvalue)
    assert noise.loc["gen_small", "wilcoxon_W"] == pytest.approx(1.5)
    reference = multipletests(noise["wilcoxon_p"].to_numpy(), method="holm")[1]
    assert noise["wilcoxon_p_holm"].to_numpy() == pytest.approx(reference)


def test_blocks_with_several_seeds_are_averaged_before_the_test():
    final = table()
    extra = [row("gen_big", "bdd10k", "segformer", seed=1, miou=42.0 + 1.0)]  # gains 3.0 (seed 0), 1.0 (seed 1)
    final = frame(list(final.to_dict("records")) + extra)
    noise = noise_table(matched_gains(final).gains, baseline_seed_spread(final), "s1").set_index("strategy")
    expected = stats.wilcoxon([2.0, 2.5, 4.0, 3.5])  # the block mean (3 + 1) / 2 = 2
    assert noise.loc["gen_big", "wilcoxon_p"] == pytest.approx(expected.pvalue)
    assert noise.loc["gen_big", "n_blocks"] == 4


def test_holm_matches_statsmodels_and_leaves_missing_values_out():
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 12))
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    p = np.array([0.01, np.nan, 0.04, 0.03])
    adjusted = holm(p)
    assert np.isnan(adjusted[1])
    assert adjusted[[0, 2, 3]] == pytest.approx(multipletests(p[[0, 2, 3]], method="holm")[1])


def test_one_seed_per_block_gives_no_floor_and_nothing_within_it():
    final = frame([r for r in table().to_dict("records") if r["seed"] == 0])
    noise = noise_table(matched_gains(final).gains, baseline_seed_spread(final), "s1")
    assert noise["noise_sd"].isna().all() and not noise["within_noise"].any()
    assert noise["wilcoxon_p"].notna().all()  # the test over blocks needs no second seed


def test_a_strategy_with_no_nonzero_gain_has_no_test():
    final = table()
    final.loc[final["strategy"] == "gen_small", "mIoU"] = [BASE[k][0] for k in BASE]
    noise = noise_table(matched_gains(final).gains, baseline_seed_spread(final), "s1").set_index("strategy")
    assert np.isnan(noise.loc["gen_small", "wilcoxon_p"]) and np.isnan(noise.loc["gen_small", "wilcoxon_p_holm"])
    assert noise.loc["gen_small", "within_noise"]
