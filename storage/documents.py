"""What every store does the same way: JSON copies of bodies and continuation tokens.

Bodies go through JSON on the way in and out, so a store keeps exactly what Cosmos DB would
(tuples become lists, keys become strings, NaN is refused) and never shares a mapping with
its caller. Query pages continue after the last document returned (keyset paging), so a
document that stops matching between pages does not make the next page skip others.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from contactcenter.errors import InvalidInput


def dump_body(body: Mapping[str, Any]) -> str:
    """Encode a body as compact JSON; raise TypeError or ValueError if JSON can't hold it."""
    if not isinstance(body, Mapping):
        raise TypeError(f"a document body must be a mapping, not {type(body).__name__}")
    return json.dumps(dict(body), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def load_body(text: str) -> dict[str, Any]:
    """Decode a document body written by :func:`dump_body`."""
    body = json.loads(text)
    if not isinstance(body, dict):
        raise TypeError("a stored document body is not a JSON object")
    return body


def copy_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """Return a deep copy of ``body`` as JSON would give it back."""
    return load_body(dump_body(body))


def check_limit(limit: int | None) -> None:
    """Refuse a page size that could never make progress."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")


def encode_continuation(order_by: Sequence[tuple[str, bool]], after: Sequence[Any]) -> str:
    """Return an opaque token for the page that starts after the sort key ``after``."""
    payload = {"order": [[field, descending] for field, descending in order_by], "after": after}
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return base64.urlsafe_b64encode(text.encode()).decode("ascii")


def decode_continuation(
    token: str, order_by: Sequence[tuple[str, bool]], key_length: int
) -> list[Any]:
    """Return the sort key a token continues after; refuse tokens of another query."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (UnicodeError, binascii.Error, ValueError) as err:
        raise InvalidInput("malformed continuation token") from err
    expected = [[field, descending] for field, descending in order_by]
    if (
        not isinstance(payload, dict)
        or payload.get("order") != expected
        or not isinstance(payload.get("after"), list)
        or len(payload["after"]) != key_length
        or not all(isinstance(value, str | int | float) for value in payload["after"])
    ):
        raise InvalidInput("continuation token does not belong to this query")
    after: list[Any] = payload["after"]
    return after
