"""MMEngine pieces that make a training run a pure function of its spec, and interruptible.

- `ResumableIterLoop`: on resume, starts the sampler at the resumed iteration instead of
  loading and discarding every batch already trained (MMEngine's default), which is slow and
  consumes random numbers, so the resumed run would differ from an uninterrupted one.
- `StepSeedHook`: seeds torch/numpy/random from (seed, rank, iteration) before each step, so
  dropout and other model randomness do not depend on history either.
- `GracefulStopHook`: SIGTERM/SIGINT (bkill, scancel, Ctrl-C), SIGUSR2 (a scheduler's warning
  before the run limit) or the worker's own deadline (`PROVE_STOP_AT`, for schedulers without
  a warning signal) finish the current iteration, save a checkpoint, and stop with
  `TrainingInterrupted`.
- `ContinueScheduleHook`: a training that continues a shorter one (`continue_from`) follows its
  own, longer LR schedule from the iteration it starts at.
- `ProgressHook`: one progress line every few seconds; `PretrainedReportHook`: what the
  pretrained checkpoint supplied to the backbone.
"""

from __future__ import annotations

import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from prove.compat import install

install()

from mmengine.dist import get_dist_info  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner.loops import IterBasedTrainLoop, _InfiniteDataloaderIterator  # noqa: E402
from mmseg.registry import HOOKS, LOOPS  # noqa: E402

from prove.data.mmseg_dataset import seed_everything  # noqa: E402
from prove.progress import format_duration, remaining_seconds  # noqa: E402


# When a worker must stop (epoch seconds): its job's run limit minus the warning time.
STOP_AT_ENV = "PROVE_STOP_AT"
# A scheduler's warning before the run limit (LSF -wa USR2, SLURM --signal=USR2@s); the
# worker's own deadline counts as this signal too.
WALL_CLOCK_SIGNAL = signal.SIGUSR2


class TrainingInterrupted(Exception):
    """Training stopped by a signal after writing a checkpoint; the run can be resumed."""

    def __init__(self, signum: int, iteration: int):
        self.signum, self.iteration = signum, iteration
        why = "the job's wall clock" if signum == WALL_CLOCK_SIGNAL else signal.Signals(signum).name
        super().__init__(f"stopped by {why} at iteration {iteration}; checkpoint saved")

    @property
    def wall_clock(self) -> bool:
        """The job's time is up (not a kill): the spec is handed back for the next job."""
        return self.signum == WALL_CLOCK_SIGNAL


def stop_deadline() -> float | None:
    value = os.environ.get(STOP_AT_ENV, "")
    return float(value) if value else None


class _FastForward:
    """Answers the loop's first `skip` `next()` calls without loading anything."""

    def __init__(self, skip: int, inner: Any):
        self.skip, self.inner = skip, inner

    def __iter__(self):
        return self

    def __next__(self):
        if self.skip > 0:
            self.skip -= 1
            return None
        return next(self.inner)


@LOOPS.register_module()
class ResumableIterLoop(IterBasedTrainLoop):
    def run(self):
        if self._iter > 0:
            sampler = self.dataloader.batch_sampler.sampler
            if not hasattr(sampler, "set_start"):
                raise TypeError(f"ResumableIterLoop needs a sampler with set_start(); got {type(sampler).__name__}")
            sampler.set_start(self._iter)
            # a fresh iterator: the one built in __init__ already prefetched from batch 0
            self.dataloader_iterator = _FastForward(self._iter, _InfiniteDataloaderIterator(self.dataloader))
        return super().run()


def step_seed(seed: int, rank: int, iteration: int) -> int:
    return int(np.random.SeedSequence([seed, rank, iteration, 0x5EED]).generate_state(1)[0])


@HOOKS.register_module()
class StepSeedHook(Hook):
    priority = "VERY_HIGH"

    def __init__(self, seed: int):
        self.seed = int(seed)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        rank, _ = get_dist_info()
        seed_everything(step_seed(self.seed, rank, runner.iter))


@HOOKS.register_module()
class GracefulStopHook(Hook):
    """Turns SIGTERM/SIGINT/SIGUSR2, or the deadline in PROVE_STOP_AT, into: finish this
    iteration, checkpoint, raise TrainingInterrupted."""

    priority = "VERY_LOW"  # after the checkpoint hook's own after_train_iter

    def __init__(self):
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        self.deadline = stop_deadline()

    def before_train(self, runner) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, WALL_CLOCK_SIGNAL):
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C means now
        self.received = signum

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.received is None and self.deadline is not None and time.time() >= self.deadline:
            self.received = WALL_CLOCK_SIGNAL
        if self.received is None or runner.iter >= runner.max_iters:
            return  # nothing asked, or the training is complete anyway: let it finish
        filename = f"iter_{runner.iter}.pth"
        runner.save_checkpoint(runner.work_dir, filename, by_epoch=False)
        with open(f"{runner.work_dir}/last_checkpoint", "w") as fh:
            fh.write(f"{runner.work_dir}/{filename}")
        raise TrainingInterrupted(self.received, runner.iter)

    def after_run(self, runner) -> None:
        self.restore()

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


