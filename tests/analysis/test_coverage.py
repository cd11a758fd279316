"""Coverage (planned -> trained -> tested), convergence and val-vs-test."""

from __future__ import annotations

import pandas as pd
import pytest

from prove.analysis.coverage import convergence, coverage, coverage_by, val_test_gap
from tests.analysis.tables import frame, row


def test_coverage_lists_the_missing_specs():
    planned = pd.DataFrame({"strategy": ["baseline", "std_cutmix", "gen_flux", "gen_cut"],
                            "dataset": "bdd10k", "seed": [0, 0, 0, 0]})
    trained = planned.iloc[:3].assign(train_run_id=["r1", "r2", "r3"])
    tested = frame([row("baseline", domain=d) for d in ("all", "night")] + [row("std_cutmix")])
    tested["seed"] = tested["seed"].astype(str)  # same spec whatever the dtype
    cov = coverage(planned, trained, tested)
    assert cov.summary.set_index("step")["specs"].to_dict() == {"planned": 4, "trained": 3, "tested": 2}
    assert cov.summary.set_index("step")["missing"].to_dict() == {"planned": 0, "trained": 1, "tested": 1}
    assert cov.planned_not_trained["strategy"].tolist() == ["gen_cut"]
    assert cov.trained_not_tested["strategy"].tolist() == ["gen_flux"]


def test_convergence_by_checkpoint():
    df = frame([row("baseline", seed=s, checkpoint_iter=i, miou=m)
                for s, i, m in [(0, 1000, 10.0), (1, 1000, 20.0), (0, 2000, 30.0), (1, 2000, 34.0)]]
               + [row("baseline", checkpoint_iter=2000, domain="night", miou=1.0)])
    out = convergence(df).set_index("checkpoint_iter")
    assert out["mean_mIoU"].to_dict() == {1000: 15.0, 2000: 32.0} and out["n"].tolist() == [2, 2]


def test_val_test_gap_keeps_both_numbers():
    val = pd.DataFrame({"train_run_id": ["r1", "r1", "r2"], "checkpoint_iter": [1000, 2000, 2000],
                        "mIoU": [30.0, 35.0, 50.0]})
    test = frame([row(train_run_id="r1", checkpoint_iter=2000, miou=33.0),
                  row(train_run_id="r1", checkpoint_iter=1000, miou=20.0),
                  row(train_run_id="r1", checkpoint_iter=2000, domain="night", miou=5.0),
                  row(train_run_id="r2", checkpoint_iter=1000, miou=48.0)])
    out = val_test_gap(val, test).set_index("train_run_id")
    assert out.loc["r1", ["val_mIoU", "test_mIoU"]].tolist() == [35.0, 33.0]
    assert out.loc["r1", "gap"] == pytest.approx(-2.0) and out.loc["r1", "same_checkpoint"]
    assert out.loc["r2", "gap"] == pytest.approx(-2.0) and not out.loc["r2", "same_checkpoint"]


def test_an_imported_result_counts_as_trained():
    # the old report listed imported results (no training run here) as "planned but not trained"
    planned = pd.DataFrame({"strategy": ["baseline", "std_cutmix"], "dataset": "bdd10k", "seed": [0, 0]})
    trained = planned.iloc[:0]
    tested = frame([row("baseline")])
    cov = coverage(planned, trained, tested)
    assert cov.planned_not_trained["strategy"].tolist() == ["std_cutmix"]
    assert cov.trained_not_tested.empty


def test_coverage_by_stage_model_dataset_counts_like_the_users_tracker():
    keys = ["stage", "model", "dataset", "strategy", "seed"]
    planned = pd.DataFrame([dict(stage="s1", model=m, dataset="bdd10k", strategy=s, seed=0)
                            for m in ("pspnet_r50", "segformer_mit-b3") for s in ("baseline", "std_cutmix", "gen_CUT")])
    trained = planned[planned["strategy"] != "gen_CUT"]  # 2 of 3 per model trained
    tested = planned[(planned["strategy"] == "baseline") | (planned["model"] == "pspnet_r50")
                     & (planned["strategy"] == "gen_CUT")]  # pspnet gen_CUT: tested, trained elsewhere
    out = coverage_by(planned, trained, tested, keys).set_index("model")
    # hand count: pspnet trained baseline, std_cutmix + gen_CUT (tested) = 3, tested 2; segformer 2 and 1
    assert out.loc["pspnet_r50", ["trained_of", "tested_of"]].tolist() == ["3/3", "2/3"]
    assert out.loc["segformer_mit-b3", ["trained_of", "tested_of"]].tolist() == ["2/3", "1/3"]
