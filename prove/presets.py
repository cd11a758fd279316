"""Built-in sweeps: the users' studies and ablations (FIELD_NOTES "The study").

Each preset is a function returning a sweep mapping (the YAML form, see prove.sweep), so its
strategy, dataset and model lists are read from the registries when it is used: a strategy
or generator declared once appears in every preset that takes "all strategies".

External generators' images are found through `manifests`: by default
`$PROVE_GENERATED_ROOT/<generator>/<dataset>/manifest.csv`; a combination whose manifest is
missing is listed as blocked in the plan.
"""

from __future__ import annotations

from typing import Callable

from prove.generators import GENERATORS
from prove.strategies import STANDARD

STUDY_DATASETS = ["bdd10k", "iddaw", "mapillary", "outside15k"]
STUDY_MODELS = ["segformer_mit-b3", "segformer_mit-b5", "pspnet_r50", "deeplabv3plus_r50", "segnext_mscan-b",
                "mask2former_swin-b", "hrnet_hr48"]
NOISE_CONTROL = "random_noise"
# the main study trains every model 20k iterations, batch 8, ImageNet-pretrained (FIELD_NOTES)
STUDY_TRAINING = {"max_iters": 20000, "batch_size": 8, "pretrained": "true"}
MANIFESTS = {"{generator}": "$PROVE_GENERATED_ROOT/{generator}/{dataset}/manifest.csv"}
STUDY_RESOURCES = {"gpus": 1, "cpus": 8, "mem_gb": 48, "time_min": 720}
# a few generators of different families for the ablations (ratio, combination)
ABLATION_GENERATORS = ["cycleGAN", "flux_kontext", "albumentations_weather", "physics_fog"]


def all_strategies() -> list[str]:
    """baseline, every std_*, every gen_<generator> except the noise control."""
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
    stds = [s for s in STANDARD.names() if s != "baseline"]
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
    return dict(name="loss", grid=dict(aux_loss=["none", "lovasz", "boundary", "focal"], main_loss=["ce", "lovasz"],
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


def demo() -> dict:
    """The demo's grid (tiny CNN, embedded benchmark, CPU): try a sweep in minutes."""
    from prove.demo import demo_plan

    return dict(demo_plan().to_mapping(), resources={"cpus": 2, "mem_gb": 4, "time_min": 30})

PRESETS: dict[str, Callable[[], dict]] = {
    "stage1": stage1, "stage2": stage2, "cityscapes-gen": cityscapes_gen, "ratio": ratio,
    "combination": combination, "from-scratch": from_scratch, "noise": noise, "loss": loss,
    "batch-size": batch_size, "extended": extended, "demo": demo,
}
