"""One registry type for everything that is declared once and discovered everywhere.

Datasets, generators, models, losses, standard strategies, stages and presets each have a
`Registry`. Every entry is declared the same way, `REGISTRY.declare(Entry(name=..., ...))`:
an entry is a frozen dataclass (a dataset is its adapter class) with a `name`, a one-line
`description` and optional `aliases`. The CLI choices, `prove list`, sweeps, docs tables and
the registry-parametrized tests are generated from the registries. Unlike timm (which warns), a duplicate name is an error; unlike
mmengine, names are resolved through declared aliases at the edge, so `idd-aw`, `iddaw`
and `IDD-AW` all become the one canonical name before anything else sees them.
"""

from __future__ import annotations

import re
import sys
from typing import Generic, Iterator, TypeVar

from prove.errors import UnknownNameError

T = TypeVar("T")


def normalize(name: str) -> str:
    """Spelling-insensitive key: case, '-', '_', ' ' and '.' do not distinguish names."""
    return re.sub(r"[\s\-_.]", "", name.strip().lower())


class Registry(Generic[T]):
    """Name -> entry, with aliases; duplicate (normalized) names raise at declaration."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._lookup: dict[str, str] = {}  # normalized spelling -> canonical name
        self._origins: dict[str, str] = {}  # canonical name -> the module that declared it

    def add(self, name: str, entry: T, aliases: tuple[str, ...] = (), origin: str | None = None) -> T:
        for spelling in (name, *aliases):
            key = normalize(spelling)
            if key in self._lookup:
                raise ValueError(
                    f"{self.kind} {spelling!r} is already registered "
                    f"(as {self._lookup[key]!r}); names must be unique"
                )
        self._entries[name] = entry
        self._origins[name] = origin or sys._getframe(1).f_globals.get("__name__", "")
        for spelling in (name, *aliases):
            self._lookup[normalize(spelling)] = name
        return entry

    def declare(self, entry: T) -> T:
        """Declare `entry` under its own `name` and `aliases`; returns it, so it also works as a
        class decorator (dataset adapters)."""
        origin = sys._getframe(1).f_globals.get("__name__", "")
        return self.add(getattr(entry, "name"), entry, tuple(getattr(entry, "aliases", ()) or ()), origin)

    def canonical(self, name: str) -> str:
        """The canonical name for any accepted spelling; `UnknownNameError` otherwise."""
        try:
            return self._lookup[normalize(name)]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        return list(self._entries)

    def origin(self, name: str) -> str:
        """The module that declared `name` (`prove.*` for prove's own, else a plugin or a test)."""
        return self._origins[self.canonical(name)]

    def builtin(self, name: str) -> bool:
        return self.origin(name).startswith("prove.")

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize(name) in self._lookup

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
