"""A real PostgreSQL and a real `prove server` (MLflow + basic auth) for tests.

Fixtures (session scope):
- `postgres_db`: a `postgresql+psycopg2://` URI of a fresh database made for this test session
  (dropped at the end) in the PostgreSQL of `bash ci/postgres.sh start`. When that server does
  not answer, the fixture runs `bash ci/postgres.sh start` once with PROVE_POSTGRES_INSTALL=no
  (it starts an installed PostgreSQL, it never installs packages from a test run), then skips
  with the precise reason: psycopg2 missing, disabled, or the connection error together with
  the reason ci/postgres.sh left and the last lines of PostgreSQL's log.
- `tracking_server`: `python -m prove.server` (= `prove server`) on 127.0.0.1 and a free port,
  with that database as backend store and for its users, artifacts in a tmp folder, and basic
  authentication; yields `TrackingServer(uri, username, password)` (the admin) once GET /health
  answers, stops the whole process group at the end. Skips with the last lines of the server's
  log when it does not come up.

Environment:
- PROVE_POSTGRES=off           skip every PostgreSQL test (simulates a machine without it)
- PROVE_POSTGRES_AUTOSTART=0   do not try `bash ci/postgres.sh start` when PostgreSQL does not answer
- PROVE_POSTGRES_URI           use this server/database instead of ci/postgres.sh's (its role needs
                               CREATEDB for a per-session database; without it the tests write
                               into that database itself)
- PROVE_POSTGRES_DIR, PROVE_POSTGRES_PORT, PROVE_POSTGRES_PASSWORD: as in ci/postgres.sh
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "ci" / "postgres.sh"
STATE = Path(os.environ.get("PROVE_POSTGRES_DIR", "/tmp/prove-postgres"))
PORT = int(os.environ.get("PROVE_POSTGRES_PORT", "55432"))
PASSWORD = os.environ.get("PROVE_POSTGRES_PASSWORD", "prove-ci-password")
BASE_URI = os.environ.get("PROVE_POSTGRES_URI") or f"postgresql+psycopg2://prove:{PASSWORD}@127.0.0.1:{PORT}/prove"
# Fixed on purpose: MLflow only uses the admin password when it creates the admin user, so a
# database reused across sessions (no CREATEDB) must keep getting the same one.
ADMIN_USERNAME, ADMIN_PASSWORD = "prove-admin", "prove-test-admin-password"
SERVER_START_TIMEOUT_S = float(os.environ.get("PROVE_SERVER_START_TIMEOUT", 180))


class TrackingServer(NamedTuple):
    uri: str
    username: str
    password: str

    def environ(self) -> dict[str, str]:
        """What a job sets to write to this server."""
        return {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_TRACKING_USERNAME": self.username,
                "MLFLOW_TRACKING_PASSWORD": self.password}


def hide_password(uri: str) -> str:
    from prove.tracking.server import _hide_password

    return _hide_password(uri)


def connection_error(uri: str, timeout_s: int = 5) -> str | None:
    """None when `SELECT 1` works, else why not (one line)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri, connect_args={"connect_timeout": timeout_s},
                                      poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure is a reason to skip
        return " ".join(str(getattr(exc, "orig", None) or exc).split())
    finally:
        engine.dispose()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _why_not_started() -> str:
    parts = []
    if (STATE / "start-failed").exists():
        parts.append(f"ci/postgres.sh: {_tail(STATE / 'start-failed', 3)}")
    log = _tail(STATE / "postgres.log", 5)
    if log:
        parts.append(f"last lines of {STATE / 'postgres.log'}:\n{log}")
    return ("; " + "\n".join(parts)) if parts else ""


def _admin_engine(uri: str):
    import sqlalchemy

    return sqlalchemy.create_engine(uri, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool,
                                    connect_args={"connect_timeout": 5})


@pytest.fixture(scope="session")
def postgres_db():
    if os.environ.get("PROVE_POSTGRES", "").lower() in ("off", "0", "no", "false"):
        pytest.skip("PROVE_POSTGRES=off")
    try:
        import psycopg2  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"psycopg2 is not installed (pip install psycopg2-binary): {exc}")

    error = connection_error(BASE_URI)
    if error and not os.environ.get("PROVE_POSTGRES_URI") and os.environ.get("PROVE_POSTGRES_AUTOSTART", "1") != "0":
        try:
            subprocess.run(["bash", str(SCRIPT), "start"], env={**os.environ, "PROVE_POSTGRES_INSTALL": "no"},
                           capture_output=True, text=True, timeout=180, check=False)
        except subprocess.TimeoutExpired:
            pass
        error = connection_error(BASE_URI)
    if error:
        pytest.skip(f"PostgreSQL at {hide_password(BASE_URI)} not reachable: {error}{_why_not_started()}")

    import sqlalchemy
    from sqlalchemy.engine import make_url

    base = make_url(BASE_URI)
    name = f"prove_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = _admin_engine(BASE_URI)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        created = True
    except Exception:  # noqa: BLE001 - no CREATEDB: use the given database itself
        created = False
    uri = base.set(database=name).render_as_string(hide_password=False) if created else BASE_URI
    try:
        yield uri
    finally:
        if created:
            try:
                with engine.connect() as connection:
                    connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception:  # noqa: BLE001 - a leftover test database is harmless
                pass
        engine.dispose()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_process_group(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGTERM to the server's process group (prove -> mlflow -> uvicorn workers), then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def start_server(backend_uri: str, base: Path, port: int) -> tuple[subprocess.Popen, str]:
    """`prove server` on 127.0.0.1:`port` over `backend_uri`; returns (process, uri) once it
    answers /health, or skips with the server's log when it does not start."""
    log_path = base / f"server-{port}.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env["PROVE_SERVER_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    cmd = [sys.executable, "-m", "prove.cli", "server", "--backend-store-uri", backend_uri,
           "--artifacts-destination", str(base / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "2", "--admin-username", ADMIN_USERNAME]
    with open(log_path, "a") as log:
        process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + SERVER_START_TIMEOUT_S
    while not healthy(uri):
        if process.poll() is not None or time.time() > deadline:
            stop_process_group(process)
            what = (f"exited with code {process.returncode}" if process.returncode is not None
                    else f"did not answer /health within {SERVER_START_TIMEOUT_S:.0f} s")
            pytest.skip(f"prove server {what}; last lines of {log_path}:\n{_tail(log_path, 20)}")
        time.sleep(0.5)
    return process, uri


@pytest.fixture(scope="session")
def tracking_server(postgres_db, tmp_path_factory):
    process, uri = start_server(postgres_db, tmp_path_factory.mktemp("tracking-server"), free_port())
    try:
        yield TrackingServer(uri, ADMIN_USERNAME, ADMIN_PASSWORD)
    finally:
        stop_process_group(process)
