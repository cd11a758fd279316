"""Test-only dataset: the ACDC fixture tree read at its own tiny size.

Real ACDC trains around 1920x1080; the fixture images are 32x16, and resizing them to the real
scale would make every test step 1000x more expensive. `acdc_mini` is ACDC's adapter with the
fixture's geometry. Subprocesses import this module (see `prove_command`) to know it.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

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


@contextmanager
def mlflow_process(verb: str, backend_uri: str, *extra: str, env: dict | None = None, wait_s: float = 90,
                   port: int | None = None):
    """A real `mlflow ui` or `mlflow server` over `backend_uri` on a free 127.0.0.1 port, up
    (its /health answers) before the block runs; yields its base URL and stops it after."""
    import subprocess
    import time

    from tests.services.postgres import free_port, healthy

    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", verb, "--backend-store-uri", backend_uri, "--host",
                             "127.0.0.1", "--port", str(port), *extra], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + wait_s
    try:
        while not healthy(base):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"mlflow {verb} did not start within {wait_s:.0f} s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":  # `python -m tests.support ARGS` == `prove ARGS` (for torchrun)
    from prove.cli import main

    main(sys.argv[1:])
