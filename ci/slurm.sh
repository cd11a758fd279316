#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the tests of the sweep runner
# (tests/sweeps/executors, tests/sweeps/test_server_sweep.py). Test machines and CI only: it installs Debian packages and writes
# /etc/slurm/slurm.conf (the client tools' default path, so sbatch/sinfo/squeue/srun find the
# cluster from any later shell without extra environment).
#
#   bash ci/slurm.sh start    install slurm-wlm + munge if missing, start munged, slurmctld and
#                             slurmd, wait until the node is idle, print its state
#   bash ci/slurm.sh stop     cancel this cluster's jobs, stop slurmctld, slurmd (and munged
#                             when this script started it)
#   bash ci/slurm.sh status   exit 0 when sinfo answers with an idle/mixed/allocated node
#
# `start` never fails CI: where the cluster cannot be had (no root, no apt, a daemon that
# dies) it prints why, writes the reason to $PROVE_SLURM_HOME/unavailable (the tests' skip
# reason) and exits 0; PROVE_SLURM_STRICT=1 makes it exit 1 instead. It is idempotent: a
# healthy cluster is left as it is.
#
# Environment: PROVE_SLURM_HOME (state, spool and logs; default /tmp/prove-slurm),
# PROVE_SLURM_NO_INSTALL=1 (never call apt-get), PROVE_SLURM_MEM_MB (node memory; default
# 90% of MemAvailable), PROVE_SLURM_START_TIMEOUT (seconds; default 90).
# Everything listens on 127.0.0.1 only (munge uses a unix socket).
set -u

