"""Built-in sweeps: the users' studies and ablations (docs/ablation.md#presets), and the demo's grid.

Each preset is declared once, `PRESETS.declare(Preset(name, description, build))`: `build`
returns a sweep mapping (the YAML form, see prove.sweeps.definition), so its strategy, dataset
and model lists are read from the registries when it is used: a strategy or generator
declared once appears in every preset that takes "all strategies". Declaring a preset imports
nothing heavy, so the CLI lists them in its help.

External generators' images are found through `manifests`: by default
`$PROVE_GENERATED_ROOT/<generator>/<dataset>/manifest.csv`; a combination whose manifest is
missing is listed as blocked in the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from prove.errors import ProveError
from prove.registry import Registry

STUDY_DATASETS = ["bdd10k", "iddaw", "mapillary", "outside15k"]
STUDY_MODELS = ["segformer_mit-b3", "segformer_mit-b5", "pspnet_r50", "deeplabv3plus_r50", "segnext_mscan-b",
                "mask2former_swin-b", "hrnet_hr48"]
NOISE_CONTROL = "random_noise"
# the main study trains every model 20k iterations, batch 8, ImageNet-pretrained
STUDY_TRAINING = {"max_iters": 20000, "batch_size": 8, "pretrained": "true"}
# the users' layout first (one manifest per method covering several datasets), then one per dataset
MANIFESTS = {"{generator}": ["$PROVE_GENERATED_ROOT/{generator}/manifest.csv",
                             "$PROVE_GENERATED_ROOT/{generator}/{dataset}/manifest.csv"]}
STUDY_RESOURCES = {"gpus": 1, "cpus": 8, "mem_gb": 48, "time_min": 720}
# a few generators of different families for the ablations (ratio, combination)
ABLATION_GENERATORS = ["cycleGAN", "flux_kontext", "albumentations_weather", "physics_fog"]


def all_strategies() -> list[str]:
    """baseline, every std_*, every gen_<generator> except the noise control."""
    from prove.generators import GENERATORS
    from prove.strategies import STANDARD

    return [*STANDARD.names(), *(f"gen_{g}" for g in GENERATORS.names() if g != NOISE_CONTROL)]


def _study(stage: str) -> dict:
    return dict(name=f"stage{stage[-1]}", grid=dict(strategy=all_strategies(), dataset=STUDY_DATASETS,
                                                   model=STUDY_MODELS),
                fixed=dict(stage=stage, **STUDY_TRAINING), manifests=MANIFESTS, resources=STUDY_RESOURCES)


def stage1() -> dict:
    return _study("s1")


def stage2() -> dict:
    return _study("s2")


def cityscapes_gen() -> dict:
    """CG: train on Cityscapes, test in-domain (Cityscapes) and cross-domain (ACDC)."""
    return dict(name="cityscapes-gen", grid=dict(strategy=all_strategies(), model=STUDY_MODELS),
                fixed=dict(stage="cg", dataset="cityscapes", **STUDY_TRAINING), manifests=MANIFESTS,
                tests=[dict(dataset="same"), dict(dataset="acdc")], resources=STUDY_RESOURCES)


def ratio() -> dict:
    """Real-image fraction of generative strategies, in S1 and CG."""
    return dict(name="ratio", grid=dict(stage=["s1", "cg"], dataset=["bdd10k", "cityscapes"],
                                        strategy=[f"gen_{g}" for g in ABLATION_GENERATORS],
                                        ratio=[0.0, 0.25, 0.5, 0.75], model=["segformer_mit-b3"]),
                exclude=[dict(stage="s1", dataset="cityscapes"), dict(stage="cg", dataset="bdd10k")],
                fixed=STUDY_TRAINING, manifests=MANIFESTS, resources=STUDY_RESOURCES)


def combination() -> dict:
    """Generated images with a standard augmentation on top (gen x std)."""
    from prove.strategies import BASELINE, STANDARD

    stds = [s for s in STANDARD.names() if s != BASELINE]
    return dict(name="combination", grid=dict(strategy=[f"gen_{g}+{s}" for g in ABLATION_GENERATORS for s in stds],
                                              dataset=["bdd10k", "iddaw"]),
                fixed=dict(stage="s1", model="segformer_mit-b3", **STUDY_TRAINING), manifests=MANIFESTS,
                resources=STUDY_RESOURCES)


def from_scratch() -> dict:
    """Rankings can reverse without ImageNet weights: the S1 study from scratch."""
    sweep = _study("s1")
    sweep["name"] = "from-scratch"
    sweep["fixed"] = dict(sweep["fixed"], pretrained="false")
    sweep["grid"]["model"] = ["segformer_mit-b3", "pspnet_r50"]
    return sweep


def noise() -> dict:
    """The noise control: generated images replaced by uniform noise, against the baseline."""
    return dict(name="noise", grid=dict(strategy=["baseline", f"gen_{NOISE_CONTROL}"], dataset=STUDY_DATASETS,
                                        model=["segformer_mit-b3", "pspnet_r50"], ratio=[0.5]),
                fixed=dict(stage="s1", **STUDY_TRAINING), resources=STUDY_RESOURCES)


def loss() -> dict:
    """Auxiliary losses and the Lovasz main loss (never Lovasz twice)."""
    from prove.models.losses import aux_losses, main_losses

    return dict(name="loss", grid=dict(aux_loss=list(aux_losses()), main_loss=list(main_losses()),
                                       strategy=["baseline", "std_photometric_distort", "gen_cycleGAN"],
                                       dataset=["bdd10k"]),
                exclude=[dict(aux_loss="lovasz", main_loss="lovasz")],
                fixed=dict(stage="s1", model="segformer_mit-b3", **STUDY_TRAINING), manifests=MANIFESTS,
                resources=STUDY_RESOURCES)


def batch_size() -> dict:
    """Batch size with the learning rate scaled linearly (lr auto)."""
    return dict(name="batch-size", grid=dict(batch_size=[4, 8, 16], strategy=["baseline", "std_autoaugment"],
                                             dataset=["bdd10k"]),
                fixed=dict(stage="s1", model="segformer_mit-b3", max_iters=20000, pretrained="true", lr="auto"),
                resources=STUDY_RESOURCES)


def extended() -> dict:
    """Continue the finished S1 trainings to 3x their iterations, testing every checkpoint
    (trainings not finished yet are listed as blocked)."""
    sweep = _study("s1")
    return dict(sweep, name="extended", extend=3, checkpoint="all")


# -- the demo's grid (prove demo, `--preset demo`) ---------------------------------------------------
DEMO_EXPERIMENT = "prove-demo"
DEMO_MAX_ITERS = 300
DEMO_OUTPUT = "demo"
# Chosen so the findings mean something: S1 trains on clear_day only, so its baseline collapses
# on night and fog, and the two generators make exactly those conditions from clear images.
DEMO_STRATEGIES = ("baseline", "std_autoaugment", "std_photometric_distort", "gen_physics_fog",
                   "gen_photometric_night")


def demo_grid(max_iters: int = DEMO_MAX_ITERS) -> dict:
    """The demo: 5 strategies x S1/S2 on the embedded benchmark with the tiny CNN, every checkpoint tested."""
    return dict(name="demo", grid={"stage": ["s1", "s2"], "strategy": list(DEMO_STRATEGIES)},
                fixed={"dataset": "weather_bench", "model": "fcn_r18-tiny", "max_iters": max_iters},
                checkpoint="all", resources={"cpus": 2, "mem_gb": 4, "time_min": 30})


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    build: Callable[[], dict] = field(repr=False, compare=False)
    aliases: tuple[str, ...] = ()

    def sweep(self):
        from prove.sweeps.definition import from_mapping

        return from_mapping(self.build(), f"preset {self.name}")


# Declared with `PRESETS.declare(Preset(...))`; the order is the order of `prove list presets`.
PRESETS: Registry[Preset] = Registry("preset")
_ALL = "every strategy (baseline, `std_*`, `gen_<generator>` for every registered generator but the noise control)"
PRESETS.declare(Preset("stage1", f"S1 (train on clear_day): {_ALL} x bdd10k, iddaw, mapillary, outside15k x the 7 "
                       "study models; 20k iterations, batch 8, pretrained", stage1, aliases=("s1",)))
PRESETS.declare(Preset("stage2", "S2 (train on all domains): the grid of `stage1`", stage2, aliases=("s2",)))
PRESETS.declare(Preset("cityscapes-gen", "every strategy x the 7 models on Cityscapes (stage cg), tested on "
                       "Cityscapes and ACDC", cityscapes_gen, aliases=("cg",)))
PRESETS.declare(Preset("ratio", "4 generators x ratio 0, 0.25, 0.5, 0.75, in S1 (bdd10k) and CG (Cityscapes)", ratio))
PRESETS.declare(Preset("combination", "4 generators x every `std_*`, as `gen_X+std_Y`", combination))
PRESETS.declare(Preset("from-scratch", "the S1 study without ImageNet weights, 2 models (rankings may reverse)",
                       from_scratch))
PRESETS.declare(Preset("noise", "`gen_random_noise` (noise control) vs baseline, 4 datasets x 2 models", noise))
PRESETS.declare(Preset("loss", "aux loss none/lovasz/boundary/focal x main loss ce/lovasz (never Lovasz twice)", loss))
PRESETS.declare(Preset("batch-size", "batch 4, 8, 16 with the LR scaled linearly", batch_size))
PRESETS.declare(Preset("extended", "the S1 study continued to 3x its iterations (`extend: 3`), every checkpoint "
                       "tested", extended))
PRESETS.declare(Preset("demo", "the demo's grid: 5 strategies x S1/S2, tiny CNN, embedded benchmark (CPU)",
                       demo_grid))


def resolve_sweep(preset: str = "", sweep_file: str = ""):
    """The sweep from a preset name or a sweep file (exactly one)."""
    from prove.sweeps.definition import load_sweep

    if bool(preset) == bool(sweep_file):
        raise ProveError("give exactly one of --preset NAME or --sweep FILE")
    if sweep_file:
        return load_sweep(sweep_file)
    if preset not in PRESETS:
        raise ProveError(f"unknown preset {preset!r}; accepted: {', '.join(PRESETS.names())}")
    return PRESETS.get(preset).sweep()
