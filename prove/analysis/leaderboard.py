"""Leaderboard per stage and its breakdowns, all built from `matched_gains(...).gains`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from prove.analysis.schema import ALL_DOMAINS, METRICS, check_domain_value, require_columns
from prove.analysis.stats import DEFAULT_N_BOOT, DEFAULT_SEED, bootstrap_mean_ci
from prove.errors import ProveError

# for a table of mIoU gains; with matched_gains(metric="mAcc") the two metric columns are
# mean_mAcc and mean_baseline_mAcc
LEADERBOARD_COLUMNS = ("rank", "strategy", "strategy_family", "generator_family", "mean_mIoU",
                       "mean_baseline_mIoU", "mean_gain", "ci_low", "ci_high", "n_pairs", "n_positive")


@dataclass
class Leaderboard:
    """`table`: one row per strategy (LEADERBOARD_COLUMNS); `summary`: how many beat baseline."""

    table: pd.DataFrame
    summary: dict = field(default_factory=dict)


def _select(gains: pd.DataFrame, stage: str | None, domain: str | None) -> pd.DataFrame:
    require_columns(gains, ["gain", "strategy", "stage", "domain"], "the gains table")
    out = gains
    if stage is not None:
        out = out[out["stage"] == stage]
    if domain is not None:
        check_domain_value(domain)
        out = out[out["domain"] == domain]
    return out


def _metric_of(gains: pd.DataFrame) -> str:
    """The metric a gains table was built for: the X of its `baseline_X` column."""
    found = [m for m in METRICS if f"baseline_{m}" in gains.columns]
    if len(found) != 1:
        raise ProveError("a gains table (from matched_gains) has exactly one baseline_<metric> column, "
                         f"found {['baseline_' + m for m in found] or 'none'}")
    return found[0]


def _one_checkpoint_per_run(rows: pd.DataFrame) -> None:
    # a run tested at several checkpoints would count once per checkpoint and outweigh the rest
    key = ["train_run_id", "test_dataset", "test_split", "domain"]
    if all(c in rows.columns for c in key) and rows.duplicated(key).any():
        runs = sorted(rows.loc[rows.duplicated(key, keep=False), "train_run_id"].unique())
        raise ProveError(
            f"{len(runs)} training runs have several checkpoints in this selection ({', '.join(runs[:10])}); "
            "pass last_checkpoint(df) or filter checkpoint_iter"
        )


def leaderboard(gains: pd.DataFrame, stage: str | None = None, domain: str | None = ALL_DOMAINS,
                n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> Leaderboard:
    """Rank strategies by mean gain over the matched baseline (descending; ties share the
    best rank). Each CI is the percentile bootstrap of the mean gain over the strategy's pairs."""
    rows = _select(gains, stage, domain)
    if rows.empty:
        raise ProveError(f"no matched results for stage={stage!r}, domain={domain!r}")
    _one_checkpoint_per_run(rows)
    metric = _metric_of(rows)
    records = []
    for strategy, g in rows.groupby("strategy", sort=True):
        values = g["gain"].to_numpy(float)
        low, high = bootstrap_mean_ci(values, n_boot=n_boot, seed=seed, label=str(strategy))
        records.append({
            "strategy": strategy,
            "strategy_family": g["strategy_family"].iloc[0] if "strategy_family" in g else "",
            "generator_family": g["generator_family"].iloc[0] if "generator_family" in g else "",
            f"mean_{metric}": float(g[metric].mean()),
            f"mean_baseline_{metric}": float(g[f"baseline_{metric}"].mean()),
            "mean_gain": float(values.mean()),
            "ci_low": low, "ci_high": high,
            "n_pairs": int(values.size),
            "n_positive": int((values > 0).sum()),
        })
    table = pd.DataFrame(records)
    table["rank"] = table["mean_gain"].rank(ascending=False, method="min").astype(int)
    columns = [c.replace("mIoU", metric) for c in LEADERBOARD_COLUMNS]
    table = table.sort_values(["rank", "strategy"]).reset_index(drop=True)[columns]
    summary = {
        "stage": stage, "domain": domain, "n_boot": n_boot, "seed": seed,
        "n_strategies": int(len(table)),
        "n_beat_baseline": int((table["mean_gain"] > 0).sum()),
        "n_beat_baseline_ci": int((table["ci_low"] > 0).sum()),
        "n_below_baseline_ci": int((table["ci_high"] < 0).sum()),
        "n_pairs": int(table["n_pairs"].sum()),
    }
    return Leaderboard(table=table, summary=summary)


