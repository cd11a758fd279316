"""Generated-image manifests: which generated image came from which original, aiming at which weather.

A manifest is a CSV with the columns

    gen_path, original_path, name, domain, dataset, target_domain

- `gen_path`: the generated image, absolute or relative to the manifest's folder; it must
  lie under a generated-images root: `gen_root` (default: the manifest's folder) or
  `$PROVE_GENERATED_ROOT` (where a lab keeps `<method>/manifest.csv` folders).
- `original_path`: the original image as the dataset adapter names it (`Sample.name`: the
  path relative to the dataset root), or its absolute path when that lies under the dataset
  root (the users' manifests are written so). It is looked up in the adapter's samples, never
  derived from `gen_path` by string replacement (the users' scripts did that, and a path
  pattern that did not match gave a silently wrong or missing label). A path that escapes
  its root (`..`, a symlink out, an absolute path elsewhere) is refused.
- `name`: the generated image's own identifier (empty = the stem of `gen_path`).
- `domain`: the original's domain; `target_domain`: the weather the generator aimed for.
- `dataset`: any spelling the dataset registry accepts (`idd-aw`, `IDDAW`, ...).

One manifest may cover several datasets (the users keep one per method): `dataset=` keeps the
rows of that dataset and counts the others (`Manifest.other_rows`), which are not errors.

The label of a generated image is the label of its original, loaded by the adapter.
Every row is checked and all problems are reported at once, with CSV line numbers, in one
`ProveError`; `drop_invalid=True` drops the bad rows instead and says how many and why.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Mapping, Union

import numpy as np
from PIL import Image

from prove.data.base import DATASETS, DatasetAdapter, Sample
from prove.data.domains import DOMAINS
from prove.errors import ProveError
from prove.registry import normalize

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("gen_path", "original_path", "name", "domain", "dataset", "target_domain")
MAX_LISTED = 10  # rows listed per kind of problem; the count is always complete

AdapterSource = Union[Mapping[str, DatasetAdapter], Callable[[str], DatasetAdapter]]

# Kinds of problem, in the order they are reported.
MISSING_VALUE = "missing value"
UNKNOWN_DATASET = "unknown dataset"
DATASET_UNAVAILABLE = "dataset unavailable"
UNKNOWN_DOMAIN = "unknown domain"
ESCAPES_ROOT = "path escapes its root"
GEN_MISSING = "generated file missing"
GEN_UNREADABLE = "generated file unreadable"
ORIGINAL_NOT_FOUND = "original not found in dataset"
DOMAIN_MISMATCH = "domain disagrees with dataset"
DUPLICATE = "duplicate row"
SIZE_MISMATCH = "size differs from original label"
REASONS: tuple[str, ...] = (
    MISSING_VALUE, UNKNOWN_DATASET, DATASET_UNAVAILABLE, UNKNOWN_DOMAIN, ESCAPES_ROOT, GEN_MISSING,
    GEN_UNREADABLE, ORIGINAL_NOT_FOUND, DOMAIN_MISMATCH, DUPLICATE, SIZE_MISMATCH,
)


@dataclass(frozen=True)
class ManifestEntry:
    """One valid row: a generated image and the original sample whose label it borrows."""

    gen_image: Path  # resolved, under the manifest's gen_root
    original: Sample
    dataset: str  # canonical dataset name
    split: str  # split the original was found in (train-time code can refuse val/test originals)
    domain: str  # the original's domain
    target_domain: str
    name: str
    line: int  # CSV line, for messages


@dataclass(frozen=True)
class DropReport:
    """What `drop_invalid=True` removed: CSV lines per reason."""

    total_rows: int
    lines: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def dropped(self) -> int:
        return len({line for lines in self.lines.values() for line in lines})

    @property
    def kept(self) -> int:
        return self.total_rows - self.dropped

    def counts(self) -> dict[str, int]:
        return {reason: len(lines) for reason, lines in self.lines.items()}

    def __str__(self) -> str:
        if not self.dropped:
            return f"no rows dropped ({self.total_rows} kept)"
        parts = [f"{reason}: {len(lines)} (lines {_cap(lines)})" for reason, lines in self.lines.items()]
        return f"dropped {self.dropped} of {self.total_rows} row(s): " + "; ".join(parts)


@dataclass(frozen=True, eq=False)
class Manifest:
    path: Path
    gen_root: Path
    entries: tuple[ManifestEntry, ...]
    dropped: DropReport
    adapters: Mapping[str, DatasetAdapter] = field(repr=False)
    other_rows: Mapping[str, int] = field(default_factory=dict)  # dataset as written -> rows left out

    @property
    def name(self) -> str:
        return f"manifest:{self.path.stem}"

    def __len__(self) -> int:
        return len(self.entries)

    def adapter(self, entry: ManifestEntry) -> DatasetAdapter:
        return self.adapters[entry.dataset]

    def load_label(self, entry: ManifestEntry) -> np.ndarray:
        """The generated image's label: its original's label, mapped by the dataset's adapter."""
        return self.adapter(entry).load_label(entry.original)

    def load_image(self, entry: ManifestEntry) -> np.ndarray:
        with Image.open(entry.gen_image) as im:
            return np.asarray(im.convert("RGB"))


