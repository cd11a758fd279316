"""Shared fixtures. Tests never write outside tmp folders: the cache and the MLflow store are
redirected for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from prove.spec import load_declarations

# A contributor's PROVE_PLUGINS (their own datasets, models, strategies...) and declared
# generators join every registry-parametrized test: `PROVE_PLUGINS=my_lab pytest tests/`.
load_declarations()


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory):
    base = tmp_path_factory.mktemp("prove-env")
    keys = ("PROVE_CACHE_DIR", "MLFLOW_TRACKING_URI", "PROVE_WORK_DIR", "PROVE_NUM_WORKERS")
    old = {k: os.environ.get(k) for k in keys}
    os.environ["PROVE_CACHE_DIR"] = str(base / "cache")
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
    """mlflow.set_tracking_uri() is process-global and outranks MLFLOW_TRACKING_URI; reset it
    after each test so a test's private store never leaks into the next test."""
    yield
    import mlflow

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])


# The real services some tests run against (ci/slurm.sh, ci/postgres.sh): their fixtures skip
# with the precise reason where a service cannot start.
from tests.services.postgres import postgres_db, tracking_server  # noqa: E402,F401
from tests.services.slurm import slurm_cluster  # noqa: E402,F401