def breakdown(gains: pd.DataFrame, by: str | list[str], stage: str | None = None,
              domain: str | None = ALL_DOMAINS) -> pd.DataFrame:
    """Mean gain per strategy and `by` (e.g. 'dataset', 'model', 'domain'); with by='domain'
    every domain is kept (the `domain` filter is ignored), otherwise only `domain` rows."""
    by = [by] if isinstance(by, str) else list(by)
    require_columns(gains, by, "the gains table")
    rows = _select(gains, stage, None if "domain" in by else domain)
    metric = _metric_of(rows)
    out = rows.groupby(["strategy", *by], sort=True).agg(
        mean_gain=("gain", "mean"), **{f"mean_{metric}": (metric, "mean")},
        n_pairs=("gain", "size"), n_positive=("gain", lambda s: int((s > 0).sum())),
    ).reset_index()
    return out


def class_breakdown(class_gain_table: pd.DataFrame, stage: str | None = None,
                    domain: str | None = ALL_DOMAINS) -> pd.DataFrame:
    """Mean per-class IoU gain per strategy and class (input: `class_gains(...)[0]`)."""
    rows = _select(class_gain_table, stage, domain)
    return rows.groupby(["strategy", "class"], sort=True).agg(
        mean_gain=("gain", "mean"), mean_IoU=("IoU", "mean"), mean_baseline_IoU=("baseline_IoU", "mean"),
        n_pairs=("gain", "size"),
    ).reset_index()


def family_summary(gains: pd.DataFrame, by: str = "strategy_family", stage: str | None = None,
                   domain: str | None = ALL_DOMAINS) -> pd.DataFrame:
    """Per family: strategies in it, how many have a positive mean gain, the mean of their
    mean gains (each strategy weighs the same), the pooled mean over pairs, and the best one."""
    if by not in ("strategy_family", "generator_family"):
        raise ProveError(f"family_summary by {by!r}; accepted: strategy_family, generator_family")
    rows = _select(gains, stage, domain)
    per = rows.groupby([by, "strategy"]).agg(mean_gain=("gain", "mean"), n_pairs=("gain", "size")).reset_index()
    records = []
    for fam, g in per.groupby(by, sort=True):
        best = g.sort_values(["mean_gain", "strategy"], ascending=[False, True]).iloc[0]
        pooled = rows.loc[rows[by] == fam, "gain"]
        records.append({
            by: fam, "n_strategies": int(len(g)), "n_positive_strategies": int((g["mean_gain"] > 0).sum()),
            "mean_strategy_gain": float(g["mean_gain"].mean()), "pooled_mean_gain": float(pooled.mean()),
            "n_pairs": int(pooled.size), "best_strategy": best["strategy"], "best_mean_gain": float(best["mean_gain"]),
        })
    return pd.DataFrame(records)


# a block of the absolute table: one training setting and test set (seeds averaged within it)
ABSOLUTE_BLOCK = ("dataset", "model", "pretrained", "aux_loss", "main_loss", "batch_size", "max_iters",
                  "test_dataset", "test_split")


def absolute_by_domain(final: pd.DataFrame, metric: str = "mIoU", stage: str | None = None) -> pd.DataFrame:
    """Mean `metric` per strategy and domain over the blocks (ABSOLUTE_BLOCK) that every
    strategy of the stage has, baseline included, so each row averages the same models and
    datasets (averaging each strategy over its own blocks once put a strategy with a negative
    matched gain above the baseline). Seeds are averaged within a block first.

    One row per (stage, strategy, domain): mean_<metric>, n_blocks; `blocks_dropped` in the
    frame's attrs: how many blocks some strategy lacks (left out)."""
    block = [c for c in ABSOLUTE_BLOCK if c in final.columns]
    require_columns(final, ["stage", "strategy", "domain", metric, *block], "the result table")
    out, dropped = [], 0
    for st, g in final.groupby("stage", sort=True):
        if stage is not None and st != stage:
            continue
        cells = g.groupby(["strategy", *block, "domain"], dropna=False)[metric].mean().reset_index()
        overall = cells[cells["domain"] == ALL_DOMAINS] if (cells["domain"] == ALL_DOMAINS).any() else cells
        n_strategies = overall["strategy"].nunique()
        per_block = overall.groupby(block, dropna=False)["strategy"].nunique()
        common = per_block[per_block == n_strategies].reset_index()[block]
        dropped += int((per_block < n_strategies).sum())
        kept = cells.merge(common, on=block, how="inner")
        if kept.empty:
            continue
        t = kept.groupby(["strategy", "domain"], sort=True).agg(
            **{f"mean_{metric}": (metric, "mean")}, n_blocks=(metric, "size")).reset_index()
        out.append(t.assign(stage=st))
    columns = ["stage", "strategy", "domain", f"mean_{metric}", "n_blocks"]
    table = pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)
    table.attrs["blocks_dropped"] = dropped
    return table
