"""The tidy result tables every analysis reads, and the guards that keep them honest.

The store layer produces one row per (test result, domain); the per-class table one row per
(test run, domain, class). Each analysis starts by validating its input here, so a column
spelled differently or a duplicated result fails loudly instead of shifting a leaderboard
(docs/lessons.md#4 and #5).
"""

from __future__ import annotations

import re

import pandas as pd
from pandas.api import types as ptypes

from prove.errors import ProveError
from prove.spec import STAGES as STAGE_REGISTRY
# ALL_DOMAINS, METRICS and BASELINE_FAMILY are re-exported: every analysis reads the table's vocabulary here
from prove.strategies import BASELINE as BASELINE_FAMILY, STRATEGY_FAMILIES  # noqa: F401
from prove.tracking.schema import ALL_DOMAINS, METRICS, domain_values  # noqa: F401

DOMAIN_VALUES: tuple[str, ...] = domain_values()
STAGES: tuple[str, ...] = tuple(STAGE_REGISTRY.names())  # canonical names, in study order

# name -> kind ("str", "int", "float"); the order is the canonical column order.
RESULT_COLUMNS: dict[str, str] = {
    "run_id": "str",
    "train_run_id": "str",
    "study": "str",  # the declared study (prove.studies) its run belongs to; "" = none recorded
    "stage": "str",
    "dataset": "str",
    "model": "str",
    "strategy": "str",
    "strategy_family": "str",
    "generator_family": "str",
    "ratio": "float",
    "ratio_schedule": "str",  # prove.data.schedules; "constant" for every run before schedules
    "gen_domains": "str",  # the target domains generated images were kept for (--gen-domains); "" = all
    "aux_loss": "str",
    "main_loss": "str",
    "pretrained": "str",
    "seed": "int",
    "batch_size": "int",  # -1: not recorded (an imported result)
    "max_iters": "int",  # -1: not recorded
    "test_dataset": "str",
    "test_split": "str",
    "checkpoint_iter": "int",
    "domain": "str",
    "mIoU": "float",
    "mAcc": "float",
    "aAcc": "float",
    "fwIoU": "float",
}
# one row per training run (prove.analysis.store.sync_trainings); val_iter = -1 when never validated
TRAINING_COLUMNS: dict[str, str] = {
    "run_id": "str", "status": "str", "study": "str", "stage": "str", "dataset": "str", "model": "str", "strategy": "str",
    "strategy_family": "str", "ratio": "float", "ratio_schedule": "str", "gen_domains": "str",
    "aux_loss": "str", "main_loss": "str", "pretrained": "str",
    "seed": "int", "batch_size": "int", "max_iters": "int", "val_iter": "int", "val_mIoU": "float", "end_time": "int",
}
CLASS_COLUMNS: dict[str, str] = {"run_id": "str", "domain": "str", "class": "str", "IoU": "float"}

# One result per training run, test set, checkpoint and domain: a second row with this key is
# a double count, never a second observation.
RESULT_KEY: tuple[str, ...] = ("train_run_id", "test_dataset", "test_split", "checkpoint_iter", "domain")

_PRETRAINED = re.compile(r"^(true|false|sha256:[0-9a-f]+)$")


def _kind_ok(series: pd.Series, kind: str) -> bool:
    if kind == "str":
        if not (ptypes.is_object_dtype(series) or ptypes.is_string_dtype(series)):
            return False
        # infer_dtype scans in C: a per-cell isinstance over 80k-row tables costs most of a second
        return series.empty or pd.api.types.infer_dtype(series, skipna=False) == "string"
    if ptypes.is_bool_dtype(series):  # bools are ints to numpy, never a metric or a seed
        return False
    if kind == "int":
        return ptypes.is_integer_dtype(series)
    return ptypes.is_float_dtype(series) or ptypes.is_integer_dtype(series)


def _check_columns(df: pd.DataFrame, columns: dict[str, str], what: str) -> list[str]:
    if not isinstance(df, pd.DataFrame):
        raise ProveError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    problems = []
    missing = [c for c in columns if c not in df.columns]
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    for name, kind in columns.items():
        if name in df.columns and not _kind_ok(df[name], kind):
            problems.append(f"column {name!r} must hold {kind} values (dtype {df[name].dtype})")
    return problems


def _check_values(df: pd.DataFrame, column: str, allowed, problems: list[str]) -> None:
    if column not in df.columns:
        return
    bad = sorted({str(v) for v in df[column].unique() if v not in allowed})
    if bad:
        problems.append(f"column {column!r} has values {', '.join(bad)}; accepted: {', '.join(allowed)}")


def validate_results(df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` unchanged if it follows RESULT_COLUMNS; raise ProveError naming every problem."""
    problems = _check_columns(df, RESULT_COLUMNS, "the result table")
    _check_values(df, "stage", STAGES, problems)
    _check_values(df, "strategy_family", STRATEGY_FAMILIES, problems)
    _check_values(df, "domain", DOMAIN_VALUES, problems)
    if "pretrained" in df.columns and _kind_ok(df["pretrained"], "str"):
        bad = sorted(set(df.loc[~df["pretrained"].str.match(_PRETRAINED), "pretrained"]))
        if bad:
            problems.append(f"column 'pretrained' has values {', '.join(bad)}; accepted: true, false, sha256:<hex>")
    if problems:
        raise ProveError("invalid result table: " + "; ".join(problems))
    return df


def validate_class_results(df: pd.DataFrame) -> pd.DataFrame:
    """Return the per-class table unchanged if it has CLASS_COLUMNS; raise ProveError otherwise."""
    problems = _check_columns(df, CLASS_COLUMNS, "the per-class table")
    _check_values(df, "domain", DOMAIN_VALUES, problems)
    if problems:
        raise ProveError("invalid per-class table: " + "; ".join(problems))
    return df


def one_result_per_key(df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` if no RESULT_KEY occurs twice; else raise ProveError listing the duplicates.

    Duplicates are refused rather than dropped or averaged: which copy is right cannot be
    decided here, and a silent choice is how stale rows got into past leaderboards.
    """
    missing = [c for c in RESULT_KEY if c not in df.columns]
    if missing:
        raise ProveError(f"cannot check duplicates: missing columns {', '.join(missing)}")
    dup = df[df.duplicated(list(RESULT_KEY), keep=False)]
    if not dup.empty:
        counts = dup.groupby(list(RESULT_KEY)).size()
        listed = "; ".join(f"{dict(zip(RESULT_KEY, key))} x{n}" for key, n in counts.head(20).items())
        more = f" (and {len(counts) - 20} more)" if len(counts) > 20 else ""
        raise ProveError(f"{len(counts)} duplicated result keys {RESULT_KEY}: {listed}{more}")
    return df


def check_domain_value(domain: str) -> str:
    """Return `domain` if it is 'all', a study domain or 'unknown'; raise otherwise."""
    if domain not in DOMAIN_VALUES:
        raise ProveError(f"unknown domain {domain!r}; accepted: {', '.join(DOMAIN_VALUES)}")
    return domain


def require_columns(df: pd.DataFrame, columns, what: str) -> None:
    """Raise ProveError naming the columns of `columns` that `df` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ProveError(f"{what} lacks columns: {', '.join(missing)}")
