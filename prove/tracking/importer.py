"""`prove import-results`: results kept outside the store (hand-kept CSVs) become test runs.

Why: every analysis reads the tracking store only (`prove.analysis.store.sync_results`), so a
result that lives in a spreadsheet (from before prove, or from another codebase) is invisible
to leaderboards and gains. Importing writes each one as a test run shaped exactly like those
of `prove test` (params, tags, metric names, step = checkpoint iteration), so the analyses
treat it alike, and tags it `prove.source=import` so it can always be told apart.

CSV (long format): one row per result per domain. Required columns: REQUIRED_COLUMNS;
optional: OPTIONAL_COLUMNS; any other column is an error (a typo such as `mIOU` must not be
dropped silently). `domain` is `all` (the overall result), a study domain or `unknown`
(`prove.tracking.schema.domain_values()`, the values `prove test` itself logs). Metrics are
percentages; an empty optional cell means "not given" and logs nothing. `checkpoint_iter`
defaults to 0, which means "final checkpoint, iteration not recorded"; `seed` defaults to 0.

Rows sharing RESULT_FIELDS are one result (one test run, one metric set per domain). Every
row is validated and canonicalised through the project's registries before anything is
written; all problems are reported at once, with file line numbers.

There is no training run behind an imported result: its `train_run_id` is a synthetic, stable
`import-<hash of TRAINING_FIELDS>`, shared by the test sets and checkpoints of one training.
Params that the CSV cannot know are logged honestly: `max_iters=unrecorded` (unless the CSV
has a `max_iters` column), `checkpoint=imported`, `main_loss=ce` (unless given), no
`batch_size` (unless given) and `test_split=test`.
No `prove.spec_hash` tag is written: no `TrainSpec` exists, and a made-up hash could be
mistaken for a training's.

Idempotency: `prove.import_key` hashes the canonical RESULT_FIELDS (not the file), and is
looked up across all experiments (as `prove test` looks up its test key), because the
analyses read all experiments and would count a copy in another experiment twice. Equal
metrics: skipped. Different metrics: an error, unless `force`, which writes the new run and
only then deletes the old one. Results are written a page at a time (prove.tracking.bulk: one
transaction per page on a SQL store, parallel writers on a tracking server); a failure midway
leaves the pages written so far, complete, and nothing of the failed one; running the import
again skips what is there and continues.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click

from prove.data import DATASETS  # importing prove.data registers every dataset adapter
from prove.errors import ProveError, UnknownNameError
from prove.models import get_model_card
from prove.models.losses import aux_losses, main_losses
from prove.progress import LiveBar, Progress, interactive
from prove.spec import STAGES
from prove.strategies import parse_strategy
from prove.studies import STUDIES
from prove.tracking import bulk, client, schema
from prove.tracking.schema import ALL_DOMAINS, METRICS, domain_values

REQUIRED_COLUMNS = ("stage", "dataset", "model", "strategy", "ratio", "aux_loss", "pretrained",
                    "test_dataset", "domain", "mIoU")
# a study's settings where the CSV records them (the batch-size and extended studies); given,
# they join the result's identity and are logged as the params `prove train` logs
SETTING_COLUMNS = ("main_loss", "batch_size", "max_iters")
# study: the declared study the result belongs to (prove.studies; its runs' `prove.study` tag), a
# label, not part of the result's identity
OPTIONAL_COLUMNS = (*(m for m in METRICS if m != "mIoU"), "checkpoint_iter", "seed", "run_name", *SETTING_COLUMNS,
                    "study")
TRAINING_FIELDS = ("stage", "dataset", "model", "strategy", "ratio", "aux_loss", "pretrained", "seed", "run_name")
RESULT_FIELDS = (*TRAINING_FIELDS, "test_dataset", "checkpoint_iter")

SOURCE, IMPORT_FILE, IMPORT_KEY, IMPORT_LINES = schema.SOURCE, schema.IMPORT_FILE, schema.IMPORT_KEY, schema.IMPORT_LINES
TEST_SPLIT, MAIN_LOSS, CHECKPOINT, MAX_ITERS = "test", "ce", "imported", "unrecorded"
MAX_LISTED = 20
PROGRESS_EVERY = 100
TOLERANCE = 1e-9


@dataclass
class ImportReport:
    """`imported`: results written new; `skipped`: already in the store with equal metrics;
    `replaced`: written over different metrics (force); `rows`: data rows read; `run_ids`:
    the run of every result of the file, in file order, whether written now or found."""

    imported: int = 0
    skipped: int = 0
    replaced: int = 0
    rows: int = 0
    run_ids: list[str] = field(default_factory=list)


@dataclass
class _Result:
    fields: dict[str, str | float | int]  # RESULT_FIELDS, canonical
    family: str
    lines: list[int] = field(default_factory=list)
    domains: dict[str, int] = field(default_factory=dict)  # domain -> its line
    metrics: dict[str, float] = field(default_factory=dict)  # MLflow key -> value

    @property
    def key(self) -> str:
        return _digest({k: self.fields[k] for k in RESULT_FIELDS} | self.settings)

    @property
    def train_run_id(self) -> str:
        return "import-" + _digest({k: self.fields[k] for k in TRAINING_FIELDS} | self.settings)[:16]

    @property
    def settings(self) -> dict:
        """The SETTING_COLUMNS the CSV gave (none: the keys of files imported before them stay the same)."""
        return {k: self.fields[k] for k in SETTING_COLUMNS if k in self.fields}

    @property
    def where(self) -> str:
        return ("line " if len(self.lines) == 1 else "lines ") + ",".join(map(str, self.lines))


def import_results(path: str | Path, experiment: str | None = None, force: bool = False,
                   echo: Callable[..., None] = click.echo, study: str = "") -> ImportReport:
    """Import the results of the CSV at `path` as test runs (see the module docstring); `study`:
    the study of rows whose `study` cell is empty (or of every row, without the column)."""
    study = STUDIES.canonical(study) if study else ""
    source = Path(path).expanduser()
    if not source.is_file():
        raise ProveError(f"results file not found: {str(source)!r}")
    source = source.resolve()
    rows, problems = _read(source)
    results = _results(source, rows, problems)
    for result in results:
        if study and not result.fields.get("study"):
            result.fields["study"] = study
    existing = _existing_runs()
    report = ImportReport(rows=len(rows))
    plan: list[tuple[_Result, list]] = []  # (result, the runs it replaces)
    conflicts, run_of = [], {}
    for result in results:
        previous = existing.get(result.key, [])
        if previous and all(_same(run.metrics, result.metrics) for run in previous):
            report.skipped += 1
            run_of[result.key] = previous[0].run_id
            continue
        if previous and not force:
            conflicts.append(_conflict(result, previous))
        plan.append((result, previous))
    if conflicts:  # refused before anything is written
        raise ProveError(_listing(f"{source}: {len(conflicts)} result(s) differ from results already in the "
                                  "store; pass force=True (--force) to replace them", conflicts))

    exp_id = client.experiment_id(experiment) if plan else ""
    progress = Progress(len(plan))
    bar = LiveBar(len(plan), f"import {source.name}") if plan and interactive() else None
    written = [0]

    def landed(indices: list[int]) -> None:
        """Runs are in the store: the ones they replace go now (a failure never leaves two,
        and never loses the old), and progress moves on."""
        for i in indices:
            for old in plan[i][1]:
                client.delete_run(old.run_id)
        before, written[0] = written[0], written[0] + len(indices)
        progress.advance(len(indices))
        if bar is not None:
            bar.update(written[0])
        elif written[0] // PROGRESS_EVERY > before // PROGRESS_EVERY:
            echo(f"imported {written[0]}/{len(plan)} results ({progress.status()})", err=True)

    try:
        common = {**client.standard_tags(), **client.provenance_tags()}  # the same for every run of the file
        ids = bulk.write_runs(exp_id, [_new_run(result, source, common) for result, _ in plan], landed)
    finally:
        if bar is not None:
            bar.close()
    for (result, previous), run_id in zip(plan, ids):
        report.replaced += bool(previous)
        report.imported += not previous
        run_of[result.key] = run_id
    report.run_ids = [run_of[result.key] for result in results]
    echo(f"{source}: {report.rows} rows, {len(results)} results: {report.imported} imported, "
         f"{report.replaced} replaced, {report.skipped} already imported", err=True)
    return report


# -- reading and validation ---------------------------------------------------------------

def _read(source: Path) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """(line number, cells by column) of every well-formed data row, and the problems of the
    others; header problems raise at once (no row can be read without the columns). A file
    that is not UTF-8 text (an .xlsx, a parquet, a zip given by mistake) is named as such."""
    try:
        return _read_text(source)
    except UnicodeDecodeError as exc:
        head = source.read_bytes()[:4]
        kind = {b"PK\x03\x04": " (it looks like a zip or an .xlsx workbook: save it as CSV UTF-8)",
                b"PAR1": " (it looks like a parquet file)"}.get(head, "")
        raise ProveError(f"{source} is not a UTF-8 CSV file: byte {exc.start} is 0x{exc.object[exc.start]:02x}"
                         f"{kind}; expected a CSV text file with a header line") from None


def _read_text(source: Path) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    accepted = f"accepted: {', '.join(REQUIRED_COLUMNS)} (required), {', '.join(OPTIONAL_COLUMNS)} (optional)"
    with source.open(newline="", encoding="utf-8-sig") as handle:  # -sig: spreadsheets write a BOM
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise ProveError(f"{source} is empty; expected a header line with {accepted}")
        columns = [cell.strip() for cell in header]
        problems = []
        unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
        if unknown:
            problems.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
        twice = sorted({c for c in columns if columns.count(c) > 1})
        if twice:
            problems.append(f"column(s) {', '.join(map(repr, twice))} appear more than once")
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            problems.append(f"missing required column(s) {', '.join(missing)}")
        if problems:
            raise ProveError(f"{source}, line 1 (header): {'; '.join(problems)}; {accepted}")
        rows, problems = [], []
        while True:
            line = reader.line_num + 1  # a quoted cell may span lines: a row is named by its first
            cells = next(reader, None)
            if cells is None:
                break
            if not any(cell.strip() for cell in cells):  # blank lines, or a spreadsheet's ",,,,"
                continue
            if len(cells) != len(columns):
                problems.append(f"line {line}: {len(cells)} fields, the header has {len(columns)}")
                continue
            rows.append((line, dict(zip(columns, cells))))
    if not rows and not problems:
        raise ProveError(f"{source} holds no results: only a header")
    return rows, problems


def _results(source: Path, rows: list[tuple[int, dict[str, str]]], problems: list[str]) -> list[_Result]:
    """Canonical rows grouped into results, in file order; all problems (`problems`, the ones
    found while reading, and those found here) raise together."""
    results: dict[tuple, _Result] = {}
    for line, cells in rows:
        parsed = _row(line, cells, problems)
        if parsed is None:
            continue
        fields, family, domain, metrics = parsed
        identity = tuple(fields[k] for k in RESULT_FIELDS) + tuple(fields.get(k) for k in SETTING_COLUMNS)
        result = results.setdefault(identity, _Result(fields, family))
        if domain in result.domains:
            problems.append(f"line {line}: domain {domain!r} appears twice in one result (also line "
                            f"{result.domains[domain]}); rows sharing {', '.join(RESULT_FIELDS)} are one result")
            continue
        result.domains[domain] = line
        result.lines.append(line)
        # the metric names of prove test
        result.metrics.update({schema.test_metric(name, domain): value for name, value in metrics.items()})
    if problems:
        raise ProveError(_listing(f"{source}: {len(problems)} problem(s); nothing was imported", problems))
    return list(results.values())


def _row(line: int, cells: dict[str, str], problems: list[str]) -> tuple[dict, str, str, dict[str, float]] | None:
    """(fields, strategy family, domain, metrics) of one row, or None after adding its problems."""
    before = len(problems)
    values = {c: cells.get(c, "").strip() for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}

    def bad(column: str, why: str) -> None:
        problems.append(f"line {line}: {column} {values[column]!r} {why}")

    for column in REQUIRED_COLUMNS:
        if not values[column]:
            bad(column, "is empty; a value is required")
    fields: dict[str, str | float | int] = {}

    def name(column: str, canonical: Callable[[str], str]) -> None:
        if values[column]:
            try:
                fields[column] = canonical(values[column])
            except UnknownNameError as exc:
                bad(column, f"is unknown; accepted: {', '.join(exc.choices)}")

    def choice(column: str, accepted: tuple[str, ...]) -> None:
        if values[column]:
            if values[column].lower() in accepted:
                fields[column] = values[column].lower()
            else:
                bad(column, f"is not accepted; accepted: {', '.join(accepted)}")

    name("stage", STAGES.canonical)
    name("study", STUDIES.canonical)
    name("dataset", DATASETS.canonical)
    name("test_dataset", DATASETS.canonical)
    name("model", lambda v: get_model_card(v).name)
    choice("aux_loss", aux_losses())
    choice("main_loss", main_losses())
    choice("pretrained", ("true", "false"))
    choice("domain", domain_values())
    strategy = None
    if values["strategy"]:
        try:
            # not TrainSpec.create: it demands a manifest for external generators, which an
            # imported result never has
            strategy = parse_strategy(values["strategy"])
            fields["strategy"] = strategy.name
        except ProveError as exc:
            problems.append(f"line {line}: {exc}")
    if values["ratio"]:
        ratio = _number(values["ratio"])
        if ratio is None or not 0.0 <= ratio <= 1.0:
            bad("ratio", "is not a number in 0..1 (the fraction of real images per batch)")
        elif strategy is not None:
            fields["ratio"] = ratio if strategy.uses_generated else 1.0  # as prove.spec does
    for column in ("checkpoint_iter", "seed"):
        text = values[column] or "0"
        if text.isascii() and text.isdigit():
            fields[column] = int(text)
        else:
            bad(column, "is not an integer >= 0")
    for column in ("batch_size", "max_iters"):
        text = values[column]
        if text and text.isascii() and text.isdigit() and int(text) > 0:
            fields[column] = int(text)
        elif text:
            bad(column, "is not an integer > 0")
    fields["run_name"] = values["run_name"]
    metrics = {}
    for metric in METRICS:
        if values[metric]:
            value = _number(values[metric])
            if value is None or not 0.0 <= value <= 100.0:
                bad(metric, "is not a percentage in 0..100")
            else:
                metrics[metric] = value
    only = STAGES.get(str(fields["stage"])).dataset if "stage" in fields else None
    if only and fields.get("dataset") not in (None, only):
        bad("dataset", f"cannot be trained in stage {fields['stage']!r}; accepted: {only} "
                       f"({fields['stage']} trains on {only})")
    if len(problems) > before:
        return None
    domain = str(fields.pop("domain"))
    return fields, strategy.family, domain, metrics


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _listing(title: str, items: list[str]) -> str:
    more = f"\n  and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return title + ":\n  " + "\n  ".join(items[:MAX_LISTED]) + more


def _digest(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# -- the store ----------------------------------------------------------------------------

def _existing_runs() -> dict[str, list]:
    """Finished imported test runs of every experiment, by import key: one read for the whole
    file (prove.tracking.bulk.finished_runs), not one per result."""
    return bulk.finished_runs({SOURCE: "import", schema.KIND: schema.TEST}, IMPORT_KEY)


def _same(stored: dict[str, float], new: dict[str, float]) -> bool:
    return stored.keys() == new.keys() and all(abs(stored[k] - new[k]) <= TOLERANCE for k in new)


def _conflict(result: _Result, previous: list) -> str:
    """Where a result differs from its stored run: the first few metrics, each with its line."""
    run = next(r for r in previous if not _same(r.metrics, result.metrics))
    stored, new = run.metrics, result.metrics
    differ = [key for key in sorted(stored.keys() | new.keys())
              if key not in stored or key not in new or abs(stored[key] - new[key]) > TOLERANCE]
    shown = [f"{_line_of(result, key)}: {key} {stored.get(key, 'absent')} -> {new.get(key, 'absent')}"
             for key in differ[:3]]
    more = f" (+{len(differ) - 3} more)" if len(differ) > 3 else ""
    return f"run {run.run_id} ({result.where}): {'; '.join(shown)}{more}"


def _line_of(result: _Result, key: str) -> str:
    parts = key.split("/")  # test/<metric> (overall) or test/<domain>/<metric>
    domain = ALL_DOMAINS if len(parts) == 2 else parts[1]
    return f"line {result.domains[domain]}" if domain in result.domains else result.where


def _new_run(result: _Result, source: Path, common: dict[str, str]) -> bulk.NewRun:
    """The FINISHED test run of `result` (written by prove.tracking.bulk, a page at a time)."""
    f, iteration, train_run_id = result.fields, int(result.fields["checkpoint_iter"]), result.train_run_id
    params = {
        "stage": f["stage"], "dataset": f["dataset"], "model": f["model"], "strategy": f["strategy"],
        "ratio": f["ratio"], "aux_loss": f["aux_loss"], "main_loss": f.get("main_loss", MAIN_LOSS),
        "pretrained": f["pretrained"], "seed": f["seed"], "max_iters": f.get("max_iters", MAX_ITERS),
        **({"batch_size": f["batch_size"]} if "batch_size" in f else {}), "test_dataset": f["test_dataset"], "test_split": TEST_SPLIT,
        "checkpoint_iter": iteration, "checkpoint": CHECKPOINT, "train_run_id": train_run_id,
    }
    tags = {
        schema.KIND: schema.TEST, schema.TEST_KEY: schema.test_key(train_run_id, f["test_dataset"], TEST_SPLIT, iteration),
        schema.TRAIN_RUN: train_run_id, schema.FAMILY: result.family, SOURCE: "import", IMPORT_FILE: str(source),
        IMPORT_KEY: result.key, IMPORT_LINES: ",".join(map(str, result.lines)),
        **({schema.STUDY: f["study"]} if f.get("study") else {}),
    }
    training = f["run_name"] or " · ".join((f["strategy"], f["stage"], f["dataset"], f["model"]))
    name = f"{training} · imported {f['test_dataset']} @{iteration}"
    return bulk.NewRun(name, {**tags, **common},
                       {k: str(v) for k, v in params.items()}, {k: (v, iteration) for k, v in result.metrics.items()})