def total_loss(outputs: dict) -> float:
    """The training loss of a step: MMEngine's `loss` (the sum it back-propagates) when present,
    else the sum of the parts (`decode.loss_ce`, ...). Never both: that counts every part twice."""
    def value(v) -> float:
        return v.item() if hasattr(v, "item") else float(v)

    if "loss" in outputs:
        return value(outputs["loss"])
    return sum(value(v) for k, v in outputs.items() if "loss" in k)


@HOOKS.register_module()
class ProgressHook(Hook):
    """On a terminal a live bar (iteration, loss, learning rate, time left); in a log file or a
    cluster job one line every few seconds with the same figures (prove.progress.interactive)."""

    priority = "LOW"

    def __init__(self, title: str, max_iters: int, every_s: float = 5.0):
        import time

        self.title, self.max_iters, self.every_s = title, max_iters, every_s
        self._clock = time.monotonic
        self._start = self._last = self._clock()
        self._start_iter = None
        self.bar = None

    def before_train(self, runner) -> None:
        from prove.progress import LiveBar, interactive

        if get_dist_info()[0] == 0 and interactive():
            self.bar = LiveBar(self.max_iters, self.title)
            self.bar.update(runner.iter)

    def after_train(self, runner) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if get_dist_info()[0] != 0:
            return
        done = runner.iter + 1
        if self.bar is not None:
            lr = runner.optim_wrapper.get_lr()["lr"][0]
            self.bar.update(done, f"loss {total_loss(outputs or {}):.4f}  lr {lr:.2e}")
            return
        if self._start_iter is None:  # the first step includes start-up; measure speed after it
            self._start_iter, self._start = done, self._clock()
        now = self._clock()
        if now - self._last < self.every_s and done != self.max_iters:
            return
        self._last = now
        measured = done - self._start_iter
        rate = measured / (now - self._start) if now > self._start else 0.0
        eta = remaining_seconds(now - self._start, measured, measured + self.max_iters - done)
        loss = total_loss(outputs or {})
        lr = runner.optim_wrapper.get_lr()["lr"][0]
        import click

        click.echo(f"[{self.title}] iter {done}/{self.max_iters}  loss {loss:.4f}  lr {lr:.2e}  "
                   f"{rate:.2f} it/s  ETA {format_duration(eta)}", err=True)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if get_dist_info()[0] == 0 and metrics:
            import click

            shown = ", ".join(f"{k} {float(v):.2f}" for k, v in metrics.items() if getattr(v, "ndim", 0) == 0)
            line = f"[{self.title}] validation at iter {runner.iter}: {shown}"
            self.bar.note(line) if self.bar is not None else click.echo(line, err=True)


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """The model's weights in channels-last memory before the first step (a card's
    `channels_last`): oneDNN's convolutions then skip a layout conversion each way. Parameters
    keep their identity (`Module.to` swaps their data), so the optimizer built before is intact."""

    priority = "VERY_HIGH"

    def before_train(self, runner) -> None:
        import torch

        runner.model.to(memory_format=torch.channels_last)


@HOOKS.register_module()
class ContinueScheduleHook(Hook):
    """For a run started from another run's checkpoint (whose LR schedule ended at that
    iteration): reset every parameter group to its base LR, rebuild this run's schedulers and
    step them to the start iteration, so the LR is what this run's own schedule gives there
    (as if it had been trained to max_iters from the start). Only at the start iteration: a
    later resume restores the schedulers from this run's own checkpoints."""

    priority = "VERY_HIGH"

    def __init__(self, start_iter: int):
        self.start_iter = int(start_iter)

    def before_train(self, runner) -> None:
        if runner.iter != self.start_iter:
            return
        for group in runner.optim_wrapper.param_groups:
            group["lr"] = group.get("initial_lr", group["lr"])
        runner.param_schedulers = runner.build_param_scheduler(runner.cfg.param_scheduler)
        schedulers = runner.param_schedulers
        schedulers = [s for v in schedulers.values() for s in v] if isinstance(schedulers, dict) else schedulers
        with warnings.catch_warnings():  # stepping without optimizer steps is the point here
            warnings.simplefilter("ignore")
            for scheduler in schedulers:
                while scheduler._global_step < runner.iter:
                    scheduler.step()


@HOOKS.register_module()
class PretrainedReportHook(Hook):
    """After MMEngine initialised the weights, record what the pretrained checkpoint supplied."""

    priority = "LOW"

    def __init__(self, source: str, out_path: str):
        self.source, self.out_path, self.report = source, Path(out_path), None

    def before_train(self, runner) -> None:
        import json

        from prove.training.artifacts import pretrained_report

        self.report = pretrained_report(runner.model, self.source)
        self.out_path.write_text(json.dumps(self.report, indent=1))
