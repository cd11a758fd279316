"""The only module that writes to MLflow.

Runs are addressed by id through `MlflowClient` (never a global "active run"), so training
can resume into the same run from another process. Writes are batched: a metric call through
a tracking server costs tens of milliseconds, so the hook buffers and flushes every
`flush_every` seconds and at the end.

Tags (documented in docs/tracking.md):
  prove.kind        train | test | analysis | launch
  prove.spec_hash   identity of a training spec (prove.spec.TrainSpec.spec_hash)
  prove.family      strategy family; prove.generator_family where a generator is used
  prove.work_dir    where checkpoints live
  prove.heartbeat   unix time of the last sign of life (stale RUNNING runs are resumable)
  prove.git_commit, prove.versions
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import mlflow
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from prove.compat import install

install()

from mmengine.hooks import Hook  # noqa: E402

KIND, SPEC_HASH, HEARTBEAT, WORK_DIR = "prove.kind", "prove.spec_hash", "prove.heartbeat", "prove.work_dir"
DEFAULT_EXPERIMENT = "prove"
STALE_AFTER_S = float(os.environ.get("PROVE_STALE_AFTER", 600))
_BATCH = 900  # MLflow accepts up to 1000 metrics per log_batch
PARENT_RUN_ENV = "PROVE_PARENT_RUN_ID"  # set by `prove ablation` for the runs of its workers


def client() -> MlflowClient:
    return MlflowClient()


def experiment_id(name: str | None = None) -> str:
    """The experiment of this process: MLflow Projects' env var, else `name`, else `prove`."""
    if os.environ.get("MLFLOW_EXPERIMENT_ID") and not name:
        return os.environ["MLFLOW_EXPERIMENT_ID"]
    name = name or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
    found = client().get_experiment_by_name(name)
    if found:
        return found.experiment_id
    try:
        return client().create_experiment(name)
    except MlflowException as exc:  # parallel workers creating it at once: one wins, all use it
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client().get_experiment_by_name(name).experiment_id


def find_experiment_id(name: str | None = None) -> str | None:
    """As `experiment_id`, but None instead of creating a missing experiment (for read-only
    commands such as a dry run)."""
    if os.environ.get("MLFLOW_EXPERIMENT_ID") and not name:
        return os.environ["MLFLOW_EXPERIMENT_ID"]
    found = client().get_experiment_by_name(name or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT)
    return found.experiment_id if found else None


@dataclass(frozen=True)
class ExistingRun:
    run_id: str
    status: str
    heartbeat: float
    work_dir: str
    name: str

    @property
    def stale(self) -> bool:
        return self.status == "RUNNING" and time.time() - self.heartbeat > STALE_AFTER_S


def find_train_runs(exp_id: str, spec_hash: str) -> list[ExistingRun]:
    runs = client().search_runs(
        [exp_id], filter_string=f"tags.`{SPEC_HASH}` = '{spec_hash}' and tags.`{KIND}` = 'train'",
        max_results=50, order_by=["attributes.start_time DESC"],
    )
    return [ExistingRun(r.info.run_id, r.info.status, float(r.data.tags.get(HEARTBEAT, 0) or 0),
                        r.data.tags.get(WORK_DIR, ""), r.info.run_name) for r in runs]


def code_version() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for pkg in ("prove", "torch", "mmsegmentation", "mmengine", "mmcv-lite", "mmcv", "mlflow"):
        try:
            parts.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            continue
    return " ".join(parts)


def create_run(exp_id: str, run_name: str, tags: dict[str, str], params: dict[str, str], adopt: str | None = None) -> str:
    """A new RUNNING run with its params and tags; `adopt` reuses a run MLflow Projects made."""
    c = client()
    all_tags = {**tags, HEARTBEAT: str(time.time()), "prove.host": socket.gethostname(),
                "prove.git_commit": code_version(), "prove.versions": package_versions()}
    if os.environ.get(PARENT_RUN_ENV) and os.environ[PARENT_RUN_ENV] != adopt:
        # runs made for a sweep are its children in the MLflow UI
        all_tags["mlflow.parentRunId"] = os.environ[PARENT_RUN_ENV]
    if adopt:
        run_id = adopt
        c.set_tag(run_id, "mlflow.runName", run_name)
    else:
        run_id = c.create_run(exp_id, run_name=run_name).info.run_id
    existing = c.get_run(run_id).data.params
    c.log_batch(run_id, params=[Param(k, v) for k, v in params.items() if k not in existing],
                tags=[RunTag(k, v) for k, v in all_tags.items()])
    return run_id


