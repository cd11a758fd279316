"""Built-in sweeps: the users' studies as they designed them, their ablations, and the demo's grid.

Each preset is declared once, `PRESETS.declare(Preset(name, description, build))`: `build`
returns a sweep mapping (the YAML form, see prove.sweeps.definition). The study presets
reproduce the group's designs (docs/ablation.md#presets says which study each one is and what
was chosen where the design left a choice): their datasets, models and strategies are the
lists below, not "everything registered", so a generator declared later never changes what
`--preset stage1` plans. `all-strategies` is the preset that does take every declared
strategy (a lab's own included). The training budget is the users' protocol
(prove.models.protocol): `max_iters`, `batch_size` and `pretrained` stay `auto`. Declaring a
preset imports nothing heavy, so the CLI lists them in its help.

External generators' images are found through `manifests`: the users' layout
`$PROVE_GENERATED_ROOT/<method>/manifest.csv` (one file per method, several datasets) first,
then `$PROVE_GENERATED_ROOT/<method>/<dataset>/manifest.csv`; a combination without its images
here, or whose dataset root or model is not available here, is listed as blocked with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from prove.errors import ProveError
from prove.registry import Registry

# -- the users' study ---------------------------------------------------------------------------
STUDY_DATASETS = ["bdd10k", "iddaw", "mapillary", "outside15k"]
# The group's records: deeplabv3plus_r50 has no S1/S2 baseline (it is not in the study), and
# hrnet_hr48 is not trained (its baseline was broken; exclusions.yaml says so for every analysis);
# mask2former_swin-b needs mmdet and compiled mmcv ops, and is blocked where they are missing.
STUDY_MODELS = ["pspnet_r50", "segformer_mit-b3", "segnext_mscan-b", "mask2former_swin-b"]
# the standard strategies the group runs: std_photometric_distort was removed from the study,
# std_minimal is prove's mild variant, not theirs
STUDY_STANDARD = ["std_autoaugment", "std_randaugment", "std_cutmix", "std_mixup"]
# the generators the group runs, in their spelling (prove's own offline generators are not theirs,
# except albumentations_weather, which is both: their images are used where their manifest is found)
STUDY_GENERATORS = ["cycleGAN", "CUT", "stargan_v2", "SUSTechGAN", "TSIT", "LANIT", "Attribute_Hallucination",
                    "cyclediffusion", "IP2P", "Img2Img", "flux_kontext", "step1x_new", "step1x_v1p2",
                    "Qwen_Image_Edit", "UniControl", "VisualCloze", "CNetSeg", "Weather_Effect_Generator",
                    "albumentations_weather", "automold", "augmenters"]
NOISE_CONTROL = "gen_random_noise"
# CG as recorded: 100 trainings, the study's strategies without gen_LANIT (never trained on Cityscapes)
CG_EXCLUDED = ("gen_LANIT",)
CG_TESTS = [dict(dataset="same"), dict(dataset="acdc", stage="cg")]  # CG: in-domain and cross-domain
# the users' layout first (one manifest per method covering several datasets), then one per dataset
MANIFESTS = {"{generator}": ["$PROVE_GENERATED_ROOT/{generator}/manifest.csv",
                             "$PROVE_GENERATED_ROOT/{generator}/{dataset}/manifest.csv"]}
STUDY_RESOURCES = {"gpus": 1, "cpus": 8, "mem_gb": 48, "time_min": 720}


def study_strategies() -> list[str]:
    """The 26 strategies of the users' stage studies: baseline, their 4 std_* and 21 gen_*."""
    return ["baseline", *STUDY_STANDARD, *(f"gen_{g}" for g in STUDY_GENERATORS)]


def every_strategy() -> list[str]:
    """baseline, every declared std_*, every declared gen_<generator> but the noise control."""
    from prove.generators import GENERATORS
    from prove.strategies import STANDARD

    return [*STANDARD.names(), *(f"gen_{g}" for g in GENERATORS.names() if f"gen_{g}" != NOISE_CONTROL)]


def _study(name: str, stage: str, **extra) -> dict:
    return dict(name=name, study=stage, grid=dict(stage=[stage], dataset=STUDY_DATASETS, model=STUDY_MODELS,
                                                  strategy=study_strategies()),
                manifests=MANIFESTS, resources=STUDY_RESOURCES, **extra)


def stage1() -> dict:
    """S1: train on clear_day images, test on every domain (15k iterations)."""
    return _study("stage1", "s1")


def stage2() -> dict:
    """S2: train on every image, test on every domain (15k iterations)."""
    return _study("stage2", "s2")


