"""The report writes every table it promises, from the analyses, with filters, exclusions
and unmatched results applied and shown; numbers are checked against the hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from prove.analysis.exclusions import Exclusion
from prove.analysis.options import parse_comparisons, parse_filters
from prove.analysis.report import ReportInputs, ReportOptions, md_table, write_report
from prove.analysis.schema import CLASS_COLUMNS, TRAINING_COLUMNS
from prove.errors import ProveError
from tests.analysis.tables import BLOCKS, GAINS, results, row

PNG = b"\x89PNG\r\n\x1a\n"
# stage 2 gains per strategy (added to the s1 rows' gains), so S1 and S2 rank differently
S2_SHIFT = {"std_cutmix": -2.5, "gen_cyclegan": 1.0, "gen_flux": 0.0}  # s2 means: -0.5, 0.5, 0.75


def two_stages() -> pd.DataFrame:
    s2 = results("s2")
    for strategy, shift in S2_SHIFT.items():
        s2.loc[s2["strategy"] == strategy, "mIoU"] += shift
    return pd.concat([results("s1"), s2], ignore_index=True)


def classes_for(df: pd.DataFrame) -> pd.DataFrame:
    # two classes per overall result; 'road' IoU = mIoU, 'sky' IoU = mIoU + 1
    overall = df[df["domain"] == "all"]
    return pd.DataFrame(
        [{"run_id": r.run_id, "domain": "all", "class": c, "IoU": r.mIoU + k} for r in overall.itertuples()
         for k, c in enumerate(("road", "sky"))], columns=list(CLASS_COLUMNS))


def no_classes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in CLASS_COLUMNS})


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    df = two_stages()
    files = write_report(ReportInputs(df, classes_for(df)), ReportOptions(n_boot=300), out)
    return files, out


def test_every_table_is_written_as_csv_and_parquet(report):
    files, out = report
    expected = {"results", "gains", "unmatched", "exclusions", "domain_mIoU", "convergence",
                *(f"{t}_{s}" for s in ("s1", "s2") for t in (
                    "leaderboard", "breakdown_domain", "breakdown_dataset", "breakdown_model", "breakdown_class",
                    "family_strategy_family", "family_generator_family", "cd")),
                "compare_stage_s1_vs_s2"}
    assert expected <= set(files.tables)
    for name, csv in files.tables.items():
        assert csv.is_file() and csv.with_suffix(".parquet").is_file(), name
        assert len(pd.read_csv(csv)) == len(pd.read_parquet(csv.with_suffix(".parquet"))), name


def test_leaderboards_hold_the_hand_computed_gains(report):
    files, _ = report
    s1 = pd.read_csv(files.tables["leaderboard_s1"]).set_index("strategy")
    for strategy, gains in GAINS.items():
        assert s1.loc[strategy, "mean_gain"] == pytest.approx(np.mean(gains))
        assert s1.loc[strategy, "n_pairs"] == len(BLOCKS)
        assert s1.loc[strategy, "n_positive"] == sum(g > 0 for g in gains)
    assert list(s1.index) == ["std_cutmix", "gen_flux", "gen_cyclegan"]  # ranked by mean gain
    s2 = pd.read_csv(files.tables["leaderboard_s2"]).set_index("strategy")
    for strategy, shift in S2_SHIFT.items():
        assert s2.loc[strategy, "mean_gain"] == pytest.approx(np.mean(GAINS[strategy]) + shift)
    assert files.summary["stages"]["s1"]["n_beat_baseline"] == 2


def test_stage_comparison_equals_scipy_on_the_mean_gains(report):
    files, _ = report
    a = [np.mean(GAINS[s]) for s in sorted(GAINS)]
    b = [np.mean(GAINS[s]) + S2_SHIFT[s] for s in sorted(GAINS)]
    got = files.summary["comparisons"]["stage_s1_vs_s2"]
    assert got["spearman_rho"] == pytest.approx(stats.spearmanr(a, b)[0])
    assert got["kendall_tau"] == pytest.approx(stats.kendalltau(a, b)[0])
    table = pd.read_csv(files.tables["compare_stage_s1_vs_s2"]).set_index("strategy")
    # std_cutmix: +2.0 in S1, -0.5 in S2; gen_cyclegan: -0.5 -> +0.5; gen_flux stays positive
    assert got["reversals"] == 2 and set(table.index[table["reversal"]]) == {"std_cutmix", "gen_cyclegan"}


def test_per_class_gains_come_from_the_class_table(report):
    files, _ = report
    cls = pd.read_csv(files.tables["breakdown_class_s1"]).set_index(["strategy", "class"])
    # every class IoU moves with mIoU in classes_for(), so the class gain is the mIoU gain
    assert cls.loc[("std_cutmix", "sky"), "mean_gain"] == pytest.approx(np.mean(GAINS["std_cutmix"]))


def test_every_plot_is_a_png_with_a_table_behind_it(report):
    files, out = report
    assert {"leaderboard_s1", "leaderboard_s2", "domain_gain_s1", "domain_mIoU_s1", "cd_s1",
            "rank_slope_stage_s1_vs_s2", "gain_scatter_stage_s1_vs_s2"} <= set(files.plots)
    sources = {"leaderboard": "leaderboard", "domain_gain": "breakdown_domain", "domain_mIoU": "domain_mIoU",
               "cd": "cd", "rank_slope": "compare", "gain_scatter": "compare", "convergence": "convergence"}
    text = (out / "report.md").read_text()
    for name, path in files.plots.items():
        assert path.read_bytes()[:8] == PNG, name
        assert f"(plots/{path.name})" in text  # shown in the report
        kind = next(k for k in sorted(sources, key=len, reverse=True) if name.startswith(k))
        assert any(t.startswith(sources[kind]) for t in files.tables), name


def test_report_states_the_findings(report):
    files, out = report
    text = (out / "report.md").read_text()
    assert "## Key findings" in text and "s1: 2 of 3 strategies beat the baseline" in text
    # tables.py: std_cutmix gains 2.0 everywhere but night (-1.0 extra); gen_flux +1.0 extra on foggy
    assert "s1: largest gains in one domain: std_cutmix on foggy +2.0 pp, gen_flux on foggy +1.8 pp" in text
    assert "stage=s1 vs stage=s2" in text and "Spearman" in text


def test_exclusions_reach_every_table_and_the_report(tmp_path):
    df = two_stages()
    files = write_report(ReportInputs(df, classes_for(df), exclusions=[
        Exclusion("model", "pspnet", "broken baseline in the users' runs")]), ReportOptions(n_boot=100), tmp_path)
    for name in ("results", "gains", "breakdown_model_s1"):
        assert "pspnet" not in set(pd.read_csv(files.tables[name])["model"]), name
    excluded = pd.read_csv(files.tables["exclusions"])
    assert excluded.loc[0, "rows_removed"] == (df["model"] == "pspnet").sum()
    text = files.report.read_text()
    assert "excluded model = 'pspnet': broken baseline in the users' runs" in text
    s1 = pd.read_csv(files.tables["leaderboard_s1"]).set_index("strategy")
    segformer = [i for i, (_, m) in enumerate(BLOCKS) if m == "segformer"]
    assert s1.loc["std_cutmix", "mean_gain"] == pytest.approx(np.mean([GAINS["std_cutmix"][i] for i in segformer]))


def test_unmatched_results_are_listed_not_dropped(tmp_path):
    df = pd.concat([results("s1"), pd.DataFrame([row("std_cutmix", model="deeplab", miou=33.0)])], ignore_index=True)
    files = write_report(ReportInputs(df, no_classes()), ReportOptions(n_boot=100), tmp_path)
    unmatched = pd.read_csv(files.tables["unmatched"])
    assert list(unmatched["model"]) == ["deeplab"] and "model='deeplab'" in unmatched.loc[0, "reason"]
    assert "1 results have no matched baseline" in files.report.read_text()


def test_filters_stages_and_their_errors(tmp_path):
    df = two_stages()
    files = write_report(ReportInputs(df, no_classes()), ReportOptions(
        stages=("s1",), filters=parse_filters("dataset=bdd10k"), n_boot=100), tmp_path)
    kept = pd.read_csv(files.tables["results"])
    assert set(kept["stage"]) == {"s1"} and set(kept["dataset"]) == {"bdd10k"}
    assert "leaderboard_s2" not in files.tables
    with pytest.raises(ProveError, match="filter column 'datset'"):
        write_report(ReportInputs(df, no_classes()), ReportOptions(filters=(("datset", "x"),)), tmp_path / "b")
    with pytest.raises(ProveError, match="no test results left"):
        write_report(ReportInputs(df, no_classes()), ReportOptions(filters=(("dataset", "nope"),)), tmp_path / "c")
    with pytest.raises(ProveError, match="unknown stage"):
        ReportOptions(stages=("s9",))
    with pytest.raises(ProveError, match="unknown metric 'miou'"):
        ReportOptions(metric="miou")
    with pytest.raises(ProveError, match="expected column=value"):
        parse_filters("dataset")
    with pytest.raises(ProveError, match="expected column:value_a:value_b"):
        parse_comparisons("stage:s1")
    assert parse_comparisons("auto") is None
    assert parse_comparisons("pretrained:true:false") == (("pretrained", "true", "false"),)


def test_single_block_falls_back_to_domain_blocks_and_says_so(tmp_path):
    df = results("s1")
    one = df[(df["dataset"] == "bdd10k") & (df["model"] == "segformer")]
    files = write_report(ReportInputs(one, no_classes()), ReportOptions(n_boot=100), tmp_path)
    assert "cd_s1" in files.plots
    assert "ranked per dataset x model x domain instead" in files.report.read_text()


def training(r, status="FINISHED", val_iter=20000, val=50.0) -> dict:
    return dict(run_id=r["train_run_id"], status=status, study=r["study"], **{k: r[k] for k in (
        "stage", "dataset", "model", "strategy", "strategy_family", "ratio", "ratio_schedule", "gen_domains", "aux_loss",
        "main_loss", "pretrained", "seed")}, batch_size=16, max_iters=20000, val_iter=val_iter, val_mIoU=val, end_time=1)


def test_coverage_convergence_and_validation_gap(tmp_path):
    df = results("s1")
    early = df.copy()
    early["checkpoint_iter"] = 10000
    early["run_id"] = early["run_id"] + "-early"
    early["mIoU"] -= 4.0
    both = pd.concat([df, early], ignore_index=True)
    overall = df[df["domain"] == "all"].drop_duplicates("train_run_id")
    trainings = pd.DataFrame([training(r) for _, r in overall.iterrows()], columns=list(TRAINING_COLUMNS))
    # one more training that finished but was never tested, and a planned spec never trained
    untested = dict(training(overall.iloc[0]), run_id="tr-untested", seed=7)
    trainings = pd.concat([trainings, pd.DataFrame([untested])], ignore_index=True)
    spec = ["stage", "dataset", "model", "strategy", "ratio", "ratio_schedule", "gen_domains", "aux_loss", "main_loss",
            "pretrained", "seed", "batch_size", "max_iters"]
    planned = pd.concat([trainings[spec], pd.DataFrame([dict(untested, seed=8)])[spec]])
    files = write_report(ReportInputs(both, no_classes(), trainings, planned), ReportOptions(n_boot=100), tmp_path)
    cov = pd.read_csv(files.tables["coverage"]).set_index("step")
    assert cov.loc["planned", "specs"] == len(overall) + 2
    assert cov.loc["trained", "missing"] == 1 and cov.loc["tested", "missing"] == 1
    assert list(pd.read_csv(files.tables["planned_not_trained"])["seed"]) == [8]
    assert list(pd.read_csv(files.tables["trained_not_tested"])["seed"]) == [7]
    conv = pd.read_csv(files.tables["convergence"])
    base = conv[(conv["strategy"] == "baseline")].set_index("checkpoint_iter")["mean_mIoU"]
    assert base[20000] - base[10000] == pytest.approx(4.0)
    assert "convergence_s1" in files.plots
    gap = pd.read_csv(files.tables["val_test_gap"]).set_index("train_run_id")
    r = overall.iloc[0]
    assert gap.loc[r["train_run_id"], "gap"] == pytest.approx(r["mIoU"] - 50.0)
    # the leaderboard uses the last checkpoint only: gains as without the early rows
    s1 = pd.read_csv(files.tables["leaderboard_s1"]).set_index("strategy")
    assert s1.loc["std_cutmix", "mean_gain"] == pytest.approx(np.mean(GAINS["std_cutmix"]))


def test_a_rebuilt_report_leaves_no_stale_files(tmp_path):
    df = two_stages()
    write_report(ReportInputs(df, no_classes()), ReportOptions(n_boot=100), tmp_path)
    assert (tmp_path / "tables" / "leaderboard_s2.csv").is_file()
    write_report(ReportInputs(df, no_classes()), ReportOptions(stages=("s1",), n_boot=100), tmp_path)
    assert not (tmp_path / "tables" / "leaderboard_s2.csv").exists()
    assert not (tmp_path / "plots" / "leaderboard_s2.png").exists()


def test_md_table():
    t = pd.DataFrame({"a": ["x|y", "z"], "b": [1.234, float("nan")]})
    assert md_table(t, digits=1).splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1.2 |", "| z |  |"]
    assert md_table(t.iloc[:0]) == "_(none)_"
    assert "1 more rows" in md_table(t, max_rows=1)


def _run(strategy, miou, model="segformer", stage="s1", domain="all", **over):
    key = "-".join(f"{k}{v}" for k, v in sorted(over.items()))
    return row(strategy, model=model, miou=miou, stage=stage, domain=domain,
               train_run_id=f"tr-{stage}-{strategy}-{model}-{key}", run_id=f"te-{stage}-{strategy}-{model}-{key}", **over)


def test_the_absolute_domain_table_averages_the_same_blocks_for_every_strategy(tmp_path):
    # the baseline on pspnet (30) and segformer (50); gen_flux on segformer only, 48 (gain -2).
    # The old table averaged each strategy over its own models: baseline 40, gen_flux 48 (above it)
    rows = []
    for domain, shift in (("all", 0.0), ("night", -10.0)):
        rows += [_run("baseline", 30.0 + shift, "pspnet", domain=domain),
                 _run("baseline", 50.0 + shift, "segformer", domain=domain),
                 _run("gen_flux", 48.0 + shift, "segformer", domain=domain),
                 _run("std_cutmix", 51.0 + shift, "segformer", domain=domain)]
    df = pd.DataFrame(rows)
    files = write_report(ReportInputs(df, no_classes()), ReportOptions(n_boot=50), tmp_path)
    table = pd.read_csv(files.tables["domain_mIoU"])
    overall = table[table["domain"] == "all"].set_index("strategy")["mean_mIoU"].to_dict()
    assert overall == {"baseline": 50.0, "gen_flux": 48.0, "std_cutmix": 51.0}
    assert set(table["n_blocks"]) == {1}
    assert "over the 1 (dataset, model, setting, test set) blocks" in files.report.read_text()


def test_a_stage_with_only_baselines_says_so(tmp_path):
    # the old report said "no non-baseline result has a baseline" while Unmatched said all matched
    rows = [_run("baseline", 40.0), _run("std_cutmix", 42.0), _run("baseline", 38.0, stage="s2")]
    files = write_report(ReportInputs(pd.DataFrame(rows), no_classes()), ReportOptions(n_boot=50), tmp_path)
    text = files.report.read_text()
    assert "Only baseline results in s2" in text
    assert "no non-baseline result has a baseline" not in text


def test_settings_are_kept_apart_in_the_report(tmp_path):
    rows = []
    for model, base in (("segformer", 40.0), ("pspnet", 30.0)):
        rows += [_run("baseline", base, model, ratio=1.0), _run("std_cutmix", base + 1.0, model, ratio=1.0),
                 _run("gen_flux", base + 3.0, model, ratio=0.25), _run("gen_flux", base - 1.0, model, ratio=0.5),
                 _run("gen_flux", base - 2.0, model, ratio=0.0)]
    files = write_report(ReportInputs(pd.DataFrame(rows), no_classes()), ReportOptions(n_boot=50), tmp_path)
    lb = pd.read_csv(files.tables["leaderboard_s1"]).set_index("strategy")["mean_gain"].to_dict()
    assert lb == {"gen_flux [ratio=0.25]": 3.0, "std_cutmix": 1.0, "gen_flux [ratio=0.5]": -1.0,
                  "gen_flux [ratio=0.0]": -2.0}
    text = files.report.read_text()
    assert "## Settings present" in text and "s1: ratio" in text
    spread = pd.read_csv(files.tables["ratio_spread"]).iloc[0]  # the ratio study, from the same runs
    assert (spread.strategy, spread.best_ratio, spread.spread_pp) == ("gen_flux", 0.25, 5.0)
    assert "ratio_spread" in files.plots


def test_coverage_by_stage_model_dataset_is_in_the_report(tmp_path):
    df = two_stages()
    trainings = pd.DataFrame([dict(
        run_id=r.train_run_id, status="FINISHED", stage=r.stage, dataset=r.dataset, model=r.model,
        strategy=r.strategy, strategy_family=r.strategy_family, ratio=r.ratio, ratio_schedule=r.ratio_schedule,
        gen_domains=r.gen_domains, aux_loss=r.aux_loss,
        main_loss=r.main_loss, pretrained=r.pretrained, seed=r.seed, batch_size=16, max_iters=20000,
        val_iter=-1, val_mIoU=float("nan"), end_time=0) for r in df.drop_duplicates("train_run_id").itertuples()],
        columns=list(TRAINING_COLUMNS))
    files = write_report(ReportInputs(df, no_classes(), trainings), ReportOptions(n_boot=50), tmp_path)
    cov = pd.read_csv(files.tables["coverage_by_stage_model_dataset"])
    assert len(cov) == 8 and set(cov["trained_of"]) == {"4/4"} and set(cov["tested_of"]) == {"4/4"}
    assert "Per stage x model x dataset" in files.report.read_text()
