"""A validated spec resolved once: everything a training needs to know, decided in one place.

`resolve(spec)` reads the registries once (strategy, model card and recipe, stage, dataset
adapter), opens the data (generating the embedded benchmark or an offline generator's images
on first use) and computes every `auto` value (learning rate, warm-up, intervals, precision,
crop). The result, a `ResolvedTraining`, is what the config builder, the pipeline audit, the
run's params and tags and the training loop all read, so none of them parses a name again.

Budget (iterations, batch, pretrained, intervals): the users' protocol for real work, quick
defaults for tiny models and the embedded benchmark (prove.models.protocol; `max_iters`,
`batch_size` and `pretrained` are resolved when the spec is created, the intervals here).
Learning rate: the protocol's where it names one, else the model zoo's LR scaled linearly with
the batch size (lr = zoo_lr * batch_size / zoo_batch_size, Goyal et al. 2017), unless given.
Schedule: linear warm-up over min(1000, max_iters // 10) iterations, then the zoo's poly decay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prove.data.base import DatasetAdapter, open_adapter
from prove.data.domains import ADVERSE_DOMAINS, CLEAR_DAY
from prove.errors import ProveError
from prove.models import ModelCard, TrainRecipe, check_available, train_recipe
from prove.settings import cache_dir, work_root
from prove.spec import STAGES, Stage, TrainSpec, protocol_of
from prove.strategies import Strategy, parse_strategy

MAX_WARMUP = 1000
# MMEngine's LinearLR over a single iteration never raises the LR (it is inactive at its own
# end step), so a warm-up shorter than this is no warm-up: the LR starts at its target.
MIN_WARMUP = 2
GENERATION_SEED = 0  # generated sets are data, shared by every training seed


@dataclass(frozen=True)
class DataPlan:
    """Where a training's data comes from; decided once (on rank 0 under torchrun) and shared."""

    root: str  # the dataset root actually used
    domain_csv: str
    split_csv: str
    train_domains: tuple[str, ...] | None  # None = every image (datasets without domains, stage cg)
    manifest: str  # "" when the strategy uses no generated images
    gen_domains: tuple[str, ...] = ()  # keep only generated images aiming at these (empty: all)


@dataclass(frozen=True)
class ResolvedTraining:
    spec: TrainSpec
    spec_hash: str
    stage: Stage
    strategy: Strategy
    card: ModelCard
    recipe: TrainRecipe
    data: DataPlan
    crop: tuple[int, int]  # (H, W)
    scale: tuple[int, int]  # (W, H) the dataset's RandomResize / test scale
    lr: float
    warmup_iters: int
    checkpoint_interval: int
    eval_interval: int
    precision: str  # fp32 | tf32 | bf16, for this machine
    protocol: str = "quick"  # study | quick: what `auto` resolved from (prove.models.protocol)

    @property
    def adapter(self) -> DatasetAdapter:
        return open_adapter(self.spec.dataset, self.data.root, self.data.domain_csv or None, self.data.split_csv or None)

    @property
    def pretrained_source(self) -> str | None:
        """The weights the backbone starts from: the zoo's URL, a checkpoint path, or None."""
        if self.spec.pretrained == "false":
            return None
        return self.card.pretrained if self.spec.pretrained == "true" else self.spec.pretrained

    def work_dir(self) -> str:
        return str((work_root(self.spec.work_dir) / self.spec_hash).resolve())

    def params(self) -> dict[str, str]:
        """The run's params: the spec, and every value prove resolved for it (`resolved.*`)."""
        return {
            **self.spec.to_params(),
            "resolved.protocol": self.protocol,
            "resolved.lr": f"{self.lr:.6g}",
            "resolved.precision": self.precision,
            "resolved.memory_format": "channels_last" if self.card.channels_last else "contiguous",
            "resolved.crop_size": "x".join(map(str, self.crop)),
            "resolved.warmup_iters": str(self.warmup_iters),
            "resolved.checkpoint_interval": str(self.checkpoint_interval),
            "resolved.eval_interval": str(self.eval_interval),
            "resolved.train_domains": ",".join(self.data.train_domains) if self.data.train_domains else "all",
            "resolved.manifest": self.data.manifest or "none",
            **{f"data.{k}": v for k, v in self.adapter.settings().items()},
            "strategy_family": self.strategy.family,
            "generator": self.strategy.generator or "none",
        }


