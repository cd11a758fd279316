"""Where a study stands (planned -> trained -> tested) and how results evolve in training."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from prove.analysis.schema import ALL_DOMAINS, check_domain_value, require_columns
from prove.errors import ProveError


# the fields that tell one planned training from another in the analyses (execution fields
# are left out: a result is "the s1 baseline of model X", whatever the data root)
SPEC_KEYS: tuple[str, ...] = ("stage", "dataset", "model", "strategy", "ratio", "ratio_schedule", "gen_domains",
                              "aux_loss", "main_loss",
                              "pretrained", "seed", "batch_size", "max_iters")
# budget fields a result may not record (an imported one: -1); unrecorded matches any value
UNRECORDED = "-1"
OPTIONAL_KEYS: tuple[str, ...] = ("batch_size", "max_iters")


@dataclass
class Coverage:
    """`summary`: one row per step (planned, trained, tested) with counts;
    `planned_not_trained` / `trained_not_tested`: the missing specs, as rows of spec columns."""

    summary: pd.DataFrame
    planned_not_trained: pd.DataFrame
    trained_not_tested: pd.DataFrame
    keys: list


def _missing(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The rows of `left` with no row of `right` equal on `keys` (an unrecorded OPTIONAL_KEYS
    value on either side matches any)."""
    a = left[keys].drop_duplicates().reset_index(drop=True)
    b = right[keys].drop_duplicates()
    exact = [k for k in keys if k not in OPTIONAL_KEYS]
    loose = [k for k in keys if k in OPTIONAL_KEYS]
    merged = a.reset_index().merge(b, on=exact, how="left", suffixes=("", "_r"), indicator=True)
    found = merged["_merge"] == "both"
    for k in loose:
        found &= (merged[k] == merged[f"{k}_r"]) | (merged[k] == UNRECORDED) | (merged[f"{k}_r"] == UNRECORDED)
    hit = set(merged.loc[found, "index"])
    return a[~a.index.isin(hit)].reset_index(drop=True)


def coverage(planned: pd.DataFrame, trained: pd.DataFrame, tested: pd.DataFrame,
             keys: list[str] | None = None) -> Coverage:
    """Compare the planned specs with the trained runs and the tested results.

    A spec is identified by `keys` (default: every column of `planned`); `trained` and
    `tested` must have those columns. A spec counts as tested when any result carries it, and
    as trained when it was tested: an imported result was trained elsewhere, it is not
    "planned but not trained" (the users saw that on a real run).
    """
    keys = list(planned.columns) if keys is None else list(keys)
    if not keys:
        raise ProveError("coverage needs at least one spec column")
    for what, table in (("planned", planned), ("trained", trained), ("tested", tested)):
        require_columns(table, keys, f"the {what} table")
    # compare as strings: a seed read as int in one table and str in another is the same spec
    planned, trained, tested = (t[keys].astype(str) for t in (planned, trained, tested))
    trained = pd.concat([trained, tested])
    not_trained = _missing(planned, trained, keys)
    not_tested = _missing(trained, tested, keys)
    n_planned = len(planned.drop_duplicates())
    n_trained = len(trained.drop_duplicates())
    n_tested = len(tested.drop_duplicates())
    summary = pd.DataFrame([
        {"step": "planned", "specs": n_planned, "missing": 0},
        {"step": "trained", "specs": n_trained, "missing": len(not_trained)},
        {"step": "tested", "specs": n_tested, "missing": len(not_tested)},
    ])
    return Coverage(summary, not_trained, not_tested, keys)


def coverage_by(planned: pd.DataFrame, trained: pd.DataFrame, tested: pd.DataFrame, keys: list[str],
                by: tuple[str, ...] = ("stage", "model", "dataset")) -> pd.DataFrame:
    """The users' tracker view: per `by` group, how many planned specs are trained and tested
    ("12/18 trained, 9/18 tested"). A spec counts once however many results it has; tested
    implies trained, as in `coverage`."""
    by = [b for b in by if b in keys]
    planned, trained, tested = (t[keys].astype(str).drop_duplicates() for t in (planned, trained, tested))
    trained = pd.concat([trained, tested]).drop_duplicates()
    universe = pd.concat([planned, trained]).drop_duplicates()

    def flag(table: pd.DataFrame, name: str) -> pd.DataFrame:
        # 0/1 counts, not bools: pandas' groupby sum keeps a bool where a group has one row
        return universe.merge(table.assign(**{name: 1}), on=keys, how="left")[name].fillna(0).astype(int).to_numpy()

    table = universe.assign(planned=flag(planned, "planned"), trained=flag(trained, "trained"),
                            tested=flag(tested, "tested"))
    out = table.groupby(by, sort=True).agg(planned=("planned", "sum"), trained=("trained", "sum"),
                                           tested=("tested", "sum"), specs=("planned", "size")).reset_index()
    # without a plan every spec is "planned" (what was trained or tested): the fraction is of the union
    total = out["specs"]
    out["trained_of"] = [f"{t}/{n}" for t, n in zip(out["trained"], total)]
    out["tested_of"] = [f"{t}/{n}" for t, n in zip(out["tested"], total)]
    return out


def convergence(df: pd.DataFrame, by=("stage", "strategy"), domain: str | None = ALL_DOMAINS,
                metric: str = "mIoU") -> pd.DataFrame:
    """Mean metric per `by` and checkpoint_iter, with how many results each mean averages."""
    by = [by] if isinstance(by, str) else list(by)
    require_columns(df, [*by, "checkpoint_iter", metric, "domain"], "the result table")
    if domain is not None:
        check_domain_value(domain)
        df = df[df["domain"] == domain]
    return df.groupby([*by, "checkpoint_iter"], sort=True).agg(
        **{f"mean_{metric}": (metric, "mean")}, n=(metric, "size")).reset_index()


def val_test_gap(val_df: pd.DataFrame, test_df: pd.DataFrame) -> pd.DataFrame:
    """Per training run and test set: the final validation mIoU (its last logged iteration)
    beside the test mIoU of the last tested checkpoint (overall domain), and test - val.

    Validation and test numbers are kept in separate columns, never mixed (docs/lessons.md#8);
    `same_checkpoint` says whether both come from the same iteration.
    """
    require_columns(val_df, ["train_run_id", "checkpoint_iter", "mIoU"], "the validation table")
    require_columns(test_df, ["train_run_id", "test_dataset", "test_split", "checkpoint_iter", "mIoU", "domain"],
                    "the test table")
    val = val_df.sort_values("checkpoint_iter").groupby("train_run_id").tail(1)
    val = val[["train_run_id", "checkpoint_iter", "mIoU"]].rename(
        columns={"checkpoint_iter": "val_iter", "mIoU": "val_mIoU"})
    test = test_df[test_df["domain"] == ALL_DOMAINS].sort_values("checkpoint_iter")
    test = test.groupby(["train_run_id", "test_dataset", "test_split"]).tail(1)
    test = test[["train_run_id", "test_dataset", "test_split", "checkpoint_iter", "mIoU"]].rename(
        columns={"checkpoint_iter": "test_iter", "mIoU": "test_mIoU"})
    out = test.merge(val, on="train_run_id", how="outer")
    out["gap"] = out["test_mIoU"] - out["val_mIoU"]
    out["same_checkpoint"] = out["val_iter"] == out["test_iter"]
    return out.sort_values(["train_run_id", "test_dataset"], na_position="last").reset_index(drop=True)
