"""Settings that vary within a strategy are kept apart, never pooled (hand-made tables)."""

from __future__ import annotations

import pandas as pd

from prove.analysis.gains import matched_gains
from prove.analysis.leaderboard import leaderboard
from prove.analysis.settings import label_settings, settings_present, varying_settings
from tests.analysis.tables import frame, row


def _run(strategy, miou, model="segformer", **over):
    key = "-".join(f"{k}{v}" for k, v in sorted(over.items()))
    return row(strategy, model=model, miou=miou, train_run_id=f"tr-{strategy}-{model}-{key}",
               run_id=f"te-{strategy}-{model}-{key}", **over)


def study() -> pd.DataFrame:
    # s1: the baseline at ratio 1.0; gen_flux at ratio 0.25 (gains +4, +2) and 0.5 (-1, -1):
    # pooled, the old leaderboard showed one gen_flux at +1.0
    rows = []
    for model, base in (("segformer", 40.0), ("pspnet", 30.0)):
        rows.append(_run("baseline", base, model, ratio=1.0))
        rows.append(_run("gen_flux", base + (4.0 if model == "segformer" else 2.0), model, ratio=0.25))
        rows.append(_run("gen_flux", base - 1.0, model, ratio=0.5))
        rows.append(_run("std_cutmix", base + 1.0, model, ratio=1.0))
    return frame(rows)


def test_a_field_varying_within_a_strategy_labels_it():
    labelled = label_settings(study())
    assert varying_settings(study()) == {"s1": ["ratio"]}
    assert sorted(set(labelled["strategy"])) == [
        "baseline", "gen_flux [ratio=0.25]", "gen_flux [ratio=0.5]", "std_cutmix"]
    assert set(labelled["base_strategy"]) == {"baseline", "gen_flux", "std_cutmix"}


def test_the_leaderboard_ranks_each_setting_apart():
    gains = label_settings(matched_gains(study()).gains)
    table = leaderboard(gains, stage="s1", n_boot=50).table.set_index("strategy")
    assert table.loc["gen_flux [ratio=0.25]", "mean_gain"] == 3.0  # (4 + 2) / 2
    assert table.loc["gen_flux [ratio=0.5]", "mean_gain"] == -1.0
    assert "gen_flux" not in table.index


def test_batch_size_is_matched_and_kept_apart():
    rows = []
    for batch, base, gain in ((8, 36.0, 2.0), (16, 40.0, -1.0)):
        rows.append(_run("baseline", base, batch_size=batch))
        rows.append(_run("std_autoaugment", base + gain, batch_size=batch))
    gains = matched_gains(frame(rows)).gains
    assert sorted(gains["gain"]) == [-1.0, 2.0]  # each against the baseline of its own batch size
    labelled = label_settings(gains)
    assert sorted(labelled["strategy"]) == ["std_autoaugment [batch_size=16]", "std_autoaugment [batch_size=8]"]


def test_a_compared_field_stays_out_of_the_label():
    df = study()
    assert set(label_settings(df, keep=("ratio",))["strategy"]) == {"baseline", "gen_flux", "std_cutmix"}


def test_settings_present_lists_every_value_and_what_is_kept_apart():
    present = settings_present(label_settings(study()))
    ratio = present[present["field"] == "ratio"].set_index("value")
    assert ratio["results"].to_dict() == {"0.25": 2, "0.5": 2, "1.0": 4}
    assert ratio["kept_apart"].all()
    batch = present[present["field"] == "batch_size"]
    assert batch["value"].tolist() == ["16"] and not batch["kept_apart"].any()
