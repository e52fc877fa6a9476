"""Helpers for the security suite: hostile tokens, store snapshots, the tab API's operations.

Every hostile request that a test sees refused is counted per endpoint (:func:`refused`);
the suite prints the counts at the end of a run (``conftest.pytest_terminal_summary``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from contactcenter.ports import Store
from contactcenter.repository import Repository
from contactcenter.retention import TENANT_COLLECTIONS
from simulator.signing import SigningKey

HOSTILE: Counter[str] = Counter()
"""Hostile cases refused, by endpoint (``METHOD /path``)."""


def refused(endpoint: str, cases: int = 1) -> None:
    """Count hostile cases the endpoint was seen to refuse."""
    HOSTILE[endpoint] += cases


Client = TestClient[web.Request, web.Application]

# ----------------------------------------------------------------- snapshots
Snapshot = dict[tuple[str, str, str], tuple[str, str]]


# Written by the host's own background work (a what-if run started by an earlier, allowed
# request; the sampling lease; the interval aggregates of calls an earlier request ended,
# counted in batches), never by the request under test: no endpoint writes them.
BACKGROUND_COLLECTIONS = frozenset(
    {"whatIfRuns", "leases", "intervalAggregates", "agentIntervalAggregates"}
)


async def snapshot(store: Store) -> Snapshot:
    """Return every stored document as (collection, tenant, id) -> (etag, body JSON)."""
    found: Snapshot = {}
    for collection in (Repository.TENANTS, *TENANT_COLLECTIONS):
        if collection in BACKGROUND_COLLECTIONS:
            continue
        continuation: str | None = None
        while True:
            page = await store.query(collection, None, continuation=continuation)
            for doc in page.documents:
                found[(collection, doc.tenant_id, doc.id)] = (
                    doc.etag,
                    json.dumps(doc.body, sort_keys=True),
                )
            continuation = page.continuation
            if continuation is None:
                break
    return found


def changes(before: Snapshot, after: Snapshot) -> list[tuple[str, str, str]]:
    """Return the documents created, changed or deleted between two snapshots."""
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k))


# ------------------------------------------------------------------- tokens
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """Return a token with ``alg: none`` (or any header) and an empty signature."""
    return (
        f"{b64url(json.dumps(dict(header)).encode())}.{b64url(json.dumps(dict(claims)).encode())}."
    )


def hs256_with_public_key(key: SigningKey, claims: Mapping[str, Any]) -> str:
    """Sign with HMAC-SHA256 using the issuer's public key PEM as the secret (key confusion)."""
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = (
        f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(dict(claims)).encode())}"
    )
    signature = hmac.new(public_pem, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def rs256(private_key: rsa.RSAPrivateKey, claims: Mapping[str, Any], **headers: Any) -> str:
    return jwt.encode(dict(claims), private_key, algorithm="RS256", headers=headers)


def impostor_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return jwk | {"kid": kid, "use": "sig", "alg": "RS256"}


def es256(claims: Mapping[str, Any], kid: str) -> str:
    return jwt.encode(
        dict(claims),
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": kid},
    )


def lifetime(now: datetime | None = None, *, minutes: int = 30) -> dict[str, int]:
    now = now or datetime.now(UTC)
    return {
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
    }


# ----------------------------------------------------------- key server
@dataclass
class KeyServer:
    """An attacker's (or a trusted) OpenID configuration and JWKS on loopback, counting hits."""

    server: TestServer
    keys: list[dict[str, Any]]
    hits: Counter[str] = field(default_factory=Counter)

    @property
    def openid_url(self) -> str:
        return str(self.server.make_url("/.well-known/OpenIdConfiguration"))

    @property
    def jwks_url(self) -> str:
        return str(self.server.make_url("/keys"))

    @property
    def fetches(self) -> int:
        """How many key sets were fetched."""
        return self.hits["keys"]


def key_server_app(state: dict[str, KeyServer]) -> web.Application:
    async def openid(request: web.Request) -> web.Response:
        ks = state["ks"]
        ks.hits["openid"] += 1
        return web.json_response({"issuer": "https://graph.microsoft.com", "jwks_uri": ks.jwks_url})

    async def jwks(request: web.Request) -> web.Response:
        ks = state["ks"]
        ks.hits["keys"] += 1
        return web.json_response({"keys": ks.keys})

    async def anything(request: web.Request) -> web.Response:
        state["ks"].hits["other"] += 1
        return web.json_response({"keys": state["ks"].keys})

    app = web.Application()
    app.router.add_get("/.well-known/OpenIdConfiguration", openid)
    app.router.add_get("/keys", jwks)
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


# -------------------------------------------------------- the tab API's operations
@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the tab API, as its OpenAPI document describes it."""

    method: str
    path: str
    operation_id: str
    access: str
    parameters: tuple[str, ...]
    body_schema: str | None
    stream: bool

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def signed_in(self) -> bool:
        return self.access not in {"public", "demo"}

    @property
    def mutating(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH", "DELETE"}

    def url(self, values: Mapping[str, str]) -> str:
        path = self.path
        for name in self.parameters:
            path = path.replace(f"{{{name}}}", values[name])
        return path


def operations(document: Mapping[str, Any]) -> list[Operation]:
    """Return every operation of an OpenAPI document."""
    found: list[Operation] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            ref = body["schema"]["$ref"].rsplit("/", 1)[-1] if body else None
            ok = operation["responses"].get("200", {}).get("content", {})
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    operation_id=operation["operationId"],
                    access=operation["x-access"],
                    parameters=tuple(
                        p["name"] for p in operation.get("parameters", []) if p["in"] == "path"
                    ),
                    body_schema=ref,
                    stream="text/event-stream" in ok,
                )
            )
    return found


async def tab_operations(client: Client) -> list[Operation]:
    async with client.get("/api/tab/openapi.json") as response:
        assert response.status == 200
        return operations(await response.json())


def feature_off(status: int, text: str) -> bool:
    """Tell whether an answer says the operation's feature is not enabled on this host."""
    if status != 503:
        return False
    try:
        return bool(json.loads(text)["error"]["code"] == "notEnabled")
    except (ValueError, KeyError, TypeError):
        return False


def new_id() -> str:
    return str(uuid.uuid4())


# ------------------------------------------------------- request bodies from the schema
def example_body(
    document: Mapping[str, Any], schema_name: str, ids: Mapping[str, str]
) -> dict[str, Any]:
    """Return a small valid body for a request schema, naming ``ids`` where it takes ids.

    ``ids`` holds ``queue`` and ``user`` ids. Only required fields are filled in, with the
    smallest values the schema allows, so a new endpoint is covered without a table entry.
    """
    components = document["components"]["schemas"]
    body = _example(components, components[schema_name], "", ids)
    assert isinstance(body, dict)
    return body


def _example(
    components: Mapping[str, Any], schema: Mapping[str, Any], name: str, ids: Mapping[str, str]
) -> Any:
    if "$ref" in schema:
        return _example(components, components[schema["$ref"].rsplit("/", 1)[-1]], name, ids)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _example(components, options[0], name, ids)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        return {
            key: _example(components, schema["properties"][key], key, ids)
            for key in schema.get("required", [])
        }
    if kind == "array":
        if name == "members":
            return [ids["user"]]
        count = schema.get("minItems", 0)
        return [_example(components, schema["items"], name, ids) for _ in range(count)]
    if kind in {"integer", "number"}:
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 2) - 1)
        value = min(max(low, 1), high)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return _text(name, schema, ids)


def _text(name: str, schema: Mapping[str, Any], ids: Mapping[str, str]) -> str:
    lowered = name.lower()
    if lowered.endswith("queueid"):
        return ids["queue"]
    if lowered == "id":
        # A new object's own id (a user to add): never an existing one.
        return new_id()
    if lowered in {"userid", "agentid"}:
        return ids["user"]
    if lowered == "url":
        return "https://hooks.example.com/contact-center"
    if lowered == "identity":
        return "+14255550999"
    minimum = int(schema.get("minLength", 1))
    text = "Security test"
    return (text * (minimum // len(text) + 1))[: max(minimum, len(text))][
        : schema.get("maxLength", 64)
    ]
