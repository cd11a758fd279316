"""The options of `prove train` beyond its spec, and of `prove doctor` (CLI and MLproject read them)."""

from __future__ import annotations

from dataclasses import dataclass

from prove.spec import EXPERIMENT_HELP, option
from prove.studies import STUDY_HELP


@dataclass(frozen=True)
class TrainOptions:
    force: bool = option(False, "Train again even if a finished run has this spec.")
    experiment: str = option("", EXPERIMENT_HELP)
    system_metrics: str = option("on", "MLflow system metrics on the run (CPU, memory, disk, network; GPU with "
                                 "the [gpu] extra): on or off.", choices=("on", "off"))
    study: str = option("", STUDY_HELP)


@dataclass(frozen=True)
class DoctorOptions:
    model: str = option("fcn_r18-tiny", "Model to train one step with.")


@dataclass(frozen=True)
class AdoptOptions:
    folder: str = option(help="An mmseg training folder: its config (*.py) and iter_<N>.pth checkpoints.",
                         argument=True)
    stage: str = option("", "Stage (default: from a folder name such as stage1, else required).")
    dataset: str = option("", "Dataset (default: the folder's parent, as in WEIGHTS/<strategy>/<dataset>/<model>).")
    model: str = option("", "Model of the zoo (default: the folder's name without _ratio/_aux suffixes).")
    strategy: str = option("", "Strategy (default: the folder two levels up).")
    ratio: str = option("", "Real-image fraction (default: _ratio0p50 in the folder name, else 0.5).")
    aux_loss: str = option("", "Auxiliary loss (default: _aux-<loss> in the folder name, else none).")
    pretrained: str = option("", "true/false (default: whether the config's backbone loads pretrained weights).")
    seed: str = option("", "Seed (default: the config's randomness.seed, else 0).")
    config: str = option("", "The config file, when the folder holds several *.py.")
    experiment: str = option("", EXPERIMENT_HELP)
    study: str = option("", STUDY_HELP)
    trust: bool = option(False, "Vouch for the folder's checkpoints so they load fully (MMEngine checkpoints hold "
                         "more than tensors).")
