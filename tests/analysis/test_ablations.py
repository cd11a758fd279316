"""Ratio spread, combination synergy, small objects and setting effects against hand-computed
values on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prove.analysis.ablations import combination_synergy, ratio_spread, setting_effect, small_objects
from prove.analysis.gains import matched_gains
from tests.analysis.tables import frame, row


def _run(strategy, miou, model="segformer", **over):
    key = "-".join(f"{k}{v}" for k, v in sorted(over.items()))
    return row(strategy, model=model, miou=miou, train_run_id=f"tr-{strategy}-{model}-{key}",
               run_id=f"te-{strategy}-{model}-{key}", **over)


def test_ratio_spread_best_ratio_spread_and_nonlinearity():
    # gen_flux gains: ratio 0 -> -2, 0.25 -> +1, 0.5 -> +2; ratio 1.0 is the baseline (gain 0, implied)
    rows = [_run("baseline", 40.0, ratio=1.0)]
    rows += [_run("gen_flux", 40.0 + g, ratio=r) for r, g in ((0.0, -2.0), (0.25, 1.0), (0.5, 2.0))]
    rows += [_run("std_cutmix", 41.0, ratio=1.0)]  # one ratio: no spread
    spread = ratio_spread(matched_gains(frame(rows)).gains)
    assert spread["strategy"].tolist() == ["gen_flux"]
    s = spread.iloc[0]
    assert (s.best_ratio, s.best_gain, s.worst_ratio, s.worst_gain, s.spread_pp) == (0.5, 2.0, 0.0, -2.0, 4.0)
    assert s["implied_1.0"] and s["gain@1"] == 0.0 and s.n_ratios == 4
    # by hand: x = 0, .25, .5, 1; y = -2, 1, 2, 0; mean x .4375, mean y .25; Sxx .546875,
    # Sxy .8125 -> slope 1.485714, intercept -0.4; residuals -1.6, 1.028571, 1.657143,
    # -1.085714; RMS sqrt(7.542857 / 4) = 1.373213
    assert s.nonlinearity_pp == pytest.approx(1.373213, abs=1e-6)


def test_ratio_spread_with_two_trained_ratios_has_no_nonlinearity_without_the_implied_point():
    rows = [_run("baseline", 40.0, ratio=1.0)] + [_run("gen_flux", 40.0 + g, ratio=r) for r, g in ((0.0, -2.0), (0.5, 1.0))]
    s = ratio_spread(matched_gains(frame(rows)).gains, real_only_point=False).iloc[0]
    assert s.spread_pp == 3.0 and s.best_ratio == 0.5 and np.isnan(s.nonlinearity_pp)


def test_combination_synergy_against_each_component_in_the_same_cell():
    rows = []
    # cell pspnet: gen +1.0, std +2.0, combo +2.5 -> additive -0.5, vs best +0.5
    # cell segformer: gen 0.0, std +1.0, combo +2.0 -> additive +1.0, vs best +1.0
    for model, base, gen, std, combo in (("pspnet", 30.0, 1.0, 2.0, 2.5), ("segformer", 40.0, 0.0, 1.0, 2.0)):
        rows += [_run("baseline", base, model, ratio=1.0, stage="cg"),
                 _run("gen_Img2Img", base + gen, model, ratio=0.5, stage="cg"),
                 _run("std_cutmix", base + std, model, ratio=1.0, stage="cg"),
                 _run("gen_Img2Img+std_cutmix", base + combo, model, ratio=0.5, stage="cg")]
    rows.append(_run("gen_Img2Img", 30.0 + 5.0, "pspnet", ratio=0.25, stage="cg"))  # another ratio: not a component
    per_cell, summary = combination_synergy(matched_gains(frame(rows)).gains)
    cells = per_cell.set_index("model")
    assert cells.loc["pspnet", ["gain_gen", "gain_std", "gain_combo"]].tolist() == [1.0, 2.0, 2.5]
    assert cells["synergy_additive"].to_dict() == {"pspnet": -0.5, "segformer": 1.0}
    assert cells["synergy_vs_best"].to_dict() == {"pspnet": 0.5, "segformer": 1.0}
    s = summary.iloc[0]
    assert (s.combination, s.gain_combo, s.synergy_additive, s.synergy_vs_best, s.n_cells, s.n_beats_best) == (
        "gen_Img2Img+std_cutmix", 2.25, 0.25, 0.75, 2, 2)


def test_small_objects_mean_of_the_small_classes_and_per_domain():
    cg = pd.DataFrame([
        dict(stage="s1", strategy="gen_flux", domain="all", **{"class": c}, gain=g)
        for c, g in (("pole", 1.0), ("pole", 3.0), ("person", 4.0), ("road", 10.0))
    ] + [dict(stage="s1", strategy="gen_flux", domain="night", **{"class": "pole"}, gain=-2.0)])
    wide, by_domain = small_objects(cg)
    r = wide.set_index("strategy").loc["gen_flux"]
    assert r["pole"] == 2.0 and r["person"] == 4.0 and r["small_mean"] == 3.0  # road is not small
    assert "road" not in wide.columns
    night = by_domain[(by_domain["domain"] == "night")]
    assert night[["class", "mean_gain"]].values.tolist() == [["pole", -2.0]]


def test_setting_effect_pretrained_against_scratch_on_the_same_strategies():
    rows = []
    # baseline: true 40 / 30, false 30 / 25 -> -10, -5; gen_flux: true 41 / 31, false 33 / 24 -> -8, -7
    for strategy, values in (("baseline", ((40, 30), (30, 25))), ("gen_flux", ((41, 31), (33, 24)))):
        for pretrained, (a, b) in zip(("true", "false"), values):
            rows += [_run(strategy, float(a), "segformer", pretrained=pretrained),
                     _run(strategy, float(b), "pspnet", pretrained=pretrained)]
    rows.append(_run("std_cutmix", 45.0, "segformer", pretrained="true"))  # no scratch run: no pair
    effect = setting_effect(frame(rows), "pretrained").set_index("strategy")
    assert effect["reference"].unique().tolist() == ["true"] and effect["value"].unique().tolist() == ["false"]
    assert effect["effect"].to_dict() == {"baseline": -7.5, "gen_flux": -7.5}
    assert effect.loc["gen_flux", ["mean_reference", "mean_value", "n_pairs"]].tolist() == [36.0, 28.5, 2]


def test_setting_effect_extended_against_base_pairs_across_checkpoints():
    rows = [_run("baseline", 40.0, max_iters=15000, checkpoint_iter=15000),
            _run("baseline", 42.5, max_iters=45000, checkpoint_iter=45000),
            _run("gen_flux", 41.0, max_iters=15000, checkpoint_iter=15000),
            _run("gen_flux", 41.5, max_iters=45000, checkpoint_iter=45000)]
    effect = setting_effect(frame(rows), "max_iters").set_index("strategy")
    assert effect["reference"].unique().tolist() == ["15000"]
    assert effect["effect"].to_dict() == {"baseline": 2.5, "gen_flux": 0.5}
