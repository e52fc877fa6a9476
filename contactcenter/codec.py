"""Turn domain dataclasses into JSON documents and back.

Documents use camelCase keys (as Cosmos DB and the Graph payloads do) and ISO-8601 UTC
timestamps with a fixed width, so that string comparison orders them in every store.
A dataclass whose documents changed shape names a static ``upgrade_document(data)``
that turns an older document into the current shape when it is read.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, Union

T = TypeVar("T")

_FORMATTED: dict[datetime, str] = {}
_FORMATTED_KEPT = 4096


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime as fixed-width UTC ISO-8601 (sortable as a string)."""
    known = _FORMATTED.get(value)
    if known is not None:
        return known
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not allowed in documents")
    utc = value if value.utcoffset() == _ZERO else value.astimezone(UTC)
    # Hand-formatted: strftime is the slowest step of encoding a document.
    text = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond:06d}Z"
    )
    # The same instants (offered, answered...) are written again with every change of a
    # document: remember the latest few.
    if len(_FORMATTED) >= _FORMATTED_KEPT:
        _FORMATTED.clear()
    _FORMATTED[value] = text
    return text


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


_ZERO = timedelta(0)


_FIELDS: dict[type[Any], tuple[tuple[str, str, Any], ...]] = {}


def _fields(cls: type[Any]) -> tuple[tuple[str, str, Any], ...]:
    """Return (attribute, document key, type hint) for each of a dataclass's fields."""
    found = _FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = tuple(
            (field.name, camel(field.name), hints[field.name])
            for field in dataclasses.fields(cls)
            if field.init
        )
        _FIELDS[cls] = found
    return found


# ------------------------------------------------------------------- encoding
# Encoders are chosen by the runtime type of a value and built once per type: documents
# are encoded on every write, so the dispatch must not be a chain of isinstance checks.
_Encoder = Callable[[Any], Any]
_ENCODERS: dict[type[Any], _Encoder] = {}


_PLAIN: frozenset[Any] = frozenset({str, int, float, bool})


def _same(value: Any) -> Any:
    return value


def _enum_value(value: Any) -> Any:
    return value.value


def _encoder_for(kind: type[Any]) -> _Encoder:
    encoder = _ENCODERS.get(kind)
    if encoder is None:
        encoder = _make_encoder(kind)
        _ENCODERS[kind] = encoder
    return encoder


def _make_encoder(kind: type[Any]) -> _Encoder:
    if issubclass(kind, enum.Enum):
        return _enum_value
    if kind is type(None) or issubclass(kind, bool | int | float | str):
        return _same
    if issubclass(kind, datetime):
        return format_timestamp
    if dataclasses.is_dataclass(kind):
        plan = tuple((name, key, _field_encoder(hint)) for name, key, hint in _fields(kind))

        def encode_dataclass(value: Any) -> Any:
            encoded = {}
            for name, key, encode in plan:
                item = getattr(value, name)
                encoded[key] = item if encode is None else encode(item)
            return encoded

        return encode_dataclass
    if issubclass(kind, Mapping):
        return lambda value: {str(k): to_document(v) for k, v in value.items()}
    if issubclass(kind, frozenset | set):
        return lambda value: sorted(to_document(v) for v in value)
    if issubclass(kind, list | tuple):
        return lambda value: [to_document(v) for v in value]
    raise TypeError(f"cannot encode {kind.__name__}")


def _optional(encode: _Encoder) -> _Encoder:
    def encode_optional(value: Any) -> Any:
        return None if value is None else encode(value)

    return encode_optional


def _field_encoder(hint: Any) -> _Encoder | None:
    """Return a shortcut encoder for a field declared ``hint`` (None: JSON as it is).

    Only hints whose values need no inspection get one; any other field goes through
    :func:`to_document`, which looks at the value itself.
    """
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = args[0] if args[1] is type(None) else args[1]
        if inner in _PLAIN:
            return None
        shortcut = _field_encoder(inner)
        return None if shortcut is None else _optional(shortcut)
    if hint in _PLAIN:
        return None
    if hint is datetime:
        return format_timestamp
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_value
    if origin is tuple and args and args[0] in _PLAIN and (len(args) == 1 or args[1] is ...):
        return list
    if origin is frozenset and args and args[0] in _PLAIN:
        return sorted
    if origin is dict and len(args) == 2 and args[0] is str and args[1] in _PLAIN:
        return lambda value: {str(k): v for k, v in value.items()}
    return to_document


def to_document(value: Any) -> Any:
    """Encode a dataclass (or any supported value) as JSON-compatible data."""
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        encoder = _encoder_for(type(value))
    return encoder(value)


