"""`prove train`: one validated spec -> one MLflow run, idempotent and resumable.

Order matters: everything that can be wrong with the input (names, values, data roots,
manifests, model availability, precision on this machine, pretrained weights) is checked
before anything is written to the store, so bad input leaves no half-made run.

The spec hash identifies the run:
- FINISHED run with this hash -> skip, print its id (use `force` to train again, as a new run);
- RUNNING with a fresh heartbeat -> refuse (someone is training it);
- FAILED, KILLED, or RUNNING without a heartbeat for PROVE_STALE_AFTER seconds -> resume from
  its last checkpoint into the same run.

`train()` reads as its four steps: resolve (prove.training.resolve), decide, open the run,
run the loop. Under torchrun, rank 0 asks the store and every rank follows its answer.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import click

from prove.compat import install

install()

import torch  # noqa: E402
from mmengine.dist import broadcast_object_list, get_dist_info, init_dist, is_distributed  # noqa: E402

from prove.compat.console import quiet_console  # noqa: E402
from prove.compat.runner import FormattedOnce, ProveRunner  # noqa: E402
from prove.errors import ProveError  # noqa: E402
from prove.files import write_json  # noqa: E402
from prove.settings import limit_threads, stale_after_s, stop_image_threads_before_fork  # noqa: E402
from prove.spec import TrainSpec  # noqa: E402
from prove.studies import STUDIES  # noqa: E402
from prove.tracking import client, schema  # noqa: E402
from prove.training import artifacts  # noqa: E402
from prove.training.audit import PipelineAuditHook, expected_setup  # noqa: E402
from prove.training.config import build_config  # noqa: E402
from prove.training.engine import (  # noqa: E402
    ChannelsLastHook, ContinueScheduleHook, GracefulStopHook, PretrainedReportHook, ProgressHook, TrainingInterrupted,
)
from prove.training.mlflow_hook import TrackingHook  # noqa: E402
from prove.training.resolve import ResolvedTraining, resolve  # noqa: E402


@dataclass(frozen=True)
class TrainOutcome:
    run_id: str
    action: str  # trained | resumed | skipped
    work_dir: str
    spec_hash: str


@dataclass(frozen=True)
class Decision:
    """What the store says about a spec: skip | resume | new, and where."""

    action: str
    run_id: str | None
    work_dir: str | None
    exp_id: str
    start: tuple[int, str] | None = None  # (iteration, checkpoint) a continue_from training starts at


def _echo(message: str) -> None:
    if get_dist_info()[0] == 0:
        click.echo(message, err=True)


@quiet_console()  # the stack's known messages go to the log file, not the console
def train(spec: TrainSpec, force: bool = False, experiment: str | None = None, extra_hooks: tuple = (),
          system_metrics: bool = True, study: str = "") -> TrainOutcome:
    """Train `spec` (see the module docstring); `extra_hooks` are MMEngine hooks to register too;
    `system_metrics`: MLflow's CPU/memory/GPU monitor on the run while it trains; `study`: the
    declared study the run belongs to (prove.studies; its `prove.study` tag), not part of the
    spec: the same training can be one study's run and another's reference."""
    study = STUDIES.canonical(study) if study else ""  # a typo fails here, before anything is written
    launcher = _init_distributed()
    limit_threads()  # the job's allocation, not the node's cores (prove.settings.allowed_cpus)
    rank, _ = get_dist_info()
    cuda = torch.cuda.is_available()
    resolved = _resolve(spec, cuda, rank)  # 1. everything validated; nothing written yet
    decision = _broadcast(decide(resolved, experiment, force) if rank == 0 else None)  # 2.
    if decision.action == "skip":
        _echo(f"already trained: run {decision.run_id} ({spec.run_name}, spec {resolved.spec_hash}); nothing to do")
        _echo(f"  in the MLflow UI: {client.runs_url(decision.exp_id, decision.run_id)}")
        return TrainOutcome(decision.run_id, "skipped", decision.work_dir or "", resolved.spec_hash)
    work_dir = decision.work_dir
    cfg = FormattedOnce(build_config(resolved, work_dir, cuda=cuda, launcher=launcher))  # its text made once
    run_id = _broadcast(_open_run(resolved, decision, work_dir, study) if rank == 0 else None)  # 3.
    try:
        _prepare_work_dir(resolved, decision, cfg, work_dir, rank, run_id)
    except BaseException:
        _end_if_rank0(rank, run_id, "FAILED")  # never left RUNNING: it would look alive to other workers
        raise
    with client.system_metrics(run_id, enabled=system_metrics and rank == 0):
        _run_loop(resolved, cfg, run_id, work_dir, decision.start, extra_hooks, rank)  # 4.
    _echo(f"finished run {run_id} ({spec.run_name}); checkpoints in {work_dir}")
    _echo(f"  in the MLflow UI: {client.runs_url(decision.exp_id, run_id)}")
    return TrainOutcome(run_id, "resumed" if decision.action == "resume" else "trained", work_dir, resolved.spec_hash)


# -- 1. resolve ---------------------------------------------------------------------------------

def _init_distributed() -> str:
    """The MMEngine launcher: `pytorch` under torchrun (WORLD_SIZE > 1), else `none`."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return "none"
    if not is_distributed():
        if torch.cuda.is_available():
            init_dist("pytorch", backend="nccl")
        else:  # mmengine's init_dist calls torch.cuda.set_device unconditionally
            torch.distributed.init_process_group(backend="gloo")
    return "pytorch"


