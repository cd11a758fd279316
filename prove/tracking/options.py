"""The options of `prove import-results` (CLI and MLproject read them)."""

from __future__ import annotations

from dataclasses import dataclass

from prove.spec import EXPERIMENT_HELP, option
from prove.studies import STUDY_HELP


@dataclass(frozen=True)
class ImportOptions:
    file: str = option(help="CSV of results (docs/leaderboard.md#import).", argument=True, path=True)
    experiment: str = option("", EXPERIMENT_HELP)
    force: bool = option(False, "Replace imported results whose values changed.")
    study: str = option("", "The study of rows without a `study` column value (`prove list studies`).")
