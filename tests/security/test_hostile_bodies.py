"""Hostile bodies on every JSON route: refused with 400 and our error body, nothing changed.

Each family was once a 500 (``RecursionError``, ``ValueError`` past 4,300 digits) or was
taken and failed later (a UTF-16 body, a lone surrogate that no store can write as UTF-8).
Every route that reads JSON gets every family: each tab operation with a body, the demo
sign-in, ``/api/notifications``, ``/api/messages`` and, with a valid Graph token,
``/api/calling``. Then each tab operation is fuzzed (Hypothesis, fixed seed and budget):
a valid body with one hostile part put anywhere in it (text with control, separator,
bidirectional-override or surrogate characters, a number of dozens of digits, nesting
deeper than allowed, an unknown field), which must be refused with a 4xx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

from contactcenter.inbound import MAX_DEPTH
from tests.security.conftest import CallingStack
from tests.security.support import (
    changes,
    example_body,
    lifetime,
    refused,
    rs256,
    snapshot,
    tab_operations,
)
from tests.security.test_calling_tokens import claims, graph_requests, incoming
from tests.tab.support import ADMIN, ANA, SALES, TabStack

PARAMETERS = {"queueId": SALES, "agentId": ANA.id, "userId": ANA.id}
IDS = {"queue": SALES, "user": ANA.id}


def _nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


HOSTILE_BODIES: dict[str, bytes] = {
    "nested-5000-deep": _nested(5000),
    "nested-just-too-deep": _nested(MAX_DEPTH + 1),
    "integer-of-5000-digits": b'{"name": ' + b"9" * 5000 + b"}",
    "negative-integer-of-5000-digits": b'{"name": -' + b"9" * 5000 + b"}",
    "integer-of-41-digits": b'{"name": ' + b"1" * 41 + b"}",
    "float-that-overflows": b'{"name": 1e999}',
    "float-of-5000-digits": b'{"name": 0.' + b"3" * 5000 + b"}",
    "nan": b'{"name": NaN}',
    "infinity": b'{"name": -Infinity}',
    "utf-16-with-bom": json.dumps({"name": "x"}).encode("utf-16"),
    "utf-16-le": json.dumps({"name": "x"}).encode("utf-16-le"),
    "utf-32": json.dumps({"name": "x"}).encode("utf-32"),
    "utf-8-bom": b"\xef\xbb\xbf" + json.dumps({"name": "x"}).encode(),
    "lone-high-surrogate": b'{"name": "\\ud800"}',
    "lone-low-surrogate-in-a-key": b'{"\\udc00": "x"}',
    "surrogates-in-the-wrong-order": b'{"name": "\\udc00\\ud800"}',
    "invalid-utf-8": b'{"name": "\xc3\x28"}',
    "overlong-utf-8": b'{"name": "\xc0\xaf"}',
    "nul-byte": b'{"name": "\x00"}',
    "truncated": b'{"name": [1, 2',
    "trailing-garbage": b'{"name": 1} {}',
}


async def _post(
    tab: TabStack, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, Any]:
    async with tab.host.request(
        method, path, data=body, headers={"Content-Type": "application/json", **headers}
    ) as response:
        payload = await response.json() if response.content_type == "application/json" else None
        return response.status, payload


def _user_for(access: str) -> str:
    return ANA.id if access == "agent" else ADMIN.id


async def test_every_tab_body_refuses_every_hostile_family(tab: TabStack) -> None:
    operations = [op for op in await tab_operations(tab.host) if op.body_schema]
    assert len(operations) >= 20
    before = await snapshot(tab.repository.store)
    for operation in operations:
        url = operation.url({p: PARAMETERS.get(p, SALES) for p in operation.parameters})
        headers = tab.auth(_user_for(operation.access)) if operation.signed_in else {}
        for family, body in HOSTILE_BODIES.items():
            status, payload = await _post(tab, operation.method, url, body, headers)
            assert status == 400, (operation.label, family, status, payload)
            assert payload["error"]["code"] == "invalidJson", (operation.label, family)
            assert payload["error"]["message"], (operation.label, family)
        refused(operation.label, len(HOSTILE_BODIES))
    assert changes(before, await snapshot(tab.repository.store)) == []


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/notifications", {}),
        # The bearer token is checked by Bot Framework's adapter, after our parser.
        ("/api/messages", {"Authorization": "Bearer not-checked-before-the-body"}),
    ],
)
async def test_the_webhooks_refuse_every_hostile_family(
    tab: TabStack, path: str, headers: dict[str, str]
) -> None:
    before = await snapshot(tab.repository.store)
    for family, body in HOSTILE_BODIES.items():
        status, payload = await _post(tab, "POST", path, body, headers)
        assert status == 400, (family, status, payload)
        assert payload["error"]["code"] == "invalidJson", family
    refused(f"POST {path}", len(HOSTILE_BODIES))
    assert changes(before, await snapshot(tab.repository.store)) == []


def _graph_token(calling: CallingStack) -> str:
    token = rs256(calling.key.private_key, claims(**lifetime()), kid=calling.key.kid)
    return f"Bearer {token}"


async def test_the_calling_webhook_refuses_every_hostile_family(calling: CallingStack) -> None:
    before = await snapshot(calling.repository.store)
    bodies = {
        **HOSTILE_BODIES,
        # An incoming call whose id holds a lone surrogate: once acknowledged with 202, then
        # failing in the background when the call document could not be written.
        "call-id-with-a-lone-surrogate": incoming("call-\\ud800", calling.line).replace(
            b"call-\\\\ud800", b"call-\\ud800"
        ),
    }
    for family, body in bodies.items():
        async with calling.host.post(
            "/api/calling",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": _graph_token(calling)},
        ) as response:
            payload = await response.json()
            assert response.status == 400, (family, payload)
            assert payload["error"]["code"] == "invalidNotification", family
    refused("POST /api/calling", len(bodies))
    assert changes(before, await snapshot(calling.repository.store)) == []
    assert await graph_requests(calling) == []


# --------------------------------------------------------------------- fuzzing
SEED = 20260419
EXAMPLES_PER_OPERATION = 25

# What names and single-line text must not hold, and what no text may hold.
_UNSAFE = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + [
    "\t",
    "\n",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    *[chr(c) for c in range(0x202A, 0x202F)],
    *[chr(c) for c in range(0x2066, 0x206A)],
    "\ud800",
    "\udfff",
]
_PLAIN = st.text(alphabet="abcXYZ019 ._-", min_size=1, max_size=6)
_HOSTILE_TEXT = st.builds(lambda a, bad, b: a + bad + b, _PLAIN, st.sampled_from(_UNSAFE), _PLAIN)
_HUGE_NUMBER = st.integers(min_value=10**41, max_value=10**300) | st.integers(
    min_value=-(10**300), max_value=-(10**41)
)
_DEEP = "@@deep@@"
_JSON_LEAF = st.none() | st.booleans() | st.integers(-5, 5) | _PLAIN
_ANY_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_PLAIN, inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value a part can be put: each member, each item."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(item, (*prefix, index)))
    return found


def _put(document: Any, path: tuple[Any, ...], part: Any) -> Any:
    if not path:
        return part
    copy = json.loads(json.dumps(document))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = part
    return copy


@st.composite
def hostile_bodies(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """A body that is ``base`` (valid) but for one hostile part, anywhere in it."""
    kind = draw(st.sampled_from(["text", "number", "deep", "unknown-field", "hostile-key"]))
    paths = _paths(base)
    depth = draw(st.integers(min_value=MAX_DEPTH + 1, max_value=3000))
    if kind == "unknown-field" or not paths:
        document = {**base, draw(_PLAIN) + "Extra": draw(_ANY_JSON)}
    elif kind == "hostile-key":
        document = {**base, draw(_HOSTILE_TEXT): draw(_JSON_LEAF)}
    else:
        part: Any = {"text": _HOSTILE_TEXT, "number": _HUGE_NUMBER}.get(kind, st.just(_DEEP))
        document = _put(base, draw(st.sampled_from(paths)), draw(part))
    text = json.dumps(document)  # ensure_ascii: controls and surrogates as \u escapes
    return text.replace(json.dumps(_DEEP), "[" * depth + "]" * depth).encode()


async def test_every_tab_operation_refuses_fuzzed_hostile_bodies(tab: TabStack) -> None:
    async with tab.host.get("/api/tab/openapi.json") as response:
        document = await response.json()
    operations = [op for op in await tab_operations(tab.host) if op.body_schema]
    loop = asyncio.get_running_loop()

    def on_loop(coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)  # type: ignore[arg-type]

    async def fuzz(base: dict[str, Any], send: Callable[[bytes], Awaitable[Any]]) -> int:
        sent = 0

        @hypothesis.seed(SEED)
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(body=hostile_bodies(base))
        def run(body: bytes) -> None:
            nonlocal sent
            status, payload = on_loop(send(body))
            assert status in {400, 422}, (status, payload, body[:300])
            assert set(payload["error"]) >= {"code", "message"}
            sent += 1

        await asyncio.to_thread(run)
        return sent

    for operation in operations:
        assert operation.body_schema is not None
        url = operation.url({p: PARAMETERS.get(p, SALES) for p in operation.parameters})
        headers = tab.auth(_user_for(operation.access)) if operation.signed_in else {}
        base = example_body(document, operation.body_schema, IDS)

        async def send(
            body: bytes,
            method: str = operation.method,
            url: str = url,
            headers: dict[str, str] = headers,
        ) -> Any:
            return await _post(tab, method, url, body, headers)

        before = await snapshot(tab.repository.store)
        sent = await fuzz(base, send)
        assert changes(before, await snapshot(tab.repository.store)) == [], operation.label
        refused(operation.label, sent)


# ------------------------------------------------------------------ queries
HOSTILE_QUERY_VALUES = [
    "9999-12-31",
    "0001-01-01",
    "99999-01-01",
    "9" * 5000,
    "1e999",
    "-1",
    "NaN",
    "x\u202ey",
    "x\x00y",
    "\ufeff2026-03-02",
]


async def test_every_query_parameter_refuses_hostile_values(tab: TabStack) -> None:
    async with tab.host.get("/api/tab/openapi.json") as response:
        document = await response.json()
    checked = 0
    before = await snapshot(tab.repository.store)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            if not names or method != "get":
                continue
            url = path
            for name, value in PARAMETERS.items():
                url = url.replace(f"{{{name}}}", value)
            for name in names:
                for value in HOSTILE_QUERY_VALUES:
                    user = _user_for(operation["x-access"])
                    async with tab.host.get(
                        url, params={name: value}, headers=tab.auth(user)
                    ) as response:
                        assert response.status < 500, (path, name, value[:20])
                        if name in {"from", "to", "day", "limit", "thresholdS"}:
                            assert response.status == 422, (path, name, value[:20])
                        if response.status >= 400:
                            assert set((await response.json())["error"]) >= {"code", "message"}
                    checked += 1
            refused(f"GET {path}", len(names) * len(HOSTILE_QUERY_VALUES))
    assert checked >= 100
    assert changes(before, await snapshot(tab.repository.store)) == []