def cityscapes_gen() -> dict:
    """CG: train on Cityscapes (20k), test in-domain (Cityscapes) and cross-domain (ACDC)."""
    strategies = [s for s in study_strategies() if s not in CG_EXCLUDED]
    return dict(name="cityscapes-gen", study="cg", grid=dict(stage=["cg"], dataset=["cityscapes"], model=STUDY_MODELS,
                                                 strategy=strategies),
                manifests=MANIFESTS, tests=CG_TESTS, resources=STUDY_RESOURCES)


RATIOS = [0.0, 0.25, 0.75]  # 0.5 and 1.0 come from the main stages, not retrained


def ratio() -> dict:
    """CS-ratio (48) and S1-ratio (24): the real-image fraction of a few generators."""
    cs = dict(study="cs-ratio", stage=["cg"], dataset=["cityscapes"], ratio=RATIOS,
              strategy=[f"gen_{g}" for g in ("VisualCloze", "step1x_v1p2", "flux_kontext", "TSIT")],
              model=["pspnet_r50", "segformer_mit-b3", "segnext_mscan-b", "mask2former_swin-b"])
    s1 = dict(study="s1-ratio", stage=["s1"], dataset=["bdd10k", "iddaw"], ratio=RATIOS,
              strategy=[f"gen_{g}" for g in ("VisualCloze", "TSIT")], model=["pspnet_r50", "segformer_mit-b3"])
    return dict(name="ratio", grid=[cs, s1], manifests=MANIFESTS, tests=CG_TESTS, resources=STUDY_RESOURCES)


def noise() -> dict:
    """The noise control: uniform-noise images with the real labels, at ratio 0 and 0.5 (S1), and 0 (CG)."""
    s1 = dict(stage=["s1"], dataset=STUDY_DATASETS, model=STUDY_MODELS, strategy=[NOISE_CONTROL], ratio=[0.0, 0.5])
    cg = dict(stage=["cg"], dataset=["cityscapes"], model=STUDY_MODELS, strategy=[NOISE_CONTROL], ratio=[0.0])
    return dict(name="noise", study="noise", grid=[s1, cg], tests=CG_TESTS, resources=STUDY_RESOURCES)


def combination() -> dict:
    """gen_X + std_Y on Cityscapes at ratio 0.5 (18): does a standard augmentation add to generated images?"""
    strategies = [f"gen_{g}+{s}" for g in ("Qwen_Image_Edit", "Img2Img", "augmenters")
                  for s in ("std_cutmix", "std_autoaugment", "std_mixup")]
    return dict(name="combination", study="combination", grid=dict(stage=["cg"], dataset=["cityscapes"], strategy=strategies,
                                              model=["pspnet_r50", "segformer_mit-b3"], ratio=[0.5]),
                manifests=MANIFESTS, tests=CG_TESTS, resources=STUDY_RESOURCES)


def extended() -> dict:
    """The main-stage trainings continued to 3x their iterations (15k -> 45k, CG 20k -> 60k), every
    checkpoint tested; a training whose base is not finished yet is listed as blocked."""
    models = ["pspnet_r50", "segformer_mit-b3"]
    s1 = dict(stage=["s1"], dataset=["bdd10k", "iddaw"], model=models,
              strategy=["baseline", "gen_Img2Img", "gen_augmenters", "gen_cycleGAN", "std_randaugment"])
    cg = dict(stage=["cg"], dataset=["cityscapes"], model=models,
              strategy=["baseline", "gen_augmenters", "gen_Img2Img", "gen_CUT", "std_randaugment"])
    return dict(name="extended", study="extended", grid=[s1, cg], extend=3, checkpoint="all", manifests=MANIFESTS,
                tests=CG_TESTS, resources=STUDY_RESOURCES)


def from_scratch() -> dict:
    """The S1 study without ImageNet weights (40k iterations, checkpoints every 5k), segformer_mit-b3."""
    return dict(name="from-scratch", study="from-scratch", grid=dict(stage=["s1"], dataset=STUDY_DATASETS, model=["segformer_mit-b3"],
                                               strategy=study_strategies()),
                fixed=dict(pretrained="false"), manifests=MANIFESTS, resources=STUDY_RESOURCES)


def from_scratch_ratio0() -> dict:
    """From scratch, the generated images alone (ratio 0) on BDD10k, Mapillary Vistas and OUTSIDE15k."""
    return dict(name="from-scratch-ratio0", study="from-scratch-ratio0", grid=dict(stage=["s1"], dataset=["bdd10k", "mapillary", "outside15k"],
                                                      model=["segformer_mit-b3"],
                                                      strategy=[f"gen_{g}" for g in STUDY_GENERATORS], ratio=[0.0]),
                fixed=dict(pretrained="false"), manifests=MANIFESTS, resources=STUDY_RESOURCES)


