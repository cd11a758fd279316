"""`prove test`: one pass per (training run, test set, checkpoint), numbers checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import tests.support  # noqa: F401  (acdc_mini)
from prove.cli import cli
from prove.data.labels import CLASSES
from prove.tracking.schema import metric_name
from prove.evaluation.inference import evaluation_dataset, load_model, predictions
from tests.data.fixtures import build_acdc
from tests.support import store_uri

TRAIN = ["train", "--dataset", "acdc_mini", "--stage", "s2", "--batch-size", "2", "--max-iters", "4",
         "--checkpoint-interval", "2", "--eval-interval", "2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished training run (checkpoints at 2 and 4) in a store of its own."""
    import os

    tmp = tmp_path_factory.mktemp("evaluate")
    build_acdc(tmp / "acdc")
    old = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "PROVE_WORK_DIR")}
    os.environ["MLFLOW_TRACKING_URI"] = store_uri(tmp / 'store.db')
    os.environ["PROVE_WORK_DIR"] = str(tmp / "work")
    import mlflow

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    result = CliRunner().invoke(cli, [*TRAIN, "--data-root", str(tmp / "acdc")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    yield dict(run_id=result.output.strip().splitlines()[-1], root=tmp / "acdc", tmp=tmp)
    for key, value in old.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])


def client():
    import mlflow

    return mlflow.tracking.MlflowClient()


def stored_test_runs(key_filter=""):
    c = client()
    exps = [e.experiment_id for e in c.search_experiments()]
    return c.search_runs(exps, filter_string="tags.`prove.kind` = 'test'" + key_filter)


def run_test(*args):
    return CliRunner().invoke(cli, ["test", *args])


def numpy_reference(pairs):
    """Per-domain and overall metrics with plain loops over classes (no shared code)."""
    groups: dict[str, list] = {}
    for domain, pred, label in pairs:
        groups.setdefault(domain, []).append((pred, label))
        groups.setdefault("all", []).append((pred, label))
    out = {}
    for domain, items in groups.items():
        pred = np.concatenate([p.ravel() for p, _ in items]).astype(int)
        label = np.concatenate([lab.ravel() for _, lab in items]).astype(int)
        valid = label != 255
        pred, label = pred[valid], label[valid]
        iou, acc, freq_iou = [], [], 0.0
        for c in range(19):
            tp = np.sum((pred == c) & (label == c))
            fp = np.sum((pred == c) & (label != c))
            fn = np.sum((pred != c) & (label == c))
            iou.append(tp / (tp + fp + fn) if tp + fp + fn else np.nan)
            acc.append(tp / (tp + fn) if tp + fn else np.nan)
            if tp + fp + fn:
                freq_iou += (tp + fn) / label.size * iou[-1]
        out[domain] = dict(mIoU=100 * np.nanmean(iou), mAcc=100 * np.nanmean(acc), aAcc=100 * np.mean(pred == label),
                           fwIoU=100 * freq_iou, IoU=100 * np.array(iou), Acc=100 * np.array(acc))
    return out


def test_every_reported_number_equals_a_numpy_computation(trained):
    result = run_test("--run-id", trained["run_id"], "--checkpoint", "last")
    assert result.exit_code == 0, result.output
    (run,) = stored_test_runs()
    work = Path(client().get_run(trained["run_id"]).data.tags["prove.work_dir"])
    model = load_model(work / "config.py", work / "iter_4.pth")
    dataset = evaluation_dataset("acdc_mini", "val", str(trained["root"]))
    reference = numpy_reference([(m["domain"], p, lab) for m, p, lab in predictions(model, dataset)])
    metrics = run.data.metrics
    for domain, ref in reference.items():
        prefix = "test" if domain == "all" else f"test/{domain}"
        for key in ("mIoU", "mAcc", "aAcc", "fwIoU"):
            assert metrics[f"{prefix}/{key}"] == pytest.approx(ref[key], abs=1e-6), (domain, key)
    for c, name in enumerate(CLASSES):
        if not np.isnan(reference["all"]["IoU"][c]):
            assert metrics[f"test/IoU/{metric_name(name)}"] == pytest.approx(reference["all"]["IoU"][c], abs=1e-6)
        else:
            assert f"test/IoU/{metric_name(name)}" not in metrics
    for domain, ref in reference.items():  # per domain x per class (the small-object analysis reads it)
        for c, name in enumerate(CLASSES):
            key = f"test/{domain}/IoU/{metric_name(name)}"
            if domain != "all" and not np.isnan(ref["IoU"][c]):
                assert metrics[key] == pytest.approx(ref["IoU"][c], abs=1e-6), key
            else:
                assert key not in metrics
    table = pd.read_parquet(client().download_artifacts(run.info.run_id, "per_domain_per_class.parquet"))
    for row in table.itertuples():
        ref = reference[row.domain]
        expected = ref["IoU"][CLASSES.index(row._2)]
        assert (np.isnan(row.IoU) and np.isnan(expected)) or row.IoU == pytest.approx(expected, abs=1e-6)
        assert row.domain_mIoU == pytest.approx(ref["mIoU"], abs=1e-6)
    assert set(table.domain) == set(reference)  # every domain present, plus "all"


