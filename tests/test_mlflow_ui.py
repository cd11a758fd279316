"""What the MLflow UI shows, checked in a real browser (Debian's Chromium, driven by Playwright)
against a real `mlflow ui` over a store made by two tiny trainings and their tests.

Skips, saying why, where Chromium or Playwright is missing (`.ci/run` installs both). With
PROVE_UI_SCREENSHOTS=<folder> it also writes the screenshots docs/mlflow-ui.md shows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from prove.cli import cli
from tests.support import mlflow_process, private_store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does)"),
]
COMMON = ["--max-iters", "4", "--eval-interval", "4", "--batch-size", "2"]
STRATEGIES = ("baseline", "std_minimal")


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A store with two trainings (each tested once), served by `mlflow ui` on 127.0.0.1."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
    tmp = tmp_path_factory.mktemp("ui")
    monkeypatch = pytest.MonkeyPatch()
    uri = private_store(tmp, monkeypatch, PROVE_WORK_DIR=tmp / "work", PROVE_PROGRESS="lines")
    for key in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(key, raising=False)
    trainings = {}
    for strategy in STRATEGIES:
        trained = CliRunner().invoke(cli, ["train", "--strategy", strategy, *COMMON, "--experiment", "study"])
        assert trained.exit_code == 0, trained.output
        tested = CliRunner().invoke(cli, ["test", "--strategy", strategy, *COMMON, "--experiment", "study"])
        assert tested.exit_code == 0, tested.output
        trainings[strategy] = trained.output.strip().splitlines()[-1]
    leaderboard = CliRunner().invoke(cli, ["leaderboard", "--output", str(tmp / "lb"), "--experiments", "study",
                                           "--experiment", "study"])
    assert leaderboard.exit_code == 0, leaderboard.output
    import mlflow

    store = mlflow.tracking.MlflowClient(uri)
    exp_id = store.get_experiment_by_name("study").experiment_id
    with mlflow_process("ui", uri, env={**os.environ, "MLFLOW_TRACKING_URI": uri}) as base, \
            playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        yield dict(page=page, base=base, exp_id=exp_id, store=store, trainings=trainings, tmp=tmp)
        browser.close()
    monkeypatch.undo()


def _shot(page, name: str) -> None:
    folder = os.environ.get("PROVE_UI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


def _close_assistant(page) -> None:
    """MLflow 3.17 opens its Assistant side panel on first visit; closed for a wider table."""
    close = page.locator('button[aria-label="Close"]')
    if close.count():
        close.first.click()


@pytest.mark.slow(50)
def test_the_experiment_opens_on_its_training_runs_with_tests_nested(ui):
    page, store = ui["page"], ui["store"]
    page.goto(f"{ui['base']}/#/experiments/{ui['exp_id']}/runs")  # the link prove prints
    names = {s: store.get_run(r).info.run_name for s, r in ui["trainings"].items()}
    page.get_by_text(names["baseline"]).first.wait_for(timeout=60_000)
    _close_assistant(page)
    text = page.inner_text("body")
    assert "Training runs" in text and "Detect Issues" not in text  # not the GenAI overview of traces
    assert all(name in text for name in names.values())  # strategy first: what users compare
    assert "test weather_bench" not in text  # test runs are folded under their training ...
    expanders = page.locator('button[data-component-id$="runnamecellrenderer.tsx_46"]')
    assert expanders.count() >= len(STRATEGIES)
    for i in range(expanders.count()):
        expanders.nth(i).click()
    page.get_by_text("test weather_bench/test @4").first.wait_for(timeout=20_000)  # ... and shown when expanded
    children = page.get_by_text("test weather_bench/test @4")
    assert children.count() == len(STRATEGIES)
    _shot(page, "mlflow-runs-table.png")


def test_two_trainings_compare_per_domain_without_joins(ui):
    page, store = ui["page"], ui["store"]
    runs = list(ui["trainings"].values())
    page.goto(f"{ui['base']}/#/compare-runs?runs={json.dumps(runs)}&experiments={json.dumps([ui['exp_id']])}")
    key = "test/weather_bench/clear_day/mIoU"  # one domain of the embedded benchmark's test split
    page.get_by_text(key, exact=True).first.wait_for(timeout=60_000)
    _close_assistant(page)
    page.get_by_text("Metrics", exact=True).first.scroll_into_view_if_needed()
    shown = [float(x) for x in re.findall(r"(?m)^-?\d+(?:\.\d+)?$", page.inner_text("body"))]
    for run_id in runs:  # both trainings' values as the store has them (the UI rounds to 4 digits)
        value = store.get_run(run_id).data.metrics[key]
        assert any(abs(x - value) <= 5e-4 * max(1.0, abs(value)) for x in shown), (value, shown)
    _shot(page, "mlflow-compare-trainings.png")


def test_the_report_renders_in_the_artifact_viewer(ui):
    page, store = ui["page"], ui["store"]
    (analysis,) = store.search_runs([ui["exp_id"]], filter_string="tags.`prove.kind` = 'analysis'")
    page.goto(f"{ui['base']}/#/experiments/{ui['exp_id']}/runs/{analysis.info.run_id}/artifacts/report.html")
    frame = page.frame_locator("iframe").first
    frame.get_by_text("Leaderboard").first.wait_for(timeout=60_000)
    _close_assistant(page)
    assert frame.locator("table").count() > 0 and frame.locator('img[src^="data:image/png"]').count() > 0
    _shot(page, "mlflow-report-html.png")
