"""The strict JSON parser and the plain-text rule, against Python's own readings.

The oracle is the standard library: what ``json.loads`` reads from a sane body, the
parser must read the same; what it chokes on (or reads into something no store can
write), the parser must refuse with InvalidJson, never another exception.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contactcenter.inbound import (
    MAX_DEPTH,
    MAX_NUMBER_CHARS,
    InvalidJson,
    parse_json,
    plain_text,
    unsafe_character,
)

SANE_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**18), max_value=10**18)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=SANE_JSON, ascii_only=st.booleans())
def test_a_sane_body_reads_as_the_standard_library_reads_it(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert parse_json(raw) == json.loads(raw)


def test_nesting_up_to_the_limit_is_read_and_one_deeper_is_refused() -> None:
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(InvalidJson, match="nested deeper"):
        parse_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_nesting_that_would_overflow_the_stack_is_refused(depth: int) -> None:
    with pytest.raises(InvalidJson, match="nested deeper"):
        parse_json(b'{"a":' * depth + b"1" + b"}" * depth)


def test_numbers_up_to_the_limit_are_read() -> None:
    assert parse_json(b"9" * MAX_NUMBER_CHARS) == int("9" * MAX_NUMBER_CHARS)
    assert parse_json(b"-1.5e300") == -1.5e300


@pytest.mark.parametrize(
    "raw",
    [
        b"9" * (MAX_NUMBER_CHARS + 1),
        b"-" + b"9" * 5000,
        b"9" * 100_000,
        b"0." + b"1" * 5000,
        b"1e999",
        b"-1e999",
        b"NaN",
        b"Infinity",
        b"-Infinity",
    ],
)
def test_numbers_python_would_choke_on_or_overflow_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidJson):
        parse_json(raw)


@pytest.mark.parametrize(
    "raw",
    [
        '{"a": "b"}'.encode("utf-16"),
        '{"a": "b"}'.encode("utf-16-le"),
        '{"a": "b"}'.encode("utf-32"),
        b'\xef\xbb\xbf{"a": "b"}',
        b'{"a": "\xff"}',
        b'{"a": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8: not UTF-8
        b'{"a": "\\ud800"}',
        b'{"a": "\\udc00\\ud800"}',
        b'{"\\udbff": 1}',
        b'["ok", {"deep": ["\\udfff"]}]',
    ],
)
def test_text_that_is_not_unicode_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidJson):
        parse_json(raw)


def test_a_surrogate_pair_is_one_character() -> None:
    assert parse_json(b'"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize(
    ("text", "multi_line", "found"),
    [
        ("Ana Ruiz", False, None),
        ("Zoë 王 عربي", False, None),
        ("a\x00b", False, "U+0000"),
        ("a\nb", False, "U+000A"),
        ("a\nb\tc", True, None),
        ("a\rb", True, "U+000D"),
        ("a\x85b", True, "U+0085"),
        ("a\u2028b", True, "U+2028"),
        ("a\u202eb", True, "U+202E"),
        ("a\u2066b", False, "U+2066"),
        ("a\u200fb", False, None),  # a right-to-left mark: plain text in Hebrew or Arabic
    ],
)
def test_unsafe_characters_are_named(text: str, multi_line: bool, found: str | None) -> None:
    assert unsafe_character(text, multi_line=multi_line) == found


def test_plain_text_drops_what_a_name_must_not_hold() -> None:
    assert plain_text("Eve\u202e\x00 Caller\n") == "Eve Caller"
