"""`prove server`: one shared MLflow tracking server for a cluster (docs/tracking-server.md).

Runs `mlflow server` with
  * a PostgreSQL (or, for a single machine, SQLite) backend store, checked reachable first;
  * artifacts proxied by the server (`--serve-artifacts`) into `--artifacts-destination`, so
    jobs upload through HTTP and need no write access to that folder;
  * MLflow's basic authentication (`--app-name basic-auth`) unless `--no-auth`. Users and
    permissions live in the SAME database as the runs (tables `users`, `roles`, ... next to
    MLflow's; their migrations use their own `alembic_version_auth` table): one database to
    back up with pg_dump, and no SQLite file on a shared filesystem, where several server
    workers writing one SQLite file over NFS risk lock errors and corruption.

`ServerOptions` declares the command's options (prove.cli builds `prove server` from it).
The server is a child process: SIGTERM/SIGINT/SIGHUP are forwarded to it, and the private
folder holding the auth configuration (it names the database URI with its password) is
removed when it exits. Secrets never go on a command line (visible in `ps` on a login node):
the backend URI and the admin password reach MLflow through its environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from dataclasses import dataclass
from typing import Sequence

from prove.errors import ProveError
from prove.spec import option

PSYCOPG2_PIN = "psycopg2-binary==2.9.13"
PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")
MIN_PASSWORD = 12  # MLflow's password policy (mlflow.utils.validation._validate_password)
_LEGACY_PASSWORD = "password1234"  # the default old MLflow releases shipped; MLflow refuses it


# --- validation -------------------------------------------------------------------------------

def check_backend_store_uri(uri: str) -> str:
    """The URI if MLflow can use it as a shared backend store, else a ProveError that says why."""
    uri = (uri or "").strip()
    if uri.startswith("postgresql+psycopg2://"):
        return uri
    if uri.startswith(("postgresql://", "postgres://")):
        fixed = "postgresql+psycopg2://" + uri.split("://", 1)[1]
        raise ProveError(
            f"--backend-store-uri {_hide_password(uri)!r}: use {_hide_password(fixed)!r}. A plain "
            "postgresql:// URI makes SQLAlchemy 2.1 load psycopg 3, which is not installed; prove "
            f"uses psycopg2 ({PSYCOPG2_PIN})."
        )
    if uri.startswith("postgresql+"):
        raise ProveError(f"--backend-store-uri {_hide_password(uri)!r}: the PostgreSQL driver must "
                         "be psycopg2 (postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DATABASE)")
    if uri.startswith("sqlite:///") and len(uri) > len("sqlite:///"):
        return uri
    raise ProveError(
        f"--backend-store-uri {_hide_password(uri)!r} is not accepted; use "
        "postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DATABASE (a cluster) or "
        "sqlite:///ABSOLUTE/PATH.db (one machine)"
    )


def check_database_reachable(uri: str, timeout_s: int = 5) -> None:
    """Connect once (SELECT 1) so a wrong host, password or database fails here, not in MLflow."""
    import sqlalchemy
    from sqlalchemy.exc import SQLAlchemyError

    shown = _hide_password(uri)
    if uri.startswith("sqlite:///"):
        folder = Path(uri[len("sqlite:///"):]).expanduser().resolve().parent
        if not folder.is_dir():
            raise ProveError(f"--backend-store-uri {shown}: folder {folder} does not exist")
        connect_args: dict = {}
    else:
        try:
            import psycopg2  # noqa: F401
        except ImportError as exc:
            raise ProveError(f"a PostgreSQL backend needs psycopg2: pip install '{PSYCOPG2_PIN}' "
                             f"({exc})") from exc
        connect_args = {"connect_timeout": timeout_s}
    engine = sqlalchemy.create_engine(uri, connect_args=connect_args, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise ProveError(f"cannot connect to the backend store {shown}: "
                         f"{' '.join(line.strip() for line in reason[:2])}") from exc
    finally:
        engine.dispose()


def admin_exists(uri: str, username: str) -> bool:
    """Whether MLflow's auth tables in this database already hold `username`."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri, poolclass=sqlalchemy.pool.NullPool)
    try:
        if "users" not in sqlalchemy.inspect(engine).get_table_names():
            return False
        with engine.connect() as connection:
            found = connection.execute(sqlalchemy.text("SELECT 1 FROM users WHERE username = :u"),
                                       {"u": username}).first()
        return found is not None
    finally:
        engine.dispose()


