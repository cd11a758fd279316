"""Image quality against gain: points and Spearman against scipy, and the report section from
the store and a --quality CSV."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from prove.analysis.quality import quality_correlations, quality_points
from prove.cli import cli
from prove.tracking.importer import import_results
from tests.support import private_store

GEN = {"cycleGAN": 2.0, "CUT": -1.0, "IP2P": 0.5, "Img2Img": 3.0}  # mean gain per generator's strategy
FID = {"cycleGAN": 40.0, "CUT": 70.0, "IP2P": 50.0, "Img2Img": 45.0}  # per generator, both datasets


def test_points_and_spearman_against_scipy():
    board = pd.DataFrame({"strategy": [f"gen_{g}" for g in GEN] + ["std_cutmix"],
                          "mean_gain": list(GEN.values()) + [1.0]})
    quality = pd.DataFrame([dict(generator=g, dataset=d, target_domain="", features="imported", score="FID",
                                 value=v + (1.0 if d == "iddaw" else -1.0), source="t", run_id="")
                            for g, v in FID.items() for d in ("bdd10k", "iddaw", "mapillary")])
    points = quality_points(quality, board, {"bdd10k", "iddaw"})  # mapillary is not in the stage
    assert dict(zip(points["generator"], points["value"])) == pytest.approx(FID)  # (v - 1 + v + 1) / 2
    table = quality_correlations(points, n_boot=200)
    expected = stats.spearmanr([FID[g] for g in points["generator"]], [GEN[g] for g in points["generator"]])
    assert table.loc[0, "spearman_rho"] == pytest.approx(expected.statistic)
    assert table.loc[0, "spearman_p"] == pytest.approx(expected.pvalue)
    assert table.loc[0, "ci_low"] <= table.loc[0, "spearman_rho"] <= table.loc[0, "ci_high"]
    few = quality_correlations(points.head(2))
    assert few.loc[0, "n_generators"] == 2 and pd.isna(few.loc[0, "spearman_rho"])  # too few for a rank


def test_the_report_correlates_stored_and_imported_scores_with_the_gain(tmp_path, monkeypatch):
    private_store(tmp_path, monkeypatch, PROVE_CACHE_DIR=tmp_path / "cache")
    monkeypatch.chdir(tmp_path)
    rows = []
    for dataset, base in (("bdd10k", 40.0), ("iddaw", 30.0)):
        rows.append(dict(stage="s1", dataset=dataset, model="segformer_mit-b3", strategy="baseline", ratio=1.0,
                         aux_loss="none", pretrained="true", test_dataset=dataset, domain="all", mIoU=base,
                         checkpoint_iter=15000))
        rows += [dict(rows[-1], strategy=f"gen_{g}", ratio=0.5, mIoU=base + gain) for g, gain in GEN.items()]
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    import_results(tmp_path / "results.csv", experiment="study")
    pd.DataFrame([dict(method=f"gen_{g}", dataset=d, FID=v) for g, v in FID.items() for d in ("bdd10k", "iddaw")]
                 ).to_csv(tmp_path / "quality.csv", index=False)
    result = CliRunner().invoke(cli, ["quality", "--import-csv", str(tmp_path / "quality.csv"),
                                      "--experiment", "study"])
    assert result.exit_code == 0, result.output
    # beside the stored FID, an LPIPS only in a --quality file
    pd.DataFrame([dict(generator=g, dataset="bdd10k", LPIPS=0.1 * i) for i, g in enumerate(GEN)]
                 ).to_csv(tmp_path / "lpips.csv", index=False)
    out = tmp_path / "lb"
    result = CliRunner().invoke(cli, ["leaderboard", "--output", str(out), "--quality", str(tmp_path / "lpips.csv")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "tables" / "quality_s1.csv").set_index("score")
    generators = list(GEN)
    assert table.loc["FID", "spearman_rho"] == pytest.approx(
        stats.spearmanr([FID[g] for g in generators], [GEN[g] for g in generators]).statistic)
    assert table.loc["LPIPS", "spearman_rho"] == pytest.approx(
        stats.spearmanr([0.0, 0.1, 0.2, 0.3], [GEN[g] for g in generators]).statistic)
    assert "### Image quality vs gain (s1)" in (out / "report.md").read_text()
    assert len(list((out / "plots").glob("quality_s1_*.png"))) == 2  # one labelled scatter per score


def test_a_bad_quality_file_stops_the_leaderboard_before_the_store(tmp_path, monkeypatch):
    private_store(tmp_path, monkeypatch, PROVE_CACHE_DIR=tmp_path / "cache")
    (tmp_path / "q.csv").write_text("generator,dataset,FID\nstylegan9,bdd10k,12\n")
    result = CliRunner().invoke(cli, ["leaderboard", "--output", str(tmp_path / "lb"), "--quality",
                                      str(tmp_path / "q.csv")])
    assert result.exit_code == 2 and "line 2: unknown generator 'stylegan9'" in result.output
    assert not (tmp_path / "lb").exists()
