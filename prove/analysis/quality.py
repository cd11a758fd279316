"""Does better image quality mean better segmentation? Each quality score (KID and FID that
`prove quality` logged, or FID, LPIPS, CLIP-FID imported from a CSV) against the mean gain of
the generator's strategy, per stage: Spearman with a bootstrap CI over generators.

A generator's score is its mean over the datasets (and target domains) the stage's gains are
on; its gain is the leaderboard's mean gain of `gen_<generator>` (unlabelled: a strategy at
several settings is not one point). Lower-is-better scores (FID, KID, LPIPS) make a helpful
quality show as a negative rho.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove.analysis.stats import DEFAULT_N_BOOT, DEFAULT_SEED, rank_correlation

CORRELATION_COLUMNS = ("features", "score", "n_generators", "spearman_rho", "spearman_p", "ci_low", "ci_high")
POINT_COLUMNS = ("features", "score", "generator", "value", "mean_gain")
MIN_POINTS = 3


def quality_points(quality: pd.DataFrame, board: pd.DataFrame, datasets: set[str]) -> pd.DataFrame:
    """One row per (features, score, generator) with the score and the strategy's mean gain."""
    q = quality[quality["dataset"].isin(datasets)]
    if q.empty:
        return pd.DataFrame(columns=list(POINT_COLUMNS))
    per = q.groupby(["features", "score", "generator"], sort=True)["value"].mean().reset_index()
    gains = board[["strategy", "mean_gain"]].assign(generator=lambda t: t["strategy"].str.removeprefix("gen_"))
    gains = gains[board["strategy"].str.startswith("gen_")]
    return per.merge(gains[["generator", "mean_gain"]], on="generator", how="inner")[list(POINT_COLUMNS)]


def quality_correlations(points: pd.DataFrame, n_boot: int = DEFAULT_N_BOOT,
                         seed: int = DEFAULT_SEED) -> pd.DataFrame:
    records = []
    for (features, score), g in points.groupby(["features", "score"], sort=True):
        record = dict(features=features, score=score, n_generators=len(g), spearman_rho=np.nan, spearman_p=np.nan,
                      ci_low=np.nan, ci_high=np.nan)
        if len(g) >= MIN_POINTS:
            c = rank_correlation(g["value"].to_numpy(float), g["mean_gain"].to_numpy(float), n_boot=n_boot, seed=seed)
            record.update(spearman_rho=c.spearman_rho, spearman_p=c.spearman_p, ci_low=c.spearman_ci[0],
                          ci_high=c.spearman_ci[1])
        records.append(record)
    return pd.DataFrame(records, columns=list(CORRELATION_COLUMNS))
