"""Documents as Cosmos DB items: an envelope around the body the caller gave.

Each document is one item::

    {"id": "<doc id>", "tenantId": "<tenant id>", "body": {...},
     "ttl": 31536000,                 # only when the body has a valid top-level "ttl"
     "wholeFloats": [["waitS"], ...]} # only when the body holds floats like 3.0

so a body comes back exactly as it was written: its own ``id``, ``tenantId``, ``ttl`` or
underscore keys never collide with Cosmos DB's, and floats with a whole value stay floats
(Cosmos DB keeps JSON numbers, which do not tell ``3.0`` from ``3``: the test server
answers ``3``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from contactcenter.errors import InvalidInput, Unavailable
from contactcenter.ports import StoredDocument
from storage.documents import copy_body

_LOGGER = logging.getLogger(__name__)

SYSTEM_PROPERTIES: Final = frozenset({"_rid", "_self", "_etag", "_attachments", "_ts"})
"""Properties Cosmos DB adds to every item; never part of a returned body."""

_MAX_SAFE_INTEGER: Final = 2**53
_MAX_ITEM_TTL_S: Final = 2**31 - 1
# Cosmos DB refuses these in an id (they would also break the item's URL).
_ID_FORBIDDEN: Final = frozenset("/\\?#")
_MAX_ID_LENGTH: Final = 255


def check_id(doc_id: str, what: str) -> None:
    """Refuse an id (or tenant id) Cosmos DB cannot store."""
    if (
        not doc_id
        or len(doc_id) > _MAX_ID_LENGTH
        or doc_id != doc_id.rstrip()
        or any(char in _ID_FORBIDDEN for char in doc_id)
    ):
        raise InvalidInput(
            f"Cosmos DB cannot store the {what} {doc_id!r}: it must be 1 to "
            f"{_MAX_ID_LENGTH} characters without / \\ ? # or trailing spaces",
            field=what,
        )


_JsonPath = list[str | int]


def _check_numbers(value: Any, path: _JsonPath, whole_floats: list[_JsonPath]) -> None:
    """Collect the paths of whole-valued floats; refuse integers Cosmos DB would round."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            location = "/".join(str(step) for step in path) or "the body"
            raise ValueError(
                f"{location}: Cosmos DB keeps integers only up to 2**53 exactly, not {value}"
            )
    elif isinstance(value, float):
        if value.is_integer():
            whole_floats.append(list(path))
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, [*path, key], whole_floats)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_numbers(item, [*path, index], whole_floats)


def _item_ttl(value: Any) -> int | None:
    """Return ``value`` if Cosmos DB takes it as an item's ttl, else None."""
    valid = isinstance(value, int) and not isinstance(value, bool)
    return value if valid and (value == -1 or 0 < value <= _MAX_ITEM_TTL_S) else None


def to_item(tenant_id: str, doc_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a body as the item that stores it; raise TypeError or ValueError for bad bodies."""
    copied = copy_body(body)
    whole_floats: list[_JsonPath] = []
    _check_numbers(copied, [], whole_floats)
    item: dict[str, Any] = {"id": doc_id, "tenantId": tenant_id, "body": copied}
    ttl = _item_ttl(copied.get("ttl"))
    if ttl is not None:
        item["ttl"] = ttl
    if whole_floats:
        item["wholeFloats"] = whole_floats
    return item


def _restore_float(body: dict[str, Any], path: Sequence[Any]) -> None:
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    value = parent[last]
    if isinstance(value, int) and not isinstance(value, bool):
        parent[last] = float(value)


def from_item(collection: str, item: Mapping[str, Any]) -> StoredDocument:
    """Unwrap an item into the document it stores."""
    body = item.get("body")
    if not isinstance(body, dict) or not isinstance(item.get("_etag"), str):
        raise Unavailable(
            f"{collection}/{item.get('id')} in Cosmos DB is not a document of this store"
        )
    # The SDK gives a fresh dict per response, so the body is already the caller's own.
    for path in item.get("wholeFloats") or ():
        try:
            _restore_float(body, path)
        except (KeyError, IndexError, TypeError):
            _LOGGER.warning("Ignored a stale number-type hint in %s/%s", collection, item["id"])
    return StoredDocument(
        collection=collection,
        tenant_id=str(item["tenantId"]),
        id=str(item["id"]),
        body=body,
        etag=item["_etag"],
    )
