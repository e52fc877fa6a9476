"""Turn domain dataclasses into JSON documents and back.

Documents use camelCase keys (as Cosmos DB and the Graph payloads do) and ISO-8601 UTC
timestamps with a fixed width, so that string comparison orders them in every store.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, Union

T = TypeVar("T")

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime as fixed-width UTC ISO-8601 (sortable as a string)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not allowed in documents")
    return value.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def parse_timestamp(value: str) -> datetime:
    """Parse a timestamp written by :func:`format_timestamp` (or any ISO-8601 with offset)."""
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return parsed.astimezone(UTC)


def camel(name: str) -> str:
    """Turn a snake_case field name into camelCase."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_FIELDS: dict[type[Any], tuple[tuple[str, str, Any], ...]] = {}


def _fields(cls: type[Any]) -> tuple[tuple[str, str, Any], ...]:
    """Return (attribute, document key, type) for each init field of a dataclass, cached."""
    cached = _FIELDS.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = tuple(
            (field.name, camel(field.name), hints[field.name])
            for field in dataclasses.fields(cls)
            if field.init
        )
        _FIELDS[cls] = cached
    return cached


def to_document(value: Any) -> Any:
    """Encode a dataclass (or any supported value) as JSON-compatible data."""
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls: type[Any] = type(value)
        return {key: to_document(getattr(value, name)) for name, key, _ in _fields(cls)}
    if isinstance(value, Mapping):
        return {str(k): to_document(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(to_document(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_document(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__}")


def from_document(cls: type[T], data: Any) -> T:
    """Decode JSON-compatible data into ``cls`` (a dataclass or a supported type)."""
    return typing.cast(T, _decode(cls, data))


def _decode(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return data
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None:
            if type(None) in args:
                return None
            raise ValueError("null where a value is required")
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:
            return _decode(non_null[0], data)
        for candidate in non_null:
            try:
                return _decode(candidate, data)
            except (TypeError, ValueError):
                continue
        raise ValueError(f"no variant of {tp} accepts {data!r}")
    if origin is typing.Literal:
        if data not in typing.get_args(tp):
            raise ValueError(f"{data!r} is not one of {typing.get_args(tp)}")
        return data
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp is datetime:
        if not isinstance(data, str):
            raise TypeError("timestamp must be a string")
        return parse_timestamp(data)
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise TypeError(f"expected a number, got {data!r}")
        return float(data)
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise TypeError(f"expected an integer, got {data!r}")
        return data
    if tp in (str, bool):
        if not isinstance(data, tp):
            raise TypeError(f"expected {tp.__name__}, got {data!r}")
        return data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object for {tp.__name__}")
        kwargs: dict[str, Any] = {}
        for name, key, hint in _fields(tp):
            if key in data:
                kwargs[name] = _decode(hint, data[key])
        return tp(**kwargs)
    if origin in (list, tuple, frozenset, set):
        if not isinstance(data, list):
            raise TypeError(f"expected a list for {tp}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        items = [_decode(item, v) for v in data]
        return origin(items)
    if origin is dict or tp is dict:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object for {tp}")
        args = typing.get_args(tp)
        value_type = args[1] if len(args) == 2 else Any
        return {str(k): _decode(value_type, v) for k, v in data.items()}
    raise TypeError(f"unsupported type {tp!r}")
