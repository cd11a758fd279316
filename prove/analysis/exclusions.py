"""Exclusions declared once, with a reason, and reported wherever results are shown.

A broken baseline once had to be removed by hand in several scripts (docs/lessons.md#7).
Here an exclusion is a value: it is applied by one function, and the report it
returns (what, why, how many rows) travels with every table built from the kept rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from prove.errors import ProveError

REPORT_COLUMNS = ("field", "value", "reason", "rows_removed")


@dataclass(frozen=True)
class Exclusion:
    """Remove every row whose `field` equals `value`, because of `reason`."""

    field: str
    value: Any
    reason: str

    def __post_init__(self):
        if not str(self.reason).strip():
            # an exclusion nobody can explain later is the problem this class exists to prevent
            raise ProveError(f"exclusion {self.field}={self.value!r} needs a reason")


def apply_exclusions(df: pd.DataFrame, exclusions: Iterable[Exclusion]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (kept rows, report). The report has one row per exclusion, in the order given,
    with the rows it removed; a row matched by several exclusions counts for the first one."""
    exclusions = list(exclusions)
    for ex in exclusions:
        if not isinstance(ex, Exclusion):
            raise ProveError(f"exclusions must be Exclusion objects, got {ex!r}")
        if ex.field not in df.columns:
            raise ProveError(f"exclusion field {ex.field!r} is not a column; columns: {', '.join(map(str, df.columns))}")
    removed = pd.Series(False, index=df.index)
    rows = []
    for ex in exclusions:
        hit = (df[ex.field] == ex.value) & ~removed
        rows.append({"field": ex.field, "value": ex.value, "reason": ex.reason, "rows_removed": int(hit.sum())})
        removed |= hit
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    return df[~removed].copy(), report


def exclusions_note(report: pd.DataFrame) -> str:
    """One markdown line per exclusion, for the foot of a table or a report."""
    if report.empty:
        return "No exclusions."
    return "\n".join(
        f"- excluded {r.field} = {r.value!r}: {r.reason} ({r.rows_removed} rows)" for r in report.itertuples()
    )


def load_exclusions(path: str | Path) -> list[Exclusion]:
    """Read the study's exclusions file (YAML):

        exclusions:
          - field: model
            value: hrnet_hr48
            reason: baseline diverged (NaN loss at 8k iterations)
    """
    from prove.files import read_yaml

    data = read_yaml(path, "exclusions") or {}
    entries = data.get("exclusions") if isinstance(data, dict) else None
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ProveError(f"exclusions file {path}: 'exclusions' must be a list of field/value/reason entries")
    out = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or sorted(entry) != ["field", "reason", "value"]:
            raise ProveError(f"exclusions file {path}, entry {i}: expected exactly the keys field, value, reason; "
                             f"got {entry!r}")
        try:
            value = entry["value"]
            if isinstance(value, bool):  # YAML reads `false` as a bool; the tables hold "true"/"false"
                value = str(value).lower()
            out.append(Exclusion(str(entry["field"]), value, str(entry["reason"] or "")))
        except ProveError as exc:
            raise ProveError(f"exclusions file {path}, entry {i}: {exc}") from None
    return out
