"""Do two settings rank the strategies alike? (S1 vs S2, pretrained vs scratch, in-domain vs
cross-domain, ...). Each strategy's mean gain over its matched baseline is computed in each
setting; the strategies present in both are compared by rank correlation, rank changes and
direction reversals (gain positive in one setting, negative in the other)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prove.analysis.schema import ALL_DOMAINS, check_domain_value, require_columns
from prove.analysis.stats import DEFAULT_N_BOOT, DEFAULT_SEED, RankCorrelation, rank_correlation
from prove.errors import ProveError

COMPARISON_COLUMNS = ("strategy", "gain_a", "gain_b", "n_a", "n_b", "rank_a", "rank_b", "rank_change", "reversal")


@dataclass
class Comparison:
    """`table`: one row per common strategy (COMPARISON_COLUMNS), sorted by rank_b;
    rank_change = rank_a - rank_b (positive: moved up in B). `winners`/`losers`: the
    strategies with the largest rise / fall. `only_a`/`only_b`: strategies not compared."""

    label_a: str
    label_b: str
    table: pd.DataFrame
    correlation: RankCorrelation
    n_reversals: int
    winners: pd.DataFrame
    losers: pd.DataFrame
    only_a: list = field(default_factory=list)
    only_b: list = field(default_factory=list)


def _mean_gain(gains: pd.DataFrame, domain: str | None) -> pd.DataFrame:
    require_columns(gains, ["strategy", "gain", "domain"], "the gains table")
    if domain is not None:
        check_domain_value(domain)
        gains = gains[gains["domain"] == domain]
    return gains.groupby("strategy").agg(gain=("gain", "mean"), n=("gain", "size"))


def compare_settings(a: pd.DataFrame, b: pd.DataFrame, label_a: str = "A", label_b: str = "B",
                     domain: str | None = ALL_DOMAINS, n_boot: int = DEFAULT_N_BOOT,
                     seed: int = DEFAULT_SEED, top: int = 5) -> Comparison:
    """Compare two gains tables (each already filtered to one setting)."""
    ga, gb = _mean_gain(a, domain), _mean_gain(b, domain)
    common = sorted(set(ga.index) & set(gb.index))
    if len(common) < 3:
        raise ProveError(f"comparing {label_a} and {label_b} needs >= 3 strategies in both, got {len(common)}")
    t = pd.DataFrame({"strategy": common, "gain_a": ga.loc[common, "gain"].to_numpy(),
                      "gain_b": gb.loc[common, "gain"].to_numpy(), "n_a": ga.loc[common, "n"].to_numpy(),
                      "n_b": gb.loc[common, "n"].to_numpy()})
    # rank 1 = largest gain; ties share the best rank, as on the leaderboard
    t["rank_a"] = t["gain_a"].rank(ascending=False, method="min").astype(int)
    t["rank_b"] = t["gain_b"].rank(ascending=False, method="min").astype(int)
    t["rank_change"] = t["rank_a"] - t["rank_b"]
    t["reversal"] = np.sign(t["gain_a"]) * np.sign(t["gain_b"]) < 0
    t = t.sort_values(["rank_b", "strategy"]).reset_index(drop=True)[list(COMPARISON_COLUMNS)]
    corr = rank_correlation(t["gain_a"], t["gain_b"], n_boot=n_boot, seed=seed)
    winners = t[t["rank_change"] > 0].sort_values(["rank_change", "strategy"], ascending=[False, True]).head(top)
    losers = t[t["rank_change"] < 0].sort_values(["rank_change", "strategy"]).head(top)
    return Comparison(label_a, label_b, t, corr, int(t["reversal"].sum()), winners.reset_index(drop=True),
                      losers.reset_index(drop=True), sorted(set(ga.index) - set(common)),
                      sorted(set(gb.index) - set(common)))


def compare_by(gains: pd.DataFrame, column: str, value_a, value_b, **kwargs) -> Comparison:
    """compare_settings on the rows where `column` == value_a vs == value_b."""
    require_columns(gains, [column], "the gains table")
    kwargs.setdefault("label_a", f"{column}={value_a}")
    kwargs.setdefault("label_b", f"{column}={value_b}")
    return compare_settings(gains[gains[column] == value_a], gains[gains[column] == value_b], **kwargs)
