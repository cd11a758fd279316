"""Click parameters generated from the verbs' request dataclasses (`prove.spec.option` fields),
so a default or a help line is written once, where the request is declared."""

from __future__ import annotations

from dataclasses import MISSING, Field
from typing import Any, Callable

import click

from prove.spec import request_fields


def flag_of(name: str) -> str:
    return "--" + name.replace("_", "-")


def is_flag(f: Field) -> bool:
    return isinstance(f.default, bool)


def click_type(f: Field):
    meta = f.metadata
    if meta.get("choices"):
        return click.Choice(list(meta["choices"]))
    kind = {int: int, float: float}.get(type(f.default), str) if f.default is not MISSING else str
    if kind is int and (meta.get("minimum") is not None or meta.get("maximum") is not None):
        return click.IntRange(meta.get("minimum"), meta.get("maximum"))
    return kind


def click_param(f: Field) -> Callable:
    meta = f.metadata
    if meta.get("argument"):
        kind = click.Choice(list(meta["choices"])) if meta.get("choices") else (
            click.Path(exists=meta.get("many", False), dir_okay=False) if meta.get("path") else str)
        return click.argument(f.name, type=kind, nargs=-1 if meta.get("many") else 1, required=True)
    if is_flag(f):
        return click.option(flag_of(f.name), f.name, is_flag=True, default=f.default, help=meta["help"])
    required = f.default is MISSING
    return click.option(flag_of(f.name), f.name, type=click_type(f), required=required,
                        default=None if required else f.default, envvar=meta.get("envvar"),
                        show_default=not required and f.default != "", help=meta["help"])


def request_options(*classes) -> Callable:
    """Decorator: one click parameter per option field of `classes`, in declaration order."""

    def decorate(func):
        for cls in reversed(classes):
            for f in reversed(request_fields(cls)):
                func = click_param(f)(func)
        return func

    return decorate


def split(values: dict[str, Any], cls) -> dict[str, Any]:
    """The values of `cls`'s fields, taken out of the click keyword arguments."""
    return {f.name: values.pop(f.name) for f in request_fields(cls) if f.name in values}
