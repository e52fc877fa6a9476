"""The OpenAPI document describes exactly the routes the host serves, with their shapes."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tab.endpoints import Access
from tab.openapi import raw_request_body
from tab.routes import ENDPOINTS
from tests.tab.support import ADMIN, ANA, TabStack


@pytest.fixture
async def document(tab: TabStack) -> dict[str, Any]:
    status, body = await tab.call("GET", "/api/tab/openapi.json")
    assert status == 200
    assert isinstance(body, dict)
    return body


def served_routes(tab: TabStack) -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for route in tab.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/tab/") and route.method != "HEAD":
            routes.add((route.method, path))
    return routes


async def test_every_served_route_is_documented_and_nothing_else(
    tab: TabStack, document: dict[str, Any]
) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert documented == served_routes(tab)
    assert len(documented) == len(ENDPOINTS)


async def test_it_is_openapi_3_1_with_bearer_security(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    scheme = document["components"]["securitySchemes"]["tabSso"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    demo_users = document["paths"]["/api/tab/demo/users"]["get"]
    assert demo_users["security"] == []
    me = document["paths"]["/api/tab/me"]["get"]
    assert "security" not in me  # the document-wide bearer requirement applies
    assert set(me["responses"]) >= {"200", "401", "403"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


async def test_bodies_path_parameters_and_roles_match_the_route_table(
    document: dict[str, Any],
) -> None:
    for endpoint in ENDPOINTS:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        has_body = endpoint.body is not None or raw_request_body(endpoint) is not None
        assert ("requestBody" in operation) == has_body, endpoint.path
        path_names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        assert [f"{{{n}}}" for n in path_names] == [
            part for part in endpoint.path.split("/") if part.startswith("{")
        ]
        assert operation["x-access"] == endpoint.access.value
        if endpoint.access is Access.ADMIN:
            assert "403" in operation["responses"]


def validator_for(document: dict[str, Any], path: str, method: str, status: str) -> Any:
    """Return a validator for one response's declared schema, with the components."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:tab-api", resource)
    schema = document["paths"][path][method]["responses"][status]["content"]["application/json"][
        "schema"
    ]
    ref = schema["$ref"].replace("#", "urn:tab-api#", 1)
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry)


@pytest.mark.parametrize(
    ("path", "user", "status"),
    [
        ("/api/tab/me", ANA.id, "200"),
        ("/api/tab/queues/live", ANA.id, "200"),
        ("/api/tab/admin/queues", ADMIN.id, "200"),
        ("/api/tab/admin/users", ADMIN.id, "200"),
        ("/api/tab/admin/seats", ADMIN.id, "200"),
        ("/api/tab/admin/bindings", ADMIN.id, "200"),
        ("/api/tab/admin/queues", ANA.id, "403"),
    ],
)
async def test_answers_match_their_documented_schema(
    tab: TabStack, document: dict[str, Any], path: str, user: str, status: str
) -> None:
    answered, body = await tab.call("GET", path, user=user)
    assert str(answered) == status
    validator_for(document, path, "get", status).validate(body)
