"""Leaderboard, bootstrap CIs, breakdowns, family summaries and exclusions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prove.analysis.exclusions import Exclusion, apply_exclusions, exclusions_note
from prove.analysis.gains import matched_gains
from prove.analysis.leaderboard import breakdown, class_breakdown, family_summary, leaderboard
from prove.analysis.stats import bootstrap_mean_ci
from prove.errors import ProveError
from tests.analysis.tables import GAINS, frame, results, row


@pytest.fixture(scope="module")
def gains():
    return matched_gains(results()).gains


def test_leaderboard_means_ranks_and_summary(gains):
    lb = leaderboard(gains, stage="s1", n_boot=500, seed=1)
    t = lb.table.set_index("strategy")
    assert list(lb.table["strategy"]) == ["std_cutmix", "gen_flux", "gen_cyclegan"]
    assert list(lb.table["rank"]) == [1, 2, 3]
    for strategy, g in GAINS.items():
        assert t.loc[strategy, "mean_gain"] == pytest.approx(np.mean(g))
        assert t.loc[strategy, "n_pairs"] == 4
        assert t.loc[strategy, "n_positive"] == sum(x > 0 for x in g)
    assert t.loc["std_cutmix", "mean_mIoU"] == pytest.approx((42 + 36 + 33 + 30) / 4)
    assert t.loc["std_cutmix", "mean_baseline_mIoU"] == pytest.approx((40 + 35 + 30 + 28) / 4)
    assert lb.summary["n_strategies"] == 3
    assert lb.summary["n_beat_baseline"] == 2
    assert t.loc["std_cutmix", "ci_low"] > 0 and t.loc["gen_cyclegan", "ci_low"] < 0
    assert lb.summary["n_beat_baseline_ci"] == int((lb.table["ci_low"] > 0).sum())
    assert ((lb.table["ci_low"] <= lb.table["mean_gain"]) & (lb.table["mean_gain"] <= lb.table["ci_high"])).all()


def test_leaderboard_domain_filter(gains):
    t = leaderboard(gains, domain="foggy", n_boot=200).table.set_index("strategy")
    assert t.loc["gen_flux", "mean_gain"] == pytest.approx(0.75 + 1.0)
    with pytest.raises(ProveError, match="unknown domain"):
        leaderboard(gains, domain="hazy")


def test_leaderboard_refuses_several_checkpoints_of_one_run():
    rows = [row("baseline", miou=40.0, checkpoint_iter=i) for i in (10000, 20000)]
    rows += [row("std_cutmix", miou=41.0, checkpoint_iter=i) for i in (10000, 20000)]
    with pytest.raises(ProveError, match="several checkpoints"):
        leaderboard(matched_gains(frame(rows)).gains)


def test_bootstrap_ci_contains_mean_and_is_reproducible():
    x = np.array([0.5, 1.5, -0.5, 1.5, 2.0, -1.0, 0.3])
    a = bootstrap_mean_ci(x, n_boot=2000, seed=7, label="s")
    assert a == bootstrap_mean_ci(x, n_boot=2000, seed=7, label="s")
    assert a[0] < x.mean() < a[1]
    assert a != bootstrap_mean_ci(x, n_boot=2000, seed=8, label="s")
    assert all(np.isnan(bootstrap_mean_ci([1.25])))  # one value: no interval
    with pytest.raises(ProveError):
        bootstrap_mean_ci([])


def test_leaderboard_ci_does_not_depend_on_other_strategies(gains):
    full = leaderboard(gains, n_boot=300, seed=3).table.set_index("strategy")
    alone = leaderboard(gains[gains.strategy == "gen_flux"], n_boot=300, seed=3).table.set_index("strategy")
    assert full.loc["gen_flux", ["ci_low", "ci_high"]].tolist() == alone.loc["gen_flux", ["ci_low", "ci_high"]].tolist()


def test_breakdowns_by_dataset_model_domain(gains):
    by_ds = breakdown(gains, "dataset").set_index(["strategy", "dataset"])
    assert by_ds.loc[("std_cutmix", "bdd10k"), "mean_gain"] == pytest.approx((2.0 + 1.0) / 2)
    assert by_ds.loc[("std_cutmix", "iddaw"), "mean_gain"] == pytest.approx((3.0 + 2.0) / 2)
    by_model = breakdown(gains, "model").set_index(["strategy", "model"])
    assert by_model.loc[("gen_cyclegan", "pspnet"), "mean_gain"] == pytest.approx((0.5 - 1.0) / 2)
    by_dom = breakdown(gains, "domain").set_index(["strategy", "domain"])
    assert by_dom.loc[("gen_flux", "foggy"), "mean_gain"] == pytest.approx(1.75)
    assert by_dom.loc[("std_cutmix", "night"), "mean_gain"] == pytest.approx(1.0)
    assert by_dom.loc[("std_cutmix", "all"), "n_pairs"] == 4


def test_class_breakdown():
    t = pd.DataFrame({"strategy": ["a", "a", "a"], "stage": "s1", "domain": "all", "class": ["road", "road", "car"],
                      "IoU": [91.0, 93.0, 70.0], "baseline_IoU": [90.0, 90.0, 72.0], "gain": [1.0, 3.0, -2.0]})
    out = class_breakdown(t).set_index("class")
    assert out.loc["road", "mean_gain"] == 2.0 and out.loc["car", "mean_gain"] == -2.0


def test_family_summaries(gains):
    fam = family_summary(gains).set_index("strategy_family")
    assert fam.loc["generative", "n_strategies"] == 2
    assert fam.loc["generative", "n_positive_strategies"] == 1
    assert fam.loc["generative", "mean_strategy_gain"] == pytest.approx((-0.5 + 0.75) / 2)
    assert fam.loc["generative", "best_strategy"] == "gen_flux"
    assert fam.loc["standard", "pooled_mean_gain"] == pytest.approx(2.0)
    gen = family_summary(gains, by="generator_family").set_index("generator_family")
    assert gen.loc["gan", "best_mean_gain"] == pytest.approx(-0.5)


def test_exclusions_remove_rows_and_report_reasons():
    df = results()
    kept, report = apply_exclusions(df, [Exclusion("model", "pspnet", "broken baseline"),
                                         Exclusion("dataset", "iddaw", "labels being fixed"),
                                         Exclusion("strategy", "nope", "never trained")])
    # 4 strategies x 3 domains per block: pspnet has 2 blocks, iddaw/segformer is the 1 left for iddaw
    assert report["rows_removed"].tolist() == [24, 12, 0]
    assert report["reason"].tolist() == ["broken baseline", "labels being fixed", "never trained"]
    assert len(kept) == len(df) - 36 and set(kept["model"]) == {"segformer"} and set(kept["dataset"]) == {"bdd10k"}
    assert "broken baseline (24 rows)" in exclusions_note(report)
    with pytest.raises(ProveError, match="not a column"):
        apply_exclusions(df, [Exclusion("modle", "x", "typo")])
    with pytest.raises(ProveError, match="needs a reason"):
        Exclusion("model", "x", " ")


def test_leaderboard_of_another_metric():
    t = leaderboard(matched_gains(results(), metric="mAcc").gains, n_boot=100).table.set_index("strategy")
    assert t.loc["std_cutmix", "mean_gain"] == pytest.approx(2.0)  # mAcc = mIoU + 10 in the fixture
    assert t.loc["std_cutmix", "mean_baseline_mAcc"] == pytest.approx((40 + 35 + 30 + 28) / 4 + 10)
