"""Quality scores kept elsewhere (a CSV per method x dataset: FID, LPIPS, CLIP-FID, ...), read
and checked for `prove quality --import-csv` and `prove leaderboard --quality`.

Columns: `generator` (or `method`, `strategy`: any spelling of a declared generator, with or
without `gen_`), `dataset` (any accepted spelling), optionally `target_domain`, and one or
more score columns whose cells are numbers (empty = not measured). Every problem of every row
is reported at once with its CSV line; nothing is stored when there is one.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd

from prove.errors import ProveError

GENERATOR_SPELLINGS = ("generator", "method", "strategy")
QUALITY_COLUMNS = ("generator", "dataset", "target_domain", "features", "score", "value", "source", "run_id")


def canonical_generator(text: str) -> str:
    from prove.generators import GENERATORS
    from prove.strategies import GEN_PREFIX

    name = text.strip()
    name = name[len(GEN_PREFIX):] if name.lower().startswith(GEN_PREFIX.lower()) else name
    return GENERATORS.canonical(name)


def read_scores(path: str | Path) -> pd.DataFrame:
    """The CSV as a long table (QUALITY_COLUMNS, features "imported"), or one error naming every problem."""
    from prove.data import DATASETS
    from prove.data.domains import DOMAINS

    path = Path(path)
    if not path.is_file():
        raise ProveError(f"quality CSV not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
            header = [c.strip() for c in (rows[0].keys() if rows else [])]
    except UnicodeDecodeError:
        raise ProveError(f"quality CSV {path} is not a UTF-8 CSV") from None
    lower = {c.lower(): c for c in header}
    generator_col = next((lower[c] for c in GENERATOR_SPELLINGS if c in lower), None)
    if not rows or generator_col is None or "dataset" not in lower:
        raise ProveError(f"quality CSV {path} needs a generator (or method) column, a dataset column and score "
                         f"columns; its header: {', '.join(header) or 'none'}")
    keys = {generator_col, lower["dataset"], lower.get("target_domain", "")}
    score_cols = [c for c in header if c not in keys and c.lower() not in ("run_name", "notes", "note")]
    if not score_cols:
        raise ProveError(f"quality CSV {path} has no score column (e.g. FID, LPIPS, CLIP-FID)")
    problems, records = [], []
    for line, row in enumerate(rows, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        try:
            generator = canonical_generator(row[generator_col])
        except ProveError:
            problems.append(f"line {line}: unknown generator {row[generator_col]!r}")
            generator = None
        try:
            dataset = DATASETS.canonical(row[lower["dataset"]])
        except ProveError:
            problems.append(f"line {line}: unknown dataset {row[lower['dataset']]!r}")
            dataset = None
        domain = row.get(lower.get("target_domain", ""), "") or ""
        if domain and domain not in DOMAINS:
            problems.append(f"line {line}: unknown target_domain {domain!r} (accepted: {', '.join(DOMAINS)})")
        for column in score_cols:
            text = row.get(column, "")
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                problems.append(f"line {line}: {column} {text!r} is not a number")
                continue
            if not math.isfinite(value):
                problems.append(f"line {line}: {column} {text!r} is not a finite number")
                continue
            records.append(dict(generator=generator, dataset=dataset, target_domain=domain, features="imported",
                                score=column, value=value, source=str(path), run_id=""))
    if problems:
        from prove.generators import GENERATORS

        shown = "; ".join(problems[:20]) + (f"; and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ProveError(f"quality CSV {path}: {len(problems)} problem(s): {shown} (generators: "
                         f"{', '.join(GENERATORS.names())})")
    return pd.DataFrame(records, columns=list(QUALITY_COLUMNS))
