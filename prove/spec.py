"""`TrainSpec`: what a training run is. The one home of the train defaults.

The CLI builds its options from these fields (and MLproject must agree, see
tests/test_mlproject.py). `TrainSpec.create(**raw)` validates raw values (strings from the
command line or MLflow) and canonicalises every name at the edge, so nothing downstream
sees an alias or a typo. `identity()` holds the fields that define the result; its hash
identifies the run in the tracking store (a re-run of the same identity resumes or skips).
Machine-specific fields (data root, intervals, launcher) are not part of the identity.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from prove.errors import ProveError

STAGES: dict[str, str] = {
    "s1": "train on clear_day images only, test on every domain",
    "s2": "train on all domains, test on every domain",
    "cg": "train on Cityscapes, test in-domain (Cityscapes) and cross-domain (ACDC)",
}
AUX_LOSSES = ("none", "lovasz", "boundary", "focal")
MAIN_LOSSES = ("ce", "lovasz")
PRECISIONS = ("auto", "fp32", "tf32", "bf16")
SPEC_VERSION = 1  # bump when the meaning of a field changes; changes every hash


@dataclass(frozen=True)
class TrainSpec:
    # -- identity: these define the result ------------------------------------------------
    stage: str = "s1"
    dataset: str = "weather_bench"
    model: str = "fcn_r18-tiny"
    strategy: str = "baseline"
    ratio: float = 0.5  # fraction of REAL images per batch; forced to 1.0 without generated images
    aux_loss: str = "none"
    main_loss: str = "ce"
    pretrained: str = "false"  # true | false | path to a checkpoint
    max_iters: int = 2000
    batch_size: int = 8
    seed: int = 0
    crop_size: str = "auto"  # "HxW" or auto (the dataset's default crop)
    lr: str = "auto"  # a float, or auto = the model zoo's LR scaled linearly with batch size
    precision: str = "auto"  # auto = fp32 on CPU, tf32 on CUDA (docs/performance.md)
    manifest: str = ""  # generated-images manifest CSV (required for external generators)
    continue_from: str = ""  # spec hash of a finished training this one continues (extended training)
    # -- execution: how and where, not what -----------------------------------------------
    data_root: str = ""
    domain_csv: str = ""
    checkpoint_interval: int = 0  # 0 = auto: max_iters // 5
    eval_interval: int = 0  # 0 = auto: max_iters // 5
    work_dir: str = ""  # "" = ./work_dirs/<spec hash>

    IDENTITY = ("stage", "dataset", "model", "strategy", "ratio", "aux_loss", "main_loss", "pretrained",
                "max_iters", "batch_size", "seed", "crop_size", "lr", "precision", "manifest", "continue_from")

    @classmethod
    def create(cls, **raw: Any) -> "TrainSpec":
        """Validate and canonicalise raw values; unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ProveError(f"unknown train option(s) {sorted(unknown)}; accepted: {', '.join(sorted(known))}")
        values = {f.name: raw.get(f.name, f.default) for f in fields(cls)}
        return cls(**_validated(values))

    # -- identity and params ----------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        ident = {k: getattr(self, k) for k in self.IDENTITY}
        # the identity of a file is its content, not its path
        if self.pretrained not in ("true", "false"):
            ident["pretrained"] = "sha256:" + _file_digest(self.pretrained)
        if self.manifest:
            ident["manifest"] = "sha256:" + _file_digest(self.manifest)
        if not self.continue_from:  # added later: absent when unused, so earlier hashes stay valid
            del ident["continue_from"]
        ident["spec_version"] = SPEC_VERSION
        return ident

    def spec_hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_params(self) -> dict[str, str]:
        """Flat string params for MLflow (identity + execution fields that were set)."""
        return {k: str(v) for k, v in asdict(self).items() if v != "" or k in self.IDENTITY}

    @classmethod
    def from_params(cls, params: dict[str, str]) -> "TrainSpec":
        known = {f.name for f in fields(cls)}
        return cls.create(**{k: v for k, v in params.items() if k in known})

    @property
    def run_name(self) -> str:
        """e.g. `s1/bdd10k/segformer_mit-b3/gen_cycleGAN@0.5+lovasz`."""
        name = f"{self.stage}/{self.dataset}/{self.model}/{self.strategy}"
        if self.ratio != 1.0:
            name += f"@{self.ratio:g}"
        if self.aux_loss != "none":
            name += f"+{self.aux_loss}"
        if self.main_loss != "ce":
            name += f"+main_{self.main_loss}"
        if self.pretrained == "false":
            name += "+scratch"
        if self.continue_from:
            name += f"+cont_{self.continue_from[:6]}"
        return name

    @property
    def crop_hw(self) -> tuple[int, int]:
        if self.crop_size == "auto":
            from prove.data import DATASETS

            return tuple(DATASETS.get(self.dataset).crop_size)  # type: ignore[return-value]
        h, w = self.crop_size.split("x")
        return int(h), int(w)