def _resolve(spec: TrainSpec, cuda: bool, rank: int) -> ResolvedTraining:
    """Rank 0 fetches pretrained weights and opens the data; the others reuse its answer."""
    if rank != 0:
        return resolve(spec, cuda, data=_broadcast(None))
    resolved = resolve(spec, cuda, fetch_weights=True)
    _broadcast(resolved.data)
    return resolved


# -- 2. decide ----------------------------------------------------------------------------------

def decide(resolved: ResolvedTraining, experiment: str | None, force: bool) -> Decision:
    """skip | resume | new, from the runs already in the store for this spec."""
    spec, spec_hash = resolved.spec, resolved.spec_hash
    exp_id = client.experiment_id(experiment)
    runs = client.find_train_runs(exp_id, spec_hash)
    finished = [r for r in runs if r.status == "FINISHED"]
    if finished and not force:
        return Decision("skip", finished[0].run_id, finished[0].work_dir, exp_id)
    alive = [r for r in runs if r.status == "RUNNING" and not r.stale]
    if alive:
        age = time.time() - alive[0].heartbeat
        raise ProveError(
            f"spec {spec_hash} ({spec.run_name}) is being trained by run {alive[0].run_id} "
            f"(last heartbeat {age:.0f}s ago); it becomes resumable after {stale_after_s():.0f}s without one"
        )
    start = continuation(spec, exp_id) if spec.continue_from else None
    resumable = [r for r in runs if r.status in ("FAILED", "KILLED", "RUNNING") and r.work_dir]
    if resumable and not force:
        check_owner(resumable[0].work_dir, resumable[0].run_id)
        return Decision("resume", resumable[0].run_id, resumable[0].work_dir, exp_id, start)
    return Decision("new", None, fresh_work_dir(resolved.work_dir()), exp_id, start)


# -- a work dir belongs to one run -----------------------------------------------------------------
# A new run never starts in a folder another run wrote: its checkpoints would be resumed silently
# (a run in a new store "trained" 0 iterations from another store's final checkpoint and was
# reported FINISHED). Each work dir records its run (OWNER_FILE); a new run takes the spec's
# folder only while it is empty, else `<spec hash>.2`, `.3`, ...

OWNER_FILE = "prove_run.json"