def test_artifacts_params_and_tags(trained):
    result = run_test("--run-id", trained["run_id"], "--checkpoint", "last")
    assert result.exit_code == 0
    (run,) = stored_test_runs()
    artifacts = {a.path for a in client().list_artifacts(run.info.run_id)}
    assert {"per_domain_per_class.parquet", "per_domain_per_class.csv", "confusion.npz", "confusion.png"} <= artifacts
    assert any(a.startswith("sample_") and a.endswith(".png") for a in artifacts)
    tags, params = run.data.tags, run.data.params
    assert tags["prove.train_run_id"] == trained["run_id"] and tags["prove.kind"] == "test"
    train_params = client().get_run(trained["run_id"]).data.params
    for key in ("stage", "dataset", "model", "strategy", "ratio", "aux_loss", "pretrained", "seed"):
        assert params[key] == train_params[key]  # sortable on its own
    assert params["checkpoint_iter"] == "4" and params["test_dataset"] == "acdc_mini"


def test_same_key_is_reused_and_force_replaces_it(trained):
    first = run_test("--run-id", trained["run_id"], "--checkpoint", "2")
    again = run_test("--run-id", trained["run_id"], "--checkpoint", "2")
    assert "already tested" in again.output
    key = f" and tags.`prove.test_key` = '{trained['run_id']}/acdc_mini/val/iter_2'"
    assert len(stored_test_runs(key)) == 1
    old_id = json.loads(first.output.strip().splitlines()[-1])[0]["run_id"]
    forced = run_test("--run-id", trained["run_id"], "--checkpoint", "2", "--force")
    assert forced.exit_code == 0, forced.output
    (now,) = stored_test_runs(key)
    assert now.info.run_id != old_id  # replaced, never two


def test_the_training_run_carries_its_last_and_best_results_per_domain(trained):
    """The compare view of two trainings needs their test results on the training runs."""
    for checkpoint in ("2", "last"):  # an earlier checkpoint is not the training's result
        assert run_test("--run-id", trained["run_id"], "--checkpoint", checkpoint).exit_code == 0
    last = next(r for r in stored_test_runs() if r.data.params["checkpoint_iter"] == "4")
    assert last.data.tags["mlflow.parentRunId"] == trained["run_id"]  # nested under its training
    assert last.info.run_name.startswith("test acdc_mini/val @4 · baseline")
    train = client().get_run(trained["run_id"])
    copied = {k: v for k, v in train.data.metrics.items() if k.startswith("test/")}
    expected = {f"test/acdc_mini.val/{'all' if k.count('/') == 1 else k.split('/')[1]}/{k.split('/')[-1]}": v
                for k, v in last.data.metrics.items()
                if k.split("/")[-1] in ("mIoU", "mAcc", "aAcc", "fwIoU") and k.count("/") <= 2}
    assert copied == pytest.approx(expected) and len({k.split("/")[2] for k in copied}) > 2  # domains + all
    steps = {m.step for m in client().get_metric_history(trained["run_id"], "test/acdc_mini.val/all/mIoU")}
    assert steps == {4}
    work = Path(train.data.tags["prove.work_dir"])
    if sorted(work.glob("best_*.pth")):
        assert run_test("--run-id", trained["run_id"], "--checkpoint", "best").exit_code != 0  # best on val: refused
    import mlflow

    runs = mlflow.search_runs(experiment_ids=[train.info.experiment_id], filter_string="tags.`prove.kind` = 'train'")
    assert "metrics.test/acdc_mini.val/all/mIoU" in runs.columns  # a table without joins


