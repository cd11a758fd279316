"""The store -> tidy table sync against a real sqlite MLflow store with real train/test runs."""

from __future__ import annotations

import json

import mlflow
import pytest
from click.testing import CliRunner

import tests.support  # noqa: F401  (acdc_mini)
from prove.analysis.schema import RESULT_COLUMNS, validate_results
from prove.analysis.store import sync_results
from prove.cli import cli
from tests.data.fixtures import build_acdc
from tests.support import private_store


@pytest.fixture
def store_with_results(tmp_path, monkeypatch):
    build_acdc(tmp_path / "acdc")
    uri = private_store(tmp_path, monkeypatch, PROVE_WORK_DIR=tmp_path / "work")
    train = CliRunner().invoke(cli, ["train", "--dataset", "acdc_mini", "--stage", "s2", "--batch-size", "2",
                                     "--max-iters", "2", "--eval-interval", "2", "--data-root", str(tmp_path / "acdc")],
                               catch_exceptions=False)
    run_id = train.output.strip().splitlines()[-1]
    tested = CliRunner().invoke(cli, ["test", "--run-id", run_id], catch_exceptions=False)
    assert tested.exit_code == 0, tested.output
    return dict(run_id=run_id, uri=uri, cache=tmp_path / "cache")


def test_sync_reads_every_domain_of_every_result_and_is_incremental(store_with_results):
    s = store_with_results
    results, classes, report = sync_results(s["cache"], tracking_uri=s["uri"])
    validate_results(results)
    assert list(results.columns) == list(RESULT_COLUMNS)
    assert report.fetched_runs == 1 and report.total_runs == 1
    (test_run,) = mlflow.tracking.MlflowClient(s["uri"]).search_runs(
        ["0", "1"], filter_string="tags.`prove.kind` = 'test'")
    metrics = test_run.data.metrics
    overall = results[results.domain == "all"].iloc[0]
    assert overall.mIoU == pytest.approx(metrics["test/mIoU"]) and overall.train_run_id == s["run_id"]
    domains = set(results.domain) - {"all"}
    assert domains and all(f"test/{d}/mIoU" in metrics for d in domains)
    assert set(classes["class"]) and set(classes.domain) == {"all", *domains}
    for c in classes.itertuples():  # each per-class row is the metric the test run logged
        key = f"test/IoU/{c._3.replace(' ', '_')}" if c.domain == "all" else f"test/{c.domain}/IoU/{c._3.replace(' ', '_')}"
        assert c.IoU == pytest.approx(metrics[key])
    assert (results.batch_size == 2).all() and (results.max_iters == 2).all()

    again, _, report = sync_results(s["cache"], tracking_uri=s["uri"])
    assert report.fetched_runs == 0 and len(again) == len(results)  # nothing new: nothing fetched

    forced = CliRunner().invoke(cli, ["test", "--run-id", s["run_id"], "--force"], catch_exceptions=False)
    assert forced.exit_code == 0
    replaced, _, report = sync_results(s["cache"], tracking_uri=s["uri"])
    assert report.fetched_runs == 1 and report.removed_runs == 1
    assert len(replaced) == len(results) and replaced.run_id.nunique() == 1  # never counted twice
    assert json.loads((s["cache"] / "results.json").read_text())["last_end_time"] > 0


def test_unknown_experiment_is_a_clear_error(store_with_results):
    from prove.errors import ProveError

    with pytest.raises(ProveError, match="unknown experiment"):
        sync_results(store_with_results["cache"], experiments=["nope"], tracking_uri=store_with_results["uri"])
