"""The seed noise floor: how far the baseline moves when only the seed changes, which gains are
smaller than that, and a paired test per strategy over blocks.

A *block* is one matched setting (`MATCH_KEYS`: stage, training data, model, losses, budget,
test set, domain): the unit a gain is paired within. Per block the baseline's seed-to-seed
standard deviation (sample SD, ddof 1) is what a gain must exceed to be told apart from a
reseed. A strategy's noise floor is the pooled SD over the baseline blocks it was compared in
(`sqrt(sum((n_i - 1) s_i^2) / sum(n_i - 1))`, blocks with two or more baseline seeds); its
mean gain is *within noise* when smaller in size than that. Blocks with one baseline seed say
nothing about noise and are left out of it (noise_sd is NaN when no block has two).

The paired test: the strategy's gain per block (seeds averaged within the block) against zero,
Wilcoxon signed-rank (scipy, two-sided, exact for small samples), Holm-corrected across the
strategies of the stage (Holm 1979). It sits beside the bootstrap CI: the CI says how large,
the test how sure, across blocks rather than across pairs that share a block.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from prove.analysis.gains import MATCH_KEYS
from prove.analysis.schema import ALL_DOMAINS, BASELINE_FAMILY, require_columns
from prove.errors import ProveError

NOISE_COLUMNS = ("strategy", "n_blocks", "noise_sd", "noise_blocks", "within_noise", "wilcoxon_W", "wilcoxon_p",
                 "wilcoxon_p_holm")


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted in m)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    order = np.argsort(p[ok], kind="stable")
    scaled = (m - np.arange(m)) * p[ok][order]
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    values = np.empty(m)
    values[order] = adjusted
    out[ok] = values
    return out


def baseline_rows(final: pd.DataFrame, domain: str = ALL_DOMAINS) -> pd.DataFrame:
    family = final["strategy_family"] == BASELINE_FAMILY
    return final[family & (final["domain"] == domain)]


def baseline_seed_spread(final: pd.DataFrame, metric: str = "mIoU", stage: str | None = None,
                         domain: str = ALL_DOMAINS) -> pd.DataFrame:
    """One row per baseline block: MATCH_KEYS, n_seeds, mean_<metric>, seed_sd (NaN with one seed)."""
    require_columns(final, [*MATCH_KEYS, "seed", "strategy_family", metric], "the result table")
    base = baseline_rows(final, domain)
    if stage is not None:
        base = base[base["stage"] == stage]
    keys = list(MATCH_KEYS)
    per_seed = base.groupby(keys + ["seed"], dropna=False)[metric].mean().reset_index()
    spread = per_seed.groupby(keys, dropna=False).agg(
        n_seeds=("seed", "size"), **{f"mean_{metric}": (metric, "mean")}, seed_sd=(metric, "std")).reset_index()
    return spread.sort_values(keys).reset_index(drop=True)


def _with_seeds(n_seeds, sds) -> np.ndarray:
    """Which blocks say something about seed noise: two or more seeds, so an SD."""
    return (np.asarray(n_seeds, dtype=float) >= 2) & ~np.isnan(np.asarray(sds, dtype=float))


def pooled_sd(n_seeds, sds) -> float:
    """The pooled standard deviation of blocks with n_i >= 2 seeds (NaN when there is none)."""
    n, s = np.asarray(n_seeds, dtype=float), np.asarray(sds, dtype=float)
    keep = _with_seeds(n, s)
    dof = (n[keep] - 1).sum()
    return float(np.sqrt(((n[keep] - 1) * s[keep] ** 2).sum() / dof)) if dof > 0 else float("nan")


def noise_table(gains: pd.DataFrame, spread: pd.DataFrame, stage: str, domain: str = ALL_DOMAINS) -> pd.DataFrame:
    """Per strategy of `stage`: its blocks, noise floor, within_noise, Wilcoxon and Holm (NOISE_COLUMNS)."""
    require_columns(gains, [*MATCH_KEYS, "strategy", "gain"], "the gains table")
    rows = gains[(gains["stage"] == stage) & (gains["domain"] == domain)]
    if rows.empty:
        raise ProveError(f"no matched results for stage={stage!r}, domain={domain!r}")
    keys = list(MATCH_KEYS)
    spread = spread[keys + ["n_seeds", "seed_sd"]]
    records = []
    for strategy, g in rows.groupby("strategy", sort=True):
        blocks = g.groupby(keys, dropna=False)["gain"].mean().reset_index()
        noise = blocks.merge(spread, on=keys, how="left")
        n_seeds = noise["n_seeds"].fillna(0)
        sd = pooled_sd(n_seeds, noise["seed_sd"])
        mean_gain = float(g["gain"].mean())
        x = blocks["gain"].to_numpy(float)
        w, p = _wilcoxon(x)
        records.append({"strategy": strategy, "n_blocks": int(len(blocks)), "noise_sd": sd,
                        "noise_blocks": int(_with_seeds(n_seeds, noise["seed_sd"]).sum()),
                        "within_noise": bool(abs(mean_gain) < sd) if not np.isnan(sd) else False,
                        "wilcoxon_W": w, "wilcoxon_p": p})
    table = pd.DataFrame(records)
    table["wilcoxon_p_holm"] = holm(table["wilcoxon_p"])
    return table[list(NOISE_COLUMNS)]


def _wilcoxon(x: np.ndarray) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank of block gains against 0; NaN when there is nothing to rank
    (no block, or every gain exactly 0)."""
    if x.size == 0 or not np.any(x != 0):
        return float("nan"), float("nan")
    result = stats.wilcoxon(x, zero_method="wilcox", alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def noise_summary(table: pd.DataFrame, spread: pd.DataFrame) -> dict:
    """The stage's pooled noise floor and how many strategies are within it or pass Holm at 0.05."""
    return {"noise_sd": pooled_sd(spread["n_seeds"], spread["seed_sd"]),
            "noise_blocks": int(_with_seeds(spread["n_seeds"], spread["seed_sd"]).sum()),
            "n_within_noise": int(table["within_noise"].sum()),
            "n_holm_05": int((table["wilcoxon_p_holm"] < 0.05).sum())}
