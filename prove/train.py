"""`prove train`: one validated spec -> one MLflow run, idempotent and resumable.

Order matters: everything that can be wrong with the input (names, values, data roots,
manifests, model availability, precision on this machine) is checked before anything is
written to the store, so bad input leaves no half-made run.

The spec hash identifies the run:
- FINISHED run with this hash -> skip, print its id (use `force` to train again, as a new run);
- RUNNING with a fresh heartbeat -> refuse (someone is training it);
- FAILED, KILLED, or RUNNING without a heartbeat for PROVE_STALE_AFTER seconds -> resume from
  its last checkpoint into the same run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import click

from prove.compat import install

install()

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dist import broadcast_object_list, get_dist_info, init_dist, is_distributed  # noqa: E402

import prove.engine  # noqa: E402,F401  (registers loop and hooks)
import prove.losses  # noqa: E402,F401  (registers BoundaryF1Loss)
import prove.strategies.mixing  # noqa: E402,F401  (registers MixSegDataPreProcessor, MixLossEncoderDecoder)
import prove.strategies.transforms  # noqa: E402,F401  (registers SegAutoAugment, SegRandAugment)
from prove import tracking  # noqa: E402
from prove.audit import PipelineAuditHook, expected_setup  # noqa: E402
from prove.compat.runner import ProveRunner  # noqa: E402
from prove.config import DataPlan, build_config, intervals, resolved_precision, scaled_lr, train_domains, warmup_iters  # noqa: E402
from prove.data import sampler as _sampler  # noqa: E402,F401  (registers RealGeneratedSampler)
from prove.data.domains import ADVERSE_DOMAINS, CLEAR_DAY  # noqa: E402
from prove.data.mmseg_dataset import open_adapter  # noqa: E402
from prove.engine import ContinueScheduleHook, GracefulStopHook, ProgressHook, TrainingInterrupted  # noqa: E402
from prove.errors import ProveError  # noqa: E402
from prove.models import check_available  # noqa: E402
from prove.settings import cache_dir  # noqa: E402
from prove.spec import TrainSpec  # noqa: E402
from prove.strategies import parse_strategy  # noqa: E402

GENERATION_SEED = 0  # generated sets are data, shared by every training seed


@dataclass(frozen=True)
class TrainOutcome:
    run_id: str
    action: str  # trained | resumed | skipped
    work_dir: str
    spec_hash: str


def _echo(message: str) -> None:
    if get_dist_info()[0] == 0:
        click.echo(message, err=True)


def prepare_data(spec: TrainSpec) -> DataPlan:
    """Open the dataset (generating the embedded one on first use) and the generated images."""
    adapter = open_adapter(spec.dataset, spec.data_root or None, spec.domain_csv or None)
    domains = train_domains(spec)
    samples = adapter.samples("train", need_domains=domains is not None)
    if domains is not None and not any(s.domain in domains for s in samples):
        raise ProveError(f"dataset {spec.dataset!r} has no training images in {', '.join(domains)} (stage {spec.stage})")
    strategy = parse_strategy(spec.strategy)
    manifest = spec.manifest
    if strategy.uses_generated and not manifest:
        has_clear = domains is not None and any(s.domain == CLEAR_DAY for s in samples)
        manifest = str(ensure_generated(strategy.generator, adapter, from_clear_day=has_clear))
    return DataPlan(root=str(adapter.root), domain_csv=str(adapter.domain_csv or ""), train_domains=domains,
                    manifest=manifest)


def ensure_generated(generator: str, adapter, from_clear_day: bool) -> Path:
    """Images of an offline generator for this dataset's training split, made once and cached.

    Sources are the clear_day images where the dataset has them (generators translate clear
    weather into adverse weather), else every training image; targets are the generator's
    adverse domains.
    """
    from prove.data.provenance import split_provenance
    from prove.generators import generate, get_generator

    gen = get_generator(generator)
    digest = split_provenance(adapter, "train").short_digest[:12]
    out_dir = cache_dir() / "generated" / gen.name / f"{adapter.name}-{digest}-seed{GENERATION_SEED}"
    existing = sorted(out_dir.glob("*.csv"))
    if existing:
        return existing[0]
    sources = (CLEAR_DAY,) if from_clear_day else None  # ACDC, say, has no clear images: use all
    targets = [d for d in gen.targets if d in ADVERSE_DOMAINS] or list(gen.targets)
    _echo(f"generating {gen.name} images for {adapter.name} (once; cached in {out_dir})")
    return generate(gen, adapter, "train", out_dir, target_domains=targets, seed=GENERATION_SEED,
                    source_domains=sources, progress=True)


def fetch_pretrained(spec: TrainSpec) -> None:
    """With pretrained=true, fetch the zoo's ImageNet weights now (cached by torch.hub), so an
    unreachable URL is a clear error before any run exists, not a crash inside the Runner."""
    if spec.pretrained != "true":
        return
    from mmengine.runner.checkpoint import CheckpointLoader

    from prove.models import get_model_card

    url = get_model_card(spec.model).pretrained
    try:
        CheckpointLoader.load_checkpoint(url, map_location="cpu")
    except Exception as exc:  # network errors come in many types
        raise ProveError(
            f"could not fetch the ImageNet weights of {spec.model} ({url}): {str(exc).splitlines()[0][:200]}. "
            f"Download them where there is network and pass pretrained=<path>, or use pretrained=false"
        ) from None


def _launcher() -> str:
    return "pytorch" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "none"


def _work_dir(spec: TrainSpec, spec_hash: str) -> str:
    base = spec.work_dir or os.environ.get("PROVE_WORK_DIR") or "work_dirs"
    return str((Path(base) / spec_hash).resolve())


def decide(spec: TrainSpec, spec_hash: str, exp_id: str, force: bool) -> tuple[str, tracking.ExistingRun | None]:
    """skip | resume | new, from the runs already in the store for this spec."""
    runs = tracking.find_train_runs(exp_id, spec_hash)
    finished = [r for r in runs if r.status == "FINISHED"]
    if finished and not force:
        return "skip", finished[0]
    alive = [r for r in runs if r.status == "RUNNING" and not r.stale]
    if alive:
        age = time.time() - alive[0].heartbeat
        raise ProveError(
            f"spec {spec_hash} ({spec.run_name}) is being trained by run {alive[0].run_id} "
            f"(last heartbeat {age:.0f}s ago); it becomes resumable after {tracking.STALE_AFTER_S:.0f}s without one"
        )
    resumable = [r for r in runs if r.status in ("FAILED", "KILLED", "RUNNING") and r.work_dir]
    if resumable and not force:
        return "resume", resumable[0]
    return "new", None


def continuation(spec: TrainSpec, exp_id: str) -> tuple[int, str]:
    """(iteration, checkpoint) where a `continue_from` training starts: the last periodic
    checkpoint of the finished run of that spec. Checked before any run is written."""
    from prove.reports import iteration_checkpoints

    finished = [r for r in tracking.find_train_runs(exp_id, spec.continue_from) if r.status == "FINISHED"]
    if not finished:
        raise ProveError(f"continue_from {spec.continue_from}: no finished training with this spec hash in "
                         "this experiment; train it first")
    checkpoints = iteration_checkpoints(finished[0].work_dir) if finished[0].work_dir else {}
    if not checkpoints:
        raise ProveError(f"continue_from {spec.continue_from}: run {finished[0].run_id} has no checkpoints in "
                         f"{finished[0].work_dir!r}")
    last = max(checkpoints)
    if last >= spec.max_iters:
        raise ProveError(f"continue_from {spec.continue_from}: that training ends at iteration {last}; "
                         f"max_iters must be larger, got {spec.max_iters}")
    return last, checkpoints[last]


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


def resolved_params(spec: TrainSpec, cfg: dict, plan: DataPlan) -> dict[str, str]:
    checkpoint_every, eval_every = intervals(spec)
    strategy = parse_strategy(spec.strategy)
    return {
        **spec.to_params(),
        "resolved.lr": f"{scaled_lr(spec):.6g}",
        "resolved.precision": cfg["precision"],
        "resolved.crop_size": "x".join(map(str, spec.crop_hw)),
        "resolved.warmup_iters": str(warmup_iters(spec)),
        "resolved.checkpoint_interval": str(checkpoint_every),
        "resolved.eval_interval": str(eval_every),
        "resolved.train_domains": ",".join(plan.train_domains) if plan.train_domains else "all",
        "resolved.manifest": plan.manifest or "none",
        "strategy_family": strategy.family,
        "generator": strategy.generator or "none",
    }


def _tags(spec: TrainSpec, spec_hash: str, work_dir: str) -> dict[str, str]:
    strategy = parse_strategy(spec.strategy)
    tags = {tracking.KIND: "train", tracking.SPEC_HASH: spec_hash, tracking.WORK_DIR: work_dir,
            "prove.family": strategy.family}
    if strategy.generator_family:
        tags["prove.generator_family"] = strategy.generator_family
    return tags


def _adoptable_project_run(params: dict[str, str]) -> str | None:
    """The run `mlflow run` created for this process, if its -P params agree with ours."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return None
    logged = tracking.client().get_run(run_id).data.params
    return run_id if all(params.get(k) == v for k, v in logged.items()) else None