# ------------------------------------------------------------------- decoding
# Decoders are built once per type hint, for the same reason.
_Decoder = Callable[[Any], Any]
_DECODERS: dict[Any, _Decoder] = {}


def from_document(cls: type[T], data: Any) -> T:
    """Decode JSON-compatible data into ``cls`` (a dataclass or a supported type)."""
    return typing.cast(T, _decoder_for(cls)(data))


def _decoder_for(tp: Any) -> _Decoder:
    try:
        return _DECODERS[tp]
    except KeyError:
        pass
    except TypeError:
        return _make_decoder(tp)  # an unhashable hint: build it each time
    decoder = _make_decoder(tp)
    _DECODERS[tp] = decoder
    return decoder


def _make_decoder(tp: Any) -> _Decoder:
    origin = typing.get_origin(tp)
    if tp is Any:
        return _same
    if origin in (Union, types.UnionType):
        return _union_decoder(tp)
    if origin is typing.Literal:
        allowed = typing.get_args(tp)

        def decode_literal(data: Any) -> Any:
            if data not in allowed:
                raise ValueError(f"{data!r} is not one of {allowed}")
            return data

        return decode_literal
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp
    if tp is datetime:
        return _decode_datetime
    if tp is float:
        return _decode_float
    if tp is int:
        return _decode_int
    if tp in (str, bool):
        return _scalar_decoder(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    if origin in (list, tuple, frozenset, set):
        args = typing.get_args(tp)
        item = _decoder_for(args[0]) if args else _same
        container: Callable[[Any], Any] = origin

        def decode_items(data: Any) -> Any:
            if not isinstance(data, list):
                raise TypeError(f"expected a list for {tp}")
            return container([item(v) for v in data])

        return decode_items
    if origin is dict or tp is dict:
        args = typing.get_args(tp)
        value_decoder = _decoder_for(args[1]) if len(args) == 2 else _same

        def decode_mapping(data: Any) -> Any:
            if not isinstance(data, Mapping):
                raise TypeError(f"expected an object for {tp}")
            return {str(k): value_decoder(v) for k, v in data.items()}

        return decode_mapping
    raise TypeError(f"unsupported type {tp!r}")


def _union_decoder(tp: Any) -> _Decoder:
    args = typing.get_args(tp)
    optional = type(None) in args
    non_null = [a for a in args if a is not type(None)]
    if len(non_null) == 1:
        only = _decoder_for(non_null[0])

        def decode_optional(data: Any) -> Any:
            if data is None:
                if optional:
                    return None
                raise ValueError("null where a value is required")
            return only(data)

        return decode_optional
    candidates = [_decoder_for(a) for a in non_null]

    def decode_union(data: Any) -> Any:
        if data is None:
            if optional:
                return None
            raise ValueError("null where a value is required")
        for candidate in candidates:
            try:
                return candidate(data)
            except (TypeError, ValueError):
                continue
        raise ValueError(f"no variant of {tp} accepts {data!r}")

    return decode_union


def _decode_datetime(data: Any) -> datetime:
    if not isinstance(data, str):
        raise TypeError("timestamp must be a string")
    return parse_timestamp(data)


def _decode_float(data: Any) -> float:
    if isinstance(data, bool) or not isinstance(data, int | float):
        raise TypeError(f"expected a number, got {data!r}")
    return float(data)


def _decode_int(data: Any) -> int:
    if isinstance(data, bool) or not isinstance(data, int):
        raise TypeError(f"expected an integer, got {data!r}")
    return data


def _scalar_decoder(tp: type[Any]) -> _Decoder:
    def decode_scalar(data: Any) -> Any:
        if not isinstance(data, tp):
            raise TypeError(f"expected {tp.__name__}, got {data!r}")
        return data

    return decode_scalar


def _dataclass_decoder(tp: type[Any]) -> _Decoder:
    # Resolved lazily: a dataclass may refer to itself (or to one declared later).
    plan: list[tuple[str, str, _Decoder]] = []
    # A dataclass whose documents changed shape upgrades older ones as they are read
    # (works the same on every store, with no migration run over the data).
    upgrade: Callable[[Any], Any] | None = getattr(tp, "upgrade_document", None)

    def decode_dataclass(data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object for {tp.__name__}")
        if upgrade is not None:
            data = upgrade(data)
        if not plan:
            plan.extend((name, key, _decoder_for(hint)) for name, key, hint in _fields(tp))
        kwargs = {name: decode(data[key]) for name, key, decode in plan if key in data}
        return tp(**kwargs)

    return decode_dataclass
