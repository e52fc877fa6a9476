"""Queries as Cosmos DB SQL: conditions to predicates, orderings, and keyset continuations.

Field names are checked against a strict identifier pattern and every value is a
parameter. A page (``limit``) is read with ``TOP`` in index order and continues after the
last document returned: keyset paging, with the same tokens as the other stores, so
documents that stop matching between pages never make the next page skip others. Null and
missing values sort as one group, so a query ordered by fields that may be null is read
group by group (:func:`segments`), each group served by its own composite index.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from contactcenter.errors import InvalidInput
from contactcenter.ports import Condition, Op, Page, StoredDocument
from storage.cosmos.layout import IndexPath, Ordering, check_field, order_paths
from storage.documents import encode_continuation

Group = tuple[bool, ...]
"""Which fields of an ordering hold a value (not null, not missing) in a group of documents."""

# ------------------------------------------------------------------ sort keys (keyset)
# JSON types ranked as Cosmos DB orders them: null (and missing) < booleans < numbers <
# strings < arrays and objects. The ranks and keys are those of the other stores.
_NULL, _BOOL, _NUMBER, _STRING, _COMPLEX = range(5)


def _rank(value: Any) -> int:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int | float):
        return _NUMBER
    if isinstance(value, str):
        return _STRING
    return _COMPLEX


def _sort_key(value: Any) -> tuple[int, Any]:
    rank = _rank(value)
    if rank == _NULL:
        return (_NULL, 0)
    if rank == _COMPLEX:
        return (_COMPLEX, json.dumps(value, sort_keys=True))
    return (rank, value)


def _field_sort_key(name: str, doc: StoredDocument) -> tuple[int, Any]:
    return _sort_key(doc.body.get(name))


def _order_key(doc: StoredDocument, order_by: Sequence[tuple[str, bool]]) -> list[Any]:
    key: list[Any] = []
    for name, _ in order_by:
        key.extend(_sort_key(doc.body.get(name)))
    key.extend((doc.tenant_id, doc.id))
    return key


def _is_after(key: Sequence[Any], last: Sequence[Any], descending: Sequence[bool]) -> bool:
    for mine, theirs, desc in zip(key, last, descending, strict=True):
        if mine != theirs:
            return bool(mine < theirs) if desc else bool(mine > theirs)
    return False


def check_after(after: Sequence[Any], order_by: Sequence[tuple[str, bool]]) -> None:
    """Refuse a decoded continuation whose values cannot be a sort key of this store."""
    expected = {
        _BOOL: (bool,),
        _NUMBER: (int, float),
        _STRING: (str,),
        _COMPLEX: (str,),
    }
    for index in range(len(order_by)):
        rank, value = after[2 * index], after[2 * index + 1]
        ok = isinstance(rank, int) and not isinstance(rank, bool) and _NULL <= rank <= _COMPLEX
        if ok and rank != _NULL:
            ok = isinstance(value, expected[rank]) and (
                rank == _BOOL or not isinstance(value, bool)
            )
        if not ok:
            raise InvalidInput("continuation token does not belong to this query")
    if not all(isinstance(part, str) for part in after[-2:]):
        raise InvalidInput("continuation token does not belong to this query")


# ----------------------------------------------------------------- building queries
# Every predicate is written with at most one level of parentheses (AND binds tighter
# than OR): the test server's SQL parser takes time exponential in nesting depth.
_TYPE_FUNCTIONS: Final = {
    _BOOL: ("IS_BOOL",),
    _NUMBER: ("IS_NUMBER",),
    _STRING: ("IS_STRING",),
    _COMPLEX: ("IS_ARRAY", "IS_OBJECT"),
}
_NULLISH: Final = "(NOT IS_DEFINED({x}) OR IS_NULL({x}))"
_NOT_NULLISH: Final = "IS_DEFINED({x}) AND NOT IS_NULL({x})"


def _expr(name: str) -> str:
    """Return the SQL expression of a (checked) top-level body field."""
    return f'c.body["{check_field(name)}"]'


class Sql:
    """The WHERE clauses and parameters of one query, values always bound."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.parameters: list[dict[str, Any]] = []

    def bind(self, value: Any) -> str:
        name = f"@p{len(self.parameters)}"
        self.parameters.append({"name": name, "value": value})
        return name

    def text(self, *, top: int | None = None, order: IndexPath = (), count: bool = False) -> str:
        if count:
            sql = "SELECT VALUE COUNT(1) FROM c"
        elif top is not None:
            # Only parameter names are interpolated; every value is bound.
            sql = f"SELECT TOP {self.bind(top)} * FROM c"  # noqa: S608
        else:
            sql = "SELECT * FROM c"
        if self.clauses:
            sql += " WHERE " + " AND ".join(self.clauses)
        if order:
            sql += " ORDER BY " + ", ".join(
                f"{_path_expr(path)} {'DESC' if direction == 'descending' else 'ASC'}"
                for path, direction in order
            )
        return sql