def train(spec: TrainSpec, force: bool = False, experiment: str | None = None, extra_hooks: tuple = ()) -> TrainOutcome:
    """Train `spec` (see the module docstring); `extra_hooks` are MMEngine hooks to register too."""
    launcher = _launcher()
    if launcher == "pytorch" and not is_distributed():
        if torch.cuda.is_available():
            init_dist("pytorch", backend="nccl")
        else:  # mmengine's init_dist calls torch.cuda.set_device unconditionally
            torch.distributed.init_process_group(backend="gloo")
    rank, world = get_dist_info()
    cuda = torch.cuda.is_available()

    # -- 1. validate everything (nothing written yet) ------------------------------------
    check_available(spec.model)
    resolved_precision(spec, cuda)
    if rank == 0:
        fetch_pretrained(spec)
    spec_hash = spec.spec_hash()
    plan = prepare_data(spec) if rank == 0 else None
    plan = _broadcast(plan)

    # -- 2. decide: skip, resume or new (rank 0 asks the store; everyone follows) -----------
    decision = None
    if rank == 0:
        exp_id = tracking.experiment_id(experiment)
        action, existing = decide(spec, spec_hash, exp_id, force)
        decision = (action, existing.run_id if existing else None, existing.work_dir if existing else None, exp_id)
    action, run_id, work_dir, exp_id = _broadcast(decision)
    start = continuation(spec, exp_id) if spec.continue_from and rank == 0 and action != "skip" else None
    start = _broadcast(start)
    if action == "skip":
        _echo(f"already trained: run {run_id} ({spec.run_name}, spec {spec_hash}); nothing to do")
        tracking.mark_launcher({"prove.train_run_id": run_id}, own_run=run_id)
        return TrainOutcome(run_id, "skipped", work_dir or "", spec_hash)
    work_dir = work_dir or _work_dir(spec, spec_hash)
    cfg = build_config(spec, plan, work_dir, cuda=cuda, launcher=launcher)

    # -- 3. the run -------------------------------------------------------------------------
    if rank == 0:
        if action == "new":
            params = resolved_params(spec, cfg, plan)
            run_id = tracking.create_run(exp_id, spec.run_name, _tags(spec, spec_hash, work_dir), params,
                                         adopt=_adoptable_project_run(params))
            _log_inputs(run_id, spec, plan)
        else:
            tracking.set_tags(run_id, {tracking.HEARTBEAT: str(time.time())})
            tracking.client().update_run(run_id, status="RUNNING")
            _echo(f"resuming run {run_id} ({spec.run_name}) from {work_dir}")
        tracking.mark_launcher({"prove.train_run_id": run_id}, own_run=run_id)
    run_id = _broadcast(run_id)

    if cfg["precision"] == "tf32":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    if start and action == "new" and rank == 0:
        start_from_checkpoint(start, work_dir)
    config_path = Path(work_dir) / "config.py"
    Config(cfg).dump(str(config_path))

    audit = PipelineAuditHook(expected_setup(spec, bool(plan.manifest)), str(Path(work_dir) / "pipeline_audit.json"))
    stopper = GracefulStopHook()
    runner = ProveRunner.from_cfg(Config(cfg))
    runner.register_hook(audit, priority="HIGHEST")
    runner.register_hook(stopper)
    runner.register_hook(ProgressHook(spec.run_name, spec.max_iters))
    pretrained = None
    if spec.pretrained != "false":
        from prove.models import get_model_card
        from prove.reports import PretrainedReportHook

        source = get_model_card(spec.model).pretrained if spec.pretrained == "true" else spec.pretrained
        pretrained = PretrainedReportHook(source, str(Path(work_dir) / "pretrained_load.json"))
        runner.register_hook(pretrained, priority="LOW")
    if start:
        runner.register_hook(ContinueScheduleHook(start[0]))
    for hook in extra_hooks:
        runner.register_hook(hook)
    tracker = tracking.TrackingHook(run_id) if rank == 0 else None
    if tracker:
        runner.register_hook(tracker)

    try:
        runner.train()
    except TrainingInterrupted as exc:
        _finish(rank, run_id, "KILLED", work_dir, audit, tracker, pretrained)
        _echo(f"{exc}; run {run_id} marked KILLED; run the same command to resume")
        raise
    except BaseException:
        _finish(rank, run_id, "FAILED", work_dir, audit, tracker, pretrained)
        raise
    finally:
        stopper.restore()
    _finish(rank, run_id, "FINISHED", work_dir, audit, tracker, pretrained)
    _echo(f"finished run {run_id} ({spec.run_name}); checkpoints in {work_dir}")
    return TrainOutcome(run_id, "resumed" if action == "resume" else "trained", work_dir, spec_hash)


