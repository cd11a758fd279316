"""Generators declared without Python, in a `generators.yaml` the CLI and sweeps read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prove.errors import ProveError
from prove.generators import GENERATORS
from prove.generators.declared import load_generator_file
from tests.support import store_uri

ROOT = Path(__file__).resolve().parents[2]


def run_prove(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "MLFLOW_TRACKING_URI": store_uri(cwd / 'store.db'), "PYTHONPATH": str(ROOT), **env}
    full.pop("PROVE_GENERATORS", None)
    full.update(env)
    return subprocess.run([sys.executable, "-m", "prove.cli", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=300)


def test_a_generators_yaml_in_the_working_folder_declares_them_for_the_cli(tmp_path):
    (tmp_path / "generators.yaml").write_text(
        "generators:\n  - {name: WeatherDiffusionX, family: diffusion, description: our own editor, aliases: [wdx]}\n")
    listed = run_prove("list", "generators", "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "WeatherDiffusionX")
    assert row["family"] == "diffusion" and row["offline"] is False and row["origin"].startswith("file:")
    # it is a strategy now, an external one: training it asks for its images
    trained = run_prove("train", "--strategy", "gen_wdx", cwd=tmp_path)
    assert trained.returncode == 2 and "external generator 'WeatherDiffusionX'" in trained.stderr
    assert "manifest" in trained.stderr and "Traceback" not in trained.stderr


def test_an_undeclared_generator_says_how_to_declare_it(tmp_path):
    result = run_prove("train", "--strategy", "gen_WeatherDiffusionX", cwd=tmp_path)
    assert result.returncode == 2 and "unknown generator 'WeatherDiffusionX'" in result.stderr
    assert "generators.yaml" in result.stderr and "family: <" in result.stderr


def test_import_results_with_an_undeclared_generator_names_the_line_and_the_fix(tmp_path):
    table = tmp_path / "results.csv"
    table.write_text("stage,dataset,model,strategy,ratio,aux_loss,pretrained,test_dataset,domain,mIoU\n"
                     "stage1,BDD10k,pspnet_r50,gen_OurGAN,0.5,none,true,BDD10k,all,41.0\n")
    result = run_prove("import-results", str(table), cwd=tmp_path)
    assert result.returncode == 2 and "line 2" in result.stderr and "generators.yaml" in result.stderr
    (tmp_path / "generators.yaml").write_text("- {name: OurGAN, family: gan}\n")  # the short form: a list
    assert run_prove("import-results", str(table), cwd=tmp_path).returncode == 0


def test_a_generators_yaml_beside_a_sweep_file_declares_its_generators(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "generators.yaml").write_text("generators:\n  - {name: SweepGAN, family: gan}\n")
    (folder / "sweep.yaml").write_text("grid: {strategy: [baseline, gen_SweepGAN]}\n")
    result = run_prove("ablation", "--sweep", str(folder / "sweep.yaml"), "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "blocked 1" in result.stdout and "gen_SweepGAN" in result.stdout  # no images for it here


@pytest.mark.parametrize("content,needle", [
    ("generators:\n  - {family: gan}\n", "`name` is required"),
    ("generators:\n  - {name: X1, family: vae}\n", "family 'vae' is not accepted; accepted: weather_simulation"),
    ("generators:\n  - {name: X2, familly: gan}\n", "unknown key(s) ['familly']"),
    ("generators:\n  - {name: cyclegan, family: gan}\n", "'cyclegan' is already declared (as 'cycleGAN'"),
    ("generators: 3\n", "expected `generators:` with a list"),
    ("generators:\n  - {name: GoodOne, family: gan}\n  - {name: X3, family: vae}\n", "family 'vae'"),
])
def test_a_bad_generators_file_declares_nothing_and_says_why(tmp_path, content, needle):
    path = tmp_path / "generators.yaml"
    path.write_text(content)
    before = GENERATORS.names()
    with pytest.raises(ProveError) as info:
        load_generator_file(path)
    assert needle in str(info.value) and str(path) in str(info.value)
    assert GENERATORS.names() == before and "GoodOne" not in GENERATORS  # a bad file declares nothing