def resolve(spec: TrainSpec, cuda: bool = False, data: DataPlan | None = None,
            fetch_weights: bool = False) -> ResolvedTraining:
    """Resolve `spec` for this machine; `data` skips opening the data (given by rank 0);
    `fetch_weights` downloads the zoo's pretrained weights now, before the (slower) data."""
    card = check_available(spec.model)
    stage = STAGES.get(spec.stage)
    strategy = parse_strategy(spec.strategy)
    recipe = train_recipe(card.name)
    precision = resolved_precision(spec.precision, cuda)
    if fetch_weights and spec.pretrained == "true" and card.pretrained:
        fetch_pretrained(spec.model, card.pretrained)
    data = data or prepare_data(spec, stage, strategy)
    adapter_cls = type(open_adapter(spec.dataset, data.root, data.domain_csv or None, data.split_csv or None))
    protocol = protocol_of(spec.model, spec.stage, spec.dataset, spec.pretrained)
    auto_interval = protocol.interval(spec.max_iters)
    if spec.lr != "auto":
        lr = float(spec.lr)
    elif protocol.lr is not None:  # the protocol's own (mask2former: 4e-4 at batch 8)
        lr = protocol.lr * spec.batch_size / protocol.batch_size
    else:
        lr = recipe.optim_wrapper["optimizer"]["lr"] * spec.batch_size / recipe.base_batch_size
    return ResolvedTraining(
        spec=spec, spec_hash=spec.spec_hash(), stage=stage, strategy=strategy, card=card, recipe=recipe, data=data,
        crop=spec.crop_hw, scale=tuple(adapter_cls.scale), lr=lr,
        warmup_iters=warmup_iters(spec.max_iters),
        checkpoint_interval=spec.checkpoint_interval or auto_interval,
        eval_interval=spec.eval_interval or spec.checkpoint_interval or auto_interval, precision=precision,
        protocol=protocol.name)


def warmup_iters(max_iters: int) -> int:
    """Linear warm-up over a tenth of the training, at most 1000 iterations, at least 2 (or none)."""
    warm = min(MAX_WARMUP, max_iters // 10)
    return warm if warm >= MIN_WARMUP else 0


def fetch_pretrained(model: str, url: str | None) -> None:
    """Fetch the zoo's ImageNet weights now (cached by torch.hub), so an unreachable URL is a
    clear error before any run exists, not a crash inside the Runner."""
    from mmengine.runner.checkpoint import CheckpointLoader

    try:
        CheckpointLoader.load_checkpoint(url, map_location="cpu")
    except Exception as exc:  # network errors come in many types
        raise ProveError(
            f"could not fetch the ImageNet weights of {model} ({url}): {str(exc).splitlines()[0][:200]}. "
            "Download them where there is network and pass pretrained=<path>, or use pretrained=false"
        ) from None


def resolved_precision(precision: str, cuda: bool) -> str:
    if precision == "auto":
        return "tf32" if cuda else "fp32"
    if precision in ("tf32", "bf16") and not cuda:
        raise ProveError(f"precision {precision!r} needs a CUDA GPU; use fp32 (or auto) on this machine")
    return precision


def prepare_data(spec: TrainSpec, stage: Stage | None = None, strategy: Strategy | None = None) -> DataPlan:
    """Open the dataset (generating the embedded one on first use) and the generated images."""
    stage = stage or STAGES.get(spec.stage)
    strategy = strategy or parse_strategy(spec.strategy)
    adapter = open_adapter(spec.dataset, spec.data_root or None, spec.domain_csv or None, spec.split_csv or None)
    domains = stage.train_domains()
    samples = adapter.samples("train", need_domains=domains is not None)
    if domains is not None and not any(s.domain in domains for s in samples):
        raise ProveError(f"dataset {spec.dataset!r} has no training images in {', '.join(domains)} (stage {spec.stage})")
    manifest = spec.manifest
    if strategy.uses_generated and not manifest:
        has_clear = any(s.domain == CLEAR_DAY for s in samples)
        manifest = str(ensure_generated(strategy.generator, adapter, from_clear_day=has_clear))
    gen_domains = tuple(d for d in spec.gen_domains.split(",") if d)
    if manifest and gen_domains:
        from prove.data.manifest import check_target_domains

        check_target_domains(manifest, adapter.name, gen_domains)
    return DataPlan(root=str(adapter.root), domain_csv=str(adapter.domain_csv or ""),
                    split_csv=str(adapter.split_csv or ""), train_domains=domains, manifest=manifest,
                    gen_domains=gen_domains)


def ensure_generated(generator: str, adapter: DatasetAdapter, from_clear_day: bool) -> Path:
    """Images of an offline generator for this dataset's training split, made once and cached.

    Sources are the clear_day images where the dataset has them (generators translate clear
    weather into adverse weather), else every training image; targets are the generator's
    adverse domains.
    """
    import click

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
    click.echo(f"generating {gen.name} images for {adapter.name} (once; cached in {out_dir})", err=True)
    return generate(gen, adapter, "train", out_dir, target_domains=targets, seed=GENERATION_SEED,
                    source_domains=sources, progress=True)