def load_manifest(
    path: str | os.PathLike,
    adapters: AdapterSource,
    gen_root: str | os.PathLike | None = None,
    drop_invalid: bool = False,
    splits: Iterable[str] | None = None,
    dataset: str | None = None,
) -> Manifest:
    """Read and validate a manifest.

    Args:
        path: the CSV file.
        adapters: {dataset name: adapter} (any spelling), or a function canonical name -> adapter.
        gen_root: folder every generated image must lie in (default: the manifest's folder).
        drop_invalid: drop bad rows (reported in `Manifest.dropped` and logged) instead of raising.
        splits: splits to look originals up in (default: every labelled split of the dataset).
        dataset: keep only the rows of this dataset (any spelling); the others are counted in
            `other_rows`, not checked. None: every row must be of a dataset of `adapters`.
    """
    path = Path(path)
    if not path.is_file():
        raise ProveError(f"manifest not found: {path}")
    root = Path(gen_root) if gen_root is not None else path.parent
    if not root.is_dir():
        raise ProveError(f"generated-images root of manifest {path} is not a folder: {root}")
    rows = _read_rows(path)
    others: dict[str, int] = {}
    if dataset is not None:
        wanted = _canonical(dataset)
        kept = [(line, row) for line, row in rows if _canonical(row.get("dataset", "")) == wanted]
        for _, row in rows:
            if _canonical(row.get("dataset", "")) != wanted:
                others[row.get("dataset", "")] = others.get(row.get("dataset", ""), 0) + 1
        if not kept:
            raise ProveError(f"manifest {path} has no rows of dataset {wanted!r}; its rows are of: "
                             f"{', '.join(f'{d or chr(34) * 2} ({n})' for d, n in sorted(others.items()))}")
        rows = kept
    checker = _Checker(path, _generated_roots(root), _Adapters(adapters), tuple(splits) if splits else None)
    candidates = [checker.check(line, row) for line, row in rows]
    problems = checker.problems
    bad_lines = {line for found in problems.values() for line, _ in found}
    message = _problem_message(path, len(rows), problems, checker.adapters.accepted())
    if bad_lines and not drop_invalid:
        raise ProveError(message)
    report = DropReport(
        len(rows), {reason: tuple(line for line, _ in problems[reason]) for reason in REASONS if reason in problems}
    )
    entries = tuple(e for e in candidates if e is not None and e.line not in bad_lines)
    if not entries:
        raise ProveError(f"manifest {path}: no valid rows left after dropping invalid ones.\n{message}")
    if report.dropped:
        log.warning("manifest %s: %s", path, report)
    if others:
        log.info("manifest %s: %d row(s) of other datasets left out (%s)", path, sum(others.values()),
                 ", ".join(f"{d}: {n}" for d, n in sorted(others.items())))
    return Manifest(path, root, entries, report, checker.adapters.opened, others)


def _generated_roots(root: Path) -> tuple[Path, ...]:
    """Where generated images may lie: the manifest's root and $PROVE_GENERATED_ROOT."""
    roots = [root.resolve()]
    shared = os.environ.get("PROVE_GENERATED_ROOT")
    if shared and Path(shared).expanduser().is_dir():
        roots.append(Path(shared).expanduser().resolve())
    return tuple(dict.fromkeys(roots))