def check_admin_password(password: str | None, username: str, uri: str) -> None:
    if password:
        if len(password) < MIN_PASSWORD:
            raise ProveError(f"--admin-password: MLflow needs at least {MIN_PASSWORD} characters "
                             f"(got {len(password)})")
        if password == _LEGACY_PASSWORD:
            raise ProveError("--admin-password: MLflow refuses its old published default password")
        return
    if not admin_exists(uri, username):
        raise ProveError(
            f"first start on this database: the admin user {username!r} does not exist yet; give its "
            f"password with --admin-password or PROVE_SERVER_ADMIN_PASSWORD (at least {MIN_PASSWORD} "
            "characters), or run a trusted-network server with --no-auth"
        )


def check_auth_installed() -> None:
    try:
        import flask_wtf  # noqa: F401  (MLflow's basic-auth app needs it for CSRF)
    except ImportError as exc:
        raise ProveError("basic authentication needs MLflow's auth extra: pip install 'mlflow[auth]' "
                         "(or run a trusted-network server with --no-auth)") from exc


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ProveError(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                             "(another server there? choose --port)") from exc


# --- what gets started ------------------------------------------------------------------------

def client_uri(host: str, port: int) -> str:
    """The address jobs use: this machine's full name when listening on all interfaces."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def allowed_host_patterns(extra: str = "") -> list[str]:
    """Host headers the server accepts: MLflow's defaults (localhost, private IPs), this
    machine's names (MLflow's DNS-rebinding check would otherwise refuse jobs that call
    http://login01:5000) and the comma-separated `extra` names (an alias); `*` accepts any."""
    from mlflow.server.security_utils import get_default_allowed_hosts

    names = [h.strip() for h in extra.split(",") if h.strip()]
    if "*" in names:
        return ["*"]
    names = sorted({socket.gethostname(), socket.getfqdn()} - {""}) + names
    patterns = get_default_allowed_hosts()
    for name in names:
        patterns += [p for p in (name, f"{name}:*") if p not in patterns]
    return patterns


def auth_config(database_uri: str, admin_username: str, default_permission: str,
                auth_cache_s: int) -> str:
    # configparser interpolates '%': a URL-encoded password (%40 ...) must be doubled.
    return "\n".join([
        "[mlflow]",
        f"default_permission = {default_permission}",
        f"database_uri = {database_uri.replace('%', '%%')}",
        f"admin_username = {admin_username}",
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        "grant_default_workspace_access = false",
        f"auth_cache_ttl_seconds = {auth_cache_s}",
        "",
    ])


def server_argv(host: str, port: int, workers: int, artifacts_destination: str, allowed_hosts: Sequence[str],
                auth: bool) -> list[str]:
    argv = [sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(port),
            "--workers", str(workers), "--serve-artifacts", "--artifacts-destination", artifacts_destination,
            "--allowed-hosts", ",".join(allowed_hosts)]
    return argv + (["--app-name", "basic-auth"] if auth else [])


def _artifacts_destination(value: str) -> str:
    if "://" in value:  # s3://, gs://, file:///... are MLflow's business
        return value
    folder = Path(value).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProveError(f"--artifacts-destination {folder}: cannot create it ({exc.strerror or exc})") from exc
    if not os.access(folder, os.W_OK):
        raise ProveError(f"--artifacts-destination {folder}: not writable by this user")
    return str(folder)


@dataclass(frozen=True)
class ServerOptions:
    backend_store_uri: str = option(help="postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DB (cluster) or "
                                    "sqlite:///PATH.db [env PROVE_SERVER_BACKEND_STORE_URI].",
                                    envvar="PROVE_SERVER_BACKEND_STORE_URI")
    artifacts_destination: str = option("./mlartifacts", "Where the server stores artifacts: a folder on shared "
                                        "storage, or s3://...")
    host: str = option("127.0.0.1", "Interface to listen on; 0.0.0.0 for jobs on other nodes.")
    port: int = option(5000, "Port to listen on.", minimum=1, maximum=65535)
    workers: int = option(4, "Server worker processes.")
    admin_username: str = option("admin", "MLflow admin user.")
    admin_password: str = option("", "Admin password, needed on the first start only (>= 12 characters) "
                                 "[env PROVE_SERVER_ADMIN_PASSWORD].", envvar="PROVE_SERVER_ADMIN_PASSWORD")
    default_permission: str = option("EDIT", "What every user may do on experiments others created (EDIT: log "
                                     "runs into them).", choices=PERMISSIONS)
    allowed_hosts: str = option("", "More names clients may call the server by (a DNS alias), comma-separated; "
                                "localhost, private IPs and this machine's names are always accepted.")
    auth_cache_seconds: int = option(60, "Workers cache a verified password this long (0: check every request).",
                                     minimum=0, maximum=3600)
    no_auth: bool = option(False, "No authentication (trusted network only).")


@dataclass(frozen=True)
class _Checked:
    uri: str
    destination: str
    allowed_hosts: list[str]


