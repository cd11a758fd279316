"""The CPUs a job may use, from each source a cluster or the kernel gives, and what follows it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from prove import settings

SOURCES = ("PROVE_NUM_CPUS", "SLURM_CPUS_PER_TASK", "LSB_DJOB_NUMPROC", "PROVE_NUM_WORKERS")


@pytest.fixture
def clean(monkeypatch, tmp_path):
    for name in SOURCES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings, "cgroup_cpu_quota", lambda root="/sys/fs/cgroup": None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    return monkeypatch


@pytest.mark.parametrize("name", ["SLURM_CPUS_PER_TASK", "LSB_DJOB_NUMPROC"])
def test_a_scheduler_allocation_beats_the_node_size(clean, name):
    clean.setenv(name, "8")
    assert settings.allowed_cpus() == (8, name)
    assert settings.data_workers() == 7  # main process + workers = the allocation


def test_the_smallest_source_wins_and_prove_num_cpus_overrides(clean):
    clean.setenv("SLURM_CPUS_PER_TASK", "8")
    clean.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})  # bound to 4 cores
    assert settings.allowed_cpus() == (4, "affinity")
    clean.setattr(settings, "cgroup_cpu_quota", lambda root="/sys/fs/cgroup": 2)
    assert settings.allowed_cpus() == (2, "cgroup cpu quota")
    clean.setenv("PROVE_NUM_CPUS", "6")
    assert settings.allowed_cpus() == (6, "PROVE_NUM_CPUS")


def test_the_whole_node_caps_loader_workers(clean):
    assert settings.allowed_cpus() == (64, "affinity")
    assert settings.data_workers() == settings.MAX_DATA_WORKERS
    clean.setenv("PROVE_NUM_WORKERS", "3")
    assert settings.data_workers() == 3
    clean.setenv("PROVE_NUM_WORKERS", "")
    clean.setenv("PROVE_NUM_CPUS", "1")
    assert settings.data_workers() == 0  # one core: the main process loads


@pytest.mark.parametrize("files,expected", [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "250000 100000\n"}, 3),  # 2.5 CPUs of quota: 3 threads
    ({"cpu.max": "50000 100000\n"}, 1),
    ({"cpu/cpu.cfs_quota_us": "400000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4),  # cgroup v1
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_cgroup_quota_files(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert settings.cgroup_cpu_quota(str(tmp_path)) == expected


def test_real_affinity_is_read_in_a_process_bound_to_one_core():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no sched_setaffinity on this platform")
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from prove.settings import allowed_cpus, limit_threads; import torch; "
            "n = limit_threads(); print(allowed_cpus()[1], n, torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k not in SOURCES}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() in (["affinity", "1", "1"], ["cgroup", "cpu", "quota", "1", "1"])


def test_torchrun_ranks_share_the_allocation(clean):
    clean.setenv("PROVE_NUM_CPUS", "8")
    clean.setenv("LOCAL_WORLD_SIZE", "2")
    import torch

    before = torch.get_num_threads()
    try:
        assert settings.limit_threads() == 4 and torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)


class _Probe:
    """A dataset whose items say how many OpenCV threads their worker runs."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        import cv2

        settings.single_thread_in_worker()
        return cv2.getNumThreads()


def test_a_loader_worker_runs_one_opencv_thread():
    import torch

    # spawn: forking the test process (it has threads: MLflow, servers) could deadlock the child
    loader = torch.utils.data.DataLoader(_Probe(), num_workers=1, batch_size=None, multiprocessing_context="spawn",
                                         timeout=120)
    assert list(loader) == [1, 1]