def manifest_datasets(path: str | os.PathLike) -> set[str]:
    """The datasets a manifest has rows of (canonical where the registry knows the spelling);
    read from the CSV alone, cached by the file's size and modification time."""
    path = Path(path)
    st = path.stat()
    return set(_datasets_of(str(path.resolve()), st.st_size, st.st_mtime_ns))


@lru_cache(maxsize=256)
def _datasets_of(path: str, size: int, mtime_ns: int) -> frozenset[str]:
    return frozenset(_canonical(row.get("dataset", "")) for _, row in _read_rows(Path(path)))


def target_domain_counts(path: str | os.PathLike, dataset: str) -> dict[str, int]:
    """Rows per target_domain among a manifest's rows of `dataset` (a light read: no row checked)."""
    wanted = _canonical(dataset)
    return dict(Counter(row.get("target_domain", "") for _, row in _read_rows(Path(path))
                        if _canonical(row.get("dataset", "")) == wanted))


def check_target_domains(path: str | os.PathLike, dataset: str, domains: Iterable[str]) -> dict[str, int]:
    """The manifest's rows per target domain for `dataset`; an error naming every domain of
    `domains` (--gen-domains) that none of them targets."""
    counts = target_domain_counts(path, dataset)
    missing = [d for d in domains if not counts.get(d)]
    if missing:
        have = ", ".join(f"{d or chr(34) * 2} ({n})" for d, n in sorted(counts.items())) or "none"
        raise ProveError(f"gen_domains names {', '.join(missing)}, but manifest {path} has no rows of dataset "
                         f"{dataset!r} aiming at {'it' if len(missing) == 1 else 'them'}; its target domains: {have}")
    return counts


def select_target_domains(entries: Iterable[ManifestEntry], domains: Iterable[str] | None
                          ) -> tuple[tuple[ManifestEntry, ...], dict[str, int]]:
    """(the entries whose target_domain is in `domains`, rows left out per target domain);
    `domains` None or empty keeps every entry."""
    entries = tuple(entries)
    if not domains:
        return entries, {}
    wanted = set(domains)
    kept = tuple(e for e in entries if e.target_domain in wanted)
    return kept, dict(Counter(e.target_domain for e in entries if e.target_domain not in wanted))


