"""Critical-difference analysis (Demšar 2006): are the strategies' average ranks over
independent blocks (dataset x model) further apart than chance allows?

Each block ranks all strategies by their mean metric in that block (1 = best, ties share the
average rank). The Friedman test asks whether any strategy differs; the Nemenyi critical
difference says which pairs do: average ranks closer than CD are not distinguishable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from scipy import stats

from prove.analysis.schema import ALL_DOMAINS, check_domain_value, require_columns
from prove.analysis.stats import nemenyi_cd
from prove.errors import ProveError


@dataclass
class CriticalDifference:
    """`avg_ranks`: strategy -> average rank, best first; `ranks`: block x strategy ranks;
    `cliques`: groups of strategies whose ranks lie within CD of each other (maximal groups)."""

    avg_ranks: pd.Series
    cd: float
    statistic: float
    p_value: float
    k: int
    n_blocks: int
    alpha: float
    ranks: pd.DataFrame
    cliques: list = field(default_factory=list)
    dropped_blocks: list = field(default_factory=list)


def _cliques(avg: pd.Series, cd: float) -> list[list[str]]:
    names, values = list(avg.index), avg.to_numpy()
    groups = []
    for i in range(len(values)):
        j = i
        while j + 1 < len(values) and values[j + 1] - values[i] < cd:
            j += 1
        if j > i and not any(i >= g0 and j <= g1 for g0, g1 in groups):
            groups.append((i, j))
    return [names[g0:g1 + 1] for g0, g1 in groups]


def critical_difference(df: pd.DataFrame, blocks=("dataset", "model"), value: str = "mIoU",
                        domain: str | None = ALL_DOMAINS, alpha: float = 0.05) -> CriticalDifference:
    """Friedman test + Nemenyi CD over the strategies of `df` (a result table, baseline
    included). Blocks missing a strategy are dropped (listed in `dropped_blocks`): the
    Friedman test needs every strategy ranked in every block."""
    blocks = [blocks] if isinstance(blocks, str) else list(blocks)
    require_columns(df, [*blocks, "strategy", value, "domain"], "the result table")
    if domain is not None:
        check_domain_value(domain)
        df = df[df["domain"] == domain]
    table = df.pivot_table(index=blocks, columns="strategy", values=value, aggfunc="mean")
    incomplete = table.isna().any(axis=1)
    dropped = [k if isinstance(k, tuple) else (k,) for k in table.index[incomplete]]
    table = table[~incomplete]
    k, n = table.shape[1], table.shape[0]
    if k < 3 or n < 2:
        raise ProveError(f"critical difference needs >= 3 strategies and >= 2 complete blocks, got k={k}, N={n}")
    ranks = table.rank(axis=1, ascending=False, method="average")
    avg = ranks.mean(axis=0).sort_values(kind="stable")
    statistic, p = stats.friedmanchisquare(*[table[c].to_numpy() for c in table.columns])
    cd = nemenyi_cd(k, n, alpha)
    return CriticalDifference(avg, cd, float(statistic), float(p), k, n, alpha, ranks, _cliques(avg, cd), dropped)
