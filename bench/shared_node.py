"""Sharing a node: one training alone, then two at once on the same machine.

Each training is a real `prove train` (tiny CNN on the embedded benchmark, `--iters`
iterations, batch 4) in its own store, so the two never skip each other. Its throughput is read
from prove's own last progress line ("... <x> it/s"). Measured in one invocation:

- **solo**: one training with the whole machine (its allocation = every core).
- **shared, sized to the node**: two at once, each seeing every core, the former behaviour.
  `PROVE_NUM_CPUS` = the machine's cores stands in for what `os.cpu_count()` gave, so each
  job runs a full set of torch threads and loader workers.
- **shared, own allocation**: two at once, each given half the cores, as a scheduler would
  give each job its share (SLURM_CPUS_PER_TASK / LSB_DJOB_NUMPROC).

Goal: in the allocated case each of the two keeps >= 0.4x its solo img/s (a fair share is
0.5x). Run it alone on the machine.

    python bench/shared_node.py [--iters 200]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BATCH = 4


def _start(folder: Path, tag: str, iters: int, cpus: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PROVE_", "SLURM_", "LSB_"))}
    env.update(MLFLOW_TRACKING_URI=f"sqlite:///{folder / tag}.db", PROVE_WORK_DIR=str(folder / f"w-{tag}"),
               PROVE_PROGRESS="lines", PROVE_NUM_CPUS=str(cpus), MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING="false")
    cmd = [sys.executable, "-m", "prove.cli", "train", "--max-iters", str(iters), "--batch-size", str(BATCH),
           "--eval-interval", str(iters), "--checkpoint-interval", str(iters), "--system-metrics", "off"]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rate(proc: subprocess.Popen) -> float:
    out, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"training failed:\n{err[-3000:]}")
    rates = re.findall(r" ([0-9.]+) it/s", err)
    if not rates:
        raise SystemExit(f"no progress line with it/s:\n{err[-2000:]}")
    return float(rates[-1]) * BATCH  # img/s


def run(n: int, folder: Path, iters: int, cpus: int, label: str) -> list[float]:
    start = time.perf_counter()
    procs = [_start(folder, f"{label}{i}", iters, cpus) for i in range(n)]
    rates = [_rate(p) for p in procs]
    print(f"{label:<28} {n} job(s), {cpus} cpu(s) each: " + ", ".join(f"{r:.1f} img/s" for r in rates)
          + f"  (wall {time.perf_counter() - start:.0f} s)")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=200)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (solo,) = run(1, folder, args.iters, cores, "solo")
        node = run(2, folder, args.iters, cores, "shared, sized to the node")
        own = run(2, folder, args.iters, max(1, cores // 2), "shared, own allocation")
    print(f"each of two, sized to the node: {min(node) / solo:.2f}x solo; "
          f"with its own allocation: {min(own) / solo:.2f}x solo (goal >= 0.4x; fair share 0.5x)")


if __name__ == "__main__":
    main()
