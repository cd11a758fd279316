"""`prove list KIND`: every registry, listed from the registry itself (as a table, JSON or the
markdown table the docs embed). One `Listing` per kind; `prove.cli.generated` writes the
markdown into docs/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Listing:
    name: str
    rows: Callable[[], list[dict]]  # one dict per entry: the JSON form
    columns: tuple[str, ...]  # the keys the text table shows
    markdown: Callable[[], str] | None = None


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "-"
    return "-" if value in (None, "") else str(value)


def text_table(rows: list[dict], columns: tuple[str, ...]) -> str:
    widths = {c: max([len(c), *(len(_text(r[c])) for r in rows)]) for c in columns[:-1]}
    lines = ["  ".join(f"{c:<{widths[c]}}" for c in columns[:-1]) + "  " + columns[-1]]
    for r in rows:
        lines.append("  ".join(f"{_text(r[c]):<{widths[c]}}" for c in columns[:-1]) + "  " + _text(r[columns[-1]]))
    return "\n".join(lines)


# -- the kinds ---------------------------------------------------------------------------------

def model_rows() -> list[dict]:
    from prove.models import MODELS, REQUIREMENT_HINTS, get_model_card, list_models

    rows = []
    for name in list_models():
        card = get_model_card(name)
        missing = card.missing_requirements()
        rows.append(dict(
            name=name, family=card.family, tiny=card.tiny, size="tiny" if card.tiny else "full",
            available=not missing, status="available" if not missing else "needs deps",
            needs=[REQUIREMENT_HINTS[m] for m in missing], pretrained=card.pretrained,
            source=card.config or "inline (prove.models.zoo)", aliases=list(card.aliases),
            origin=MODELS.origin(name), description=card.description,
        ))
    return rows


def strategy_rows() -> list[dict]:
    from prove.generators import GENERATORS
    from prove.strategies import GEN_PREFIX, STANDARD, parse_strategy

    rows = [dict(name=name, family=parse_strategy(name).family, modifies_labels=s.modifies_labels,
                 transforms=[t["type"] for t in s.transforms], batch_mix=(s.batch_mix or {}).get("mix", ""),
                 origin=STANDARD.origin(name), description=s.description) for name, s in STANDARD.items()]
    for name, gen in GENERATORS.items():
        strategy = parse_strategy(GEN_PREFIX + name)
        rows.append(dict(name=strategy.name, family=strategy.family, modifies_labels=False, transforms=[],
                         batch_mix="", origin=GENERATORS.origin(name),
                         description=f"real images mixed with {name} images at `ratio` ({gen.family})"))
    return rows


def generator_rows() -> list[dict]:
    from prove.data.domains import DOMAINS
    from prove.generators import GENERATORS

    return [dict(name=name, family=g.family, offline=g.offline,
                 targets=("all domains" if set(g.targets) == set(DOMAINS) else list(g.targets)) if g.offline else [],
                 aliases=list(g.aliases), origin=GENERATORS.origin(name), description=g.description)
            for name, g in GENERATORS.items()]


def dataset_rows() -> list[dict]:
    from prove.data import DATASETS
    from prove.data.base import env_key

    return [dict(name=name, title=cls.title or name, aliases=list(cls.aliases), env=f"PROVE_{env_key(name)}_ROOT",
                 splits=list(cls.splits), domains_from=cls.domains_from, origin=DATASETS.origin(name),
                 description=cls.description) for name, cls in DATASETS.items()]


def preset_rows() -> list[dict]:
    from prove.sweeps.presets import PRESETS

    return [dict(name=name, aliases=list(p.aliases), origin=PRESETS.origin(name), description=p.description)
            for name, p in PRESETS.items()]


def study_rows() -> list[dict]:
    from prove.studies import STUDIES

    return [dict(name=name, aliases=list(st.aliases), factor=st.factor, reference=st.reference, preset=st.preset,
                 main=st.main, origin=STUDIES.origin(name), description=st.description)
            for name, st in STUDIES.items()]


def loss_rows() -> list[dict]:
    from prove.models import LOSSES

    return [dict(name=name, roles=list(loss.roles), main_weight=loss.main_weight, aux_weight=loss.aux_weight,
                 aliases=list(loss.aliases), origin=LOSSES.origin(name), description=loss.description)
            for name, loss in LOSSES.items()]


def schedule_rows() -> list[dict]:
    from prove.data.schedules import SCHEDULES

    return [dict(name=name, aliases=list(s.aliases), uses_split=s.uses_split, description=s.description)
            for name, s in SCHEDULES.items()]


def stage_rows() -> list[dict]:
    from prove.spec import STAGES

    return [dict(name=name, aliases=list(s.aliases), dataset=s.dataset or "any", origin=STAGES.origin(name),
                 description=s.description) for name, s in STAGES.items()]


def executor_rows() -> list[dict]:
    from prove.sweeps.executors import EXECUTORS

    return [dict(name=name, origin=EXECUTORS.origin(name), description=e.description) for name, e in EXECUTORS.items()]


# -- markdown tables the docs embed ------------------------------------------------------------
# Each takes `builtin_only`: the docs show prove's own entries; `prove list --format markdown`
# shows everything known here, a lab's plugins included.

def _cells(*values) -> str:
    return "| " + " | ".join(values) + " |"


def _kept(rows: list[dict], builtin_only: bool) -> list[dict]:
    return [r for r in rows if not builtin_only or r["origin"].startswith("prove.")]


def models_markdown(builtin_only: bool = False) -> str:
    """docs/models.md: the zoo."""
    from prove.models import get_model_card

    lines = ["| model | family | size | mmseg config | ImageNet weights | needs |", "|---|---|---|---|---|---|"]
    for r in _kept(model_rows(), builtin_only):
        card = get_model_card(r["name"])
        lines.append(_cells(f"`{r['name']}`", card.family, r["size"],
                            f"`{card.config}`" if card.config else "inline (`prove/models/zoo.py`)",
                            card.pretrained or "-", ", ".join(card.requires) or "-"))
    return "\n".join(lines)


def strategies_markdown(builtin_only: bool = False) -> str:
    """docs/train.md: what each strategy adds and whether it changes the labels."""
    from prove.strategies import STANDARD

    lines = ["| strategy | what it adds | per-image transforms | batch mixing | changes labels |",
             "|---|---|---|---|---|"]
    for name, s in STANDARD.items():
        if builtin_only and not STANDARD.builtin(name):
            continue
        mix = f"{s.batch_mix['mix']} (p={s.batch_mix['prob']}, alpha={s.batch_mix['alpha']})" if s.batch_mix else "-"
        lines.append(_cells(f"`{name}`", s.description, ", ".join(t["type"] for t in s.transforms) or "-", mix,
                            "yes" if s.modifies_labels else "no"))
    lines.append(_cells("`gen_<generator>`", "generated images mixed in at `ratio` (see "
                        "[generated-images.md](generated-images.md)); `prove list generators`", "as baseline", "-",
                        "no (a generated image has its original's label)"))
    lines.append(_cells("`gen_<generator>+std_<name>`", "both; std transforms apply to real and generated images "
                        "alike", "as `std_<name>`", "as `std_<name>`", "as `std_<name>`"))
    return "\n".join(lines)


def components_markdown(builtin_only: bool = False) -> str:
    """docs/standard-augmentations.md: which mmseg component carries each std_ strategy, and where."""
    from prove.strategies import BASELINE, STANDARD

    lines = ["| strategy | component | where it acts | changes labels |", "|---|---|---|---|"]
    for name, s in STANDARD.items():
        if name == BASELINE or (builtin_only and not STANDARD.builtin(name)):
            continue
        parts = [f"`{t['type']}` (mmseg `TRANSFORMS`)" for t in s.transforms]
        where = "each training image, in the dataset's pipeline, after RandomFlip" if s.transforms else ""
        if s.batch_mix:
            parts.append(f"`MixSegDataPreProcessor(mix=\"{s.batch_mix['mix']}\")` + `MixLossEncoderDecoder` "
                         "(mmseg `MODELS`)")
            where = "each training batch, in the model's data preprocessor and loss"
        lines.append(_cells(f"`{name}`", " + ".join(parts), where, "yes" if s.modifies_labels else "no"))
    return "\n".join(lines)


def generators_markdown(builtin_only: bool = False) -> str:
    """docs/generated-images.md: every generator."""
    lines = ["| name | family | offline | targets | what it does |", "|---|---|---|---|---|"]
    for r in _kept(generator_rows(), builtin_only):
        lines.append(_cells(f"`{r['name']}`", r["family"], _text(r["offline"]), _text(r["targets"]), r["description"]))
    return "\n".join(lines)


def datasets_markdown(builtin_only: bool = False) -> str:
    """docs/datasets.md: every dataset, how it is named and where its domains come from."""
    lines = ["| dataset | canonical name | aliases | root env var | labelled splits | domains from |",
             "|---|---|---|---|---|---|"]
    for r in _kept(dataset_rows(), builtin_only):
        lines.append(_cells(r["title"], f"`{r['name']}`", ", ".join(f"`{a}`" for a in r["aliases"]) or "-",
                            f"`{r['env']}`", ", ".join(r["splits"]), r["domains_from"]))
    return "\n".join(lines)


def presets_markdown(builtin_only: bool = False) -> str:
    """docs/ablation.md: the built-in sweeps."""
    lines = ["| preset | what it plans |", "|---|---|"]
    lines += [_cells(f"`{r['name']}`", r["description"]) for r in _kept(preset_rows(), builtin_only)]
    return "\n".join(lines)


def studies_markdown(builtin_only: bool = False) -> str:
    """docs/ablation.md: the group's studies, in the order of its program."""
    lines = ["| study | what it is | varies | compared with | planned by |", "|---|---|---|---|---|"]
    lines += [_cells(f"`{r['name']}`", r["description"], f"`{r['factor']}`", r["reference"],
                     f"`--preset {r['preset']}`" if r["preset"] else "-") for r in _kept(study_rows(), builtin_only)]
    return "\n".join(lines)


