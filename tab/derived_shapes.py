"""JSON shapes derived field by field, and the mappings between them and the domain.

A setting is declared once, in the request body that writes it (``QueueBody``,
``TenantSettingsBody``): the view that reads it back is derived from that body, and both
mappings to and from the domain's dataclass go by field name. Figures the domain computes
are shown as its dataclass has them (``KpiView`` from ``Kpis``). So a field is added in one
place on each side, and ``tests/tab/test_declared_once.py`` checks that the domain's
dataclasses and the API's bodies name the same fields.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, Field, create_model

M = TypeVar("M", bound=BaseModel)

_NOTHING: Mapping[Any, Any] = MappingProxyType({})


class KeptWhenLeftOut:
    """Marks a body's field (``Annotated[..., KEPT]``) that a body leaving it out leaves as stored.

    The fields added after the first clients of a shape are marked so: a client that does
    not know them keeps what is stored (a new document gets the dataclass's default). Any
    other field a body leaves out takes the body's default.
    """


KEPT = KeptWhenLeftOut()


def plain_type(annotation: Any, nested: Mapping[type[BaseModel], type[BaseModel]]) -> Any:
    """Return ``annotation`` without its constraints, with ``nested`` bodies as their views."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return plain_type(args[0], nested)
    if isinstance(annotation, type) and annotation in nested:
        return nested[annotation]
    if origin in (Union, types.UnionType):
        return functools.reduce(operator.or_, (plain_type(arg, nested) for arg in args))
    if origin in (list, dict, set, frozenset, tuple):
        return origin[tuple(plain_type(arg, nested) for arg in args)]
    return annotation


def view_of_body(
    body: type[BaseModel],
    name: str,
    *,
    base: type[M],
    nested: Mapping[type[BaseModel], type[BaseModel]] = _NOTHING,
    first: Mapping[str, Any] = _NOTHING,
    last: Mapping[str, Any] = _NOTHING,
) -> type[M]:
    """Return the response shape of what ``body`` writes: each of its fields, required.

    ``first`` and ``last`` are fields (a type, or pydantic's ``(type, FieldInfo)``) around
    the body's, such as the document's id and etag.
    """
    fields: dict[str, Any] = dict(first)
    for field_name, info in body.model_fields.items():
        fields[field_name] = (plain_type(info.annotation, nested), ...)
    fields.update(last)
    return create_model(name, __base__=base, __module__=body.__module__, **fields)


def view_of_dataclass(
    kind: type[Any],
    name: str,
    *,
    base: type[M],
    module: str,
    exclude: Collection[str] = (),
    descriptions: Mapping[str, str] = _NOTHING,
) -> type[M]:
    """Return the response shape of a domain dataclass: each of its fields but ``exclude``."""
    hints = typing.get_type_hints(kind)
    fields: dict[str, Any] = {
        field.name: (hints[field.name], Field(description=descriptions.get(field.name)))
        for field in dataclasses.fields(kind)
        if field.name not in exclude
    }
    return create_model(name, __base__=base, __module__=module, **fields)


def fill(view: type[M], source: object, **given: Any) -> M:
    """Return ``view`` with each field read from ``source``'s same-named attribute, but ``given``.

    Nested dataclasses fill the nested views the same way.
    """
    values = {name: getattr(source, name) for name in view.model_fields if name not in given}
    return view.model_validate({**values, **given}, from_attributes=True)


def _same(value: Any, stored: Any) -> Any:
    return value


def changes(
    body: BaseModel, stored: object, convert: Callable[[Any, Any], Any] = _same
) -> dict[str, Any]:
    """Return the dataclass fields a body sets, to ``dataclasses.replace`` ``stored`` with.

    Every field of the body, but one marked :data:`KEPT` that the body leaves out; each
    value goes through ``convert(value, stored value)`` (nested bodies), and lists become
    the tuples the domain's frozen dataclasses hold.
    """
    sent = body.model_fields_set
    found: dict[str, Any] = {}
    for name, info in type(body).model_fields.items():
        if name not in sent and KEPT in info.metadata:
            continue
        value = convert(getattr(body, name), getattr(stored, name))
        found[name] = tuple(value) if isinstance(value, list) else value
    return found
