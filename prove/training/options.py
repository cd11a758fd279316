"""The options of `prove train` beyond its spec, and of `prove doctor` (CLI and MLproject read them)."""

from __future__ import annotations

from dataclasses import dataclass

from prove.spec import EXPERIMENT_HELP, option


@dataclass(frozen=True)
class TrainOptions:
    force: bool = option(False, "Train again even if a finished run has this spec.")
    experiment: str = option("", EXPERIMENT_HELP)


@dataclass(frozen=True)
class DoctorOptions:
    model: str = option("fcn_r18-tiny", "Model to train one step with.")