def losses_markdown(builtin_only: bool = False) -> str:
    """docs/train.md: the losses and the roles they may take."""
    from prove.models.losses import NONE

    lines = ["| loss | main loss | auxiliary loss (weight) | what it is |", "|---|---|---|---|"]
    for r in _kept(loss_rows(), builtin_only):
        main = "yes" if r["main_weight"] is not None else "-"
        aux = "(the default)" if r["name"] == NONE else (f"yes ({r['aux_weight']:g})" if r["aux_weight"] is not None
                                                         else "-")
        lines.append(_cells(f"`{r['name']}`", main, aux, r["description"]))
    return "\n".join(lines)


def stages_markdown(builtin_only: bool = False) -> str:
    """docs/train.md: the stages and how users write them."""
    lines = ["| stage | also written | trains on | what it is |", "|---|---|---|---|"]
    for r in _kept(stage_rows(), builtin_only):
        lines.append(_cells(f"`{r['name']}`", ", ".join(f"`{a}`" for a in r["aliases"]), r["dataset"],
                            r["description"]))
    return "\n".join(lines)


LISTINGS: dict[str, Listing] = {l.name: l for l in (
    Listing("strategies", strategy_rows, ("name", "family", "modifies_labels", "description"), strategies_markdown),
    Listing("generators", generator_rows, ("name", "family", "offline", "targets", "description"),
            generators_markdown),
    Listing("datasets", dataset_rows, ("name", "aliases", "splits", "domains_from", "description"), datasets_markdown),
    Listing("presets", preset_rows, ("name", "aliases", "description"), presets_markdown),
    Listing("studies", study_rows, ("name", "factor", "preset", "description"), studies_markdown),
    Listing("models", model_rows, ("name", "family", "size", "status", "description"), models_markdown),
    Listing("losses", loss_rows, ("name", "roles", "aliases", "description"), losses_markdown),
    Listing("stages", stage_rows, ("name", "aliases", "dataset", "description"), stages_markdown),
    Listing("executors", executor_rows, ("name", "description")),
    Listing("schedules", schedule_rows, ("name", "aliases", "uses_split", "description")),
)}
