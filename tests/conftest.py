"""Shared fixtures. Tests never write outside tmp folders: the cache and the MLflow store are
redirected for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from prove.spec import load_declarations
from tests.support import migrated_store, private_store

# A contributor's PROVE_PLUGINS (their own datasets, models, strategies...) and declared
# generators join every registry-parametrized test: `PROVE_PLUGINS=my_lab pytest tests/`.
load_declarations()


def pytest_configure(config):
    # Under pytest-xdist each worker gets its share of the CPUs (one torch thread each with
    # `-n 2` on 2 cores): two workers with the machine's full thread count each slow both down.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > 1 and "PROVE_NUM_CPUS" not in os.environ:
        from prove.settings import allowed_cpus

        os.environ["PROVE_NUM_CPUS"] = str(max(1, allowed_cpus()[0] // workers))


MAX_TEST_WORKERS = 4  # beyond this the services (one SLURM, one PostgreSQL) become the queue


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker per allowed CPU (cgroup/affinity aware, like prove's own), at most
    MAX_TEST_WORKERS; measured on 2 cores in docs/testing.md."""
    from prove.settings import allowed_cpus

    return max(1, min(MAX_TEST_WORKERS, allowed_cpus()[0]))


SLOW_DEFAULT_S = 20  # a `slow` test without its measured seconds


def pytest_collection_modifyitems(session, config, items):
    """The longest modules first (file order otherwise, tests in file order): under `-n` a
    worker takes a whole module (loadscope), so the ones that take minutes start at once on
    different workers and the short ones fill in around them. A module's cost is the sum of its
    `slow` marks' seconds (`@pytest.mark.slow(280)`: measured on 2 cores, docs/testing.md)."""
    def seconds(item) -> float:
        mark = item.get_closest_marker("slow")
        return 0 if mark is None else (mark.args[0] if mark.args else SLOW_DEFAULT_S)

    cost: dict[str, float] = {}
    for item in items:
        cost[item.module.__name__] = cost.get(item.module.__name__, 0) + seconds(item)
    items[:] = sorted(items, key=lambda item: -cost[item.module.__name__])  # stable: file order on ties


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory):
    base = tmp_path_factory.mktemp("prove-env")
    keys = ("PROVE_CACHE_DIR", "MLFLOW_TRACKING_URI", "PROVE_WORK_DIR", "PROVE_NUM_WORKERS")
    old = {k: os.environ.get(k) for k in keys}
    os.environ["PROVE_CACHE_DIR"] = str(base / "cache")
    migrated_store(base / "mlflow.db")  # the processes tests start then find it migrated
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{base / 'mlflow.db'}"
    os.environ["PROVE_WORK_DIR"] = str(base / "work_dirs")
    os.environ["PROVE_NUM_WORKERS"] = "0"  # tests that need workers set it themselves
    yield
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def write_tiny_segmentation_folder(root: Path, count: int = 4, size: int = 32, seed: int = 0) -> Path:
    """`root/img/*.png` (RGB) and `root/ann/*.png` (train ids incl. some 255) for mmseg's
    BaseSegDataset; images carry their label as colour so a model can learn something."""
    import cv2

    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    (root / "ann").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        label = rng.integers(0, 19, size=(size // 8, size // 8)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
        label[0, :] = 255
        ids = label.astype(np.int64)
        image = np.stack([ids * 13 % 256, ids * 7 % 256, ids * 3 % 256], -1)
        image = np.clip(image + rng.integers(0, 20, image.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(root / "img" / f"{i:03d}.png"), image)
        cv2.imwrite(str(root / "ann" / f"{i:03d}.png"), label)
    return root


@pytest.fixture
def tiny_seg_folder(tmp_path) -> Path:
    return write_tiny_segmentation_folder(tmp_path / "data")


@pytest.fixture(autouse=True)
def _mlflow_follows_the_environment():
    """mlflow.set_tracking_uri() is process-global, outranks MLFLOW_TRACKING_URI and also writes
    that variable (for subprocesses); both go back to what they were before each test, so a
    test's private store or server never leaks into the next test (whichever test runs next
    under pytest-xdist)."""
    before = os.environ["MLFLOW_TRACKING_URI"]
    yield
    import mlflow

    os.environ["MLFLOW_TRACKING_URI"] = before
    mlflow.set_tracking_uri(before)


class Store(MlflowClient):
    """`store`: this test's own sqlite tracking store, as the client to read it with. The
    environment and mlflow point at it for the test (and the processes it starts), the
    training work dirs go to `tmp / "work"`."""

    def __init__(self, uri: str, tmp: Path):
        super().__init__(uri)
        self.uri, self.tmp = uri, tmp

    def runs(self, filter_string: str = "") -> list:
        """Every run in every experiment of the store, optionally filtered."""
        experiments = [e.experiment_id for e in self.search_experiments()]
        return self.search_runs(experiments, filter_string=filter_string, max_results=5000) if experiments else []


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)  # a test inside `mlflow run` starts its own runs
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    return Store(private_store(tmp_path, monkeypatch, PROVE_WORK_DIR=tmp_path / "work"), tmp_path)


# The real services some tests run against (ci/slurm.sh, ci/postgres.sh): their fixtures skip
# with the precise reason where a service cannot start.
from tests.services.postgres import postgres_db, tracking_server  # noqa: E402,F401
from tests.services.slurm import slurm_cluster  # noqa: E402,F401
