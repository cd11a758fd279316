"""A study plan: the trainings a study means to run, for coverage (planned vs trained vs
tested). A plan file is a sweep file (prove.sweep: grid, fixed, exclude, ...), so the sweep a
study runs is also the plan its leaderboard checks coverage against."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from prove.spec import TrainSpec
from prove.sweep import Sweep, load_sweep


def load_plan(path: str | Path) -> Sweep:
    return load_sweep(path, what="plan")


def specs_table(specs: Sequence[TrainSpec]) -> pd.DataFrame:
    """Spec rows in the dtypes of the result table (see prove.analysis.coverage.SPEC_KEYS)."""
    from prove.analysis.coverage import SPEC_KEYS
    from prove.analysis.store import spec_columns

    return pd.DataFrame([spec_columns(s.to_params()) for s in specs], columns=list(SPEC_KEYS))


def planned_table(sweep: Sweep) -> pd.DataFrame:
    return specs_table(sweep.specs())
