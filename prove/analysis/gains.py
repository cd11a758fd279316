"""Gains over the matched baseline: the number every leaderboard is built from.

Matching rule (docs/leaderboard.md): a non-baseline result is compared with the baseline
results that share every field of MATCH_KEYS (same stage, training data, model, init,
losses, test set, domain and checkpoint iteration, i.e. the same training budget). Among
those, the baseline with the same seed is used when it exists (a paired comparison); else
the mean over all matching baseline seeds. A result with no matching baseline is returned in
the `unmatched` table with the first key field that has no baseline, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from prove.analysis.schema import (
    BASELINE_FAMILY, CLASS_COLUMNS, METRICS, RESULT_COLUMNS, one_result_per_key, require_columns,
    validate_class_results, validate_results,
)
from prove.errors import ProveError

# coarse to fine, so an unmatched row's reason names the broadest field that lacks a baseline
MATCH_KEYS: tuple[str, ...] = (
    "stage", "dataset", "model", "pretrained", "aux_loss", "main_loss", "batch_size", "max_iters",
    "test_dataset", "test_split", "domain", "checkpoint_iter",
)
PAIRED, SEED_MEAN = "seed", "seed_mean"


@dataclass
class MatchedGains:
    """`gains`: the non-baseline rows with `baseline_<metric>`, `gain`, `pairing`,
    `baseline_n`, `baseline_run_ids`; `unmatched`: rows without a baseline and `reason`;
    `pairs`: (run_id, checkpoint_iter, domain, baseline_run_id), used for per-class gains."""

    gains: pd.DataFrame
    unmatched: pd.DataFrame
    pairs: pd.DataFrame
    metric: str = "mIoU"


def _baseline_table(base: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    return base.groupby(keys, dropna=False).agg(
        **{f"baseline_{metric}": (metric, "mean")},
        baseline_n=(metric, "size"),
        baseline_run_ids=("run_id", lambda s: ",".join(sorted(s))),  # MLflow ids hold no commas
    ).reset_index()


def _reason(row: pd.Series, base: pd.DataFrame) -> str:
    """Name the first MATCH_KEYS field at which no baseline is left."""
    candidates = base
    for key in MATCH_KEYS:
        candidates = candidates[candidates[key] == row[key]]
        if candidates.empty:
            return f"no baseline with {key}={row[key]!r}"
    return "no baseline"  # only reached if called on a row that does have a baseline


def matched_gains(df: pd.DataFrame, metric: str = "mIoU") -> MatchedGains:
    """Compare every non-baseline result with its matched baseline (see module docstring)."""
    validate_results(df)
    one_result_per_key(df)
    if metric not in METRICS:
        raise ProveError(f"unknown metric {metric!r}; accepted: {', '.join(METRICS)}")
    is_base = df["strategy_family"] == BASELINE_FAMILY
    base, other = df[is_base], df[~is_base].copy()
    keys = list(MATCH_KEYS)
    bcol = f"baseline_{metric}"

    by_seed = _baseline_table(base, keys + ["seed"], metric)
    by_key = _baseline_table(base, keys, metric)
    other["_row"] = range(len(other))
    paired = other.merge(by_seed, on=keys + ["seed"], how="inner")
    paired["pairing"] = PAIRED
    rest = other[~other["_row"].isin(paired["_row"])]
    averaged = rest.merge(by_key, on=keys, how="inner")
    averaged["pairing"] = SEED_MEAN

    gains = pd.concat([paired, averaged], ignore_index=True).sort_values("_row")
    gains["gain"] = gains[metric] - gains[bcol]
    cols = list(RESULT_COLUMNS) + [c for c in df.columns if c not in RESULT_COLUMNS]
    gains = gains[cols + [bcol, "gain", "pairing", "baseline_n", "baseline_run_ids"]].reset_index(drop=True)

    lost = other[~other["_row"].isin(pd.concat([paired["_row"], averaged["_row"]]))].drop(columns="_row")
    unmatched = lost.assign(reason=[_reason(r, base) for _, r in lost.iterrows()]) if len(lost) else \
        lost.assign(reason=pd.Series(dtype=str))

    pairs = gains[["run_id", "checkpoint_iter", "domain", "baseline_run_ids"]].copy()
    pairs["baseline_run_id"] = pairs.pop("baseline_run_ids").str.split(",")
    pairs = pairs.explode("baseline_run_id", ignore_index=True)
    return MatchedGains(gains=gains, unmatched=unmatched.reset_index(drop=True), pairs=pairs, metric=metric)


def class_gains(matched: MatchedGains, classes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-class IoU gain of each matched result over its baseline's IoU of the same class.

    `classes` has CLASS_COLUMNS (and `checkpoint_iter` where a test run holds several
    checkpoints). Returns (gains: strategy fields + class, IoU, baseline_IoU, gain;
    unmatched: strategy class rows whose baseline has no IoU for that class, with reason).
    """
    validate_class_results(classes)
    join = ["run_id", "domain"] + (["checkpoint_iter"] if "checkpoint_iter" in classes.columns else [])
    dup = classes.duplicated(join + ["class"])
    if dup.any():
        raise ProveError(
            f"per-class table has {int(dup.sum())} duplicated ({', '.join(join)}, class) rows; "
            "add a checkpoint_iter column when a test run holds several checkpoints"
        )
    info = ["run_id", "checkpoint_iter", "domain", "stage", "dataset", "model", "strategy",
            "strategy_family", "generator_family", "seed"]
    mine = matched.gains[info].merge(classes[join + list(CLASS_COLUMNS)[2:]], on=join, how="inner")
    bjoin = {"run_id": "baseline_run_id"}
    bclasses = classes.rename(columns={**bjoin, "IoU": "baseline_IoU"})
    pairs_join = ["baseline_run_id", "domain"] + (["checkpoint_iter"] if "checkpoint_iter" in join else [])
    base = matched.pairs.merge(bclasses, on=pairs_join, how="inner")
    base = base.groupby(["run_id", "checkpoint_iter", "domain", "class"], as_index=False)["baseline_IoU"].mean()
    out = mine.merge(base, on=["run_id", "checkpoint_iter", "domain", "class"], how="left")
    missing = out["baseline_IoU"].isna()
    unmatched = out[missing].drop(columns="baseline_IoU").assign(reason="class has no IoU in the matched baseline")
    out = out[~missing].copy()
    out["gain"] = out["IoU"] - out["baseline_IoU"]
    return out.reset_index(drop=True), unmatched.reset_index(drop=True)


def last_checkpoint(df: pd.DataFrame) -> pd.DataFrame:
    """Keep, per training run and test set, only the rows of its last tested checkpoint;
    leaderboards compare final models, and one run must not count once per checkpoint."""
    require_columns(df, ["train_run_id", "test_dataset", "test_split", "checkpoint_iter"], "the table")
    last = df.groupby(["train_run_id", "test_dataset", "test_split"])["checkpoint_iter"].transform("max")
    return df[df["checkpoint_iter"] == last].copy()
