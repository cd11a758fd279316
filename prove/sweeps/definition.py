"""Sweep definitions: which trainings and tests a study (or an ablation) consists of.

A sweep file is YAML (safe-loaded); `prove ablation --preset NAME` uses a built-in one
(`prove.sweeps.presets`). A study's plan (`prove leaderboard --plan`) is a sweep file too: the
sweep a study runs is the plan its coverage is checked against. Everything is validated before anything runs, with the file and the field
named in the error.

    name: night-fog
    grid:                          # every combination of these train options (a list of such
      strategy: [baseline, std_autoaugment, gen_physics_fog]   # mappings: the union of their grids)
      seed: [0, 1]
    fixed: {stage: s1, dataset: weather_bench, model: fcn_r18-tiny, max_iters: 300}
    exclude:                       # ... minus combinations matching every field of an entry
      - {strategy: gen_physics_fog, seed: 1}
    manifests:                     # generated images of external generators: the first path that exists
      "{generator}": [/shared/generated/{generator}/manifest.csv, /shared/generated/{generator}/{dataset}/manifest.csv]
    tests:                         # test sets of every training (default: its own dataset)
      - {dataset: same}
      - {dataset: acdc, split: val, stage: cg}   # `stage`: only for the trainings of that stage
    checkpoint: last               # or all: test every checkpoint
    resources: {gpus: 1, cpus: 8, mem_gb: 32, time_min: 720, warn_min: 10, queue: gpu}   # per worker job
    extend: 1                      # 3: continue each finished grid training to 3x its iterations

A combination whose spec cannot be built here (an external generator's manifest that is not
on this machine) is kept as *blocked* with its reason: a dry run on a laptop still shows the
whole plan, and the runner skips what it cannot run.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from prove.errors import ProveError
from prove.spec import TrainSpec

SWEEP_KEYS = ("name", "study", "grid", "fixed", "exclude", "manifests", "tests", "checkpoint", "resources", "extend")
CHECKPOINTS = ("last", "all")  # which checkpoints of each training are tested
# Per worker job. `queue` is SLURM's partition (`partition` is accepted as its name there);
# `warn_min`: minutes before `time_min` at which the job is warned and hands its spec back.
RESOURCE_KEYS = {"gpus": int, "cpus": int, "mem_gb": int, "time_min": int, "warn_min": int, "queue": str,
                 "account": str}
RESOURCE_ALIASES = {"partition": "queue"}
RESOURCE_MINIMUMS = {"gpus": 0, "cpus": 1, "mem_gb": 0, "time_min": 1, "warn_min": 0}
DEFAULT_RESOURCES = {"gpus": 0, "cpus": 2, "mem_gb": 8, "time_min": 60, "warn_min": 10, "queue": "", "account": ""}
SAME = "same"  # a test set equal to the training dataset
DEFAULT_CHECKPOINT = "last"
DEFAULT_EXTEND = 1


@dataclass(frozen=True)
class TestSet:
    dataset: str = SAME
    split: str = ""  # "" = the dataset's test split where it has one, else val (as prove test)
    stage: str = ""  # "" = every training; else only the trainings of this stage (CG's ACDC test)

    def resolve(self, spec: TrainSpec) -> tuple[str, str]:
        return (spec.dataset if self.dataset == SAME else self.dataset), self.split

    def applies(self, spec: TrainSpec) -> bool:
        return not self.stage or self.stage == spec.stage


@dataclass(frozen=True)
class SweepItem:
    """One training of the sweep: its spec (None when blocked), its tests, or why it is blocked."""

    combination: tuple[tuple[str, Any], ...]
    spec: TrainSpec | None  # None when blocked
    blocked: str = ""
    planned: TrainSpec | None = None  # the spec a blocked combination would have (when it has one)
    study: str = ""  # the study its runs belong to (prove.studies; the `prove.study` tag)

    @property
    def label(self) -> str:
        spec = self.spec or self.planned
        return spec.run_name if spec else ", ".join(f"{k}={v}" for k, v in self.combination)


@dataclass(frozen=True)
class Sweep:
    name: str
    grid: tuple[Mapping[str, list], ...]  # one or more grids; the sweep is the union of their combinations
    fixed: Mapping[str, Any] = field(default_factory=dict)
    exclude: tuple[Mapping[str, Any], ...] = ()
    manifests: Mapping[str, str | list[str]] = field(default_factory=dict)
    tests: tuple[TestSet, ...] = (TestSet(),)
    checkpoint: str = DEFAULT_CHECKPOINT
    resources: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_RESOURCES))
    extend: int = DEFAULT_EXTEND  # > 1: continue each grid training (once finished) to extend x its iterations
    studies: tuple[str, ...] = ()  # per grid block, the study of its runs ("" = none declared)

    def study_of_block(self, index: int) -> str:
        return self.studies[index] if index < len(self.studies) else ""

    def items(self) -> list[SweepItem]:
        """Every non-excluded combination, in grid order, deduplicated by spec hash (a spec in
        two grid blocks belongs to the first block's study)."""
        out, seen = [], set()
        for block, combo in self._block_combinations():
            study = self.study_of_block(block)
            if any(all(_same(combo.get(k, self.fixed.get(k)), v) for k, v in ex.items()) for ex in self.exclude):
                continue
            raw = {**self.fixed, **combo}
            try:
                spec = TrainSpec.create(**self._with_manifest(raw))
                if self.extend > 1:
                    spec = TrainSpec.create(**{**self._with_manifest(raw), "max_iters": spec.max_iters * self.extend,
                                               "continue_from": spec.spec_hash()})
            except ProveError as exc:
                if "manifest" not in str(exc):
                    raise ProveError(f"sweep {self.name!r}, combination {combo}: {exc}") from None
                out.append(SweepItem(tuple(combo.items()), None, str(exc), _planned(raw, self.extend), study))
                continue
            if spec.spec_hash() in seen:
                continue
            seen.add(spec.spec_hash())
            missing = self.unavailable_here(spec)
            out.append(SweepItem(tuple(combo.items()), None if missing else spec, missing, spec, study))
        return out

    def combinations(self) -> list[dict]:
        """Every combination of every grid, in grid order."""
        return [combo for _, combo in self._block_combinations()]

    def _block_combinations(self) -> list[tuple[int, dict]]:
        return [(i, dict(zip(grid, values))) for i, grid in enumerate(self.grid)
                for values in itertools.product(*grid.values())]

    def tests_of(self, spec: TrainSpec) -> list[TestSet]:
        return [t for t in self.tests if t.applies(spec)]

    def unavailable_here(self, spec: TrainSpec) -> str:
        """Why `spec` cannot run on this machine (its model's packages, its data roots), or ''."""
        from prove.data import DATASETS
        from prove.data.base import resolve_root
        from prove.models import get_model_card

        missing = get_model_card(spec.model).missing_requirements()
        if missing:
            from prove.models import REQUIREMENT_HINTS

            return f"model {spec.model} needs {'; '.join(REQUIREMENT_HINTS[m] for m in missing)}"
        wanted = [(spec.dataset, spec.data_root)] + [(t.dataset, "") for t in self.tests_of(spec) if t.dataset != SAME]
        for dataset, root in wanted:
            adapter = DATASETS.get(dataset)
            if adapter.embedded:
                continue
            try:
                resolve_root(adapter, root or None)
            except ProveError as exc:
                return str(exc)
        return ""

    def to_mapping(self) -> dict:
        """The YAML form (what `from_mapping` reads): logged with a sweep, written with a demo."""
        grids = [{**({"study": self.study_of_block(i)} if self.study_of_block(i) else {}),
                  **{k: list(v) for k, v in g.items()}} for i, g in enumerate(self.grid)]
        return dict(name=self.name, grid=grids[0] if len(grids) == 1 else grids, fixed=dict(self.fixed),
                    exclude=[dict(e) for e in self.exclude], manifests=dict(self.manifests),
                    tests=[{k: v for k, v in dict(dataset=t.dataset, split=t.split, stage=t.stage).items()
                            if v or k == "dataset"} for t in self.tests],
                    checkpoint=self.checkpoint, resources=dict(self.resources), extend=self.extend)

    def specs(self) -> list[TrainSpec]:
        """The specs that can run here (blocked combinations left out)."""
        return [i.spec for i in self.items() if i.spec is not None]

    def planned_specs(self) -> list[TrainSpec]:
        """Every spec the sweep means to train, also those blocked on this machine (a plan is
        about the study, not about what this machine holds)."""
        return [i.spec or i.planned for i in self.items() if (i.spec or i.planned) is not None]

    def _with_manifest(self, raw: dict) -> dict:
        """Fill `manifest` from the `manifests` templates for strategies of external generators."""
        if raw.get("manifest") or not self.manifests:
            return raw
        from prove.generators import get_generator
        from prove.strategies import parse_strategy

        strategy = parse_strategy(str(raw.get("strategy", "baseline")))
        if not strategy.uses_generated:
            return raw
        offline = get_generator(strategy.generator).offline  # its own images where the users' are not here
        templates = self.manifests.get(strategy.generator) or self.manifests.get("{generator}")
        if not templates:
            return raw
        from prove.data import DATASETS
        from prove.data.manifest import manifest_datasets

        dataset = DATASETS.canonical(str(raw.get("dataset", TrainSpec.dataset)))
        for template in [templates] if isinstance(templates, str) else templates:
            path = Path(os.path.expandvars(_fill(template, strategy.generator, dataset))).expanduser()
            if path.is_file():
                if dataset in manifest_datasets(path):  # one manifest per method, several datasets
                    return {**raw, "manifest": str(path)}
                if not offline:
                    raise ProveError(f"manifest {path} of {strategy.generator} has no rows of dataset {dataset!r}")
        return raw


def _planned(raw: dict, extend: int) -> TrainSpec | None:
    """The spec a combination blocked for its images would have (the plan CSV lists its fields)."""
    try:
        spec = TrainSpec.create(True, **raw)
    except ProveError:
        return None
    return TrainSpec.create(True, **{**raw, "max_iters": spec.max_iters * extend}) if extend > 1 else spec


def _fill(template: str, generator: str, dataset: str) -> str:
    try:
        return template.format(generator=generator, dataset=dataset)
    except (KeyError, IndexError, ValueError) as exc:
        raise ProveError(f"manifest template {template!r}: only {{generator}} and {{dataset}} may be filled in "
                         f"({exc!r}); environment variables are written $NAME") from None


def _same(a, b) -> bool:
    """Whether two values of a train option are the same, whatever their spelling (`stage1` = `s1`,
    `IDD-AW` = `iddaw`, `0.5` = `.50`)."""
    return _canonical_value(a) == _canonical_value(b)


def _canonical_value(value) -> str:
    from prove.data import DATASETS
    from prove.models import LOSSES, MODELS
    from prove.registry import normalize
    from prove.spec import STAGES

    text = str(value).strip()
    for registry in (STAGES, DATASETS, MODELS, LOSSES):
        if text in registry:
            return registry.canonical(text)
    if text.lower().startswith("gen_") or text.lower().startswith("std_") or "+" in text:
        from prove.strategies import parse_strategy

        try:
            return parse_strategy(text).name
        except ProveError:
            pass
    try:
        return repr(float(text))
    except ValueError:
        return normalize(text)


def _fail(source: str, message: str):
    raise ProveError(f"sweep {source}: {message}")


def from_mapping(data: Any, source: str) -> Sweep:
    """Validate a parsed sweep file (or preset) and build the Sweep."""
    if not isinstance(data, dict):
        _fail(source, f"must be a mapping with keys {', '.join(SWEEP_KEYS)}")
    unknown = sorted(set(data) - set(SWEEP_KEYS))
    if unknown:
        _fail(source, f"unknown keys {unknown}; accepted: {', '.join(SWEEP_KEYS)}")
    grids = data.get("grid") or {}
    grids = [grids] if isinstance(grids, dict) else grids
    if not isinstance(grids, list) or not grids or not all(isinstance(g, dict) and g for g in grids):
        _fail(source, "needs a non-empty 'grid': train option -> list of values (or a list of such mappings)")
    grids = list(grids)  # (the blocks are rewritten below without their study)
    sweep_study = _study(data.get("study"), source) if data.get("study") else ""
    studies = []
    for i, grid in enumerate(grids):  # a block's own `study: NAME` (not an axis), else the sweep's
        studies.append(_study(grid["study"], source) if "study" in grid else sweep_study)
        grids[i] = grid = {k: v for k, v in grid.items() if k != "study"}
        if not grid:
            _fail(source, "a grid block needs at least one train option besides its study")
    train_options = set(TrainSpec.__dataclass_fields__)
    for grid in grids:
        for name, values in grid.items():
            if name not in train_options:
                _fail(source, f"grid axis {name!r} is not a train option; accepted: {', '.join(sorted(train_options))}")
            if not isinstance(values, list) or not values:
                _fail(source, f"grid axis {name!r} must be a non-empty list, got {values!r}")
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, dict):
        _fail(source, "'fixed' must be a mapping of train option -> value")
    bad = sorted(set(fixed) - train_options)
    if bad:
        _fail(source, f"fixed options {bad} are not train options")
    both = sorted(set(fixed) & {k for g in grids for k in g})
    if both:
        _fail(source, f"options {both} are in both grid and fixed; put each in one place")
    exclude = data.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(e, dict) and e for e in exclude):
        _fail(source, "'exclude' must be a list of mappings (train option -> value)")
    for entry in exclude:
        bad = sorted(set(entry) - train_options)
        if bad:
            _fail(source, f"exclude entry {entry} names {bad}, which are not train options")
    manifests = data.get("manifests") or {}
    if not isinstance(manifests, dict):
        _fail(source, "'manifests' must map a generator name (or '{generator}') to a path template or a list of "
                      "them (the first that exists is used)")
    for templates in manifests.values():
        for template in [templates] if isinstance(templates, str) else templates:
            _fill(str(template), "g", "d")
    tests = data.get("tests") or [dict(dataset=t.dataset, split=t.split) for t in Sweep.tests]
    if not isinstance(tests, list):
        _fail(source, "'tests' must be a list of {dataset, split} mappings")
    test_sets = []
    for t in tests:
        if not isinstance(t, dict) or not set(t) <= {"dataset", "split", "stage"}:
            _fail(source, f"test set {t!r}: expected keys dataset and (optional) split and stage")
        dataset = str(t.get("dataset", SAME))
        if dataset != SAME:
            from prove.data import DATASETS

            dataset = DATASETS.canonical(dataset)
        stage = ""
        if t.get("stage"):
            from prove.spec import stage_of

            stage = stage_of(t["stage"]).name
        test_sets.append(TestSet(dataset, str(t.get("split") or ""), stage))
    checkpoint = str(data.get("checkpoint", DEFAULT_CHECKPOINT))
    if checkpoint not in CHECKPOINTS:
        _fail(source, f"checkpoint {checkpoint!r}; accepted: {', '.join(CHECKPOINTS)}")
    resources = parse_resources(data.get("resources") or {}, source)
    extend = data.get("extend", DEFAULT_EXTEND)
    if not isinstance(extend, int) or isinstance(extend, bool) or extend < 1:
        _fail(source, f"extend {extend!r} must be a whole number >= 1 (e.g. 3: continue each training to 3x)")
    sweep = Sweep(str(data.get("name") or Path(source).stem), tuple(grids), fixed, tuple(exclude), manifests,
                  tuple(test_sets), checkpoint, resources, extend, tuple(studies))
    sweep.items()  # every combination validated now
    return sweep


