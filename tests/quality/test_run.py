"""`prove quality` on the embedded benchmark with a trained model's encoder (offline), scores
imported from a CSV, and the inputs it refuses with nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from prove.cli import cli


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PROVE_CACHE_DIR", str(tmp_path / "cache"))


def quality_runs(client):
    exps = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(exps, filter_string="tags.`prove.kind` = 'quality'") if exps else []


def invoke(*args):
    return CliRunner().invoke(cli, ["quality", *args])


@pytest.mark.slow
def test_kid_and_fid_with_a_trained_encoder_are_logged_per_target_domain(store):
    trained = CliRunner().invoke(cli, ["train", "--max-iters", "2", "--batch-size", "4"])
    assert trained.exit_code == 0, trained.output
    run_id = trained.output.strip().splitlines()[-1]
    result = invoke("--generator", "gen_albumentations_weather", "--features", run_id, "--target-domains",
                    "night,foggy", "--max-images", "12", "--kid-subsets", "5", "--kid-subset-size", "8")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output.strip().splitlines()[-1])
    assert [r["target_domain"] for r in rows] == ["night", "foggy"]
    runs = {r.data.params["target_domain"]: r for r in quality_runs(store)}
    assert set(runs) == {"night", "foggy"}
    for row in rows:
        run = runs[row["target_domain"]]
        assert run.data.params["features"] == f"encoder:{run_id}" and run.data.params["n_generated"] == "12"
        assert run.data.metrics["quality/FID"] == pytest.approx(row["FID"]) and row["FID"] >= 0
        assert run.data.metrics["quality/KID"] == pytest.approx(row["KID"]) and np.isfinite(row["KID_std"])

    # the encoder's features, recomputed here from the model, give the same FID
    from prove.quality.features import extractor
    from prove.quality.metrics import fid
    from prove.quality.options import QualityOptions
    from prove.quality.run import _load, plan

    _, _, _, sides = plan(QualityOptions(generator="albumentations_weather", target_domains="night"))
    generated, real = sides["night"]
    encoder = extractor(run_id)
    assert fid(encoder.features(_load(generated, 12, 0)), encoder.features(_load(real, 12, 1))) == \
        pytest.approx(runs["night"].data.metrics["quality/FID"])


@pytest.mark.parametrize("args, needle", [
    (["--generator", "gen_nope", "--features", "x"], "unknown generator 'nope'"),
    (["--generator", "gen_physics_fog", "--features", "inception"], "needs torch-fidelity"),
    (["--generator", "gen_physics_fog", "--target-domains", "night", "--features", "inception"],
     "gen_domains names night"),
    (["--generator", "gen_physics_fog", "--features", "0123456789abcdef0123456789abcdef"], "unknown run id"),
])
def test_bad_input_is_named_and_nothing_is_written(store, args, needle):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert quality_runs(store) == []


GOOD = "method,dataset,FID,LPIPS,CLIP-FID\ngen_Img2Img,BDD10k,41.5,0.31,12.0\nIP2P,idd-aw,55.0,,15.5\n"


def test_scores_the_group_has_are_stored_from_a_csv(store, tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text(GOOD)
    result = invoke("--import-csv", str(path))
    assert result.exit_code == 0, result.output
    runs = {(r.data.params["generator"], r.data.params["dataset"]): r for r in quality_runs(store)}
    assert set(runs) == {("Img2Img", "bdd10k"), ("IP2P", "iddaw")}
    assert runs[("Img2Img", "bdd10k")].data.metrics == {"quality/FID": 41.5, "quality/LPIPS": 0.31,
                                                        "quality/CLIP-FID": 12.0}
    assert "quality/LPIPS" not in runs[("IP2P", "iddaw")].data.metrics  # an empty cell: not measured


@pytest.mark.parametrize("text, needles", [
    ("method,dataset,FID\ngen_Img2Imgg,bdd10k,41\nIP2P,bdd10k,4O.5\n",
     ["line 2: unknown generator 'gen_Img2Imgg'", "line 3: FID '4O.5' is not a number"]),
    ("method,dataset,FID\nIP2P,kitti,41\n", ["line 2: unknown dataset 'kitti'"]),
    ("method,FID\nIP2P,41\n", ["needs a generator (or method) column, a dataset column"]),
])
def test_a_bad_quality_csv_is_named_line_by_line_and_nothing_is_stored(store, tmp_path, text, needles):
    path = tmp_path / "scores.csv"
    path.write_text(text)
    result = invoke("--import-csv", str(path))
    assert result.exit_code == 2, result.output
    assert all(n in result.output for n in needles), result.output
    assert quality_runs(store) == []
