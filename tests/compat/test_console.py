"""The stack's known messages stay off prove's console and land in the training's log file;
any other warning still reaches the console."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prove.compat.console import KNOWN
from tests.data.fixtures import build_acdc
from tests.support import prove_command, store_uri

REPO = Path(__file__).resolve().parents[2]
# how each known message reads on a console (one per entry of KNOWN)
SEEN = ("Default ``avg_non_ignore`` is False", '"FileClient" will be deprecated', '"HardDiskBackend" is the alias',
        "The prefix is not set in metric class IoUMetric", "Multi-processing start method", "system metrics monitoring")


def test_every_known_message_has_its_console_text_here():
    assert len(SEEN) == len(KNOWN)


def test_a_known_warning_is_kept_off_the_console_and_a_real_one_is_not():
    code = ("import warnings\n"
            "from prove.compat.console import quiet_console\n"
            "warnings.warn('Default ``avg_non_ignore`` is False, if you would like ...')\n"  # before: shown
            "with quiet_console():\n"
            "    warnings.warn('Default ``avg_non_ignore`` is False, if you would like ...', UserWarning)\n"
            "    warnings.warn('the crop is larger than the image', UserWarning)\n")
    out = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("avg_non_ignore") == 1  # only the one outside the block
    assert "the crop is larger than the image" in out.stderr


@pytest.mark.slow
def test_a_training_console_has_none_of_the_known_messages_and_its_log_file_has_them(tmp_path):
    root = tmp_path / "acdc"
    build_acdc(root)
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri(tmp_path / 'store.db'),
           "PROVE_WORK_DIR": str(tmp_path / "work"), "PROVE_PROGRESS": "lines",
           "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "0.5"}
    out = subprocess.run(prove_command("train", "--dataset", "acdc_mini", "--data-root", str(root), "--stage", "s2",
                                       "--batch-size", "2", "--max-iters", "4", "--eval-interval", "2"),
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    console = out.stdout + out.stderr
    assert out.returncode == 0, console[-3000:]
    assert "finished run" in console  # prove's own lines are still there
    for text in (*SEEN, "Did not find last_checkpoint"):
        assert text not in console, (text, console[-3000:])
    (log,) = (tmp_path / "work").glob("*/*/*.log")  # MMEngine's <work dir>/<timestamp>/<timestamp>.log
    kept = log.read_text()
    for text in SEEN:
        if "Multi-processing" not in text:  # only in a sweep's spawned workers
            assert text in kept, (text, kept[-3000:])