def run_server(backend_store_uri: str, artifacts_destination: str = "./mlartifacts", host: str = "127.0.0.1",
               port: int = 5000, workers: int = 4, admin_username: str = "admin", admin_password: str | None = None,
               no_auth: bool = False, default_permission: str = "EDIT", allowed_hosts: str = "",
               auth_cache_s: int = 60, echo=print) -> int:
    """Validate everything, start `mlflow server`, wait for it; returns its exit code."""
    options = ServerOptions(backend_store_uri, artifacts_destination, host, port, workers, admin_username,
                            admin_password or "", default_permission, allowed_hosts, auth_cache_s, no_auth)
    checked = check_options(options)  # nothing is started (or written) before this passes
    private = Path(tempfile.mkdtemp(prefix="prove-server-"))  # 0700: the auth config names the database password
    try:
        env = server_environment(options, checked.uri, private)
        for line in banner(options, checked):
            echo(line)
        sys.stdout.flush()
        argv = server_argv(host, port, workers, checked.destination, checked.allowed_hosts, not no_auth)
        return supervise(argv, env, host, port, echo)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def check_options(options: ServerOptions) -> _Checked:
    uri = check_backend_store_uri(options.backend_store_uri)
    if options.workers < 1:
        raise ProveError(f"--workers {options.workers}: at least 1")
    if options.default_permission not in PERMISSIONS:
        raise ProveError(f"--default-permission {options.default_permission!r}; accepted: {', '.join(PERMISSIONS)}")
    check_database_reachable(uri)
    if not options.no_auth:
        check_auth_installed()
        check_admin_password(options.admin_password or None, options.admin_username, uri)
    destination = _artifacts_destination(options.artifacts_destination)
    check_port_free(options.host, options.port)
    return _Checked(uri, destination, allowed_host_patterns(options.allowed_hosts))


def server_environment(options: ServerOptions, uri: str, private: Path) -> dict[str, str]:
    """The server's environment: secrets go here, never on its command line (visible in `ps`)."""
    env = dict(os.environ)
    env["MLFLOW_BACKEND_STORE_URI"] = uri  # read by `mlflow server`; kept off the command line
    # MLflow's job runner (GenAI scorers, trace archival) starts ~7 extra worker processes that
    # experiment tracking never uses; set MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true to keep them.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    for key in ("MLFLOW_AUTH_CONFIG_PATH", "MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD",
                "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(key, None)
    if not options.no_auth:
        config = private / "basic_auth.ini"
        config.touch(mode=0o600)
        config.write_text(auth_config(uri, options.admin_username, options.default_permission,
                                      options.auth_cache_seconds))
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(config)
        env["MLFLOW_AUTH_ADMIN_USERNAME"] = options.admin_username
        if options.admin_password:
            env["MLFLOW_AUTH_ADMIN_PASSWORD"] = options.admin_password
        # One key for all workers of this server (CSRF of the sign-up page); a restart may change it.
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", os.urandom(24).hex())
    return env


def banner(options: ServerOptions, checked: _Checked) -> list[str]:
    """What the server is and what every job must set to use it."""
    o = options
    lines = [
        f"prove server: MLflow on {o.host}:{o.port} ({o.workers} workers), backend {_hide_password(checked.uri)}",
        f"prove server: artifacts go to {checked.destination} (uploaded through the server)",
        "prove server: " + ("NO authentication (--no-auth): anyone who reaches the port can write"
                            if o.no_auth else f"basic authentication, admin user {o.admin_username!r}, "
                            f"default permission {o.default_permission}"),
        "prove server: every job sets",
        f"  export MLFLOW_TRACKING_URI={client_uri(o.host, o.port)}",
    ]
    if not o.no_auth:
        lines += ["  export MLFLOW_TRACKING_USERNAME=<user>      # created by the admin, see docs/tracking-server.md",
                  "  export MLFLOW_TRACKING_PASSWORD=<password>"]
    return lines


def supervise(argv: list[str], env: dict[str, str], host: str, port: int, echo) -> int:
    """Run the server as a child: forward SIGTERM/SIGINT/SIGHUP, say when it is ready, stop it
    when this process is asked to stop; returns its exit code."""
    child = subprocess.Popen(argv, env=env)

    def forward(signum, _frame):
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    probe = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    health = f"http://{'[' + probe + ']' if ':' in probe else probe}:{port}/health"
    ready = False
    try:
        while child.poll() is None:
            if not ready and _healthy(health):
                ready = True
                echo(f"prove server: ready ({client_uri(host, port)})")
                sys.stdout.flush()
            try:
                child.wait(timeout=0.5 if not ready else 5)
            except subprocess.TimeoutExpired:
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
    return child.returncode


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _hide_password(uri: str) -> str:
    if "://" not in uri or "@" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    credentials, location = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in credentials else ''}@{location}"
