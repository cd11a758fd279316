"""One registry type for everything that is declared once and discovered everywhere.

Models, datasets, strategies and generators each have a `Registry`. An entry is declared
once (with a decorator or `add`), and the CLI choices, sweeps, docs tables and tests are
generated from it. Unlike timm (which warns), a duplicate name is an error; unlike
mmengine, names are resolved through declared aliases at the edge, so `idd-aw`, `iddaw`
and `IDD-AW` all become the one canonical name before anything else sees them.
"""

from __future__ import annotations

import re
from typing import Callable, Generic, Iterator, TypeVar

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

    def add(self, name: str, entry: T, aliases: tuple[str, ...] = ()) -> T:
        for spelling in (name, *aliases):
            key = normalize(spelling)
            if key in self._lookup:
                raise ValueError(
                    f"{self.kind} {spelling!r} is already registered "
                    f"(as {self._lookup[key]!r}); names must be unique"
                )
        self._entries[name] = entry
        for spelling in (name, *aliases):
            self._lookup[normalize(spelling)] = name
        return entry

    def register(self, name: str, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def decorate(entry: T) -> T:
            return self.add(name, entry, aliases)

        return decorate

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

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize(name) in self._lookup

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
