"""How long work took and how long it has left, written the same way everywhere
(training, sweeps, the demo, imports, generation)."""

from __future__ import annotations

import math
import os
import sys
import time


def format_duration(seconds: float) -> str:
    """`45s`, `2m05s`, `1h02m03s`; `?` when unknown (infinite or NaN)."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def remaining_seconds(elapsed: float, done: int, total: int) -> float:
    """Time left at the mean pace so far; infinite before the first item is done."""
    if done <= 0:
        return math.inf
    return elapsed / done * max(0, total - done)


class Progress:
    """Counts items of a long job and says where it stands: `elapsed 1m02s, about 3m10s left`."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total, self.done, self._clock = total, 0, clock
        self.start = clock()

    @property
    def elapsed(self) -> float:
        return self._clock() - self.start

    def advance(self, n: int = 1) -> None:
        self.done += n

    def status(self) -> str:
        left = remaining_seconds(self.elapsed, self.done, self.total)
        text = f"elapsed {format_duration(self.elapsed)}"
        return text + (f", about {format_duration(left)} left" if math.isfinite(left) and left > 0 else "")


class Lines:
    """Progress off a terminal (a log file, a pipe, a cluster job's output): whole lines, at
    most one every `every_s` seconds, and the last one always: `label: 12/40 (elapsed 3s, about
    7s left)`. A carriage return there would run every update together on one line."""

    def __init__(self, label: str, total: int, every_s: float = 5.0, write=None, clock=time.monotonic):
        self.label, self.every_s, self._clock = label, every_s, clock
        self.progress = Progress(total, clock)
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._last = clock()  # the first line after `every_s`: a short job prints only its last

    def update(self, done: int, detail: str = "") -> None:
        self.progress.done = done
        now = self._clock()
        if now - self._last < self.every_s and done < self.progress.total:
            return
        self._last = now
        self._write(f"{self.label}: {done}/{self.progress.total} ({self.progress.status()})"
                    + (f" {detail}" if detail else ""))


# -- on a terminal: a live bar ------------------------------------------------------------------
# In a terminal people expect a bar that updates in place; in a log file or a cluster job (no
# TTY) a bar is noise, so the callers keep their one line every few seconds there.
PROGRESS_ENV = "PROVE_PROGRESS"  # `bar` or `lines` forces one form; default: a bar on a terminal


def interactive(stream=None) -> bool:
    """Whether progress is drawn as a live bar: a terminal on `stream` (stderr), or forced."""
    choice = os.environ.get(PROGRESS_ENV, "auto").lower()
    if choice in ("bar", "lines"):
        return choice == "bar"
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


_DRAWING: list = []  # the bar that owns the terminal now: a terminal has one live display


class LiveBar:
    """A rich progress bar on stderr: label, bar, done/total, elapsed, time left, a detail.
    A bar opened while another is drawn becomes a second line of the same display (a sweep's
    bar over its trainings, each training's bar under it)."""

    def __init__(self, total: int, label: str, stream=None):
        if _DRAWING:
            outer = _DRAWING[0]
            self.console, self._bar, self._owner = outer.console, outer._bar, False
            self._task = self._bar.add_task(label, total=total, detail="")
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(file=stream or sys.stderr, force_terminal=True)
        self._bar = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[detail]}"), console=self.console)
        self._bar.start()
        self._owner = True
        _DRAWING.append(self)
        self._task = self._bar.add_task(label, total=total, detail="")

    def update(self, done: int, detail: str = "") -> None:
        self._bar.update(self._task, completed=done, detail=detail)

    def note(self, message: str) -> None:
        """A line above the bar (validation results, a finished item)."""
        self.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        if not self._owner:
            self._bar.remove_task(self._task)
            return
        self._bar.stop()
        _DRAWING.clear()
