"""The group's studies: the unit of analysis (docs/ablation.md#studies).

The group thinks in studies, not stages: S1, S2 and CG are each a study, and so is every
ablation (the ratio of real images, longer training, no pretrained weights, the batch size...).
Each has a design: the one factor it varies, the reference each of its runs is compared with,
and the sweep preset that plans it. One tracking store holds every study of the program; a run
says which study it belongs to with the `prove.study` tag (set by `prove ablation` from the
sweep's `study`, or given with `--study`), and the analyses' tables carry it as a column, so
that an analysis can keep studies apart.

Declared once here, in the order of the group's program; `prove list studies`, sweep files and
the docs read this registry. It imports nothing heavy: the CLI lists it in its help.
"""

from __future__ import annotations

from dataclasses import dataclass

from prove.registry import Registry


@dataclass(frozen=True)
class Study:
    name: str
    description: str
    factor: str  # the field the study varies (a train option, or `strategy`)
    reference: str  # what each of its runs is compared with
    preset: str = ""  # the sweep preset that plans it ("" = not planned by a preset)
    main: bool = False  # a stage's main study: its runs give that stage's leaderboard
    aliases: tuple[str, ...] = ()


STUDIES: Registry[Study] = Registry("study")
STUDY_HELP = ("The study the runs belong to (`prove list studies`: s1, s2, cg, s1-ratio, from-scratch...), "
              "recorded as their prove.study tag.")


# The group's program, in its order (docs/ablation.md#studies says what each reproduces).
STUDIES.declare(Study("s1", "S1: train on clear_day images, test on every weather domain (15k, pretrained)",
              "strategy", "the baseline of the same dataset and model", "stage1", main=True,
              aliases=("stage1",)))
STUDIES.declare(Study("s2", "S2: train on every image, test on every weather domain (15k, pretrained)",
              "strategy", "the baseline of the same dataset and model", "stage2", main=True,
              aliases=("stage2",)))
STUDIES.declare(Study("cg", "CG: train on Cityscapes (20k), test on Cityscapes and ACDC",
              "strategy", "the baseline of the same model", "cityscapes-gen", main=True,
              aliases=("cityscapes-gen",)))
STUDIES.declare(Study("cs-ratio", "CS-ratio: the real-image fraction of 4 generators on Cityscapes (0, 0.25, 0.75)",
              "ratio", "the same generator and model in CG (ratio 0.5)", "ratio"))
STUDIES.declare(Study("s1-ratio", "S1-ratio: the real-image fraction of VisualCloze and TSIT in S1 (0, 0.25, 0.75)",
              "ratio", "the same generator, dataset and model in S1 (ratio 0.5)", "ratio"))
STUDIES.declare(Study("noise", "The noise control: uniform-noise images with the real labels (S1 at ratio 0 and 0.5, CG at 0)",
              "strategy", "the baseline of the same stage, dataset and model", "noise"))
STUDIES.declare(Study("extended", "Extended training: the main-stage runs continued to 3x their iterations (45k, CG 60k)",
              "max_iters", "the same spec at the stage's budget (15k, CG 20k)", "extended"))
STUDIES.declare(Study("combination", "gen_X + std_Y on Cityscapes at ratio 0.5: does a standard augmentation add?",
              "strategy", "gen_X alone and std_Y alone in CG", "combination"))
STUDIES.declare(Study("from-scratch", "S1 without ImageNet weights (segformer_mit-b3, 40k)",
              "pretrained", "the same strategy and dataset in S1 (pretrained, 15k)", "from-scratch",
              aliases=("scratch",)))
STUDIES.declare(Study("from-scratch-ratio0", "From scratch, the generated images alone (ratio 0)",
              "ratio", "the same generator and dataset in from-scratch (ratio 0.5)", "from-scratch-ratio0"))
STUDIES.declare(Study("loss", "Auxiliary Lovasz, boundary and focal losses, and Lovasz as the main loss (S1)",
              "aux_loss", "the same strategy with cross-entropy alone", "loss"))
STUDIES.declare(Study("batch-size", "Batch 2, 4, 8 and 16 with the LR rule (S1)",
              "batch_size", "the same strategy at batch 16", "batch-size"))
STUDIES.declare(Study("curriculum", "When the generated images come: constant, linear, early, late (S1)",
              "ratio_schedule", "the baseline and the constant schedule", "curriculum"))
STUDIES.declare(Study("targeted", "Generated images aimed at one weather domain each (S1)",
              "gen_domains", "the untargeted run and the baseline", "targeted"))


def study_of(name: str) -> Study:
    """The declared study for a name as users write it (`S1`, `stage1`, `from_scratch`...)."""
    return STUDIES.get(name)
