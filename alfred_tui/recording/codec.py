"""The panes' plain data as JSON and back: what a recording stores of each reading.

Everything the panes read is already plain, frozen dataclasses
(:class:`~alfred_tui.checks.report.ServiceReport`,
:class:`~alfred_tui.backends.base.ServiceStatus`, the Activity, Keyspace and
Collections views). One generic pair of functions turns them into JSON-ready
values and back, guided by the classes' type hints, so a new field needs no
code here: it is written when present and takes its default when a file from
an older version lacks it. Fields a file has that this version does not know
are ignored, which is what lets a recording from a newer patch release open.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from datetime import datetime
from typing import Any, TypeVar, get_args, get_origin

T = TypeVar("T")


class DecodeError(ValueError):
    """A stored value does not fit the class it should become (a damaged or foreign file)."""


def to_plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts, tuples as lists, times as ISO text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_plain(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if not field.name.startswith("_")
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    return value


#: Names some modules import only for type checkers (``ServiceKind`` is a Literal of str).
_CHECKER_ONLY = {"ServiceKind": str}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The field types of ``cls``; a name only a type checker sees decodes as it was stored."""
    try:
        return typing.get_type_hints(cls, localns=_CHECKER_ONLY)
    except NameError:
        module = vars(__import__(cls.__module__, fromlist=["_"]))
        hints: dict[str, Any] = {}
        for name, text in getattr(cls, "__annotations__", {}).items():
            try:
                hints[name] = eval(text, module, _CHECKER_ONLY) if isinstance(text, str) else text
            except NameError:
                hints[name] = Any
        return hints


def from_plain(kind: Any, data: Any) -> Any:
    """``data`` (from :func:`to_plain`) as an instance of ``kind`` (a class or a type hint)."""
    if data is None:
        return None
    origin = get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in get_args(kind) if arg is not type(None)]
        for option in options:
            try:
                return from_plain(option, data)
            except (DecodeError, TypeError, ValueError):
                continue
        raise DecodeError(f"{data!r} fits none of {kind}")
    if origin is typing.Literal or kind is Any or kind is typing.Any:
        return data
    if origin in (tuple, list):
        args = get_args(kind)
        item = args[0] if args else Any
        if not isinstance(data, list):
            raise DecodeError(f"expected a list, not {type(data).__name__}")
        items = [from_plain(item, element) for element in data]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        args = get_args(kind)
        item = args[1] if len(args) == 2 else Any
        if not isinstance(data, dict):
            raise DecodeError(f"expected an object, not {type(data).__name__}")
        return {key: from_plain(item, element) for key, element in data.items()}
    if isinstance(kind, type):
        if dataclasses.is_dataclass(kind):
            return _dataclass(kind, data)
        if issubclass(kind, enum.Enum):
            return kind(data)
        if kind is datetime:
            return datetime.fromisoformat(data)
        if kind is float and isinstance(data, int | float):
            return float(data)
        if kind in (int, str, bool) and not isinstance(data, kind):
            raise DecodeError(f"expected {kind.__name__}, not {type(data).__name__}")
    return data


def _dataclass(cls: type[T], data: Any) -> T:
    if not isinstance(data, dict):
        raise DecodeError(f"{cls.__name__}: expected an object, not {type(data).__name__}")
    klass: type = cls  # as a plain class: cached by identity, and a dataclass's fields
    hints = _hints(klass)
    values = {}
    for field in dataclasses.fields(klass):
        if not field.init or field.name not in data:
            continue  # missing: the field's default (a file from an older version)
        values[field.name] = from_plain(hints.get(field.name, Any), data[field.name])
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise DecodeError(f"{cls.__name__}: {exc}") from None