def write_manifest(path: str | os.PathLike, rows: Iterable[Mapping[str, str]]) -> Path:
    """Write manifest rows (dicts with `COLUMNS`) as CSV; used by `prove.generators.generate`."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row[c] for c in COLUMNS})
    return path


# -- reading and checking --------------------------------------------------------------------


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: spreadsheets add a BOM
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in fields]
        if missing:
            raise ProveError(
                f"manifest {path} lacks the column(s) {', '.join(missing)}; "
                f"found: {', '.join(fields) or '(no header)'}; required: {', '.join(COLUMNS)}"
            )
        reader.fieldnames = fields
        rows = [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader]
    if not rows:
        raise ProveError(f"manifest {path} has a header but no rows")
    return rows


class _Adapters:
    """Dataset spelling -> (canonical name, adapter), opening each adapter once."""

    def __init__(self, source: AdapterSource):
        self.source = source
        self.opened: dict[str, DatasetAdapter] = {}
        self.failed: dict[str, str] = {}
        if isinstance(source, Mapping):
            self._given = {_canonical(k): v for k, v in source.items()}

    def accepted(self) -> list[str]:
        return sorted(self._given) if isinstance(self.source, Mapping) else DATASETS.names()

    def canonical(self, spelling: str) -> str | None:
        name = _canonical(spelling)
        if isinstance(self.source, Mapping):
            matches = [k for k in self._given if normalize(k) == normalize(name)]
            return matches[0] if matches else None
        return name if name in DATASETS else None

    def open(self, name: str) -> DatasetAdapter | None:
        if name not in self.opened and name not in self.failed:
            if isinstance(self.source, Mapping):
                self.opened[name] = self._given[name]
            else:
                try:
                    self.opened[name] = self.source(name)
                except ProveError as exc:  # e.g. its data root is not set: reported per row
                    self.failed[name] = str(exc)
        return self.opened.get(name)


def _canonical(spelling: str) -> str:
    return DATASETS.canonical(spelling) if spelling in DATASETS else spelling


class _Checker:
    def __init__(self, path: Path, roots: tuple[Path, ...], adapters: _Adapters, splits: tuple[str, ...] | None):
        self.folder, self.roots, self.adapters, self.splits = path.parent, roots, adapters, splits
        self.problems: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._index: dict[str, dict[str, tuple[str, Sample]]] = {}
        self._searched: dict[str, list[str]] = {}
        self._label_sizes: dict[tuple[str, str], tuple[int, int]] = {}
        self._seen_gen: dict[Path, int] = {}
        self._seen_key: dict[tuple[str, str, str, str], int] = {}

    def flag(self, reason: str, line: int, detail: str) -> None:
        self.problems[reason].append((line, detail))

    def check(self, line: int, row: dict[str, str]) -> ManifestEntry | None:
        """The row's entry, or None; every problem found is recorded (a row can have several)."""
        empty = [c for c in COLUMNS if c != "name" and not row.get(c)]
        if empty:
            self.flag(MISSING_VALUE, line, f"empty {', '.join(empty)}")
            return None
        ok = True
        for column in ("domain", "target_domain"):
            if row[column] not in DOMAINS:
                self.flag(UNKNOWN_DOMAIN, line, f"{column} {row[column]!r}")
                ok = False
        gen = self._gen_path(line, row["gen_path"])
        dataset = self.adapters.canonical(row["dataset"])
        found, original_name = None, None
        if dataset is None:
            self.flag(UNKNOWN_DATASET, line, repr(row["dataset"]))
        else:
            original_name = self._original_name(line, row["original_path"], dataset)
            if original_name is not None:
                found = self._find(line, dataset, original_name)
        if gen is None or found is None or dataset is None or original_name is None:
            ok = False
        name = row["name"] or PurePosixPath(row["gen_path"].replace("\\", "/")).stem
        ok &= self._unique(line, gen, (dataset or row["dataset"], row["original_path"], row["target_domain"], name))
        if not ok:
            return None
        assert gen is not None and found is not None and dataset is not None
        split, sample = found
        if sample.domain is not None and sample.domain != row["domain"]:
            self.flag(DOMAIN_MISMATCH, line, f"{row['original_path']}: manifest says {row['domain']!r}, "
                                             f"dataset says {sample.domain!r}")
            return None
        if not self._same_size(line, gen, dataset, sample):
            return None
        return ManifestEntry(gen, sample, dataset, split, row["domain"], row["target_domain"], name, line)

    def _gen_path(self, line: int, raw: str) -> Path | None:
        given = Path(raw.replace("\\", "/"))
        full = given if given.is_absolute() else self.folder / given
        resolved = full.resolve()  # follows symlinks, so a link pointing out is caught too
        if not any(resolved.is_relative_to(root) for root in self.roots):
            self.flag(ESCAPES_ROOT, line, f"gen_path {raw!r} resolves to {resolved}, outside "
                                          f"{' and '.join(map(str, self.roots))}")
            return None
        if not resolved.is_file():
            self.flag(GEN_MISSING, line, f"{raw!r} (looked at {resolved})")
            return None
        return resolved

    def _original_name(self, line: int, raw: str, dataset: str) -> str | None:
        """The sample name of `original_path`: relative to the dataset root as written, or an
        absolute path under that root; anything that leaves the root is refused."""
        name = raw.replace("\\", "/")
        while name.startswith("./"):
            name = name[2:]
        pure = PurePosixPath(name)
        if pure.is_absolute():
            adapter = self.adapters.open(dataset)
            if adapter is None:  # reported by _find with the reason
                return name
            relative = _under(Path(name), adapter.root)
            if relative is None:
                self.flag(ESCAPES_ROOT, line, f"original_path {raw!r} is not under the root of {dataset} "
                                              f"({adapter.root})")
            return relative
        if ".." in pure.parts or (len(name) > 1 and name[1] == ":"):
            self.flag(ESCAPES_ROOT, line, f"original_path {raw!r} must be relative to the dataset root (or an "
                                          "absolute path under it), without '..'")
            return None
        return name

    def _find(self, line: int, dataset: str, name: str) -> tuple[str, Sample] | None:
        adapter = self.adapters.open(dataset)
        if adapter is None:
            self.flag(DATASET_UNAVAILABLE, line, f"{dataset}: {self.adapters.failed[dataset]}")
            return None
        if dataset not in self._index:
            self._index[dataset], self._searched[dataset] = _sample_index(adapter, self.splits)
        found = self._index[dataset].get(name)
        if found is None:
            where = ", ".join(self._searched[dataset]) or "(no split with images)"
            self.flag(ORIGINAL_NOT_FOUND, line, f"{name!r} is not an image of {dataset} (splits searched: {where})")
        return found

    def _unique(self, line: int, gen: Path | None, key: tuple[str, str, str, str]) -> bool:
        ok = True
        if gen is not None:
            first = self._seen_gen.setdefault(gen, line)
            if first != line:
                self.flag(DUPLICATE, line, f"same gen_path as line {first}")
                ok = False
        first = self._seen_key.setdefault(key, line)
        if first != line and ok:
            self.flag(DUPLICATE, line, f"same (original_path, target_domain, name) as line {first}")
            ok = False
        return ok

    def _same_size(self, line: int, gen: Path, dataset: str, sample: Sample) -> bool:
        try:
            with Image.open(gen) as im:
                gen_size = im.size  # header only, no decode
        except OSError as exc:
            self.flag(GEN_UNREADABLE, line, f"{gen}: {exc}")
            return False
        key = (dataset, sample.name)
        if key not in self._label_sizes:
            self._label_sizes[key] = _label_size(self.adapters.opened[dataset], sample)
        if gen_size != self._label_sizes[key]:
            w, h = gen_size
            lw, lh = self._label_sizes[key]
            self.flag(SIZE_MISMATCH, line, f"{gen.name} is {w}x{h}, label of {sample.name} is {lw}x{lh}")
            return False
        return True


