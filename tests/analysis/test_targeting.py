"""Domain-targeted generated images in the report: gains per target setting and test domain,
and on the targeted domains against the others, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from prove.analysis.gains import matched_gains
from prove.analysis.settings import label_settings
from prove.analysis.targeting import targeting_summary, targeting_table
from tests.analysis.tables import frame, row

BASE = {"all": 40.0, "clear_day": 50.0, "night": 20.0, "foggy": 30.0, "rainy": 35.0}
# gains over the baseline per test domain, for the untargeted run and the one kept to night images
GAIN = {"": {"all": 1.0, "clear_day": 0.5, "night": 1.0, "foggy": 2.0, "rainy": 1.0},
        "night": {"all": 0.5, "clear_day": -0.5, "night": 4.0, "foggy": -1.0, "rainy": -2.0}}


def gains():
    rows = []
    for dataset in ("bdd10k", "iddaw"):
        for domain, value in BASE.items():
            rows.append(row("baseline", dataset, domain=domain, miou=value))
            rows.append(row("std_cutmix", dataset, domain=domain, miou=value + 1.0))  # not targeted: left out
            for setting, by_domain in GAIN.items():
                rows.append(row("gen_flux", dataset, domain=domain, miou=value + by_domain[domain],
                                gen_domains=setting, train_run_id=f"tr-{dataset}-{setting or 'all'}",
                                run_id=f"te-{dataset}-{setting or 'all'}-{domain}"))
    return label_settings(matched_gains(frame(rows)).gains)


def test_the_targeting_table_has_each_setting_by_test_domain():
    table = targeting_table(gains(), "s1")
    assert set(table["base_strategy"]) == {"gen_flux"}  # std_cutmix has no targeted run
    assert set(table["strategy"]) == {"gen_flux [gen_domains=all]", "gen_flux [gen_domains=night]"}
    cell = table.set_index(["gen_domains", "domain"])
    assert cell.loc[("night", "night"), "mean_gain"] == pytest.approx(4.0) and cell.loc[("night", "night"), "targeted"]
    assert not cell.loc[("night", "foggy"), "targeted"] and not cell.loc[("", "night"), "targeted"]
    assert (table["n_pairs"] == 2).all()  # two datasets


def test_the_summary_sets_the_targeted_domains_against_the_others():
    summary = targeting_summary(targeting_table(gains(), "s1")).set_index("gen_domains")
    night = summary.loc["night"]
    assert night["gain_targeted"] == pytest.approx(4.0)
    assert night["gain_other_adverse"] == pytest.approx((-1.0 + -2.0) / 2)  # foggy, rainy
    assert night["gain_clear_day"] == pytest.approx(-0.5) and night["gain_all"] == pytest.approx(0.5)
    untargeted = summary.loc["all"]
    assert np.isnan(untargeted["gain_targeted"])  # aimed at no domain in particular
    assert untargeted["gain_other_adverse"] == pytest.approx((1.0 + 2.0 + 1.0) / 3)


def test_no_targeted_run_no_section():
    rows = [row("baseline", miou=40.0), row("gen_flux", miou=41.0)]
    assert targeting_table(label_settings(matched_gains(frame(rows)).gains), "s1").empty