def fresh_work_dir(base: str) -> str:
    """`base` when nothing is in it, else the first free `base.N`."""
    candidate, n = Path(base), 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = Path(f"{base}.{n}")
    return str(candidate)


def check_owner(work_dir: str, run_id: str) -> None:
    """A run resumes only from its own folder (never one a run of another store rewrote)."""
    owner_file = Path(work_dir) / OWNER_FILE
    if not owner_file.is_file():
        return  # written before prove recorded owners: the run's own tag is the only claim
    owner = json.loads(owner_file.read_text())
    if owner.get("run_id") != run_id:
        raise ProveError(f"work dir {work_dir} belongs to run {owner.get('run_id')} of {owner.get('tracking_uri')}, "
                         f"not to run {run_id} that would resume from it; move that folder away or train with "
                         "--force (a new run in a folder of its own)")


def _write_owner(work_dir: str, run_id: str, exp_id: str, spec_hash: str) -> None:
    write_json(Path(work_dir) / OWNER_FILE, dict(tracking_uri=client.tracking_uri(), experiment_id=exp_id,
                                                 run_id=run_id, spec_hash=spec_hash))


def continuation(spec: TrainSpec, exp_id: str) -> tuple[int, str]:
    """(iteration, checkpoint) where a `continue_from` training starts: the last periodic
    checkpoint of the finished run of that spec. Checked before any run is written."""
    finished = [r for r in client.find_train_runs(exp_id, spec.continue_from) if r.status == "FINISHED"]
    if not finished:
        raise ProveError(f"continue_from {spec.continue_from}: no finished training with this spec hash in "
                         "this experiment; train it first")
    checkpoints = artifacts.iteration_checkpoints(finished[0].work_dir) if finished[0].work_dir else {}
    if not checkpoints:
        raise ProveError(f"continue_from {spec.continue_from}: run {finished[0].run_id} has no checkpoints in "
                         f"{finished[0].work_dir!r}")
    last = max(checkpoints)
    if last >= spec.max_iters:
        raise ProveError(f"continue_from {spec.continue_from}: that training ends at iteration {last}; "
                         f"max_iters must be larger, got {spec.max_iters}")
    return last, checkpoints[last]


# -- 3. the run ---------------------------------------------------------------------------------

def _open_run(resolved: ResolvedTraining, decision: Decision, work_dir: str, study: str = "") -> str:
    """Create the run (or reopen the one being resumed) with its params, tags and inputs."""
    spec = resolved.spec
    if decision.action == "new":
        params = resolved.params()
        run_id = client.create_run(decision.exp_id, spec.run_name, run_tags(resolved, work_dir, study), params)
        try:
            _log_inputs(run_id, resolved)
        except BaseException:
            client.end_run(run_id, "FAILED")  # resumable, not a run that looks alive with no one training it
            raise
    else:
        run_id = decision.run_id
        client.set_tags(run_id, {schema.HEARTBEAT: str(time.time()), **({schema.STUDY: study} if study else {})})
        client.set_status(run_id, "RUNNING")
        _echo(f"resuming run {run_id} ({spec.run_name}) from {work_dir}")
    return run_id


def run_tags(resolved: ResolvedTraining, work_dir: str, study: str = "") -> dict[str, str]:
    tags = {schema.KIND: schema.TRAIN, schema.SPEC_HASH: resolved.spec_hash, schema.WORK_DIR: work_dir,
            schema.FAMILY: resolved.strategy.family}
    if study:
        tags[schema.STUDY] = study
    if resolved.strategy.generator_family:
        tags[schema.GENERATOR_FAMILY] = resolved.strategy.generator_family
    return tags


