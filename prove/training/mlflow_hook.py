"""The MMEngine hook that streams a training into its MLflow run (through prove.tracking).

Not mmengine's `MLflowVisBackend`: it flattens the whole config into ~170 params, knows no
run id (so no resume into the same run, no parent sweep run) and crashes in `close()` in some
versions. This hook writes to one run by id, buffers metrics and flushes every
`flush_every_s` seconds (a call through a tracking server costs tens of milliseconds), and
keeps the run's heartbeat fresh so a dead job's run is recognised as resumable.
"""

from __future__ import annotations

import numbers
import time
from typing import Any

from prove.compat import install

install()

from mlflow.entities import Metric  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402

from prove.tracking import client  # noqa: E402


def _echo(message: str) -> None:
    import click

    click.echo(message, err=True)


class TrackingHook(Hook):
    """Streams losses, learning rate, batch composition and validation metrics to one run.

    Step = iteration (1-based, the number of optimizer steps done). Only rank 0 writes.
    """

    priority = "BELOW_NORMAL"

    def __init__(self, run_id: str, flush_every_s: float = 10.0, heartbeat_every_s: float = 30.0):
        self.run_id = run_id
        self.flush_every_s, self.heartbeat_every_s = flush_every_s, heartbeat_every_s
        self._buffer: list[Metric] = []
        self._waiting = False  # the server was away at the last flush
        self._last_flush = self._last_beat = time.time()
        self.composition = {"real": 0, "generated": 0, "batches": 0, "mixed_batches": 0}

    def _add(self, key: str, value: float, step: int) -> None:
        self._buffer.append(Metric(key, float(value), int(time.time() * 1000), step))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        step = runner.iter + 1
        for key, value in (outputs or {}).items():
            if "loss" in key:
                self._add(f"train/{key}", _number(value), step)
        lrs = runner.optim_wrapper.get_lr()["lr"]
        self._add("train/lr", lrs[0], step)
        self._count_sources(data_batch, step)
        now = time.time()
        if now - self._last_flush >= self.flush_every_s:
            self.flush()
        if now - self._last_beat >= self.heartbeat_every_s:
            try:
                client.heartbeat(self.run_id)
            except Exception as exc:  # the server is away: the next beat (or the claim's) will do
                if not client.server_gone(exc):
                    raise
            self._last_beat = now

    def _count_sources(self, data_batch, step: int) -> None:
        samples = (data_batch or {}).get("data_samples") or []
        sources = [s.metainfo.get("source", "real") for s in samples]
        real = sum(1 for s in sources if s == "real")
        self.composition["real"] += real
        self.composition["generated"] += len(sources) - real
        self.composition["batches"] += 1
        if any(s.metainfo.get("mix_applied", "none") != "none" for s in samples):
            self.composition["mixed_batches"] += 1
        if sources:
            self._add("train/real_fraction", real / len(sources), step)

    def after_val_epoch(self, runner, metrics=None) -> None:
        for key, value in (metrics or {}).items():
            if _is_number(value):
                self._add(f"val/{key}", _number(value), runner.iter)
        self.flush()

    def after_train(self, runner) -> None:
        self.flush(final=True)

    def flush(self, final: bool = False) -> None:
        """Send the buffered metrics, a page at a time; a page that is sent leaves the buffer.
        While the tracking server is gone (restart, outage) the rest stays buffered and
        training goes on; the final flush waits for the server (`client.retrying`)."""
        while self._buffer:
            page = self._buffer[:client.METRICS_PER_BATCH]
            try:
                if final:
                    client.retrying(lambda: client.log_metrics(self.run_id, page), "the last metrics of the run")
                else:
                    client.log_metrics(self.run_id, page)
            except Exception as exc:
                if final or not client.server_gone(exc):
                    raise
                if not self._waiting:
                    _echo(f"tracking server not answering; {len(self._buffer)} metrics kept, sent when it is back")
                    self._waiting = True
                break
            del self._buffer[:len(page)]
            self._waiting = False
        self._last_flush = time.time()


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) or (hasattr(value, "item") and getattr(value, "ndim", 1) == 0)


def _number(value: Any) -> float:
    """A Python float from a tensor, numpy scalar or number (metrics arrive as np.float32)."""
    return float(value.item()) if hasattr(value, "item") else float(value)