def test_every_checkpoint_mode_logs_the_curve(trained):
    result = run_test("--run-id", trained["run_id"], "--checkpoint", "all")
    assert result.exit_code == 0, result.output
    outcomes = json.loads(result.output.strip().splitlines()[-1])
    assert [o["iteration"] for o in outcomes] == [2, 4]
    curve = client().get_metric_history(trained["run_id"], "test.acdc_mini.val/mIoU")
    assert sorted({m.step for m in curve}) == [2, 4]


def test_cross_dataset_and_selection_by_spec(trained):
    result = run_test("--dataset", "acdc_mini", "--stage", "s2", "--batch-size", "2", "--max-iters", "4",
                      "--test-dataset", "ACDC", "--test-data-root", str(trained["root"]))
    assert result.exit_code == 0, result.output
    runs = stored_test_runs(" and params.test_dataset = 'acdc'")
    assert len(runs) == 1 and runs[0].data.tags["prove.train_run_id"] == trained["run_id"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--run-id", "0123456789abcdef"], "unknown run id"),
        (["--checkpoint", "3"], "iterations saved: 2, 4"),
        # `best` was chosen on val, the split this dataset would be tested on: a biased figure
        (["--checkpoint", "best"], "checkpoint 'best' was chosen on the val split"),
        (["--test-dataset", "kitti"], "unknown dataset 'kitti'"),
        (["--test-split", "train2"], "no labelled split 'train2'"),
        (["--test-dataset", "cityscapes"], "PROVE_CITYSCAPES_ROOT"),
    ],
)
def test_bad_input_writes_nothing(trained, args, needle, monkeypatch):
    monkeypatch.delenv("PROVE_CITYSCAPES_ROOT", raising=False)
    before = len(stored_test_runs())
    full = args if args[0] == "--run-id" else ["--run-id", trained["run_id"], *args]
    result = run_test(*full)
    if needle is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert len(stored_test_runs()) == before


def test_only_finished_training_runs_can_be_tested(trained):
    from prove.tracking import client, schema

    exp = client.experiment_id("prove")
    failed = client.create_run(exp, "broken", {schema.KIND: "train"}, {})
    client.end_run(failed, "FAILED")
    result = run_test("--run-id", failed)
    assert result.exit_code == 2 and "FAILED, not FINISHED" in result.output
    (a_test, *_) = stored_test_runs()
    result = run_test("--run-id", a_test.info.run_id)
    assert result.exit_code == 2 and "not a training run" in result.output


def test_a_split_csv_gives_a_held_out_test_split_and_best_is_chosen_on_val(trained, tmp_path):
    """The training's split CSV travels with its run: `prove test` then reports on its test split,
    and `best` (chosen on val during training) is allowed because val is not reported on."""
    from prove.data.base import open_adapter

    names = [s.name for split in ("train", "val") for s in open_adapter("acdc_mini", str(trained["root"])).samples(split)]
    table = tmp_path / "splits.csv"
    table.write_text("image,split\n" + "".join(f"{n},{('train', 'val', 'test')[i % 3]}\n" for i, n in enumerate(names)))
    result = CliRunner().invoke(cli, [*TRAIN, "--data-root", str(trained["root"]), "--split-csv", str(table),
                                      "--seed", "7"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run_id = result.output.strip().splitlines()[-1]
    params = client().get_run(run_id).data.params
    assert params["split_csv"] == str(table)
    tested = run_test("--run-id", run_id, "--checkpoint", "best")
    assert tested.exit_code == 0, tested.output
    (outcome,) = json.loads(tested.output.strip().splitlines()[-1])
    test_run = client().get_run(outcome["run_id"])
    assert test_run.data.params["test_split"] == "test" and test_run.data.params["test_split_csv"] == str(table)
    held_out = sum(1 for i in range(len(names)) if i % 3 == 2)
    assert held_out and test_run.data.tags["prove.test_key"].endswith(f"/acdc_mini/test/iter_{outcome['iteration']}")
    frame = pd.read_csv(next(Path(trained["tmp"]).rglob("tests/acdc_mini-test-iter_*/per_domain_per_class.csv")))
    assert frame.groupby("domain")["images"].first().get("all") == held_out  # only the held-out images
    best = client().get_run(run_id).data.metrics  # the test split is the default: no split in the name
    assert best["test_best/acdc_mini/all/mIoU"] == pytest.approx(test_run.data.metrics["test/mIoU"])
