"""`prove adopt`: an existing mmseg training folder (config + `iter_*.pth`) becomes a training
run, so `prove test` evaluates it per domain, on other datasets and at every checkpoint, and
coverage and plans count it as trained.

The users keep about 1,000 trained models as `WEIGHTS*/<strategy>/<dataset>/<model>[_ratio0p50]
[_aux-lovasz]/` with the mmseg config MMEngine dumped and its `iter_<N>.pth` files. The spec of
such a run is read from, in this order of precedence: the options given, the folder names, the
config (iterations, batch size, seed, learning rate, crop, whether the backbone starts from
pretrained weights). Whatever stays unknown is an error that names the option to pass.

Nothing is copied: the run's work folder is the adopted folder. Checkpoints prove did not write
are loaded weights-only (prove.compat.checkpoint); MMEngine's own checkpoints hold more than
tensors, so `--trust` records that you vouch for the folder's files (as `prove
trust-checkpoint` does), after which they load fully. Adopting the same folder twice adds nothing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from prove.errors import ProveError
from prove.spec import STAGES, TrainSpec
from prove.studies import STUDIES
from prove.tracking import client, schema
from prove.training.artifacts import iteration_checkpoints

ADOPTED = "adopted"
_SUFFIXES = {"ratio": re.compile(r"_ratio(\d+)p(\d+)$"), "aux_loss": re.compile(r"_aux-([A-Za-z]+)$")}


@dataclass(frozen=True)
class Adopted:
    run_id: str
    action: str  # adopted | already
    spec: TrainSpec
    checkpoints: int


def parse_folder(folder: Path) -> dict[str, str]:
    """What the users' folder convention says: .../<strategy>/<dataset>/<model>[_ratio0p50][_aux-lovasz],
    and a stage where a folder above is named like one (`stage1`, `WEIGHTS_stage2`...)."""
    found: dict[str, str] = {}
    name = folder.name
    changed = True
    while changed:  # the suffixes may come in either order
        changed = False
        for key, pattern in _SUFFIXES.items():
            match = pattern.search(name)
            if match:
                found[key] = f"{match[1]}.{match[2]}" if key == "ratio" else match[1].lower()
                name, changed = name[:match.start()], True
    found["model"] = name
    if len(folder.parts) >= 3:
        found["dataset"], found["strategy"] = folder.parent.name, folder.parent.parent.name
    for part in reversed(folder.parts[:-3]):
        for token in re.split(r"[_\-]", part) + [part]:
            if token and token.lower().startswith(("s", "stage", "cityscapes")) and token in STAGES:
                found.setdefault("stage", STAGES.get(token).name)
    return found


def parse_config(config: Path) -> dict[str, str]:
    """The spec values an mmseg config records."""
    from mmengine.config import Config

    try:
        cfg = Config.fromfile(str(config))
    except Exception as exc:  # a syntax error, a missing _base_ file, an unknown import
        raise ProveError(f"cannot read the mmseg config {config}: {str(exc).strip().splitlines()[-1][:300]}") from None
    found: dict[str, str] = {}
    if (cfg.get("train_cfg") or {}).get("max_iters"):
        found["max_iters"] = str(cfg.train_cfg.max_iters)
    if (cfg.get("train_dataloader") or {}).get("batch_size"):
        found["batch_size"] = str(cfg.train_dataloader.batch_size)
    if (cfg.get("randomness") or {}).get("seed") is not None:
        found["seed"] = str(cfg.randomness.seed)
    lr = ((cfg.get("optim_wrapper") or {}).get("optimizer") or {}).get("lr")
    if lr:
        found["lr"] = repr(float(lr))
    size = ((cfg.get("model") or {}).get("data_preprocessor") or {}).get("size")
    if size:
        found["crop_size"] = f"{int(size[0])}x{int(size[1])}"
    backbone = (cfg.get("model") or {}).get("backbone") or {}
    init = backbone.get("init_cfg") or {}
    found["pretrained"] = "true" if init.get("type") == "Pretrained" or (cfg.get("model") or {}).get("pretrained") \
        else "false"
    return found


def find_config(folder: Path, config: str = "") -> Path:
    if config:
        path = Path(config).expanduser()
        path = path if path.is_absolute() else folder / path
        if not path.is_file():
            raise ProveError(f"config {config!r} not found (looked at {path})")
        return path
    candidates = sorted(p for p in folder.glob("*.py") if p.is_file())
    if len(candidates) != 1:
        listed = ", ".join(p.name for p in candidates) or "none"
        raise ProveError(f"{folder} must hold exactly one mmseg config (*.py) to adopt; found {listed}. "
                         "Name it with --config")
    return candidates[0]


def adopt(folder: str | Path, given: dict[str, str] | None = None, config: str = "", experiment: str | None = None,
          trust: bool = False, study: str = "") -> Adopted:
    """Register `folder` as a FINISHED training run (see the module docstring); writes nothing
    until everything is known and checked."""
    study = STUDIES.canonical(study) if study else ""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise ProveError(f"adopt: {folder} is not a folder")
    checkpoints = iteration_checkpoints(folder)
    if not checkpoints:
        raise ProveError(f"adopt: {folder} has no checkpoints (iter_<N>.pth); nothing to test")
    config_path = find_config(folder, config)
    values = {**parse_folder(folder), **parse_config(config_path), **{k: v for k, v in (given or {}).items() if v}}
    missing = [k for k in ("stage", "dataset", "model", "strategy") if not values.get(k)]
    if missing:
        raise ProveError(f"adopt: cannot tell the {', '.join(missing)} of {folder} from its folder names or config; "
                         f"pass {' '.join('--' + k.replace('_', '-') + ' ...' for k in missing)}")
    values.setdefault("max_iters", str(max(checkpoints)))
    spec = TrainSpec.create(True, **{k: v for k, v in values.items() if k in TrainSpec.__dataclass_fields__})
    _check_loadable(checkpoints[max(checkpoints)], trust)

    exp_id = client.experiment_id(experiment)
    spec_hash = spec.spec_hash()
    done = [r for r in client.find_train_runs(exp_id, spec_hash) if r.status == "FINISHED"]
    if done:
        return Adopted(done[0].run_id, "already", spec, len(checkpoints))
    if trust:
        _trust(checkpoints.values())
    from prove.strategies import parse_strategy

    strategy = parse_strategy(spec.strategy)
    tags = {schema.KIND: schema.TRAIN, schema.SPEC_HASH: spec_hash, schema.WORK_DIR: str(folder),
            schema.CONFIG_FILE: str(config_path), schema.FAMILY: strategy.family, schema.SOURCE: ADOPTED}
    if strategy.generator_family:
        tags[schema.GENERATOR_FAMILY] = strategy.generator_family
    if study:
        tags[schema.STUDY] = study
    params = {**spec.to_params(), "adopted.folder": str(folder), "adopted.config": config_path.name,
              "adopted.checkpoints": str(len(checkpoints))}
    run_id = client.create_run(exp_id, spec.run_name, tags, params)
    client.set_tags(run_id, {schema.HEARTBEAT: str(time.time())})
    client.end_run(run_id, "FINISHED")
    return Adopted(run_id, ADOPTED, spec, len(checkpoints))


def _check_loadable(checkpoint: str, trust: bool) -> None:
    """Without --trust, the checkpoints must load weights-only; say how to vouch for them if not."""
    from prove.compat.checkpoint import is_written_by_prove, load_checkpoint_file

    if trust or is_written_by_prove(checkpoint):
        return
    try:
        load_checkpoint_file(checkpoint, map_location="cpu")
    except ProveError:
        raise ProveError(f"adopt: {checkpoint} cannot be loaded weights-only (MMEngine checkpoints hold more than "
                         "tensors). If you trust where the folder comes from, adopt it with --trust (prove then "
                         "unpickles its checkpoints fully, see docs/compatibility.md)") from None


def _trust(paths) -> None:
    from prove.compat.checkpoint import mark_written_by_prove

    for path in paths:
        try:
            mark_written_by_prove(path, note="adopted with `prove adopt --trust`")
        except OSError as exc:
            raise ProveError(f"adopt --trust: cannot write the trust record beside {path} ({exc.strerror or exc}); "
                             "ask the folder's owner, or copy the folder somewhere writable") from None