def set_tags(run_id: str, tags: dict[str, str]) -> None:
    client().log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def log_params(run_id: str, params: dict[str, str]) -> None:
    existing = client().get_run(run_id).data.params
    new = [Param(k, str(v)) for k, v in params.items() if k not in existing]
    for start in range(0, len(new), 100):
        client().log_batch(run_id, params=new[start:start + 100])


def log_metrics(run_id: str, metrics: Iterable[Metric]) -> None:
    batch = list(metrics)
    for start in range(0, len(batch), _BATCH):
        client().log_batch(run_id, metrics=batch[start:start + _BATCH])


def log_artifact(run_id: str, path: str | os.PathLike, artifact_path: str | None = None) -> None:
    client().log_artifact(run_id, str(path), artifact_path)


def log_artifacts(run_id: str, folder: str | os.PathLike, artifact_path: str | None = None) -> None:
    client().log_artifacts(run_id, str(folder), artifact_path)


def log_dataset(run_id: str, dataset, context: str) -> None:
    """Log an `mlflow.data` dataset (prove.data.provenance.Provenance.to_mlflow()) as an input."""
    client().log_inputs(run_id, datasets=[DatasetInput(dataset._to_mlflow_entity(),
                                                      tags=[InputTag("mlflow.data.context", context)])])


def mark_launcher(links: dict[str, str], own_run: str | None = None) -> None:
    """`mlflow run` made a run for this process (MLFLOW_RUN_ID). Unless prove adopted it as its
    own run, tag it `prove.kind=launch` with links to the runs it produced, so analyses that
    filter on prove.kind never mistake it for a result."""
    launched = os.environ.get("MLFLOW_RUN_ID")
    if launched and launched != own_run:
        set_tags(launched, {KIND: "launch", **links})


def end_run(run_id: str, status: str) -> None:
    client().set_terminated(run_id, status=status)


def heartbeat(run_id: str) -> None:
    client().set_tag(run_id, HEARTBEAT, str(time.time()))


def metric_history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client().get_metric_history(run_id, key)]


class TrackingHook(Hook):
    """Streams losses, learning rate, batch composition and validation metrics to one run.

    Step = iteration (1-based, the number of optimizer steps done). Only rank 0 writes.
    """

    priority = "BELOW_NORMAL"

    def __init__(self, run_id: str, flush_every_s: float = 10.0, heartbeat_every_s: float = 30.0):
        self.run_id = run_id
        self.flush_every_s, self.heartbeat_every_s = flush_every_s, heartbeat_every_s
        self._buffer: list[Metric] = []
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
        self._count_sources(data_batch, runner, step)
        now = time.time()
        if now - self._last_flush >= self.flush_every_s:
            self.flush()
        if now - self._last_beat >= self.heartbeat_every_s:
            heartbeat(self.run_id)
            self._last_beat = now

    def _count_sources(self, data_batch, runner, step: int) -> None:
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
        self.flush()

    def flush(self) -> None:
        if self._buffer:
            log_metrics(self.run_id, self._buffer)
            self._buffer = []
        self._last_flush = time.time()


def _is_number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Real) or (hasattr(value, "item") and getattr(value, "ndim", 1) == 0)


def _number(value: Any) -> float:
    """A Python float from a tensor, numpy scalar or number (metrics arrive as np.float32)."""
    return float(value.item()) if hasattr(value, "item") else float(value)


def write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))
    return path


__all__ = ["mlflow", "TrackingHook", "create_run", "end_run", "find_train_runs", "experiment_id"]