# One line of help per option, shown by `prove train --help` and docs/train.md.
HELP: dict[str, str] = {
    "stage": "s1 (clear_day only), s2 (all domains) or cg (Cityscapes).",
    "dataset": "Dataset name (any accepted spelling); `prove datasets` lists them.",
    "model": "Model from the zoo; `prove models` lists them.",
    "strategy": "baseline, std_<name>, gen_<generator> or gen_<generator>+std_<name>.",
    "ratio": "Fraction of real images in every batch (0..1); 1.0 for strategies without generated images.",
    "aux_loss": "Auxiliary loss beside the main loss: none, lovasz, boundary, focal.",
    "main_loss": "Main loss: ce (cross-entropy) or lovasz.",
    "pretrained": "true (zoo ImageNet weights), false (from scratch) or a checkpoint path.",
    "max_iters": "Training iterations.",
    "batch_size": "Images per batch (per process under torchrun).",
    "seed": "Random seed; the run is a deterministic function of it on CPU.",
    "crop_size": "Training crop HxW, or auto (the dataset's default).",
    "lr": "Learning rate, or auto (zoo LR x batch_size / zoo batch size).",
    "precision": "auto (fp32 on CPU, tf32 on CUDA), fp32, tf32 or bf16.",
    "manifest": "Generated-images manifest CSV (needed for external generators).",
    "continue_from": "Spec hash of a finished training to continue (its weights and optimizer) up to max_iters.",
    "data_root": "Dataset root (default: $PROVE_<DATASET>_ROOT; the embedded benchmark needs none).",
    "domain_csv": "CSV image,domain for datasets without weather tags.",
    "checkpoint_interval": "Iterations between checkpoints (0 = max_iters // 5).",
    "eval_interval": "Iterations between validations (0 = max_iters // 5).",
    "work_dir": "Where checkpoints go (default: ./work_dirs/<spec hash>, or $PROVE_WORK_DIR/<hash>).",
}


def _file_digest(path: str) -> str:
    from prove.compat.checkpoint import file_sha256

    return file_sha256(path)[:16]