def _log_inputs(run_id: str, resolved: ResolvedTraining) -> None:
    from prove.data.manifest import load_manifest
    from prove.data.provenance import manifest_provenance, split_provenance

    adapter = resolved.adapter
    client.log_dataset(run_id, split_provenance(adapter, "train").to_mlflow(), "train")
    client.log_dataset(run_id, split_provenance(adapter, "val").to_mlflow(), "validation")
    if resolved.data.manifest:
        manifest = load_manifest(resolved.data.manifest, {adapter.name: adapter}, splits=("train",),
                                 dataset=adapter.name)
        if resolved.data.gen_domains:
            manifest = _targeted(run_id, manifest, resolved.data.gen_domains)
        client.log_dataset(run_id, manifest_provenance(manifest).to_mlflow(), "train_generated")


def _targeted(run_id: str, manifest, domains: tuple[str, ...]):
    """The manifest's entries aiming at `domains` (--gen-domains), with what was left out counted:
    in the log, as metrics (data/generated_kept, data/generated_dropped) and in
    generated_images.json (per target domain)."""
    import dataclasses
    import tempfile
    from collections import Counter

    from mlflow.entities import Metric

    from prove.data.manifest import select_target_domains

    kept, dropped = select_target_domains(manifest.entries, domains)
    summary = {"gen_domains": list(domains), "kept": dict(Counter(e.target_domain for e in kept)),
               "dropped": dict(sorted(dropped.items()))}
    _echo(f"generated images aiming at {', '.join(domains)}: {len(kept)} kept, {sum(dropped.values())} left out "
          f"({', '.join(f'{d} {n}' for d, n in summary['dropped'].items()) or 'none'})")
    now = int(time.time() * 1000)
    client.log_metrics(run_id, [Metric("data/generated_kept", len(kept), now, 0),
                                Metric("data/generated_dropped", sum(dropped.values()), now, 0)])
    with tempfile.TemporaryDirectory() as tmp:
        client.log_artifact(run_id, write_json(Path(tmp) / "generated_images.json", summary))
    return dataclasses.replace(manifest, entries=kept)


def _prepare_work_dir(resolved: ResolvedTraining, decision: Decision, cfg: FormattedOnce, work_dir: str, rank: int,
                      run_id: str) -> None:
    if cfg["precision"] == "tf32":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    if rank == 0:
        _write_owner(work_dir, run_id, decision.exp_id, resolved.spec_hash)
    if decision.start and decision.action == "new" and rank == 0:
        start_from_checkpoint(decision.start, work_dir)
    cfg.dump(str(Path(work_dir) / "config.py"))


def start_from_checkpoint(start: tuple[int, str], work_dir: str) -> None:
    """Put the checkpoint to continue into this run's work dir as its resume point, without its
    LR schedulers (they ended there; ContinueScheduleHook sets this run's own)."""
    from prove.compat.checkpoint import load_checkpoint_file, mark_written_by_prove

    iteration, source = start
    state = load_checkpoint_file(source, map_location="cpu")
    state.pop("param_schedulers", None)
    target = Path(work_dir) / f"iter_{iteration}.pth"
    torch.save(state, target)
    mark_written_by_prove(target, note=f"continued from {source}")
    (Path(work_dir) / "last_checkpoint").write_text(str(target))


# -- 4. the loop --------------------------------------------------------------------------------

@dataclass
class _Hooks:
    audit: PipelineAuditHook
    stopper: GracefulStopHook
    tracker: TrackingHook | None
    pretrained: PretrainedReportHook | None
    progress: ProgressHook | None = None


def _register_hooks(runner, resolved: ResolvedTraining, run_id: str, work_dir: str, start, extra_hooks,
                    rank: int) -> _Hooks:
    spec = resolved.spec
    hooks = _Hooks(PipelineAuditHook(expected_setup(resolved), str(Path(work_dir) / "pipeline_audit.json")),
                   GracefulStopHook(), TrackingHook(run_id) if rank == 0 else None, None)
    runner.register_hook(hooks.audit, priority="HIGHEST")
    runner.register_hook(hooks.stopper)
    hooks.progress = ProgressHook(spec.run_name, spec.max_iters)
    runner.register_hook(hooks.progress)
    if resolved.pretrained_source:
        hooks.pretrained = PretrainedReportHook(resolved.pretrained_source, str(Path(work_dir) / "pretrained_load.json"))
        runner.register_hook(hooks.pretrained, priority="LOW")
    if resolved.card.channels_last:
        runner.register_hook(ChannelsLastHook())
    if start is not None:  # continue_from: this run's own LR schedule from the start iteration
        runner.register_hook(ContinueScheduleHook(start[0]))
    for hook in extra_hooks:
        runner.register_hook(hook)
    if hooks.tracker:
        runner.register_hook(hooks.tracker)
    return hooks


