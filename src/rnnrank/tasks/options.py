"""Task options checked against the task's dataclass fields, at the boundary.

Options come from ``--task-option KEY=VALUE`` (parsed as YAML), a sweep spec or a run's
config.yaml, so they arrive as plain YAML values: ints, floats, strings, lists. ``coerce`` turns
each into its field's type (an int where a float is expected, a list where a tuple is, a numeric
string such as YAML's ``1e-3`` where a number is) and refuses the rest with a one-line message
that names the option, the type it expects, what came and a valid example (the default).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
          dict: "a mapping"}


class _Mismatch(Exception):
    """The value does not fit the annotation (caught in ``coerce``)."""


def coerce(cls: type, options: dict, *, what: str) -> dict:
    """``options`` converted to the types of ``cls``'s dataclass fields.

    Args:
        cls: a dataclass (a registered task).
        options: option name → value; every name must be a field of ``cls`` (checked before).
        what: how the message names the owner, e.g. ``"task 'flipflop'"``.

    Raises:
        ValueError: ``task 'flipflop' option n_bits expects an integer, got 'abc' (str); e.g.
            n_bits=3`` for the first value of the wrong type.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in options.items():
        hint = hints.get(key, Any)
        try:
            out[key] = _convert(value, hint)
        except _Mismatch:
            example = _default(fields[key])
            fix = "" if example is None else f"; e.g. {key}={_yaml(example)}"
            raise ValueError(f"{what} option {key} expects {_describe(hint)}, got {value!r} "
                             f"({type(value).__name__}){fix}") from None
    return out


def _convert(value, hint):
    if hint is Any:
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg)
            except _Mismatch:
                pass
        raise _Mismatch
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0]) for v in value)
        if len(value) != len(args):
            raise _Mismatch
        return tuple(_convert(v, a) for v, a in zip(value, args, strict=True))
    if origin is not None:  # dict[str, int], list[...]: the container type only
        hint = origin
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if isinstance(value, bool):  # True is an int to Python, never a number of bits here
        raise _Mismatch
    if hint is int:
        number = _number(value)
        if number is None or number != int(number):
            raise _Mismatch
        return int(number)
    if hint is float:
        number = _number(value)
        if number is None:
            raise _Mismatch
        return float(number)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise _Mismatch
    return value


def _number(value) -> float | int | None:
    """An int or float from a number or a numeric string (YAML reads ``1e-3`` as a string)."""
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return None
            return number if number == number and abs(number) != float("inf") else None
    return None


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_describe(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" (or null)" if type(None) in args else "")
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        if len(set(args)) == 1:
            return f"a list of {len(args)} {_plural(args[0])}"
        return "a list [" + ", ".join(_describe(a) for a in args) + "]"
    return _NAMES.get(origin or hint, getattr(hint, "__name__", str(hint)))


def _plural(hint) -> str:
    return {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(
        hint, _describe(hint))


def _default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _yaml(value) -> str:
    """``value`` as one would type it after ``KEY=`` (YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)
