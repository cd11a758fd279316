#!/usr/bin/env bash
# A private PostgreSQL for the tracking-server tests (tests/tracking/test_server.py, tests/sweeps/test_server_sweep.py).
#
#   bash ci/postgres.sh start    install Debian's postgresql if missing, initialise a cluster,
#                                start it, create role + database `prove`, wait until it answers
#   bash ci/postgres.sh stop     stop it (the data stays in the state folder)
#   bash ci/postgres.sh status   print whether it runs and the URI (exit 0 running, 3 not)
#
# It listens on 127.0.0.1 only (no other interface) and on a Unix socket inside the state folder.
# Clients use:  postgresql+psycopg2://prove:<password>@127.0.0.1:55432/prove
#
# `start` never fails CI: where PostgreSQL cannot be installed or started it says why, writes
# the reason to $STATE/start-failed, and exits 0; the tests then skip with that reason.
#
# Settings (environment):
#   PROVE_POSTGRES_DIR       state folder (default /tmp/prove-postgres)
#   PROVE_POSTGRES_PORT      TCP port on 127.0.0.1 (default 55432)
#   PROVE_POSTGRES_PASSWORD  password of role `prove` (default prove-ci-password; CI only)
#   PROVE_POSTGRES_INSTALL   `no`: never apt-get install (default: install when missing, as root)
#   PROVE_POSTGRES_OS_USER   system user that runs the server when invoked as root (default postgres)
set -uo pipefail

STATE=${PROVE_POSTGRES_DIR:-/tmp/prove-postgres}
PORT=${PROVE_POSTGRES_PORT:-55432}
PASSWORD=${PROVE_POSTGRES_PASSWORD:-prove-ci-password}
INSTALL=${PROVE_POSTGRES_INSTALL:-yes}
OS_USER=${PROVE_POSTGRES_OS_USER:-postgres}
DATA=$STATE/data
SOCK=$STATE/sock
LOG=$STATE/postgres.log
URI="postgresql+psycopg2://prove:${PASSWORD}@127.0.0.1:${PORT}/prove"

say() { echo "ci/postgres.sh: $*" >&2; }

# `start` gives up with exit 0 (CI goes on, the tests skip and print the reason).
give_up() {
  say "PostgreSQL not started: $*"
  mkdir -p "$STATE" 2>/dev/null && echo "$*" >"$STATE/start-failed" 2>/dev/null
  exit 0
}

# The directory of initdb/pg_ctl/postgres/psql. Debian keeps them in /usr/lib/postgresql/N/bin
# (not on PATH); some machines link them into /usr/local/bin. Prefer the newest Debian one.
find_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
    echo "$dir"; return 0
  fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dir=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  fi
  return 1
}

install_postgres() {
  [ "$INSTALL" = "no" ] && give_up "initdb/pg_ctl not found and PROVE_POSTGRES_INSTALL=no"
  [ "$(id -u)" -eq 0 ] || give_up "initdb/pg_ctl not found and not root (install Debian's postgresql package)"
  command -v apt-get >/dev/null 2>&1 || give_up "initdb/pg_ctl not found and no apt-get on this machine"
  say "installing Debian's postgresql (apt-get)"
  # No 'main' cluster on 5432: this script runs its own. Kept if the file exists already.
  mkdir -p /etc/postgresql-common
  [ -e /etc/postgresql-common/createcluster.conf ] ||
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q
             -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef)
  if ! "${apt[@]}" install --no-install-recommends postgresql >>"$STATE/apt.log" 2>&1; then
    "${apt[@]}" update >>"$STATE/apt.log" 2>&1 || true
    "${apt[@]}" install --no-install-recommends postgresql >>"$STATE/apt.log" 2>&1 ||
      give_up "apt-get install postgresql failed (see $STATE/apt.log): $(tail -n 2 "$STATE/apt.log" | tr '\n' ' ')"
  fi
}

# Run a command as the user that owns the cluster (PostgreSQL refuses to run as root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u "$OS_USER" -- "$@"
    else
      su -s /bin/sh "$OS_USER" -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

ensure_os_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  id "$OS_USER" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER" 2>/dev/null ||
    give_up "cannot create the system user $OS_USER to run PostgreSQL (it refuses to run as root)"
}

running() {
  [ -n "${BIN:-}" ] && [ -f "$DATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

psql_admin() {  # superuser session over the private Unix socket (trust auth, socket dir is 0700)
  as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres "$@"
}

start() {
  mkdir -p "$STATE" || give_up "cannot create $STATE"
  rm -f "$STATE/start-failed"
  BIN=$(find_bindir) || { install_postgres; BIN=$(find_bindir) || give_up "postgresql installed but initdb/pg_ctl not found"; }
  ensure_os_user
  if [ "$(id -u)" -eq 0 ]; then
    chown "$OS_USER" "$STATE" || give_up "cannot chown $STATE to $OS_USER"
  fi
  chmod 700 "$STATE"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    say "initialising a cluster in $DATA ($("$BIN/postgres" --version))"
    rm -rf "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust \
      --auth-host=scram-sha-256 >"$STATE/initdb.log" 2>&1 ||
      as_owner "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C --auth-local=trust \
        --auth-host=scram-sha-256 >"$STATE/initdb.log" 2>&1 ||
      give_up "initdb failed: $(tail -n 3 "$STATE/initdb.log" | tr '\n' ' ')"
    # Loopback only; socket in the private state folder; enough connections for a few
    # tracking-server workers plus parallel test processes.
    as_owner sh -c "cat >>'$DATA/postgresql.conf'" <<EOF
# ci/postgres.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  as_owner mkdir -p "$SOCK"
  if running; then
    say "already running ($DATA)"
  else
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null 2>&1 ||
      give_up "pg_ctl start failed: $(tail -n 3 "$LOG" 2>/dev/null | tr '\n' ' ')"
  fi
  local i
  for i in $(seq 1 60); do
    as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break
    sleep 0.5
  done
  as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" || give_up "not accepting connections on 127.0.0.1:$PORT"
  # Role and database `prove` (idempotent; the password is (re)set every start).
  # CREATEDB lets the tests make a throw-away database per session.
  psql_admin -v pw="$PASSWORD" >"$STATE/psql.log" 2>&1 <<'SQL' || give_up "creating role/database prove failed: $(tail -n 2 "$STATE/psql.log" | tr '\n' ' ')"
SELECT 'CREATE ROLE prove LOGIN CREATEDB' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prove')
\gexec
ALTER ROLE prove WITH LOGIN CREATEDB PASSWORD :'pw';
SELECT 'CREATE DATABASE prove OWNER prove' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'prove')
\gexec
SQL
  say "running: $("$BIN/postgres" --version) on 127.0.0.1:$PORT, data in $DATA"
  echo "$URI"
}

stop() {
  BIN=$(find_bindir) || { say "PostgreSQL is not installed; nothing to stop"; return 0; }
  if running; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null && say "stopped"
  else
    say "not running"
  fi
  return 0
}

status() {
  BIN=$(find_bindir) || { say "PostgreSQL is not installed"; [ -f "$STATE/start-failed" ] && say "last start failed: $(cat "$STATE/start-failed")"; return 3; }
  if running && as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
    say "running on 127.0.0.1:$PORT, data in $DATA"
    echo "$URI"
    return 0
  fi
  say "not running"
  [ -f "$STATE/start-failed" ] && say "last start failed: $(cat "$STATE/start-failed")"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