def _broadcast(obj):
    if not is_distributed():
        return obj
    box = [obj]
    broadcast_object_list(box, src=0)
    return box[0]


def _log_inputs(run_id: str, spec: TrainSpec, plan: DataPlan) -> None:
    from prove.data.manifest import load_manifest
    from prove.data.provenance import manifest_provenance, split_provenance

    adapter = open_adapter(spec.dataset, plan.root, plan.domain_csv or None)
    tracking.log_dataset(run_id, split_provenance(adapter, "train").to_mlflow(), "train")
    tracking.log_dataset(run_id, split_provenance(adapter, "val").to_mlflow(), "validation")
    if plan.manifest:
        manifest = load_manifest(plan.manifest, {adapter.name: adapter}, splits=("train",))
        tracking.log_dataset(run_id, manifest_provenance(manifest).to_mlflow(), "train_generated")


def _finish(rank: int, run_id: str, status: str, work_dir: str, audit, tracker, pretrained) -> None:
    if rank != 0:
        return
    from prove.reports import checkpoint_references, plot_training_curves

    try:
        if tracker is not None:
            tracker.flush()
            composition = tracking.write_json(Path(work_dir) / "batch_composition.json", tracker.composition)
            tracking.log_artifact(run_id, composition)
        if audit.report is not None:
            tracking.log_artifact(run_id, audit.out_path)
        if pretrained is not None and pretrained.report is not None:
            tracking.log_artifact(run_id, pretrained.out_path)
            tracking.log_params(run_id, {
                "pretrained.matched_keys": str(pretrained.report["matched"]),
                "pretrained.missing_keys": str(len(pretrained.report["missing_keys"])),
                "pretrained.unexpected_keys": str(len(pretrained.report["unexpected_keys"])),
            })
        tracking.log_artifact(run_id, Path(work_dir) / "config.py")
        refs = tracking.write_json(Path(work_dir) / "checkpoints.json", checkpoint_references(work_dir))
        tracking.log_artifact(run_id, refs)
        curves = plot_training_curves(run_id, Path(work_dir) / "training_curves.png")
        if curves is not None:
            tracking.log_artifact(run_id, curves)
    finally:
        tracking.end_run(run_id, status)


def exit_code_for(exc: TrainingInterrupted) -> int:
    return 128 + int(exc.signum)


__all__ = ["TrainOutcome", "train", "prepare_data", "decide", "exit_code_for"]