def _study(name: Any, source: str) -> str:
    """A declared study's canonical name, from any accepted spelling."""
    from prove.studies import STUDIES

    if not isinstance(name, str) or name not in STUDIES:
        _fail(source, f"study {name!r} is not a declared study; accepted: {', '.join(STUDIES.names())} "
                      "(`prove list studies`)")
    return STUDIES.canonical(name)


def parse_resources(raw: Mapping[str, Any], source: str) -> dict:
    """A worker job's resources, validated: known keys (queue also as `partition`), whole
    numbers where numbers are meant, a warning that comes before the run limit."""
    if not isinstance(raw, Mapping):
        _fail(source, f"resources must be a mapping, got {raw!r}")
    resources = dict(DEFAULT_RESOURCES)
    given = set()
    for key, value in raw.items():
        name = RESOURCE_ALIASES.get(key, key)
        if name not in RESOURCE_KEYS:
            _fail(source, f"unknown resource {key!r}; accepted: {', '.join([*RESOURCE_KEYS, *RESOURCE_ALIASES])}")
        kind = RESOURCE_KEYS[name]
        if kind is int and (isinstance(value, bool) or not isinstance(value, (int, str))):
            _fail(source, f"resource {key} {value!r} must be a whole number")
        try:
            resources[name] = kind(value)
        except (TypeError, ValueError):
            _fail(source, f"resource {key} {value!r} must be {'a whole number' if kind is int else 'text'}")
        given.add(name)
    for name, least in RESOURCE_MINIMUMS.items():
        if resources[name] < least:
            _fail(source, f"resource {name} {resources[name]} must be >= {least}")
    if "warn_min" not in given:  # the default warning, shortened for short jobs
        resources["warn_min"] = min(resources["warn_min"], resources["time_min"] // 2)
    if resources["warn_min"] >= resources["time_min"]:
        _fail(source, f"resource warn_min {resources['warn_min']} must be shorter than time_min "
                      f"{resources['time_min']}: the warning comes before the run limit")
    return resources


def load_sweep(path: str | Path, what: str = "sweep") -> Sweep:
    """A sweep file; a `generators.yaml` beside it declares the generators it names."""
    from prove.files import read_yaml
    from prove.generators.declared import FILE_NAME, load_declared_generators

    data = read_yaml(path, what)
    beside = Path(path).expanduser().resolve().parent / FILE_NAME
    if beside.is_file():
        load_declared_generators((beside,))
    return from_mapping(data, str(path))


def load_plan(path: str | Path) -> Sweep:
    """A study plan (`prove leaderboard --plan`): a sweep file read as the grid a study means to run."""
    return load_sweep(path, what="plan")
