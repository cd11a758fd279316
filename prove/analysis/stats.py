"""Statistics shared by the analyses: bootstrap CIs, rank correlations, Friedman + Nemenyi.

Everything is vectorised over bootstrap resamples (one (n_boot, n) index matrix) so a
leaderboard of dozens of strategies stays well under a second, and seeded so a report can be
rebuilt bit for bit.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats

from prove.errors import ProveError

DEFAULT_N_BOOT = 2000
DEFAULT_SEED = 0


def rng_for(seed: int, label: str = "") -> np.random.Generator:
    """A generator that depends on the seed and a label (e.g. the strategy name), so each
    strategy's CI is reproducible whatever other strategies are in the table."""
    return np.random.default_rng([int(seed), zlib.crc32(label.encode())])


def bootstrap_mean_ci(values, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
                      level: float = 0.95, label: str = "") -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (Efron & Tibshirani 1993, ch. 13)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ProveError("bootstrap of an empty sample")
    if n_boot < 1:
        raise ProveError(f"n_boot must be >= 1, got {n_boot}")
    if x.size == 1:  # one value says nothing about spread: no interval, rather than a false zero-width one
        return float("nan"), float("nan")
    idx = rng_for(seed, label).integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho of each row pair: Pearson correlation of average ranks (ties handled)."""
    ra, rb = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(1) / denom


def _kendall_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall tau-b of each row pair from pairwise signs (what scipy.stats.kendalltau computes)."""
    sa = np.sign(a[:, :, None] - a[:, None, :])
    sb = np.sign(b[:, :, None] - b[:, None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sa * sb).sum((1, 2)) / np.sqrt(np.abs(sa).sum((1, 2)) * np.abs(sb).sum((1, 2)))


@dataclass
class RankCorrelation:
    """Spearman rho and Kendall tau-b of two paired vectors, their p-values (scipy) and
    percentile-bootstrap 95% CIs from resampling the pairs (here: strategies)."""

    n: int
    spearman_rho: float
    spearman_p: float
    spearman_ci: tuple[float, float]
    kendall_tau: float
    kendall_p: float
    kendall_ci: tuple[float, float]


def rank_correlation(a, b, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
                     level: float = 0.95) -> RankCorrelation:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ProveError(f"rank correlation needs two vectors of one length, got {a.shape} and {b.shape}")
    if a.size < 3:
        raise ProveError(f"rank correlation needs at least 3 paired values, got {a.size}")
    rho, rho_p = stats.spearmanr(a, b)
    tau, tau_p = stats.kendalltau(a, b)
    idx = rng_for(seed, "rank_correlation").integers(0, a.size, size=(n_boot, a.size))
    tail = (1 - level) / 2 * 100
    # resamples where one side is constant have no correlation (nan) and are left out
    rho_ci = tuple(float(v) for v in np.nanpercentile(_spearman_rows(a[idx], b[idx]), [tail, 100 - tail]))
    # tau needs (n_boot, n, n) sign arrays: done in chunks so 100+ strategies stay small in memory
    chunk = max(1, 2_000_000 // (a.size * a.size))
    taus = np.concatenate([_kendall_rows(a[idx[i:i + chunk]], b[idx[i:i + chunk]]) for i in range(0, n_boot, chunk)])
    tau_ci = tuple(float(v) for v in np.nanpercentile(taus, [tail, 100 - tail]))
    return RankCorrelation(int(a.size), float(rho), float(rho_p), rho_ci, float(tau), float(tau_p), tau_ci)


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of average ranks (Demšar 2006, eq. 5):
    CD = q_alpha * sqrt(k (k+1) / (6 N)), q_alpha = studentized range quantile / sqrt(2)."""
    if k < 2 or n < 1:
        raise ProveError(f"critical difference needs k >= 2 strategies and N >= 1 blocks, got k={k}, N={n}")
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(k * (k + 1) / (6.0 * n)))