def loss() -> dict:
    """Auxiliary Lovasz, boundary and focal losses beside cross-entropy, and Lovasz as the main loss."""
    base = dict(stage=["s1"], dataset=["bdd10k"], model=["segformer_mit-b3"],
                strategy=["baseline", "std_autoaugment", "gen_cycleGAN"])
    return dict(name="loss", study="loss", grid=[dict(base, aux_loss=["lovasz", "boundary", "focal"], main_loss=["ce"]),
                                   dict(base, aux_loss=["none"], main_loss=["lovasz"])],
                manifests=MANIFESTS, resources=STUDY_RESOURCES)


def batch_size() -> dict:
    """Batch 2, 4, 8 and 16 with the learning rate scaled linearly (lr auto)."""
    return dict(name="batch-size", study="batch-size", grid=dict(stage=["s1"], dataset=["bdd10k"], model=["segformer_mit-b3"],
                                             strategy=["baseline", "std_autoaugment"], batch_size=[2, 4, 8, 16]),
                resources=STUDY_RESOURCES)


# The top S1 strategy of the group's study (first of the extended study's S1 strategies, and in
# the combination study): the one whose schedule the curriculum study varies.
CURRICULUM_STRATEGY = "gen_Img2Img"


def curriculum() -> dict:
    """The curriculum study: the top S1 strategy with its generated images mixed constantly,
    linearly ramped in, early only or late only (prove.data.schedules), and the matched baseline."""
    block = dict(stage=["s1"], dataset=["bdd10k"], model=["segformer_mit-b3"])
    return dict(name="curriculum", study="curriculum", grid=[dict(block, strategy=[CURRICULUM_STRATEGY],
                                              ratio_schedule=["constant", "linear", "early", "late"]),
                                         dict(block, strategy=["baseline"])],
                manifests=MANIFESTS, resources=STUDY_RESOURCES)


# ACDC's four adverse conditions: the domains the targeted study keeps generated images for
TARGET_DOMAINS = ["foggy", "night", "rainy", "snowy"]


def targeted() -> dict:
    """Domain-targeted generated images: the top S1 strategy with only the images aimed at one
    domain, one run per target domain, beside its untargeted run and the baseline."""
    block = dict(stage=["s1"], dataset=["bdd10k"], model=["segformer_mit-b3"])
    return dict(name="targeted", study="targeted", grid=[dict(block, strategy=[CURRICULUM_STRATEGY], gen_domains=["", *TARGET_DOMAINS]),
                                       dict(block, strategy=["baseline"])],
                manifests=MANIFESTS, resources=STUDY_RESOURCES)


def all_strategies() -> dict:
    """Every declared strategy (a lab's own included) in S1 on BDD10k with segformer_mit-b3."""
    return dict(name="all-strategies", grid=dict(stage=["s1"], dataset=["bdd10k"], model=["segformer_mit-b3"],
                                                 strategy=every_strategy()),
                manifests=MANIFESTS, resources=STUDY_RESOURCES)


# -- the demo's grid (prove demo, `--preset demo`) ---------------------------------------------------
DEMO_EXPERIMENT = "prove-demo"
DEMO_MAX_ITERS = 300
DEMO_OUTPUT = "demo"
# Chosen so the findings mean something: S1 trains on clear_day only, so its baseline collapses
# on night and fog, and the two generators make exactly those conditions from clear images.
DEMO_STRATEGIES = ("baseline", "std_autoaugment", "std_photometric_distort", "gen_physics_fog",
                   "gen_photometric_night")


# Checkpoints per training, each tested on every domain (the convergence section). Validation
# runs once, at the end: the report's validation-vs-test reads the last one, and on 2 CPU cores
# four more validations of S2's 140 images cost a quarter of its training.
DEMO_CHECKPOINTS = 3


