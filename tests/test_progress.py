"""One way of saying how long work took and has left, used by every long job; drawn as people
expect it: a live bar on a terminal (a real pseudo-terminal here), the one-line-every-few-seconds
form in a log file or a cluster job."""

from __future__ import annotations

import io
import math
import os
import pty
import select
import subprocess

import pytest

from prove.progress import LiveBar, Lines, Progress, format_duration, interactive, remaining_seconds
from tests.data.fixtures import build_acdc
from tests.support import prove_command, store_uri

BAR = "━"  # rich's bar glyph


def test_durations():
    assert [format_duration(s) for s in (0, 45, 125, 3723)] == ["0s", "45s", "2m05s", "1h02m03s"]
    assert format_duration(math.inf) == format_duration(float("nan")) == "?"


def test_remaining_time_at_the_mean_pace():
    assert remaining_seconds(10.0, 2, 6) == 20.0
    assert remaining_seconds(5.0, 0, 6) == math.inf and remaining_seconds(5.0, 6, 6) == 0.0


def test_progress_status_reads_a_clock():
    now = [100.0]
    progress = Progress(4, clock=lambda: now[0])
    assert progress.status() == "elapsed 0s"  # nothing done yet: no guess
    now[0] = 130.0
    progress.advance()
    assert progress.status() == "elapsed 30s, about 1m30s left"


def test_lines_off_a_terminal_are_whole_lines_at_most_every_few_seconds():
    now, written = [0.0], []
    lines = Lines("physics_fog", 6, every_s=5.0, write=written.append, clock=lambda: now[0])
    for done, t in ((1, 1.0), (2, 2.0), (3, 6.0), (4, 7.0), (5, 12.0), (6, 12.5)):
        now[0] = t
        lines.update(done)
    assert written == ["physics_fog: 3/6 (elapsed 6s, about 6s left)", "physics_fog: 5/6 (elapsed 12s, about 2s left)",
                       "physics_fog: 6/6 (elapsed 12s)"]  # the last always; never a carriage return
    assert not any("\r" in line or "\n" in line for line in written)


def test_a_generator_writes_lines_to_a_pipe(monkeypatch, capsys):
    from prove.generators.run import _Progress

    monkeypatch.setenv("PROVE_PROGRESS", "lines")
    progress = _Progress(3, "physics_fog", enabled=True)
    for _ in range(3):
        progress.step()
    progress.done()
    err = capsys.readouterr().err
    assert "\r" not in err and err.endswith("\n")
    assert err.splitlines()[-1].startswith("physics_fog: 3/3 images in ")


def test_a_terminal_gets_a_bar_a_file_gets_lines(monkeypatch):
    monkeypatch.delenv("PROVE_PROGRESS", raising=False)
    assert not interactive(io.StringIO())
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as tty:
        assert interactive(tty)
        monkeypatch.setenv("PROVE_PROGRESS", "lines")  # forced, e.g. for a terminal recorded to a file
        assert not interactive(tty)
    os.close(master)


def test_the_bar_shows_done_total_and_the_detail():
    out = io.StringIO()
    bar = LiveBar(8, "train x", stream=out)
    bar.update(3, "loss 0.5000")
    bar.note("validation at iter 3: mIoU 1.00")
    bar.close()
    text = out.getvalue()
    assert BAR in text and "3/8" in text and "loss 0.5000" in text and "validation at iter 3" in text


def test_a_bar_opened_under_another_is_a_second_line_of_the_same_display():
    """A sweep's bar over its trainings, each training's bar under it: one live display."""
    out = io.StringIO()
    sweep = LiveBar(3, "sweep s", stream=out)
    training = LiveBar(10, "train a", stream=io.StringIO())  # drawn by the sweep's display
    assert training.console is sweep.console
    training.update(10, "loss 0.1")
    training.close()
    sweep.update(1)
    sweep.close()
    text = out.getvalue()
    assert "sweep s" in text and "train a" in text and "1/3" in text
    after = LiveBar(2, "next", stream=io.StringIO())  # once closed, a new bar owns the terminal
    assert after.console is not sweep.console
    after.close()


def _under_a_terminal(argv, env, timeout_s=240):
    """Run argv with stdout and stderr on a pseudo-terminal; everything it drew."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], timeout_s)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(30)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_train_and_test_draw_bars_on_a_terminal(tmp_path):
    build_acdc(tmp_path / "acdc")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PROVE_"))}
    env.update(MLFLOW_TRACKING_URI=store_uri(tmp_path / 'store.db'), PROVE_WORK_DIR=str(tmp_path / "w"),
               COLUMNS="160")
    common = ["--dataset", "acdc_mini", "--stage", "s2", "--batch-size", "2", "--max-iters", "6",
              "--data-root", str(tmp_path / "acdc")]
    code, drawn = _under_a_terminal(prove_command("train", *common, "--eval-interval", "6"), env)
    assert code == 0, drawn[-3000:]
    assert BAR in drawn and "6/6" in drawn and "loss" in drawn and "\x1b[" in drawn  # drawn in place
    assert "iter 6/6  loss" not in drawn  # not the log-file lines
    code, drawn = _under_a_terminal(prove_command("test", *common), env)
    assert code == 0, drawn[-3000:]
    assert BAR in drawn and "test acdc_mini/val" in drawn
