"""User-facing errors.

Everything a user can get wrong (a misspelled name, a bad value, a missing file) raises a
`ProveError` whose message names the bad value and what would be accepted. The CLI turns
it into a one-line message and exit code 2, with nothing written to the tracking store.
"""

from __future__ import annotations

from typing import Iterable


class ProveError(Exception):
    """A problem with the user's input or environment, explained in its message."""


class UnknownNameError(ProveError, KeyError):
    """A name that no registry knows."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        super().__init__(
            f"unknown {kind} {name!r}; accepted: {', '.join(self.choices) or '(none registered)'}"
        )

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


class MissingDependencyError(ProveError):
    """An optional component needs packages that are not installed."""