def _path_expr(path: str) -> str:
    if path.startswith("/body/"):
        return _expr(path.removeprefix("/body/"))
    return {"/tenantId": "c.tenantId", "/id": "c.id"}[path]


def _condition_sql(condition: Condition, sql: Sql) -> str | None:
    """Return the predicate of one condition, or None when nothing can match it.

    A missing field reads as null; values of different JSON types are never equal and
    never ordered against each other (as in every store).
    """
    x = _expr(condition.field)
    op, value = condition.op, condition.value
    if value is None:
        if op is Op.EQ:
            return _NULLISH.format(x=x)
        if op is Op.NE:
            return _NOT_NULLISH.format(x=x)
        return None
    rank = _rank(value)
    if rank in (_NULL, _COMPLEX):
        raise TypeError(f"cannot compare a document field with {type(value).__name__}")
    if op is Op.NE:
        # NOT of (false AND anything) is true: a missing field or another type is "not equal".
        (is_type,) = _TYPE_FUNCTIONS[rank]
        return f"NOT ({is_type}({x}) AND {x} = {sql.bind(value)})"
    # Comparing values of different types (or a missing field) is undefined, never true.
    return f"{x} {op.value} {sql.bind(value)}"


def _required(where: Sequence[Condition], name: str) -> tuple[bool, bool]:
    """Return whether the conditions allow ``name`` to be null/missing, and to hold a value."""
    nullish, valued = True, True
    for condition in where:
        if condition.field != name:
            continue
        if condition.value is None:
            if condition.op is Op.EQ:
                valued = False
            elif condition.op is Op.NE:
                nullish = False
        elif condition.op is not Op.NE:
            nullish = False
    return nullish, valued


def segments(order_by: Sequence[tuple[str, bool]], where: Sequence[Condition]) -> Iterator[Group]:
    """Yield, in result order, which order fields hold a value in each group of documents.

    Null and missing values sort as one, before every value (after, descending), with ties
    in (tenant, id) order. Cosmos DB sorts a missing field before null, so each group of
    documents that are null or missing in the same fields is read on its own.
    """
    choices: list[list[bool]] = []
    for name, descending in order_by:
        nullish, valued = _required(where, name)
        allowed = [v for v, ok in ((False, nullish), (True, valued)) if ok]
        choices.append(list(reversed(allowed)) if descending else allowed)

    def walk(index: int, prefix: Group) -> Iterator[Group]:
        if index == len(choices):
            yield prefix
            return
        for choice in choices[index]:
            yield from walk(index + 1, (*prefix, choice))

    yield from walk(0, ())


@dataclass(frozen=True, slots=True)
class _Column:
    """One column of a keyset: its SQL, direction, and the last row's value there."""

    sql: str
    descending: bool
    value: Any
    # The JSON type rank of ``value`` for a body field (whose values may be of any type);
    # None for tenantId and id, which are always strings.
    rank: int | None = None


def _other_types(x: str, rank: int, descending: bool) -> str | None:
    """Return a conjunction true for non-null values of ``x`` of a type sorting after ``rank``."""
    later = range(_BOOL, rank) if descending else range(rank + 1, _COMPLEX + 1)
    functions = [function for r in later for function in _TYPE_FUNCTIONS[r]]
    if not functions:
        return None
    if len(functions) == 1:
        return f"{functions[0]}({x})"
    # Several types: say which it is not (the value is known to be neither null nor missing).
    others = [
        f for r in range(_BOOL, _COMPLEX + 1) for f in _TYPE_FUNCTIONS[r] if f not in functions
    ]
    return " AND ".join(f"NOT {function}({x})" for function in others)


