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
    any PROVE_* settings given (e.g. PROVE_WORK_DIR=...); returns the store's URI. The store
    starts as a copy of an empty, migrated one (`migrated_store`), not migrated again."""
    import mlflow

    path = tmp_path / db
    if not path.exists():
        migrated_store(path)
    uri = f"sqlite:///{path}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    mlflow.set_tracking_uri(uri)  # process-global; conftest resets it after the test
    return uri


def store_uri(path) -> str:
    """The URI of an empty, migrated sqlite store made at `path` (for a test's subprocesses)."""
    migrated_store(path)
    return f"sqlite:///{path}"


_TEMPLATE: list = []  # this process's empty migrated store, made at first use


def migrated_store(path) -> None:
    """An empty MLflow sqlite store at `path`, as `mlflow` creates it (schema at alembic's head,
    the Default experiment). MLflow migrates a new sqlite file through its whole alembic history,
    ~1 s on 2 cores, in every test and in every process the test starts; a copy of a store
    migrated once per process is the same file in 1% of that time."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="prove-store-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        # the Default experiment's artifacts go under the template's folder, never the repo's cwd
        store = SqlAlchemyStore(f"sqlite:///{folder / 'empty.db'}", str(folder / "mlruns"))
        store.engine.dispose()
        _TEMPLATE.append(folder / "empty.db")
    shutil.copyfile(_TEMPLATE[0], path)


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
