"""Settings kept apart: a spec field that varies within one strategy is never pooled.

A stage may hold one strategy at several settings: gen_X at ratio 0, 0.25 and 0.5 (the ratio
study lives in S1 beside the main runs), batch 2 to 16, 15k and 45k iterations (extended
training), with and without an auxiliary loss. Averaging those into one "gen_X" mean mixes
studies, which the group did by hand once and paid for. So wherever a field of
SETTING_FIELDS takes more than one value among one strategy's results in one stage, the
strategy is labelled with its value, "gen_X [ratio=0.25]", and every leaderboard, breakdown
and test ranks the labelled names. A field that is constant within each strategy (the
baseline at ratio 1.0, the gen_* at 0.5) labels nothing.

A comparison of that very field (`--compare pretrained:true:false`) keeps it out of the
label (`keep`), so the same strategy is found on both sides.
"""

from __future__ import annotations

import pandas as pd

from prove.analysis.schema import require_columns

# spec fields that are settings of a strategy, not of the study (stage, dataset, model and
# seed are the study's blocks; the test set is matched, never pooled)
SETTING_FIELDS: tuple[str, ...] = ("ratio", "ratio_schedule", "gen_domains", "batch_size", "max_iters", "aux_loss",
                                   "main_loss", "pretrained")
BASE_STRATEGY = "base_strategy"  # the strategy name before labelling


def _value(v) -> str:
    if isinstance(v, str) and v == "":  # gen_domains: every generated image
        return "all"
    if isinstance(v, float) and v.is_integer():
        return f"{v:.1f}"
    return str(v)


def varying_settings(df: pd.DataFrame, keep: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Per stage, the SETTING_FIELDS that take several values within one strategy."""
    fields = [f for f in SETTING_FIELDS if f in df.columns and f not in keep]
    require_columns(df, ["stage", "strategy"], "the table")
    out = {}
    for stage, g in df.groupby("stage", sort=True):
        counts = g.groupby("strategy")[fields].nunique()
        out[stage] = [f for f in fields if (counts[f] > 1).any()]
    return out


def label_settings(df: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """`df` with `strategy` labelled by the settings that vary within it (see module doc),
    the original name in `base_strategy`. Fields in `keep` are never in the label."""
    out = df.copy()
    if BASE_STRATEGY not in out.columns:
        out[BASE_STRATEGY] = out["strategy"]
    varying = varying_settings(df, keep)
    labels = out["strategy"].astype(str).copy()
    for stage, fields in varying.items():
        if not fields:
            continue
        rows = out["stage"] == stage
        counts = out[rows].groupby("strategy")[fields].nunique()
        for strategy, n in counts.iterrows():
            mine = rows & (out["strategy"] == strategy)
            shown = [f for f in fields if n[f] > 1]  # only what varies for this strategy
            if not shown:
                continue
            suffix = out.loc[mine, shown].apply(
                lambda r: ", ".join(f"{f}={_value(r[f])}" for f in shown), axis=1)
            labels[mine] = strategy + " [" + suffix + "]"
    out["strategy"] = labels
    return out


def settings_present(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (stage, field, value): how many results and strategies carry it, and whether
    the field is kept apart in that stage (varies within a strategy)."""
    raw = df.assign(strategy=df[BASE_STRATEGY]) if BASE_STRATEGY in df.columns else df
    varying = varying_settings(raw)
    rows = []
    for stage, g in df.groupby("stage", sort=True):
        for f in [f for f in SETTING_FIELDS if f in g.columns]:
            for value, h in g.groupby(f, sort=True):
                rows.append(dict(stage=stage, field=f, value=_value(value), results=int(h["run_id"].nunique()),
                                 strategies=int(h[BASE_STRATEGY if BASE_STRATEGY in h else "strategy"].nunique()),
                                 kept_apart=f in varying[stage]))
    return pd.DataFrame(rows, columns=["stage", "field", "value", "results", "strategies", "kept_apart"])