def _after_sql(columns: Sequence[_Column], sql: Sql) -> str:
    """Return the keyset predicate: rows whose key sorts after the given row's.

    Written as a disjunction of conjunctions: (a after) OR (a equal AND b after) OR ...
    A body field's value is after another if it is of the same type and greater (less,
    descending), or of a type that sorts later. A comparison between values of different
    types is undefined, never true, so ``x > @p`` needs no type check of its own.
    """
    terms: list[str] = []
    equal: list[str] = []
    for column in columns:
        x, rank = column.sql, column.rank
        if rank == _COMPLEX:
            raise InvalidInput("cannot continue a Cosmos DB query after an array or object value")
        param = sql.bind(column.value)
        terms.append(" AND ".join([*equal, f"{x} {'<' if column.descending else '>'} {param}"]))
        other = None if rank is None else _other_types(x, rank, column.descending)
        if other is not None:
            terms.append(" AND ".join([*equal, other]))
        equal.append(f"{x} = {param}")
    return "(" + " OR ".join(terms) + ")"


# ---------------------------------------------------------------- whole queries
def where_sql(tenant_id: str | None, where: Sequence[Condition]) -> Sql | None:
    """Return the scope and conditions of a query, or None when nothing can match."""
    sql = Sql()
    if tenant_id is not None:
        sql.clauses.append(f"c.tenantId = {sql.bind(tenant_id)}")
    for condition in where:
        predicate = _condition_sql(condition, sql)
        if predicate is None:
            return None
        sql.clauses.append(predicate)
    return sql


def indexes_needed(order_by: Ordering, groups: Sequence[Group]) -> set[IndexPath]:
    """Return the composite indexes that serve reading each of ``groups`` in order."""
    return {order_paths([s for s, v in zip(order_by, g, strict=True) if v]) for g in groups}


def resume_groups(
    groups: list[Group], order_by: Ordering, after: Sequence[Any] | None
) -> tuple[list[Group], Group | None]:
    """Return the groups left to read after a continuation, and the one it stopped in."""
    if after is None:
        return groups, None
    start = tuple(after[2 * i] != _NULL for i in range(len(order_by)))
    if start in groups:
        return groups[groups.index(start) :], start
    # Its group can no longer match these conditions: resume at the next one.
    return [g for g in groups if _group_after(g, start, order_by)], start


def group_sql(
    tenant_id: str | None,
    where: Sequence[Condition],
    order_by: Ordering,
    group: Group,
    *,
    top: int,
    after: Sequence[Any] | None,
) -> tuple[str, list[dict[str, Any]]]:
    """Return the SQL and parameters reading ``top`` documents of one group in order.

    ``after`` is a continuation's last sort key, given when it stopped in this group.
    """
    sql = where_sql(tenant_id, where)
    assert sql is not None
    valued = [(spec, i) for i, (spec, v) in enumerate(zip(order_by, group, strict=True)) if v]
    for (name, _), value_held in zip(order_by, group, strict=True):
        template = _NOT_NULLISH if value_held else _NULLISH
        sql.clauses.append(template.format(x=_expr(name)))
    if after is not None:
        columns = [
            _Column(_expr(name), desc, after[2 * i + 1], rank=after[2 * i])
            for (name, desc), i in valued
        ]
        columns += [
            _Column("c.tenantId", False, after[-2]),
            _Column("c.id", False, after[-1]),
        ]
        sql.clauses.append(_after_sql(columns, sql))
    text = sql.text(top=top, order=order_paths([spec for spec, _ in valued]))
    return text, sql.parameters


def sort_here(
    found: list[StoredDocument],
    order_by: Ordering,
    after: Sequence[Any] | None,
    limit: int | None,
) -> Page:
    """Order every match as Cosmos DB would, and return the page after ``after``."""
    # Stable sorts, last key first; ties end up in (tenant_id, id) order.
    found.sort(key=lambda d: (d.tenant_id, d.id))
    for name, descending in reversed(order_by):
        found.sort(key=functools.partial(_field_sort_key, name), reverse=descending)
    if after is not None:
        directions = [desc for _, desc in order_by for _ in range(2)] + [False, False]
        found = [d for d in found if _is_after(_order_key(d, order_by), after, directions)]
    if limit is not None:
        found = found[: limit + 1]
    return page_of(found, order_by, limit)


def _group_after(group: Group, start: Group, order_by: Ordering) -> bool:
    """Return whether documents of ``group`` sort after those of ``start``."""
    for held, was, (_, descending) in zip(group, start, order_by, strict=True):
        if held != was:
            # Null groups come first ascending, last descending.
            return held != descending
    return False


def page_of(found: list[StoredDocument], order_by: Ordering, limit: int | None) -> Page:
    """Return the first ``limit`` of ``found``, with a continuation when more follow."""
    if limit is None or len(found) <= limit:
        return Page(found)
    page = found[:limit]
    return Page(page, encode_continuation(order_by, _order_key(page[-1], order_by)))
