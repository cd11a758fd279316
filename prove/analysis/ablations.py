"""The analyses the group wrote by hand for its ablations, each from the matched gains or the
final results: ratio spread, combination synergy, small objects, the absolute effect of a
setting. Column meanings: docs/leaderboard.md#ablations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove.analysis.schema import ALL_DOMAINS, require_columns
from prove.analysis.settings import SETTING_FIELDS

# the classes the group calls "small objects" (thin or few pixels: where weather hurts first)
SMALL_OBJECTS: tuple[str, ...] = ("pole", "traffic light", "traffic sign", "person", "rider", "motorcycle", "bicycle")
# a setting cell: everything that must be equal for two results to be compared, but the
# strategy, its ratio and the seed
CELL_KEYS: tuple[str, ...] = ("stage", "dataset", "model", "pretrained", "aux_loss", "main_loss", "batch_size",
                              "max_iters", "test_dataset", "test_split")
def _references() -> dict:
    """The value each setting's effect is measured from: the spec's defaults (pretrained: the
    zoo's weights, what `auto` resolves to for a zoo model), max_iters its smallest (base vs
    extended); any other field its most common value."""
    from prove.spec import TrainSpec

    return {"aux_loss": TrainSpec.aux_loss, "main_loss": TrainSpec.main_loss, "pretrained": "true"}


REAL_ONLY = 1.0  # ratio 1.0: every image real, the same training as the baseline: gain 0 by construction


def _overall(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["domain"] == ALL_DOMAINS]


def ratio_spread(gains: pd.DataFrame, real_only_point: bool = True) -> pd.DataFrame:
    """Per stage and strategy trained at several ratios: the mean gain at each ratio, the best
    ratio, the spread (best - worst mean gain, pp) and the non-linearity (root mean square of
    the residuals of a least-squares line through the (ratio, mean gain) points, pp; NaN with
    fewer than 3 ratios).

    `real_only_point`: a gen_* strategy at ratio 1.0 trains on real images only, i.e. it is
    its matched baseline (gain 0); the group takes that point from the main stage instead of
    retraining, and so does this table where ratio 1.0 is not in the data (`implied_1.0`).
    `gains` must not be labelled by ratio (label_settings(keep=("ratio",))).
    """
    require_columns(gains, ["stage", "strategy", "ratio", "gain", "domain"], "the gains table")
    rows = []
    for (stage, strategy), g in _overall(gains).groupby(["stage", "strategy"], sort=True):
        by_ratio = g.groupby("ratio")["gain"].mean()
        implied = bool(real_only_point and str(strategy).startswith("gen_") and REAL_ONLY not in by_ratio.index)
        if implied:
            by_ratio.loc[REAL_ONLY] = 0.0
        by_ratio = by_ratio.sort_index()
        if len(by_ratio) < 2 or (implied and len(by_ratio) < 3):
            continue  # one trained ratio: nothing spreads
        x, y = by_ratio.index.to_numpy(float), by_ratio.to_numpy(float)
        if len(x) >= 3:
            slope, intercept = np.polyfit(x, y, 1)
            nonlinearity = float(np.sqrt(np.mean((y - (slope * x + intercept)) ** 2)))
        else:
            nonlinearity = float("nan")
        best = by_ratio.idxmax()  # ties: the smallest ratio (sorted index)
        rows.append({"stage": stage, "strategy": strategy, "n_ratios": len(by_ratio),
                     "ratios": ", ".join(f"{r:g}" for r in x), "best_ratio": float(best),
                     "best_gain": float(by_ratio.max()), "worst_ratio": float(by_ratio.idxmin()),
                     "worst_gain": float(by_ratio.min()), "spread_pp": float(by_ratio.max() - by_ratio.min()),
                     "nonlinearity_pp": nonlinearity, "implied_1.0": implied,
                     **{f"gain@{r:g}": float(v) for r, v in by_ratio.items()}})
    return pd.DataFrame(rows)


def _cell_means(gains: pd.DataFrame, with_ratio: bool) -> pd.DataFrame:
    keys = [k for k in CELL_KEYS if k in gains.columns] + ["strategy"] + (["ratio"] if with_ratio else [])
    return _overall(gains).groupby(keys, dropna=False)["gain"].mean().reset_index()


def combination_synergy(gains: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """gen_X+std_Y against gen_X alone (same ratio) and std_Y alone, in the same setting cell.

    Per cell: gain_combo, gain_gen, gain_std (mean gains over seeds, overall domain),
    synergy_additive = combo - (gen + std), synergy_vs_best = combo - max(gen, std). Returns
    (per cell, per stage and combination: the means over its cells and in how many cells the
    combination beats the better component). Cells lacking a component are left out.
    """
    require_columns(gains, ["strategy", "ratio", "gain", "domain", *CELL_KEYS], "the gains table")
    cell = [k for k in CELL_KEYS]
    combos = gains[gains["strategy"].astype(str).str.contains(r"\+", regex=True)]
    if combos.empty:
        return pd.DataFrame(), pd.DataFrame()
    with_ratio = _cell_means(gains, with_ratio=True)
    without_ratio = _cell_means(gains, with_ratio=False)
    c = _cell_means(combos, with_ratio=True).rename(columns={"gain": "gain_combo", "strategy": "combination"})
    parts = c["combination"].str.split("+", n=1, expand=True)
    c["gen"], c["std"] = parts[0], parts[1]
    c = c.merge(with_ratio.rename(columns={"strategy": "gen", "gain": "gain_gen"}), on=[*cell, "gen", "ratio"],
                how="inner")
    c = c.merge(without_ratio.rename(columns={"strategy": "std", "gain": "gain_std"}), on=[*cell, "std"], how="inner")
    c["synergy_additive"] = c["gain_combo"] - (c["gain_gen"] + c["gain_std"])
    c["synergy_vs_best"] = c["gain_combo"] - c[["gain_gen", "gain_std"]].max(axis=1)
    per_cell = c[[*cell, "combination", "gen", "std", "ratio", "gain_combo", "gain_gen", "gain_std",
                  "synergy_additive", "synergy_vs_best"]].sort_values([*cell, "combination"]).reset_index(drop=True)
    summary = per_cell.groupby(["stage", "combination", "gen", "std"], sort=True).agg(
        gain_combo=("gain_combo", "mean"), gain_gen=("gain_gen", "mean"), gain_std=("gain_std", "mean"),
        synergy_additive=("synergy_additive", "mean"), synergy_vs_best=("synergy_vs_best", "mean"),
        n_cells=("gain_combo", "size"), n_beats_best=("synergy_vs_best", lambda s: int((s > 0).sum())),
    ).reset_index()
    return per_cell, summary


def small_objects(class_gain_table: pd.DataFrame, classes: tuple[str, ...] = SMALL_OBJECTS
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-class IoU gains of the small-object classes (input: `class_gains(...)[0]`).

    Returns (per stage and strategy: the mean gain of each small class and `small_mean`, the
    mean of those class means, each class weighing the same; per stage, strategy, domain and
    class: the mean gain, for the per-domain x per-class view).
    """
    require_columns(class_gain_table, ["stage", "strategy", "domain", "class", "gain"], "the class gains table")
    rows = class_gain_table[class_gain_table["class"].isin(classes)]
    if rows.empty:
        return pd.DataFrame(), pd.DataFrame()
    by_domain = rows.groupby(["stage", "strategy", "domain", "class"], sort=True).agg(
        mean_gain=("gain", "mean"), n_pairs=("gain", "size")).reset_index()
    overall = by_domain[by_domain["domain"] == ALL_DOMAINS]
    wide = overall.pivot_table(index=["stage", "strategy"], columns="class", values="mean_gain")
    wide = wide[[c for c in classes if c in wide.columns]]
    wide["small_mean"] = wide.mean(axis=1)
    wide = wide.reset_index().sort_values(["stage", "small_mean"], ascending=[True, False]).reset_index(drop=True)
    wide.columns.name = None
    return wide, by_domain


