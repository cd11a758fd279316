"""Test-only dataset: the ACDC fixture tree read at its own tiny size.

Real ACDC trains around 1920x1080; the fixture images are 32x16, and resizing them to the real
scale would make every test step 1000x more expensive. `acdc_mini` is ACDC's adapter with the
fixture's geometry. Subprocesses import this module (see `prove_command`) to know it.
"""

from __future__ import annotations

import sys

from prove.data import DATASETS
from prove.data.adapters.acdc import ACDC

if "acdc_mini" not in DATASETS:

    @DATASETS.declare
    class MiniACDC(ACDC):
        name = "acdc_mini"
        description = "ACDC's adapter at the fixture tree's own tiny size (tests only)"
        scale = (32, 16)
        crop_size = (16, 16)


def private_store(tmp_path, monkeypatch, db: str = "store.db", **env: str) -> str:
    """Point this test (and the processes it starts) at its own sqlite tracking store, plus
    any PROVE_* settings given (e.g. PROVE_WORK_DIR=...); returns the store's URI."""
    import mlflow

    uri = f"sqlite:///{tmp_path / db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    mlflow.set_tracking_uri(uri)  # process-global; conftest resets it after the test
    return uri


def prove_command(*args: str) -> list[str]:
    """argv that runs `prove ARGS` in a subprocess that knows the test dataset."""
    code = "import tests.support; from prove.cli import main; import sys; main(sys.argv[1:])"
    return [sys.executable, "-c", code, *args]


if __name__ == "__main__":  # `python -m tests.support ARGS` == `prove ARGS` (for torchrun)
    from prove.cli import main

    main(sys.argv[1:])