HOME_DIR=${PROVE_SLURM_HOME:-/tmp/prove-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="$HOME_DIR/unavailable"
HEADER="# Written by prove's ci/slurm.sh"
TIMEOUT=${PROVE_SLURM_START_TIMEOUT:-90}
NODE=$(hostname -s 2>/dev/null || hostname)
HEALTHY='idle|mixed|allocated|completing'

say() { echo "slurm.sh: $*"; }

# Print the reason, leave it for the tests, exit 0 (1 with PROVE_SLURM_STRICT=1).
unavailable() {
  mkdir -p "$HOME_DIR" 2>/dev/null
  printf '%s\n' "$*" >"$MARKER" 2>/dev/null
  echo "slurm.sh: SLURM UNAVAILABLE: $*" >&2
  [ "${PROVE_SLURM_STRICT:-0}" = 1 ] && exit 1
  exit 0
}

# The states of the cluster's nodes, space-separated (one node here: this machine).
node_state() { timeout 10 sinfo -h -o %T 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ $//'; }

healthy() { timeout 10 sinfo -h -o %T 2>/dev/null | grep -qxE "($HEALTHY)"; }

ours() { [ -f "$CONF" ] && head -n1 "$CONF" | grep -qF "$HEADER"; }

missing_tools() {
  local t out=""
  for t in munged munge unmunge mungekey slurmctld slurmd sinfo sbatch srun squeue scontrol scancel; do
    command -v "$t" >/dev/null 2>&1 || out="$out $t"
  done
  echo "${out# }"
}

install_packages() {
  local missing log="$HOME_DIR/apt.log"
  missing=$(missing_tools)
  [ -z "$missing" ] && return 0
  [ "${PROVE_SLURM_NO_INSTALL:-0}" = 1 ] &&
    unavailable "not installed (missing: $missing); PROVE_SLURM_NO_INSTALL=1 forbids apt-get; run: bash ci/slurm.sh start"
  [ "$(id -u)" = 0 ] || unavailable "not installed (missing: $missing) and not root: cannot apt-get install slurm-wlm munge"
  command -v apt-get >/dev/null 2>&1 || unavailable "not installed (missing: $missing) and no apt-get on this machine"
  say "installing slurm-wlm munge (log: $log)"
  local start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt/dpkg run (e.g. another ci/*.sh) instead of failing on its lock.
  local lock=(-o DPkg::Lock::Timeout=300)
  local apt=(apt-get install "${lock[@]}" -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef
             -o Dpkg::Options::=--force-confold slurm-wlm munge)
  if ! "${apt[@]}" >"$log" 2>&1; then
    say "apt-get install failed; running apt-get update and retrying"
    apt-get update "${lock[@]}" -q >>"$log" 2>&1
    "${apt[@]}" >>"$log" 2>&1 ||
      unavailable "apt-get install slurm-wlm munge failed: $(tail -n 3 "$log" | tr '\n' ' ')"
  fi
  missing=$(missing_tools)
  [ -z "$missing" ] || unavailable "still missing after apt-get install: $missing"
  say "installed in $((SECONDS - start))s"
}

munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  munge_ok && return 0
  local key=/etc/munge/munge.key user=munge
  id munge >/dev/null 2>&1 || user=root
  mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
  if [ ! -s "$key" ]; then
    say "creating $key"
    mungekey --create --keyfile="$key" 2>/dev/null ||
      dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
  fi
  chown "$user": /etc/munge "$key" /run/munge /var/lib/munge /var/log/munge
  chmod 700 /etc/munge && chmod 400 "$key" && chmod 755 /run/munge
  if [ "$user" = munge ]; then
    runuser -u munge -- munged >"$HOME_DIR/munged.out" 2>&1
  else
    munged --force >"$HOME_DIR/munged.out" 2>&1
  fi
  local i
  for i in $(seq 1 50); do
    munge_ok && { touch "$HOME_DIR/munged.ours"; return 0; }
    sleep 0.2
  done
  unavailable "munged did not start: $(tail -n 3 "$HOME_DIR/munged.out" /var/log/munge/munged.log 2>/dev/null | tr '\n' ' ')"
}

write_conf() {
  local cpus mem avail
  cpus=$(nproc)
  avail=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
  mem=${PROVE_SLURM_MEM_MB:-$((avail * 9 / 10))}
  [ "$mem" -lt 1024 ] && mem=1024
  mkdir -p /etc/slurm "$HOME_DIR/state" "$HOME_DIR/spool"
  cat >"$HOME_DIR/slurm.conf" <<EOF
$HEADER for a single-node test cluster; rewritten by 'start'.
ClusterName=prove-ci
SlurmctldHost=$NODE(127.0.0.1)
# Bind every daemon (and srun) to its configured address, not INADDR_ANY: loopback only.
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
# Job step credentials live 20 s (default 120); a requeued job waits this long before it may
# start again, so requeue tests take ~25 s instead of ~2 min.
AuthInfo=cred_expire=20
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$HOME_DIR/state
SlurmdSpoolDir=$HOME_DIR/spool
SlurmctldPidFile=$HOME_DIR/slurmctld.pid
SlurmdPidFile=$HOME_DIR/slurmd.pid
SlurmctldLogFile=$HOME_DIR/slurmctld.log
SlurmdLogFile=$HOME_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
# No cgroups in a container: track job processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# No slurmdbd: no accounting (sacct answers "accounting storage is disabled").
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Cores and memory are consumable, so parallel jobs share the node by what they ask.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job that asks no memory gets 1 GiB per CPU, not the whole node.
DefMemPerCPU=1024
# A node that was down (daemon restart) comes back by itself once slurmd registers.
ReturnToService=2
# Trust the node line below (containers report host CPUs/memory that are not ours).
SlurmdParameters=config_overrides
# Fast turnaround: 5 s between SIGTERM and SIGKILL at the time limit (default 30), no extra
# minutes past the limit, scheduler passes every 5 s (defaults 60 and 30) so a requeued job
# starts soon after its begin time, finished jobs stay visible to scontrol for 5 minutes.
KillWait=5
OverTimeLimit=0
SchedulerParameters=sched_interval=5,bf_interval=5
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  cp "$HOME_DIR/slurm.conf" "$CONF"
}

# Like unavailable, after stopping whatever of ours did start (no half cluster left behind).
give_up() {
  stop_daemons
  unavailable "$@"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_daemons() {
  local name pidfile i
  for name in slurmd slurmctld; do
    pidfile="$HOME_DIR/$name.pid"
    pid_alive "$pidfile" || continue
    kill "$(cat "$pidfile")" 2>/dev/null
    for i in $(seq 1 50); do pid_alive "$pidfile" || break; sleep 0.2; done
    pid_alive "$pidfile" && kill -9 "$(cat "$pidfile")" 2>/dev/null
    rm -f "$pidfile"
  done
}

start() {
  mkdir -p "$HOME_DIR" || unavailable "cannot create $HOME_DIR"
  rm -f "$MARKER"
  local t0=$SECONDS
  install_packages
  if [ -f "$CONF" ] && ! ours; then
    # Someone else's cluster: use it if it answers, never overwrite it.
    healthy && { say "using the existing cluster of $CONF: node $NODE $(node_state)"; return 0; }
    unavailable "$CONF exists, was not written by ci/slurm.sh and its cluster does not answer; left alone"
  fi
  start_munge
  if ours && pid_alive "$HOME_DIR/slurmctld.pid" && pid_alive "$HOME_DIR/slurmd.pid" && healthy; then
    say "already running: node $NODE $(node_state)"
    return 0
  fi
  stop_daemons
  write_conf
  local t1=$SECONDS
  slurmctld -i >"$HOME_DIR/slurmctld.out" 2>&1 ||
    give_up "slurmctld failed to start: $(tail -n 5 "$HOME_DIR/slurmctld.out" "$HOME_DIR/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
  slurmd >"$HOME_DIR/slurmd.out" 2>&1 ||
    give_up "slurmd failed to start: $(tail -n 5 "$HOME_DIR/slurmd.out" "$HOME_DIR/slurmd.log" 2>/dev/null | tr '\n' ' ')"
  local state resumed=0 deadline=$((SECONDS + TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    state=$(node_state)
    healthy && break
    # A node left drained or down by an earlier run: put it back once.
    if [ "$resumed" = 0 ] && [[ "$state" =~ ^(drain|drained|draining|down)$ ]]; then
      scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1
      resumed=1
    fi
    for d in slurmctld slurmd; do
      pid_alive "$HOME_DIR/$d.pid" ||
        give_up "$d died after start: $(tail -n 8 "$HOME_DIR/$d.log" 2>/dev/null | tr '\n' ' ')"
    done
    sleep 0.5
  done
  if ! healthy; then
    give_up "node $NODE not idle after ${TIMEOUT}s (state: '${state:-no answer}'); slurmctld.log: $(tail -n 4 "$HOME_DIR/slurmctld.log" 2>/dev/null | tr '\n' ' ') slurmd.log: $(tail -n 4 "$HOME_DIR/slurmd.log" 2>/dev/null | tr '\n' ' ')"
  fi
  say "daemons up in $((SECONDS - t1))s (start took $((SECONDS - t0))s); logs in $HOME_DIR"
  sinfo -N -o '%N %P %T %c %m'
}

stop() {
  if ours && healthy; then
    scancel --full --quiet $(squeue -h -o %A 2>/dev/null | sort -u) 2>/dev/null
  fi
  stop_daemons
  if [ -f "$HOME_DIR/munged.ours" ]; then
    [ -f /run/munge/munged.pid ] && kill "$(cat /run/munge/munged.pid)" 2>/dev/null
    rm -f "$HOME_DIR/munged.ours"
  fi
  say "stopped"
}

status() {
  local state
  state=$(node_state)
  if healthy; then
    say "node $NODE $state"
    return 0
  fi
  say "not running (node state: '${state:-no answer}')"
  [ -f "$MARKER" ] && say "last start: $(cat "$MARKER")"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: bash ci/slurm.sh {start|stop|status}" >&2; exit 2 ;;
esac