def _choice(name: str, value: Any, accepted: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in accepted:
        raise ProveError(f"invalid {name} {value!r}; accepted: {', '.join(accepted)}")
    return text


def _int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ProveError(f"invalid {name} {value!r}: expected an integer >= {minimum}") from None
    if number < minimum:
        raise ProveError(f"invalid {name} {value!r}: expected an integer >= {minimum}")
    return number


def _validated(v: dict[str, Any]) -> dict[str, Any]:
    from prove.data import DATASETS
    from prove.models import MODELS, get_model_card  # noqa: F401  (loads the zoo)
    from prove.strategies import parse_strategy

    out = dict(v)
    stage = str(v["stage"]).strip().lower().replace("stage", "s").replace("_", "")
    out["stage"] = _choice("stage", stage, tuple(STAGES))
    out["dataset"] = DATASETS.canonical(str(v["dataset"]))
    out["model"] = get_model_card(str(v["model"])).name
    strategy = parse_strategy(str(v["strategy"]))
    out["strategy"] = strategy.name
    try:
        ratio = float(v["ratio"])
    except ValueError:
        raise ProveError(f"invalid ratio {v['ratio']!r}: expected a number in 0..1") from None
    if not 0.0 <= ratio <= 1.0 or math.isnan(ratio):
        raise ProveError(f"invalid ratio {v['ratio']!r}: the fraction of real images must be in 0..1")
    out["ratio"] = ratio if strategy.uses_generated else 1.0
    out["aux_loss"] = _choice("aux_loss", v["aux_loss"], AUX_LOSSES)
    out["main_loss"] = _choice("main_loss", v["main_loss"], MAIN_LOSSES)
    if out["main_loss"] == "lovasz" and out["aux_loss"] == "lovasz":
        raise ProveError("aux_loss 'lovasz' with main_loss 'lovasz' counts Lovasz twice; pick one")
    pretrained = str(v["pretrained"]).strip()
    if pretrained.lower() in ("true", "false", "1", "0", "yes", "no"):
        out["pretrained"] = "true" if pretrained.lower() in ("true", "1", "yes") else "false"
    else:
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise ProveError(f"invalid pretrained {pretrained!r}: expected true, false or an existing checkpoint file")
        out["pretrained"] = str(path.resolve())
    out["max_iters"] = _int("max_iters", v["max_iters"], 1)
    out["batch_size"] = _int("batch_size", v["batch_size"], 1)
    out["seed"] = _int("seed", v["seed"], 0)
    out["checkpoint_interval"] = _int("checkpoint_interval", v["checkpoint_interval"], 0)
    out["eval_interval"] = _int("eval_interval", v["eval_interval"], 0)
    crop = str(v["crop_size"]).strip().lower()
    if crop != "auto":
        parts = crop.replace("*", "x").split("x")
        if len(parts) != 2 or not all(p.isdigit() and int(p) >= 16 for p in parts):
            raise ProveError(f"invalid crop_size {v['crop_size']!r}: expected HxW (e.g. 512x512, each >= 16) or auto")
        crop = f"{int(parts[0])}x{int(parts[1])}"
    out["crop_size"] = crop
    lr = str(v["lr"]).strip().lower()
    if lr != "auto":
        try:
            value = float(lr)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ProveError(f"invalid lr {v['lr']!r}: expected a positive number or auto")
        lr = repr(value)
    out["lr"] = lr
    out["precision"] = _choice("precision", v["precision"], PRECISIONS)
    manifest = str(v["manifest"] or "").strip()
    if manifest:
        if not strategy.uses_generated:
            raise ProveError(f"a manifest was given but strategy {strategy.name!r} uses no generated images")
        if not Path(manifest).expanduser().is_file():
            raise ProveError(f"manifest not found: {manifest!r}")
        manifest = str(Path(manifest).expanduser().resolve())
    elif strategy.uses_generated:
        from prove.generators import get_generator

        if not get_generator(strategy.generator).offline:
            raise ProveError(
                f"strategy {strategy.name!r} uses the external generator {strategy.generator!r}: "
                f"pass its images with manifest=<CSV> (docs/generated-images.md)"
            )
    out["manifest"] = manifest
    out["continue_from"] = str(v["continue_from"] or "").strip().lower()
    if out["continue_from"] and not re.fullmatch(r"[0-9a-f]{16}", out["continue_from"]):
        raise ProveError(f"invalid continue_from {v['continue_from']!r}: expected the 16-hex spec hash of a "
                         "finished training (the prove.spec_hash tag of its run)")
    if out["stage"] == "cg" and out["dataset"] != "cityscapes":
        raise ProveError(f"stage 'cg' trains on cityscapes; got dataset {out['dataset']!r}")
    for key in ("data_root", "domain_csv", "work_dir"):
        out[key] = str(v[key] or "").strip()
    return out


def options_markdown() -> str:
    """The train options as a markdown table (docs/train.md embeds it; a test keeps them equal)."""
    rows = ["| option | default | in the spec hash | meaning |", "|---|---|---|---|"]
    for f in fields(TrainSpec):
        default = f'`{f.default}`' if f.default != "" else '(empty)'
        rows.append(f"| `{f.name}` | {default} | {'yes' if f.name in TrainSpec.IDENTITY else 'no'} | {HELP[f.name]} |")
    return "\n".join(rows)