def setting_effect(final: pd.DataFrame, column: str, metric: str = "mIoU",
                   reference=None) -> pd.DataFrame:
    """The absolute effect of a setting on the same strategies: `metric` at each other value of
    `column` minus `metric` at `reference` (default: `_references()`; for max_iters the
    smallest, i.e. extended vs base; else the most common value), paired on everything else (stage, data, model, strategy,
    ratio, seed, test set, the other settings). Baselines are strategies here too.

    One row per (stage, strategy, value): mean_reference, mean_value, effect (pp), n_pairs.
    """
    require_columns(final, [column, metric, "strategy", "seed", "domain"], "the result table")
    rows = _overall(final)
    if rows[column].nunique() < 2:
        return pd.DataFrame()
    if reference is None:
        counts = rows[column].value_counts()
        reference = _references().get(column)
        if column == "max_iters":
            reference = rows[column].min()
        elif reference not in set(rows[column]):
            reference = sorted(counts[counts == counts.max()].index, key=str)[0]
    pair = [k for k in (*CELL_KEYS, "strategy", "ratio", "seed", *SETTING_FIELDS)
            if k in rows.columns and k != column]
    pair = list(dict.fromkeys(pair))
    ref = rows[rows[column] == reference].groupby(pair, dropna=False)[metric].mean().rename("value_ref")
    out = []
    for value in sorted(set(rows[column]) - {reference}, key=str):
        other = rows[rows[column] == value].groupby(pair, dropna=False)[metric].mean().rename("value_other")
        both = pd.concat([ref, other], axis=1, join="inner").reset_index()
        if both.empty:
            continue
        both["effect"] = both["value_other"] - both["value_ref"]
        g = both.groupby(["stage", "strategy"], sort=True).agg(
            mean_reference=("value_ref", "mean"), mean_value=("value_other", "mean"),
            effect=("effect", "mean"), n_pairs=("effect", "size")).reset_index()
        out.append(g.assign(field=column, reference=str(reference), value=str(value)))
    if not out:
        return pd.DataFrame()
    t = pd.concat(out, ignore_index=True)
    return t[["stage", "field", "reference", "value", "strategy", "mean_reference", "mean_value", "effect",
              "n_pairs"]]
