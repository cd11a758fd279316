"""The tracking store's contract: every `prove.*` tag, the run kinds and the metric keys.

Written here once, read by every verb and by the analyses (docs/tracking.md documents them
for users who query the store with `mlflow.search_runs`). Nothing here imports MLflow.
"""

from __future__ import annotations

import re

# -- run kinds (tag KIND) ---------------------------------------------------------------------
# `launch`: an `mlflow run` launcher run of prove <= 0.x stores (none are made any more; analyses skip them)
TRAIN, TEST, SWEEP, ANALYSIS, LAUNCH, QUALITY = "train", "test", "sweep", "analysis", "launch", "quality"
KINDS: tuple[str, ...] = (TRAIN, TEST, SWEEP, ANALYSIS, LAUNCH, QUALITY)

# -- tags on every run prove writes --------------------------------------------------------------
KIND = "prove.kind"  # one of KINDS
HEARTBEAT = "prove.heartbeat"  # unix time of the last sign of life (stale RUNNING runs are resumable)
HOST = "prove.host"
GIT_COMMIT = "prove.git_commit"
VERSIONS = "prove.versions"  # pinned versions of prove, torch, mmseg, mmengine, mmcv, mlflow

# -- training and test runs ----------------------------------------------------------------------
SPEC_HASH = "prove.spec_hash"  # identity of a training spec (prove.spec.TrainSpec.spec_hash)
WORK_DIR = "prove.work_dir"  # where the checkpoints of a training live
CONFIG_FILE = "prove.config_file"  # an adopted training's mmseg config (prove's own: <work dir>/config.py)
FAMILY = "prove.family"  # strategy family (baseline | standard | generative | control | combination)
GENERATOR_FAMILY = "prove.generator_family"  # where a generator is used
TEST_KEY = "prove.test_key"  # <train run>/<test dataset>/<split>/iter_<N>: one result per key
TRAIN_RUN = "prove.train_run_id"  # on a test run: the training it evaluates
RECONCILED = "prove.reconciled"  # unix time `prove ablation --reconcile` marked a dead job's run KILLED

# -- imported results (prove import-results) -------------------------------------------------------
STUDY = "prove.study"  # the study a training (and its tests) belongs to: a prove.studies name
SOURCE = "prove.source"  # "import" on results that came from a CSV
IMPORT_FILE, IMPORT_KEY, IMPORT_LINES = "prove.import_file", "prove.import_key", "prove.import_lines"

# -- sweeps and analyses ---------------------------------------------------------------------------
CLAIM_PREFIX = "prove.claim."  # experiment tags prove.claim.<spec hash>.<token> (prove.tracking.claims)
PARENT_RUN_ENV = "PROVE_PARENT_RUN_ID"  # set by `prove ablation` for the runs of its workers

# -- MLflow's own tags prove sets ------------------------------------------------------------------
MLFLOW_PARENT = "mlflow.parentRunId"
MLFLOW_RUN_NAME = "mlflow.runName"
MLFLOW_USER = "mlflow.user"
MLFLOW_SOURCE_NAME, MLFLOW_SOURCE_TYPE = "mlflow.source.name", "mlflow.source.type"
MLFLOW_SOURCE_COMMIT = "mlflow.source.git.commit"
MLFLOW_NOTE = "mlflow.note.content"  # a run's description in the MLflow UI (markdown)
# on every experiment prove writes to: the UI opens it on its runs (not on GenAI traces)
EXPERIMENT_KIND, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"

# -- metric keys ---------------------------------------------------------------------------------
METRICS: tuple[str, ...] = ("mIoU", "mAcc", "aAcc", "fwIoU")  # summary metrics of a result, in %
CLASS_METRICS: tuple[str, ...] = ("IoU", "Acc")  # per-class metrics, in %
ALL_DOMAINS = "all"  # the overall result: every test image
UNKNOWN_DOMAIN = "unknown"  # images whose adapter gave no domain


def metric_name(name: str) -> str:
    """MLflow-safe metric key part: class names with spaces -> underscores."""
    return re.sub(r"[^A-Za-z0-9_./-]", "_", name)


def test_metric(metric: str, domain: str = ALL_DOMAINS) -> str:
    """`test/mIoU` (overall) or `test/<domain>/mIoU`: a result's summary metric."""
    return f"test/{metric}" if domain == ALL_DOMAINS else f"test/{domain}/{metric}"


def class_metric(metric: str, class_name: str, domain: str = ALL_DOMAINS) -> str:
    """`test/IoU/<class>` (overall) or `test/<domain>/IoU/<class>`: a result's per-class metric."""
    prefix = "test" if domain == ALL_DOMAINS else f"test/{domain}"
    return f"{prefix}/{metric}/{metric_name(class_name)}"


def tested_metric(dataset: str, split: str) -> str:
    """`test.<dataset>.<split>/mIoU`, logged on the TRAINING run at step = the tested iteration,
    so which tests a training has had is read off the training runs (sweep plans)."""
    return f"test.{dataset}.{split}/mIoU"


LAST_RESULT, BEST_RESULT = "test", "test_best"  # prefixes of a training's own copy of its test results


def training_result_metric(prefix: str, dataset: str, split: str, domain: str, metric: str) -> str:
    """`test/<dataset>/<domain>/<metric>` (`test_best/...` for the best-on-val checkpoint), on the
    TRAINING run, so the MLflow UI's compare view and `mlflow.search_runs` show two trainings'
    results per domain side by side without joining test runs. The test split is the default;
    another split is named: `test/<dataset>.val/all/mIoU`."""
    where = dataset if split == "test" else f"{dataset}.{split}"
    return f"{prefix}/{where}/{metric_name(domain)}/{metric}"


def parse_tested_metric(key: str) -> tuple[str, str] | None:
    """(dataset, split) of a `tested_metric` key, None for any other key."""
    if not (key.startswith("test.") and key.endswith("/mIoU")):
        return None
    dataset, _, split = key[len("test."):-len("/mIoU")].rpartition(".")
    return dataset, split


def test_key(train_run_id: str, dataset: str, split: str, iteration: int) -> str:
    return f"{train_run_id}/{dataset}/{split}/iter_{iteration}"


def domain_values() -> tuple[str, ...]:
    """Every value of a result's `domain`: the overall result, the study's domains, unknown."""
    from prove.data.domains import DOMAINS

    return (ALL_DOMAINS, *DOMAINS, UNKNOWN_DOMAIN)
