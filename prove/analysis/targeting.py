"""Domain-targeted generated images: what keeping only the images aimed at one domain
(`--gen-domains night`) does to that domain, and to the others.

Input: matched gains with every domain (one row per result and test domain), strategies
labelled by setting, `gen_domains` and `base_strategy` columns. A strategy counts as targeted
in a stage when some of its results there have a non-empty `gen_domains`; its untargeted runs
(`gen_domains` "", shown as `all`) stay in the table as the reference.
"""

from __future__ import annotations

import pandas as pd

from prove.analysis.schema import ALL_DOMAINS, require_columns
from prove.analysis.settings import BASE_STRATEGY
from prove.data.domains import CLEAR_DAY

TARGETING_COLUMNS = ("base_strategy", "gen_domains", "strategy", "domain", "targeted", "mean_gain", "n_pairs")
SUMMARY_COLUMNS = ("base_strategy", "gen_domains", "strategy", "gain_targeted", "gain_other_adverse",
                   "gain_clear_day", "gain_all", "n_pairs")


def targeting_table(gains: pd.DataFrame, stage: str) -> pd.DataFrame:
    """Mean gain per targeted strategy, gen_domains setting and test domain (TARGETING_COLUMNS);
    `targeted`: the test domain is one the images were kept for."""
    require_columns(gains, ["stage", "strategy", BASE_STRATEGY, "gen_domains", "domain", "gain"], "the gains table")
    rows = gains[gains["stage"] == stage]
    targeted = set(rows.loc[rows["gen_domains"] != "", BASE_STRATEGY])
    rows = rows[rows[BASE_STRATEGY].isin(targeted)]
    if rows.empty:
        return pd.DataFrame(columns=list(TARGETING_COLUMNS))
    table = rows.groupby([BASE_STRATEGY, "gen_domains", "strategy", "domain"], sort=True).agg(
        mean_gain=("gain", "mean"), n_pairs=("gain", "size")).reset_index()
    table["targeted"] = [d in g.split(",") for d, g in zip(table["domain"], table["gen_domains"])]
    return table.rename(columns={BASE_STRATEGY: "base_strategy"})[list(TARGETING_COLUMNS)]


def targeting_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per targeted strategy and setting: the mean gain on its target domains, on the other
    adverse domains, on clear_day and overall (each the mean of the per-domain mean gains)."""
    records = []
    for (base, gen_domains, strategy), g in table.groupby(["base_strategy", "gen_domains", "strategy"], sort=True):
        per = g[g["domain"] != ALL_DOMAINS]
        other = per[~per["targeted"] & (per["domain"] != CLEAR_DAY)]
        overall = g[g["domain"] == ALL_DOMAINS]  # one row per setting
        records.append({  # the mean of no domain is NaN
            "base_strategy": base, "gen_domains": gen_domains or "all", "strategy": strategy,
            "gain_targeted": float(per.loc[per["targeted"], "mean_gain"].mean()),
            "gain_other_adverse": float(other["mean_gain"].mean()),
            "gain_clear_day": float(per.loc[per["domain"] == CLEAR_DAY, "mean_gain"].mean()),
            "gain_all": float(overall["mean_gain"].mean()),
            "n_pairs": int(overall["n_pairs"].sum()),
        })
    return pd.DataFrame(records, columns=list(SUMMARY_COLUMNS))