def demo_grid(max_iters: int = DEMO_MAX_ITERS) -> dict:
    """The demo: 5 strategies x S1/S2 on the embedded benchmark with the tiny CNN, every checkpoint
    tested, and the baseline once more with seed 1 (its seed-to-seed noise floor, in the report)."""
    interval = max(1, max_iters // DEMO_CHECKPOINTS)
    # one block per stage: each stage's runs belong to that stage's study (S1, S2 in miniature)
    return dict(name="demo", grid=[*({"study": stage, "stage": [stage], "strategy": list(DEMO_STRATEGIES)}
                                     for stage in ("s1", "s2")),
                                   *({"study": stage, "stage": [stage], "strategy": ["baseline"], "seed": [1]}
                                     for stage in ("s1", "s2"))],
                fixed={"dataset": "weather_bench", "model": "fcn_r18-tiny", "max_iters": max_iters,
                       "checkpoint_interval": interval, "eval_interval": max_iters},
                checkpoint="all", resources={"cpus": 2, "mem_gb": 4, "time_min": 30})


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    build: Callable[[], dict] = field(repr=False, compare=False)
    aliases: tuple[str, ...] = ()
    trainings: int | None = None  # how many trainings the design has (a test checks the grid)

    def sweep(self):
        from prove.sweeps.definition import from_mapping

        return from_mapping(self.build(), f"preset {self.name}")


# Declared with `PRESETS.declare(Preset(...))`; the order is the order of `prove list presets`.
PRESETS: Registry[Preset] = Registry("preset")
_STUDY = "4 datasets (BDD10k, IDD-AW, Mapillary Vistas, OUTSIDE15k) x 4 models x 26 strategies"
PRESETS.declare(Preset("stage1", f"S1, train on clear_day: {_STUDY}", stage1, ("s1",), 416))
PRESETS.declare(Preset("stage2", f"S2, train on every image: {_STUDY}", stage2, ("s2",), 416))
PRESETS.declare(Preset("cityscapes-gen", "CG: Cityscapes x 4 models x 25 strategies (not gen_LANIT), tested on "
                       "Cityscapes and ACDC", cityscapes_gen, ("cg",), 100))
PRESETS.declare(Preset("ratio", "CS-ratio: ratio 0/0.25/0.75 x 4 generators x 4 models on Cityscapes (48); S1-ratio: "
                       "the same ratios x VisualCloze, TSIT x 2 models x BDD10k, IDD-AW (24)", ratio, (), 72))
PRESETS.declare(Preset("noise", "gen_random_noise at ratio 0 and 0.5 x 4 datasets x 4 models (S1, 32), and ratio 0 "
                       "x 4 models on Cityscapes (CG, 4)", noise, (), 36))
PRESETS.declare(Preset("combination", "gen_Qwen_Image_Edit, gen_Img2Img, gen_augmenters x std_cutmix, "
                       "std_autoaugment, std_mixup x 2 models on Cityscapes, ratio 0.5", combination, (), 18))
PRESETS.declare(Preset("extended", "S1 BDD10k, IDD-AW x 5 strategies x 2 models, 15k -> 45k (20); CG 5 strategies x "
                       "2 models, 20k -> 60k (10); every checkpoint tested", extended, (), 30))
PRESETS.declare(Preset("from-scratch", "segformer_mit-b3 x the 4 S1 datasets x 26 strategies, no pretrained weights, "
                       "40k, checkpoints every 5k", from_scratch, (), 104))
PRESETS.declare(Preset("from-scratch-ratio0", "from scratch, the 21 generators at ratio 0 on BDD10k, Mapillary "
                       "Vistas, OUTSIDE15k", from_scratch_ratio0, (), 63))
PRESETS.declare(Preset("loss", "aux lovasz, boundary, focal and main-loss lovasz x 3 strategies (S1, BDD10k, "
                       "segformer_mit-b3)", loss, (), 12))
PRESETS.declare(Preset("batch-size", "batch 2, 4, 8, 16 with the LR rule x baseline, std_autoaugment (S1, BDD10k, "
                       "segformer_mit-b3)", batch_size, (), 8))
PRESETS.declare(Preset("curriculum", f"ratio schedules constant, linear, early, late of {CURRICULUM_STRATEGY} and the "
                       "baseline (S1, BDD10k, segformer_mit-b3)", curriculum, (), 5))
PRESETS.declare(Preset("targeted", f"{CURRICULUM_STRATEGY} with only the generated images aimed at one of "
                       f"{', '.join(TARGET_DOMAINS)} (one run each), untargeted, and the baseline (S1, BDD10k, "
                       "segformer_mit-b3)", targeted, (), 6))
PRESETS.declare(Preset("all-strategies", "every declared strategy, a lab's own included (S1, BDD10k, "
                       "segformer_mit-b3)", all_strategies))
PRESETS.declare(Preset("demo", "the demo's grid: 5 strategies x S1/S2 and a second baseline seed, tiny CNN, "
                       "embedded benchmark (CPU)",
                       demo_grid, (), 12))


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