def _under(path: Path, root: Path) -> str | None:
    """`path` relative to `root` (POSIX), as written or after resolving links; None outside it."""
    if ".." in path.parts:
        return None
    for candidate, base in ((path, root), (path.resolve(), root.resolve())):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return None


def _sample_index(adapter: DatasetAdapter, splits: tuple[str, ...] | None):
    index: dict[str, tuple[str, Sample]] = {}
    searched = []
    for split in splits or adapter.splits:
        try:
            samples = adapter.samples(split)
        except ProveError:  # a split with no images on this machine: its originals are "not found"
            continue
        searched.append(split)
        for s in samples:
            index.setdefault(s.name, (split, s))
    return index, searched


def _label_size(adapter: DatasetAdapter, sample: Sample) -> tuple[int, int]:
    """(width, height) of the original's label: from the file header when it is an image."""
    if sample.label is not None:
        try:
            with Image.open(sample.label) as im:
                return im.size
        except OSError:
            pass  # polygon JSON (IDD-AW) and the like: ask the adapter
    h, w = adapter.load_label(sample).shape[:2]
    return w, h


def _cap(items: Iterable[object], limit: int = MAX_LISTED) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f", ... {len(items) - limit} more" if len(items) > limit else "")


def _problem_message(
    path: Path, total: int, problems: Mapping[str, list[tuple[int, str]]], accepted_datasets: list[str]
) -> str:
    bad = len({line for found in problems.values() for line, _ in found})
    out = [f"manifest {path}: {bad} of {total} row(s) invalid; fix them or pass drop_invalid=True to drop them"]
    for reason in REASONS:
        found = problems.get(reason)
        if not found:
            continue
        out.append(f"  {reason} ({len(found)} row(s)):")
        out += [f"    line {line}: {detail}" for line, detail in found[:MAX_LISTED]]
        if len(found) > MAX_LISTED:
            out.append(f"    ... and {len(found) - MAX_LISTED} more (lines {_cap([l for l, _ in found[MAX_LISTED:]])})")
        if reason == UNKNOWN_DATASET:
            out.append(f"    accepted datasets: {', '.join(accepted_datasets) or '(none)'}")
        if reason == UNKNOWN_DOMAIN:
            out.append(f"    accepted domains: {', '.join(DOMAINS)}")
    return "\n".join(out)

