"""What a user asks for: `TrainSpec` (the identity of a training, the one home of its
defaults), the study's stages, and `option()`, the field helper every verb's request uses.

Every verb has a request dataclass whose fields are declared with `option(default, help)`:
the CLI builds its options from them (`prove.cli`), MLproject is generated from the same
fields (tests/test_mlproject.py fails when the file drifts), and docs tables read them. So a
default is written once. `TrainSpec.create(**raw)` validates raw values (strings from the
command line or MLflow) and canonicalises every name at the edge, so nothing downstream sees
an alias or a typo. `identity()` holds the fields that define the result; its hash
identifies the run in the tracking store (a re-run of the same identity resumes or skips).
Machine-specific fields (data root, intervals, work dir) are not part of the identity.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from prove.errors import ProveError
from prove.registry import Registry

PRECISIONS = ("auto", "fp32", "tf32", "bf16")
RUN_NAME_SEPARATOR = " · "  # run names: strategy · stage · dataset · model
EXPERIMENT_HELP = ("MLflow experiment (default: the one `mlflow run` launched in, else $MLFLOW_EXPERIMENT_NAME, "
                   "else prove).")
SPEC_VERSION = 1  # bump when the meaning of a field changes; changes every hash


# -- request fields -------------------------------------------------------------------------

def option(default: Any = MISSING, help: str = "", *, argument: bool = False, many: bool = False,
           path: bool = False, envvar: str | None = None, choices: tuple[str, ...] | None = None,
           minimum: int | None = None, maximum: int | None = None) -> Any:
    """A request field: its default and its one line of help, read by the CLI, MLproject and docs.

    `argument`: a positional CLI argument (required, no default; `many`: one or more of them).
    `path`: the value is a file (MLflow type `path`). A `bool` default is a CLI flag, which
    MLflow cannot pass, so flags are CLI-only. No default and no `argument`: a required option.
    `envvar`, `choices`, `minimum` and `maximum` refine the CLI option (click checks them
    before the verb runs).
    """
    metadata = dict(help=help, argument=argument, many=many, path=path, envvar=envvar, choices=choices,
                    minimum=minimum, maximum=maximum)
    return field(default=default, metadata=metadata) if default is not MISSING else field(metadata=metadata)


def request_fields(cls) -> list[Field]:
    """The option fields of a request dataclass, in declaration order."""
    return [f for f in fields(cls) if "help" in f.metadata]


def load_declarations() -> None:
    """What a lab declares outside prove's source, loaded by the CLI and by every sweep worker:
    the modules of PROVE_PLUGINS and the generators of `generators.yaml` files."""
    from prove.generators.declared import load_declared_generators
    from prove.settings import load_plugins

    load_plugins()
    load_declared_generators()


def help_of(cls, name: str) -> str:
    return next(f.metadata["help"] for f in fields(cls) if f.name == name)


# -- stages -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """A stage of the study: what a training in it sees, and how users write its name."""

    name: str
    description: str
    train_on: str  # "clear_day" | "all_domains" | "all_images" (see `train_domains`)
    dataset: str | None = None  # the one dataset the stage trains on (cg: cityscapes)
    aliases: tuple[str, ...] = ()

    def train_domains(self) -> tuple[str, ...] | None:
        """The weather domains its trainings use; None = every image (no domain needed)."""
        from prove.data.domains import CLEAR_DAY, DOMAINS

        return {"clear_day": (CLEAR_DAY,), "all_domains": DOMAINS, "all_images": None}[self.train_on]


# Declared with `STAGES.declare(Stage(...))`. The aliases are the users' own spellings
# (`stage1`, `Stage 1`, `--stage 1`, `S1`, `cityscapes-gen`); spelling is case-, space-, `-`-
# and `_`-insensitive (prove.registry.normalize).
STAGES: Registry[Stage] = Registry("stage")
STAGES.declare(Stage("s1", "train on clear_day images only, test on every domain", "clear_day",
                     aliases=("stage1", "1")))
# S2 trains on every image, so a dataset without weather tags trains in S2 too (only its
# per-domain breakdowns need a domain CSV).
STAGES.declare(Stage("s2", "train on all domains (every image), test on every domain", "all_images",
                     aliases=("stage2", "2")))
STAGES.declare(Stage("cg", "train on Cityscapes, test in-domain (Cityscapes) and cross-domain (ACDC)",
                     "all_images", dataset="cityscapes", aliases=("cityscapes-gen", "cityscapes_generated")))


@dataclass(frozen=True)
class TrainSpec:
    # -- identity: these define the result ------------------------------------------------
    stage: str = option("s1", "s1 (clear_day only), s2 (all domains) or cg (Cityscapes); also stage1, 'Stage 1', 1, "
                        "cityscapes-gen.")
    dataset: str = option("weather_bench", "Dataset name (any accepted spelling); `prove list datasets` lists them.")
    model: str = option("fcn_r18-tiny", "Model from the zoo; `prove list models` lists them.")
    strategy: str = option("baseline", "baseline, std_<name>, gen_<generator> or gen_<generator>+std_<name>; "
                           "`prove list strategies`.")
    # fraction of REAL images per batch; forced to 1.0 without generated images
    ratio: float = option(0.5, "Fraction of real images in every batch (0..1); 1.0 for strategies without "
                          "generated images.")
    ratio_schedule: str = option("constant", "How the real fraction moves over training: constant, linear (all real "
                                 "-> ratio), early (generated images in the first part only), late (in the last "
                                 "part only); `prove list schedules`.")
    ratio_schedule_split: float = option(0.5, "early/late: the fraction of max_iters where the two parts meet.")
    gen_domains: str = option("", "Keep only the generated images whose target_domain is one of these "
                              "(comma-separated, e.g. night,foggy; the rows left out are counted and logged); "
                              "empty = every generated image.")
    aux_loss: str = option("none", "Auxiliary loss beside the main loss: none, lovasz, boundary, focal "
                           "(`prove list losses`).")
    main_loss: str = option("ce", "Main loss: ce (cross-entropy) or lovasz.")
    pretrained: str = option("auto", "true (zoo ImageNet weights), false (from scratch), a checkpoint path, or auto "
                             "(the protocol: docs/train.md#protocol).")
    max_iters: int = option("auto", "Training iterations, or auto (the protocol: 15k S1/S2, 20k CG, 40k from scratch; "
                            "2000 for tiny models and the embedded benchmark).")
    batch_size: int = option("auto", "Images per batch (per process under torchrun), or auto (the protocol: 16; 8 for "
                             "tiny models and the embedded benchmark).")
    seed: int = option(0, "Random seed; the run is a deterministic function of it on CPU.")
    crop_size: str = option("auto", "Training crop HxW, or auto (the dataset's default).")
    lr: str = option("auto", "Learning rate, or auto (zoo LR x batch_size / zoo batch size).")
    precision: str = option("auto", "auto (fp32 on CPU, tf32 on CUDA), fp32, tf32 or bf16.")
    manifest: str = option("", "Generated-images manifest CSV (needed for external generators).")
    continue_from: str = option("", "Spec hash of a finished training to continue (its weights and optimizer) "
                                "up to max_iters.")
    # -- execution: how and where, not what -----------------------------------------------
    data_root: str = option("", "Dataset root (default: $PROVE_<DATASET>_ROOT; the embedded benchmark needs none).")
    domain_csv: str = option("", "CSV image,domain for datasets without weather tags.")
    split_csv: str = option("", "CSV image,split (train/val/test) replacing the dataset's own splits: a held-out "
                            "test split.")
    checkpoint_interval: int = option(0, "Iterations between checkpoints (0 = the protocol: every 2k, 5k for runs of "
                                      "40k+; max_iters // 5 for quick runs).")
    eval_interval: int = option(0, "Iterations between validations (0 = as checkpoint_interval).")
    work_dir: str = option("", "Where checkpoints go (default: ./work_dirs/<spec hash>, or $PROVE_WORK_DIR/<hash>).")

    IDENTITY = ("stage", "dataset", "model", "strategy", "ratio", "ratio_schedule", "ratio_schedule_split",
                "gen_domains", "aux_loss", "main_loss", "pretrained", "max_iters", "batch_size", "seed", "crop_size", "lr",
                "precision", "manifest", "continue_from")

    @classmethod
    def create(cls, for_existing_run: bool = False, **raw: Any) -> "TrainSpec":
        """Validate and canonicalise raw values; unknown keys are errors.

        `for_existing_run`: the spec of a training that already exists (read back from the store,
        or adopted from a checkpoint folder): the files it was trained from (pretrained weights,
        manifest) are not required on this machine, since nothing will be trained from them."""
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ProveError(f"unknown train option(s) {sorted(unknown)}; accepted: {', '.join(sorted(known))}")
        values = {f.name: raw.get(f.name, f.default) for f in fields(cls)}
        return cls(**_validated(values, existing=for_existing_run))

    # -- identity and params ----------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        ident = {k: getattr(self, k) for k in self.IDENTITY}
        # the identity of a file is its content, not its path
        if self.pretrained not in ("true", "false"):
            ident["pretrained"] = file_identity(self.pretrained)
        if self.manifest:
            ident["manifest"] = file_identity(self.manifest)
        # added later: absent when unused, so earlier hashes stay valid
        if not self.continue_from:
            del ident["continue_from"]
        if self.ratio_schedule == "constant":
            del ident["ratio_schedule"]
        if self.ratio_schedule in ("constant", "linear"):  # only early and late have a split
            del ident["ratio_schedule_split"]
        if not self.gen_domains:
            del ident["gen_domains"]
        ident["spec_version"] = SPEC_VERSION
        return ident

    def spec_hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_params(self) -> dict[str, str]:
        """Flat string params for MLflow (identity + execution fields that were set)."""
        return {k: str(v) for k, v in asdict(self).items() if v != "" or k in self.IDENTITY}

    @classmethod
    def from_params(cls, params: dict[str, str], for_existing_run: bool = False) -> "TrainSpec":
        known = {f.name for f in fields(cls)}
        return cls.create(for_existing_run, **{k: v for k, v in params.items() if k in known})

    @property
    def run_name(self) -> str:
        """e.g. `gen_cycleGAN@0.5+lovasz · s1 · bdd10k · segformer_mit-b3`: what users compare
        first (the strategy and its settings), so it stays readable in the MLflow UI's narrow
        Run Name column; the full spec is in the run's params and tags."""
        name = self.strategy
        if self.ratio != 1.0:
            name += f"@{self.ratio:g}"
        if self.ratio_schedule != "constant":
            name += f"+sched_{self.ratio_schedule}"
            if self.ratio_schedule_split != 0.5:
                name += f"{self.ratio_schedule_split:g}"
        if self.gen_domains:
            name += f"+only_{self.gen_domains}"
        if self.aux_loss != "none":
            name += f"+{self.aux_loss}"
        if self.main_loss != "ce":
            name += f"+main_{self.main_loss}"
        if self.pretrained == "false":
            name += "+scratch"
        # a batch size other than the protocol's (the batch-size study): four runs of one name otherwise
        word = self.pretrained if self.pretrained in ("true", "false") else "true"
        if self.batch_size != protocol_of(self.model, self.stage, self.dataset, word).batch_size:
            name += f"+bs{self.batch_size}"
        if self.continue_from:
            name += f"+cont_{self.continue_from[:6]}"
        return RUN_NAME_SEPARATOR.join((name, self.stage, self.dataset, self.model))

    @property
    def crop_hw(self) -> tuple[int, int]:
        if self.crop_size == "auto":
            from prove.data import DATASETS

            return tuple(DATASETS.get(self.dataset).crop_size)  # type: ignore[return-value]
        h, w = self.crop_size.split("x")
        return int(h), int(w)


