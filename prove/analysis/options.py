"""The options of `prove leaderboard`, as the user writes them (CLI and MLproject read them),
the parsers of their text values, and the report's defaults. `prove.analysis.run.request_from`
validates them into a `LeaderboardRequest`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prove.errors import ProveError
from prove.spec import option

DEFAULT_OUTPUT = "leaderboard"
DEFAULT_EXCLUSIONS = "exclusions.yaml"  # used when present; a missing file passed explicitly is an error
DEFAULT_METRIC = "mIoU"
DEFAULT_CD_BLOCKS = ("dataset", "model")


@dataclass(frozen=True)
class LeaderboardOptions:
    stage: str = option("all", "Stages to report, comma-separated (s1,s2,cg; any spelling: stage1, 'Stage 2') or all.")
    experiments: str = option("", "MLflow experiments to read, comma-separated (default: all).")
    tracking_uri: str = option("", "Tracking store (default: MLFLOW_TRACKING_URI / ./mlruns).")
    output: str = option(DEFAULT_OUTPUT, "Folder for report.md, tables/ and plots/.")
    metric: str = option(DEFAULT_METRIC, "Metric ranked: mIoU, mAcc, aAcc or fwIoU.")
    filter: str = option("", "Keep only rows with column=value, comma-separated (e.g. dataset=acdc,pretrained=true).")
    exclusions: str = option(DEFAULT_EXCLUSIONS, "YAML file of exclusions (field, value, reason); used when it exists.")
    plan: str = option("", "Plan for coverage (planned vs trained vs tested): a sweep YAML file or a preset "
                       "name (`--plan ratio`).")
    compare: str = option("auto", "Settings to compare, column:a:b comma-separated (e.g. "
                          "stage:s1:s2,pretrained:true:false); auto = those present.")
    cd_blocks: str = option(",".join(DEFAULT_CD_BLOCKS),
                            "Columns whose combinations are the blocks of the critical-difference test.")
    experiment: str = option("", "MLflow experiment of the analysis run (default: as for train).")
    refresh: bool = option(False, "Rebuild the cached tables from the store (after `mlflow gc` or restoring a backup).")
    quality: str = option("", "CSV of image-quality scores the group already has (generator, dataset, FID, LPIPS, "
                          "CLIP-FID, ...), beside those `prove quality` stored: each correlated with the gain.")
    latex: str = option("", "Also write booktabs tables and vector PDF figures for a paper into this folder, with "
                        "the runs behind each (manifest.json); byte-identical while the store is unchanged.")


def parse_list(text: str) -> tuple[str, ...]:
    """'a, b' -> ('a', 'b'); '' and 'all' -> ()."""
    items = tuple(p.strip() for p in text.split(",") if p.strip())
    return () if items in ((), ("all",)) else items


def parse_filters(text: str) -> tuple[tuple[str, str], ...]:
    """'dataset=acdc,model=x' -> (('dataset', 'acdc'), ('model', 'x'))."""
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        column, sep, value = part.partition("=")
        if not sep or not column.strip():
            raise ProveError(f"invalid filter {part!r}: expected column=value (e.g. dataset=acdc)")
        out.append((column.strip(), value.strip()))
    return tuple(out)


def parse_comparisons(text: str) -> tuple[tuple[str, str, str], ...] | None:
    """'auto' -> None; 'stage:s1:s2,pretrained:true:false' -> the triples."""
    if text.strip() in ("", "auto"):
        return None
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        bits = part.split(":")
        if len(bits) != 3 or not all(bits):
            raise ProveError(f"invalid comparison {part!r}: expected column:value_a:value_b (e.g. stage:s1:s2)")
        out.append(tuple(bits))
    return tuple(out)


def existing_file(text: str, what: str, default: str | None = None) -> Path | None:
    """'' -> None; the default name when absent -> None; any other missing path -> error."""
    if not text:
        return None
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if text == default:
        return None
    raise ProveError(f"{what} file not found: {text}")
