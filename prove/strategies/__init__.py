"""Augmentation strategies: declared once, parsed from the users' names.

A strategy name is one of
- `baseline`: real images, the standard geometric pipeline (RandomResize 0.5-2.0, RandomCrop,
  RandomFlip);
- `std_<name>`: the baseline plus a standard augmentation (declared below);
- `gen_<generator>`: real images mixed with images of a registered generator
  (`prove.generators.GENERATORS`; `gen_random_noise` is the noise control), at `ratio`;
- `gen_<generator>+std_<name>`: both; the std transforms apply to real and generated images,
  which share one pipeline.

Per-sample transforms are written into the pipeline of the dataset that is actually built;
batch mixing (CutMix, MixUp) lives in the model's data preprocessor. The training audit reads
both back from the built objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prove.errors import ProveError
from prove.registry import Registry

BASELINE = "baseline"
STD_PREFIX, GEN_PREFIX = "std_", "gen_"
# What analyses group strategies by (`Strategy.family`); the baseline is its own family.
STRATEGY_FAMILIES: tuple[str, ...] = (BASELINE, "standard", "generative", "control", "combination")


@dataclass(frozen=True)
class StandardStrategy:
    """Baseline or a `std_*` strategy.

    `transforms`: mmseg transform dicts added after RandomFlip (before packing), applied to every
    training image. `batch_mix`: arguments of `MixSegDataPreProcessor` (CutMix/MixUp need two
    images, so they act on batches). `modifies_labels`: whether what the strategy adds changes
    the label maps a model is trained on (geometric ops, pasted boxes, blended targets) or only
    the pixels (photometric ops); tests and docs read it.
    """

    name: str
    description: str
    transforms: tuple[dict, ...] = ()
    batch_mix: dict | None = field(default=None)
    modifies_labels: bool = False
    aliases: tuple[str, ...] = ()


# Declared with `STANDARD.declare(StandardStrategy(...))`.
STANDARD: Registry[StandardStrategy] = Registry("standard strategy")

STANDARD.declare(StandardStrategy(
    BASELINE, "real images, geometric pipeline only (RandomResize 0.5-2.0, RandomCrop, RandomFlip)"))
STANDARD.declare(StandardStrategy(
    "std_photometric_distort",
    "mmseg PhotoMetricDistortion (brightness, contrast, saturation, hue) at its default strengths",
    transforms=(dict(type="LUTPhotoMetricDistortion"),),  # mmseg's, exactly, by lookup tables
))
STANDARD.declare(StandardStrategy(
    "std_minimal",
    "a mild PhotoMetricDistortion (brightness +-16, contrast/saturation 0.8-1.2, hue +-9)",
    transforms=(dict(type="LUTPhotoMetricDistortion", brightness_delta=16, contrast_range=(0.8, 1.2),
                     saturation_range=(0.8, 1.2), hue_delta=9),),
))
STANDARD.declare(StandardStrategy(
    "std_autoaugment",
    "AutoAugment ImageNet policy; geometric ops move image and label together",
    transforms=(dict(type="SegAutoAugment", policy="imagenet"),),
    modifies_labels=True,
))
STANDARD.declare(StandardStrategy(
    "std_randaugment",
    "RandAugment, 2 ops at magnitude 9; geometric ops move image and label together",
    transforms=(dict(type="SegRandAugment", num_ops=2, magnitude=9),),
    modifies_labels=True,
))
STANDARD.declare(StandardStrategy(
    "std_cutmix",
    "CutMix on half the batches: a box of a partner image pasted with its labels",
    batch_mix=dict(mix="cutmix", prob=0.5, alpha=1.0),
    modifies_labels=True,
))
STANDARD.declare(StandardStrategy(
    "std_mixup",
    "MixUp on half the batches: images blended, loss = lam*L(y) + (1-lam)*L(y_partner)",
    batch_mix=dict(mix="mixup", prob=0.5, alpha=0.2),
    modifies_labels=True,
))


@dataclass(frozen=True)
class Strategy:
    """A parsed strategy name: a standard part (at least `baseline`) and an optional generator."""

    standard: StandardStrategy
    generator: str | None = None  # canonical generator name

    @property
    def name(self) -> str:
        if self.generator is None:
            return self.standard.name
        gen = GEN_PREFIX + self.generator
        return gen if self.standard.name == BASELINE else f"{gen}+{self.standard.name}"

    @property
    def uses_generated(self) -> bool:
        return self.generator is not None

    @property
    def family(self) -> str:
        """baseline | standard | generative | control | combination (for analyses)."""
        if self.generator is None:
            return "baseline" if self.standard.name == BASELINE else "standard"
        if self.standard.name != BASELINE:
            return "combination"
        from prove.generators import get_generator

        return "control" if get_generator(self.generator).family == "control" else "generative"

    @property
    def generator_family(self) -> str | None:
        if self.generator is None:
            return None
        from prove.generators import get_generator

        return get_generator(self.generator).family


def accepted_names() -> list[str]:
    """Every strategy name the CLI accepts (combinations are any gen_* + any std_*)."""
    from prove.generators import GENERATORS

    return [*STANDARD.names(), *(GEN_PREFIX + g for g in GENERATORS.names()), "gen_<generator>+std_<name>"]


def parse_strategy(text: str) -> Strategy:
    """Parse a strategy name; unknown parts raise a `ProveError` listing the accepted names."""
    parts = [p.strip() for p in text.split("+")]
    gens = [p for p in parts if p.lower().startswith(GEN_PREFIX)]
    stds = [p for p in parts if not p.lower().startswith(GEN_PREFIX)]
    if not text.strip() or len(gens) > 1 or len(stds) > 1 or "" in parts:
        raise ProveError(
            f"cannot parse strategy {text!r}: expected baseline, std_<name>, gen_<generator> "
            f"or gen_<generator>+std_<name>; accepted: {', '.join(accepted_names())}"
        )
    try:
        standard = STANDARD.get(stds[0]) if stds else STANDARD.get(BASELINE)
    except ProveError as exc:
        raise ProveError(f"unknown strategy {text!r}: {exc}") from None
    if gens and standard.name == BASELINE and stds:
        raise ProveError(f"strategy {text!r}: combine a generator with a std_ strategy, not with baseline")
    generator = None
    if gens:
        from prove.generators import GENERATORS

        try:
            generator = GENERATORS.canonical(gens[0][len(GEN_PREFIX):])
        except ProveError as exc:
            from prove.generators.declared import HOW_TO_DECLARE

            raise ProveError(f"unknown strategy {text!r}: {exc}. A generator prove does not know yet: "
                             f"{HOW_TO_DECLARE}") from None
    return Strategy(standard, generator)


__all__ = ["BASELINE", "STANDARD", "STRATEGY_FAMILIES", "StandardStrategy", "Strategy", "accepted_names",
           "parse_strategy"]