def stage_of(value: Any) -> Stage:
    """The stage for any of the users' spellings, or an error listing them."""
    text = str(value).strip()
    if text not in STAGES:
        spellings = ", ".join(a for s in STAGES.names() for a in STAGES.get(s).aliases)
        raise ProveError(f"unknown stage {value!r}; accepted: {', '.join(STAGES.names())} (also written {spellings})")
    return STAGES.get(text)


def file_identity(path: str) -> str:
    """How a spec names a file it depends on: by content (`sha256:<16 hex>`), not by path."""
    from prove.files import short_digest

    return "sha256:" + short_digest(path)


def _choice(name: str, value: Any, accepted: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in accepted:
        raise ProveError(f"invalid {name} {value!r}; accepted: {', '.join(accepted)}")
    return text


def _auto(value: Any) -> bool:
    return str(value).strip().lower() == "auto"


def protocol_of(model: str, stage: str, dataset: str, pretrained: str = "auto"):
    """The training protocol (prove.models.protocol) of a model, stage and dataset."""
    from prove.data import DATASETS
    from prove.models import get_model_card
    from prove.models.protocol import protocol_for

    card = get_model_card(model)
    return protocol_for(card.name, bool(card.pretrained), card.tiny, stage, DATASETS.get(dataset).embedded,
                        pretrained)



def _schedule(v: dict, ratio: float) -> tuple[str, float]:
    """The ratio schedule and its split, canonical: a run whose batches are all real (ratio 1, or
    a strategy without generated images) has nothing to schedule and is `constant`."""
    from prove.data.schedules import DEFAULT_SPLIT, SCHEDULES

    name = str(v["ratio_schedule"]).strip()
    if name not in SCHEDULES:
        raise ProveError(f"unknown ratio_schedule {name!r}; accepted: {', '.join(SCHEDULES.names())} "
                         f"(`prove list schedules`)")
    schedule = SCHEDULES.get(name)
    try:
        split = float(v["ratio_schedule_split"])
    except ValueError:
        raise ProveError(f"invalid ratio_schedule_split {v['ratio_schedule_split']!r}: expected a number in "
                         "(0, 1)") from None
    if not 0.0 < split < 1.0:
        raise ProveError(f"invalid ratio_schedule_split {split:g}: the boundary between the two parts must be "
                         "in (0, 1), a fraction of max_iters")
    if split != DEFAULT_SPLIT and not schedule.uses_split:
        raise ProveError(f"ratio_schedule_split {split:g} has no effect with ratio_schedule {schedule.name!r}; "
                         f"it moves the boundary of {', '.join(n for n, s in SCHEDULES.items() if s.uses_split)}")
    if ratio == 1.0:
        return "constant", DEFAULT_SPLIT
    return schedule.name, split if schedule.uses_split else DEFAULT_SPLIT


def _gen_domains(value: Any) -> str:
    """`night, Foggy` -> `foggy,night`: known weather domains, in the vocabulary's order, once each."""
    from prove.data.domains import DOMAINS

    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    names = [n.strip().lower() for n in str(value).split(",") if n.strip()]
    unknown = [n for n in names if n not in DOMAINS]
    if unknown:
        raise ProveError(f"unknown domain(s) in gen_domains: {', '.join(map(repr, unknown))}; accepted: "
                         f"{', '.join(DOMAINS)}")
    return ",".join(d for d in DOMAINS if d in names)


def _role(name: str, value: Any, accepted: tuple[str, ...], registry: Registry) -> str:
    """A loss name in one role (main or aux): any spelling of a declared loss that has the role."""
    text = str(value).strip()
    canonical = registry.canonical(text) if text in registry else text
    if canonical not in accepted:
        raise ProveError(f"invalid {name} {value!r}; accepted: {', '.join(accepted)}")
    return canonical


def _int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ProveError(f"invalid {name} {value!r}: expected an integer >= {minimum}") from None
    if number < minimum:
        raise ProveError(f"invalid {name} {value!r}: expected an integer >= {minimum}")
    return number


def _validated(v: dict[str, Any], existing: bool = False) -> dict[str, Any]:
    from prove.data import DATASETS
    from prove.models import LOSSES, get_model_card
    from prove.models.losses import aux_losses, main_losses
    from prove.strategies import parse_strategy

    out = dict(v)
    stage = stage_of(v["stage"])
    out["stage"] = stage.name
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
    out["ratio_schedule"], out["ratio_schedule_split"] = _schedule(v, out["ratio"])
    out["gen_domains"] = _gen_domains(v["gen_domains"]) if strategy.uses_generated and out["ratio"] < 1.0 else ""
    out["aux_loss"] = _role("aux_loss", v["aux_loss"], aux_losses(), LOSSES)
    out["main_loss"] = _role("main_loss", v["main_loss"], main_losses(), LOSSES)
    if out["main_loss"] == "lovasz" and out["aux_loss"] == "lovasz":
        raise ProveError("aux_loss 'lovasz' with main_loss 'lovasz' counts Lovasz twice; pick one")
    pretrained = str(v["pretrained"]).strip()
    words = {"true": "true", "1": "true", "yes": "true", "false": "false", "0": "false", "no": "false", "auto": "auto"}
    protocol = protocol_of(out["model"], out["stage"], out["dataset"], words.get(pretrained.lower(), pretrained))
    if pretrained.lower() == "auto":
        pretrained = protocol.pretrained
    if pretrained.lower() in ("true", "false", "1", "0", "yes", "no"):
        out["pretrained"] = "true" if pretrained.lower() in ("true", "1", "yes") else "false"
    else:
        path = Path(pretrained).expanduser()
        if not path.is_file() and not existing:
            raise ProveError(f"invalid pretrained {pretrained!r}: expected true, false or an existing checkpoint file")
        out["pretrained"] = str(path.resolve()) if path.is_file() else pretrained
    out["max_iters"] = protocol.max_iters if _auto(v["max_iters"]) else _int("max_iters", v["max_iters"], 1)
    out["batch_size"] = protocol.batch_size if _auto(v["batch_size"]) else _int("batch_size", v["batch_size"], 1)
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
        if Path(manifest).expanduser().is_file():
            manifest = str(Path(manifest).expanduser().resolve())
        elif not existing:
            raise ProveError(f"manifest not found: {manifest!r}")
    elif strategy.uses_generated and not existing:
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
    if stage.dataset and out["dataset"] != stage.dataset:
        raise ProveError(f"stage {stage.name!r} trains on {stage.dataset}; got dataset {out['dataset']!r}")
    for key in ("data_root", "domain_csv", "split_csv", "work_dir"):
        out[key] = str(v[key] or "").strip()
    return out


def options_markdown() -> str:
    """The train options as a markdown table (docs/train.md embeds it; a test keeps them equal)."""
    rows = ["| option | default | in the spec hash | meaning |", "|---|---|---|---|"]
    for f in request_fields(TrainSpec):
        default = f'`{f.default}`' if f.default != "" else '(empty)'
        rows.append(f"| `{f.name}` | {default} | {'yes' if f.name in TrainSpec.IDENTITY else 'no'} | "
                    f"{f.metadata['help']} |")
    return "\n".join(rows)
