"""One way of saying how long work took and has left, used by every long job."""

import math

from prove.progress import Progress, format_duration, remaining_seconds


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
