"""A study plan: the training specs a study means to run, written as a grid.

A plan file is YAML:

    name: night-and-fog
    grid:                      # every combination of these values ...
      stage: [s1, s2]
      strategy: [baseline, std_autoaugment, gen_physics_fog]
    fixed:                     # ... with these fields the same for all
      model: fcn_r18-tiny
      max_iters: 300

Each combination goes through `TrainSpec.create`, so a plan with a typo fails before anything
runs, and names are canonical. Combinations that collapse onto one spec (a ratio without
generated images is forced to 1.0) count once. The demo's grid, `prove leaderboard --plan`
(coverage: planned vs trained vs tested) and sweeps all read plans through this module.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from prove.errors import ProveError
from prove.spec import TrainSpec

PLAN_KEYS = ("name", "grid", "fixed")


@dataclass(frozen=True)
class Plan:
    name: str
    grid: Mapping[str, Sequence[Any]]
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def specs(self) -> list[TrainSpec]:
        return expand_grid(self.grid, self.fixed)

    def table(self) -> pd.DataFrame:
        """The planned specs as rows of the columns that identify a result in the analyses."""
        return specs_table(self.specs())


def expand_grid(grid: Mapping[str, Sequence[Any]], fixed: Mapping[str, Any] | None = None) -> list[TrainSpec]:
    """Every combination of `grid` values (first key varies slowest) with `fixed`, validated."""
    fixed = dict(fixed or {})
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ProveError(f"plan fields {both} are in both grid and fixed; put each field in one of them")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ProveError(f"plan grid field {name!r} must be a non-empty list, got {values!r}")
    specs, seen = [], set()
    for combo in itertools.product(*grid.values()):
        raw = {**fixed, **dict(zip(grid, combo))}
        try:
            spec = TrainSpec.create(**raw)
        except ProveError as exc:
            raise ProveError(f"plan combination {raw}: {exc}") from None
        if spec.spec_hash() not in seen:
            seen.add(spec.spec_hash())
            specs.append(spec)
    return specs


def load_plan(path: str | Path) -> Plan:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ProveError(f"plan file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProveError(f"plan file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProveError(f"plan file {path} must be a mapping with keys {', '.join(PLAN_KEYS)}")
    unknown = sorted(set(data) - set(PLAN_KEYS))
    if unknown:
        raise ProveError(f"plan file {path}: unknown keys {unknown}; accepted: {', '.join(PLAN_KEYS)}")
    if not isinstance(data.get("grid"), dict) or not data["grid"]:
        raise ProveError(f"plan file {path} needs a non-empty 'grid' mapping of field -> list of values")
    plan = Plan(str(data.get("name") or path.stem), data["grid"], data.get("fixed") or {})
    plan.specs()  # validate now, with the file named in the error
    return plan


def specs_table(specs: Sequence[TrainSpec]) -> pd.DataFrame:
    """Spec rows in the dtypes of the result table (see prove.analysis.coverage.SPEC_KEYS)."""
    from prove.analysis.coverage import SPEC_KEYS
    from prove.analysis.store import spec_columns

    return pd.DataFrame([spec_columns(s.to_params()) for s in specs], columns=list(SPEC_KEYS))
