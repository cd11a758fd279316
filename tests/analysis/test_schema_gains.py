"""Schema validation, the duplicate guard, matched gains and per-class gains."""

from __future__ import annotations

import pandas as pd
import pytest

from prove.analysis.gains import class_gains, last_checkpoint, matched_gains
from prove.analysis.schema import RESULT_COLUMNS, one_result_per_key, validate_results
from prove.errors import ProveError
from tests.analysis.tables import BLOCKS, DOMAIN_EXTRA, GAINS, frame, results, row


def test_fixture_is_valid_and_schema_is_complete():
    df = results()
    assert list(df.columns) == list(RESULT_COLUMNS)
    assert validate_results(df) is df


def test_missing_columns_and_bad_dtypes_are_named():
    df = results().drop(columns=["mIoU", "domain"])
    with pytest.raises(ProveError, match="missing columns: domain, mIoU"):
        validate_results(df)
    df = results()
    df["seed"] = df["seed"].astype(float)
    with pytest.raises(ProveError, match="'seed' must hold int"):
        validate_results(df)
    df = results()
    df.loc[0, "domain"] = "hazy"
    with pytest.raises(ProveError, match="hazy"):
        validate_results(df)
    df = results()
    df.loc[0, "pretrained"] = "yes"
    with pytest.raises(ProveError, match="pretrained"):
        validate_results(df)


def test_duplicate_result_raises_and_lists_it():
    df = results()
    dup = pd.concat([df, df.iloc[[5]]], ignore_index=True)
    with pytest.raises(ProveError, match=r"1 duplicated result keys.*x2"):
        one_result_per_key(dup)
    with pytest.raises(ProveError, match="duplicated"):
        matched_gains(dup)


def test_gains_equal_hand_computation():
    m = matched_gains(results())
    assert m.unmatched.empty
    g = m.gains.set_index(["strategy", "dataset", "model", "domain"])
    # one literal: std_cutmix on bdd10k/segformer overall is 42.0 against 40.0
    assert g.loc[("std_cutmix", "bdd10k", "segformer", "all"), "mIoU"] == 42.0
    assert g.loc[("std_cutmix", "bdd10k", "segformer", "all"), "baseline_mIoU"] == 40.0
    for strategy, gains in GAINS.items():
        for b, (dataset, model) in enumerate(BLOCKS):
            for domain in ("all", "foggy", "night"):
                expected = gains[b] + DOMAIN_EXTRA.get((strategy, domain), 0.0)
                assert g.loc[(strategy, dataset, model, domain), "gain"] == pytest.approx(expected)
    assert len(m.gains) == 3 * 4 * 3  # every non-baseline row, none twice
    assert set(m.gains["pairing"]) == {"seed"}


def test_seed_pairing_and_mean_of_seeds():
    rows = [row("baseline", seed=0, miou=40.0), row("baseline", seed=1, miou=42.0),
            row("std_cutmix", seed=1, miou=45.0), row("std_cutmix", seed=2, miou=44.0)]
    g = matched_gains(frame(rows)).gains.set_index("seed")
    assert g.loc[1, "gain"] == 3.0 and g.loc[1, "pairing"] == "seed" and g.loc[1, "baseline_n"] == 1
    # seed 2 has no baseline twin: compared with the mean of the baseline seeds, (40 + 42) / 2
    assert g.loc[2, "gain"] == 3.0 and g.loc[2, "pairing"] == "seed_mean" and g.loc[2, "baseline_n"] == 2


def test_unmatched_results_are_reported_with_a_reason():
    df = pd.concat([results(), frame([row("gen_flux", model="hrnet", miou=33.0),
                                      row("gen_flux", pretrained="false", miou=20.0)])], ignore_index=True)
    m = matched_gains(df)
    assert len(m.unmatched) == 2
    reasons = dict(zip(m.unmatched["model"] + "/" + m.unmatched["pretrained"], m.unmatched["reason"]))
    assert reasons == {"hrnet/true": "no baseline with model='hrnet'",
                       "segformer/false": "no baseline with pretrained='false'"}
    assert len(m.gains) == 36  # the matched ones are all still there


def test_different_checkpoints_do_not_match():
    rows = [row("baseline", miou=40.0, checkpoint_iter=10000), row("std_cutmix", miou=41.0, checkpoint_iter=20000)]
    m = matched_gains(frame(rows))
    assert m.gains.empty and m.unmatched["reason"].tolist() == ["no baseline with checkpoint_iter=20000"]


def test_last_checkpoint_keeps_final_rows():
    df = frame([row(checkpoint_iter=10000, miou=30.0), row(checkpoint_iter=20000, miou=40.0)])
    assert last_checkpoint(df)["mIoU"].tolist() == [40.0]


def test_class_gains_against_matched_baseline():
    df = results(domains=("all",))
    m = matched_gains(df)
    base_run = df[(df.strategy == "baseline") & (df.dataset == "bdd10k") & (df.model == "segformer")].run_id.iloc[0]
    mine = df[(df.strategy == "std_cutmix") & (df.dataset == "bdd10k") & (df.model == "segformer")].run_id.iloc[0]
    classes = pd.DataFrame([
        {"run_id": base_run, "domain": "all", "class": "road", "IoU": 90.0},
        {"run_id": base_run, "domain": "all", "class": "car", "IoU": 80.0},
        {"run_id": mine, "domain": "all", "class": "road", "IoU": 91.0},
        {"run_id": mine, "domain": "all", "class": "car", "IoU": 78.0},
        {"run_id": mine, "domain": "all", "class": "bus", "IoU": 10.0},
    ])
    gains, unmatched = class_gains(m, classes)
    assert dict(zip(gains["class"], gains["gain"])) == {"road": 1.0, "car": -2.0}
    assert unmatched["class"].tolist() == ["bus"] and "no IoU" in unmatched["reason"].iloc[0]
