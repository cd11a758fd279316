"""`prove adopt`: a training folder of the users' (an mmseg config + iter_*.pth in
WEIGHTS*/<strategy>/<dataset>/<model>[_ratio0p50][_aux-lovasz]/) becomes a training run that
`prove test` evaluates per domain and at every checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import tests.support  # noqa: F401  (acdc_mini)
from prove.cli import cli
from prove.models.build import mmseg_config_root
from prove.training.adopt import parse_config, parse_folder
from tests.data.fixtures import build_acdc


def all_runs(client):
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def prove(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_folder_convention_and_an_mmseg_zoo_config_are_read():
    folder = Path("/x/WEIGHTS_stage2/gen_cycleGAN/IDD-AW/segformer_mit-b3_ratio0p25_aux-lovasz")
    assert parse_folder(folder) == dict(model="segformer_mit-b3", ratio="0.25", aux_loss="lovasz", dataset="IDD-AW",
                                        strategy="gen_cycleGAN", stage="s2")
    assert parse_folder(Path("/w/WEIGHTS/baseline/bdd10k/pspnet_r50"))["model"] == "pspnet_r50"
    zoo = parse_config(mmseg_config_root() / "segformer/segformer_mit-b3_8xb1-160k_cityscapes-1024x1024.py")
    assert zoo == dict(max_iters="160000", batch_size="1", lr="6e-05", crop_size="1024x1024", pretrained="true")


@pytest.fixture
def trained_folder(tmp_path, store):
    """A real training's folder, laid out and named as the users keep theirs, with no trust records."""
    root = tmp_path / "acdc"
    build_acdc(root)
    result = prove("train", "--dataset", "acdc_mini", "--data-root", str(root), "--stage", "s2", "--batch-size", "2",
                   "--max-iters", "2", "--checkpoint-interval", "1", "--eval-interval", "2", "--strategy", "std_minimal",
                   "--aux-loss", "lovasz", "--experiment", "made-elsewhere")
    assert result.exit_code == 0, result.output
    (work,) = (tmp_path / "work").iterdir()
    folder = tmp_path / "WEIGHTS_stage2" / "std_minimal" / "acdc_mini" / "fcn_r18-tiny_aux-lovasz"
    folder.mkdir(parents=True)
    shutil.copy(work / "config.py", folder / "fcn_r18-tiny_acdc.py")  # MMEngine dumps <config name>.py
    for checkpoint in work.glob("iter_*.pth"):
        shutil.copy(checkpoint, folder / checkpoint.name)  # no .prove.json: prove did not write these
    return root, folder


def test_adopt_then_test_every_checkpoint_per_domain(trained_folder, store):
    root, folder = trained_folder
    before = len(all_runs(store))
    refused = prove("adopt", str(folder))
    assert refused.exit_code == 2 and "--trust" in refused.output and len(all_runs(store)) == before

    adopted = prove("adopt", str(folder), "--trust", "--experiment", "adopted")
    assert adopted.exit_code == 0, adopted.output
    outcome = json.loads(adopted.output.strip().splitlines()[-1])
    assert outcome["action"] == "adopted" and outcome["checkpoints"] == 2
    assert outcome["run_name"] == "std_minimal+lovasz+scratch+bs2 · s2 · acdc_mini · fcn_r18-tiny"
    run = store.get_run(outcome["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["prove.kind"] == "train"
    assert run.data.tags["prove.source"] == "adopted" and run.data.tags["prove.work_dir"] == str(folder)
    assert run.data.params["max_iters"] == "2" and run.data.params["batch_size"] == "2"

    again = prove("adopt", str(folder), "--trust", "--experiment", "adopted")
    assert json.loads(again.output.strip().splitlines()[-1])["action"] == "already"

    tested = prove("test", "--run-id", outcome["run_id"], "--checkpoint", "all", "--test-data-root", str(root),
                   "--experiment", "adopted")
    assert tested.exit_code == 0, tested.output
    results = json.loads(tested.output.strip().splitlines()[-1])
    assert [r["iteration"] for r in results] == [1, 2] and all(r["mIoU"] is not None for r in results)
    test_run = store.get_run(results[0]["run_id"])
    assert any(k.startswith("test/foggy/") or k.startswith("test/night/") for k in test_run.data.metrics)


def test_adopt_refuses_a_folder_without_checkpoints_and_writes_nothing(trained_folder, store):
    _, folder = trained_folder
    empty = folder.parent / "pspnet_r50"
    empty.mkdir()
    shutil.copy(next(folder.glob("*.py")), empty / "pspnet.py")
    before = len(all_runs(store))
    result = prove("adopt", str(empty))
    assert result.exit_code == 2 and "has no checkpoints (iter_<N>.pth)" in result.output
    unknown = prove("adopt", str(folder), "--trust", "--model", "no_such_net")
    assert unknown.exit_code == 2 and "unknown model 'no_such_net'" in unknown.output
    assert len(all_runs(store)) == before