def _run_loop(resolved: ResolvedTraining, cfg: FormattedOnce, run_id: str, work_dir: str, start, extra_hooks,
              rank: int) -> None:
    runner = ProveRunner.from_cfg(cfg)
    hooks = _register_hooks(runner, resolved, run_id, work_dir, start, extra_hooks, rank)
    stop_image_threads_before_fork(cfg["train_dataloader"]["num_workers"])
    try:
        runner.train()
    except TrainingInterrupted as exc:
        _finish(rank, run_id, "KILLED", work_dir, hooks)
        _echo(f"{exc}; run {run_id} marked KILLED; run the same command to resume")
        raise
    except BaseException:
        _finish(rank, run_id, "FAILED", work_dir, hooks)
        raise
    finally:
        hooks.stopper.restore()
        hooks.progress.after_train(runner)  # the live bar ends also when training fails
    if hooks.tracker is not None:
        hooks.tracker.flush()
    if rank == 0 and "train/lr" not in client.get_run(run_id).data.metrics:
        _finish(rank, run_id, "FAILED", work_dir, hooks)  # nothing trained is no finished training
        raise ProveError(f"run {run_id} trained 0 iterations (its work dir {work_dir} already held a checkpoint at "
                         f"iteration {runner.iter}); marked FAILED")
    _finish(rank, run_id, "FINISHED", work_dir, hooks)


def _end_if_rank0(rank: int, run_id: str, status: str) -> None:
    if rank == 0:
        client.end_run(run_id, status)


def _broadcast(obj):
    if not is_distributed():
        return obj
    box = [obj]
    broadcast_object_list(box, src=0)
    return box[0]


def _finish(rank: int, run_id: str, status: str, work_dir: str, hooks: _Hooks) -> None:
    """Log what the run keeps (whatever its status: a failed run's evidence matters most), then end it."""
    if rank != 0:
        return
    try:
        if hooks.tracker is not None:
            hooks.tracker.flush(final=True)  # waits for a server that is away (restart, outage)
            client.log_artifact(run_id, write_json(Path(work_dir) / "batch_composition.json",
                                                   hooks.tracker.composition))
        if hooks.audit.report is not None:
            client.log_artifact(run_id, hooks.audit.out_path)
        pretrained = hooks.pretrained
        if pretrained is not None and pretrained.report is not None:
            client.log_artifact(run_id, pretrained.out_path)
            client.log_params(run_id, {
                "pretrained.matched_keys": str(pretrained.report["matched"]),
                "pretrained.missing_keys": str(len(pretrained.report["missing_keys"])),
                "pretrained.unexpected_keys": str(len(pretrained.report["unexpected_keys"])),
            })
        client.log_artifact(run_id, Path(work_dir) / "config.py")
        client.log_artifact(run_id, write_json(Path(work_dir) / "checkpoints.json",
                                               artifacts.checkpoint_references(work_dir)))
        curves = artifacts.plot_training_curves(run_id, Path(work_dir) / "training_curves.png")
        if curves is not None:
            client.log_artifact(run_id, curves)
    finally:
        client.retrying(lambda: client.end_run(run_id, status), f"ending run {run_id} as {status}")


def exit_code_for(exc: TrainingInterrupted) -> int:
    return 128 + int(exc.signum)


__all__ = ["Decision", "TrainOutcome", "train", "decide", "exit_code_for"]
