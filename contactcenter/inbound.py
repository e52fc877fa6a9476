"""What the product accepts from outside: strict JSON bodies and plain text.

Every JSON body the host receives (the tab API, Graph's calling and change notifications,
Bot Framework activities) is parsed by :func:`parse_json`, which refuses what Python's
``json`` module would take or choke on: a body that is not UTF-8 (UTF-16, a byte order
mark), nesting deeper than :data:`MAX_DEPTH` (Python would raise ``RecursionError`` a few
thousand levels down), numbers longer than :data:`MAX_NUMBER_CHARS` characters (Python
would raise ``ValueError`` past 4,300 digits, and spend quadratic time before that),
``NaN`` and infinities, and strings holding lone surrogates (which no store can write as
UTF-8). Each refusal is an :class:`InvalidJson` saying why, answered with 400.

:func:`unsafe_character` finds what names and single-line text must not hold: control
characters (multi-line text keeps newline and tab), line and paragraph separators, and the
bidirectional overrides and isolates that make text read differently from how it is stored.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

__all__ = [
    "MAX_DEPTH",
    "MAX_NUMBER_CHARS",
    "InvalidJson",
    "parse_json",
    "plain_text",
    "unsafe_character",
]

MAX_DEPTH: Final = 32
"""Arrays and objects nested deeper than this are refused; Graph's and Teams' go to about 8."""

MAX_NUMBER_CHARS: Final = 40
"""Number literals longer than this are refused; a 64-bit integer takes 20, a double 24."""

_UTF8_BOM: Final = b"\xef\xbb\xbf"

# A \uD800-\uDFFF escape: the only way a surrogate gets into text decoded from UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJson(ValueError):
    """The body is not JSON this product accepts; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number")


def _integer(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise InvalidJson(f"a number has more than {MAX_NUMBER_CHARS} characters")
    return int(literal)


def _real(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise InvalidJson(f"a number has more than {MAX_NUMBER_CHARS} characters")
    value = float(literal)
    if not math.isfinite(value):
        raise InvalidJson("a number is too large")
    return value


def parse_json(raw: bytes) -> Any:
    """Return the JSON value of a UTF-8 body, or raise :class:`InvalidJson` saying why not."""
    if raw.startswith(_UTF8_BOM):
        raise InvalidJson("the body starts with a byte order mark: send UTF-8 without one")
    if b"\x00" in raw:
        raise InvalidJson("the body holds NUL bytes: send UTF-8, not UTF-16 or UTF-32")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidJson("the body is not UTF-8") from err
    try:
        value = json.loads(
            text, parse_int=_integer, parse_float=_real, parse_constant=_refuse_constant
        )
    except RecursionError as err:
        raise InvalidJson(f"the body is nested deeper than {MAX_DEPTH} levels") from err
    except json.JSONDecodeError as err:
        raise InvalidJson(f"the body is not valid JSON ({err.msg} at {err.pos})") from err
    strings = _SURROGATE_ESCAPE.search(text) is not None
    # Nesting past MAX_DEPTH takes more than MAX_DEPTH brackets: with fewer (every body
    # Graph sends) there is nothing to walk for.
    if strings or text.count("{") + text.count("[") > MAX_DEPTH:
        _check_shape(value, strings=strings)
    return value


def _check_shape(value: Any, *, strings: bool) -> None:
    """Refuse nesting deeper than MAX_DEPTH and, when ``strings``, lone surrogates."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            if depth >= MAX_DEPTH:
                raise InvalidJson(f"the body is nested deeper than {MAX_DEPTH} levels")
            for key, member in item.items():
                if strings and _SURROGATE.search(key):
                    raise InvalidJson("a name holds a lone surrogate (not Unicode text)")
                pending.append((member, depth + 1))
        elif isinstance(item, list):
            if depth >= MAX_DEPTH:
                raise InvalidJson(f"the body is nested deeper than {MAX_DEPTH} levels")
            pending.extend((member, depth + 1) for member in item)
        elif strings and isinstance(item, str) and _SURROGATE.search(item):
            raise InvalidJson("a string holds a lone surrogate (not Unicode text)")


# Controls (C0, DEL, C1), line and paragraph separators, bidirectional embeddings,
# overrides and isolates, and surrogates.
_SINGLE_LINE_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# The same, but newline and tab.
_MULTI_LINE_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def unsafe_character(text: str, *, multi_line: bool = False) -> str | None:
    """Return the first character ``text`` must not hold, as ``U+202E``, or None."""
    pattern = _MULTI_LINE_UNSAFE if multi_line else _SINGLE_LINE_UNSAFE
    found = pattern.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def plain_text(text: str) -> str:
    """Return ``text`` without what single-line text must not hold (names from outside)."""
    return _SINGLE_LINE_UNSAFE.sub("", text)
