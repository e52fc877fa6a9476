"""The tab API's OpenAPI 3.1 document, generated from the route table and its models."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaValue, models_json_schema

from tab.endpoints import Access, Endpoint
from tab.schemas import ErrorView

_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
_REF_TEMPLATE = "#/components/schemas/{model}"
SECURITY_SCHEME = "tabSso"

_ACCESS_NOTES = {
    Access.PUBLIC: "No sign-in needed.",
    Access.DEMO: "Demo mode only (404 otherwise); no sign-in needed.",
    Access.SIGNED_IN: "Any user of the organization.",
    Access.AGENT: "Users with the agent role.",
    Access.STAFF: "Agents, supervisors and admins.",
    Access.ADMIN: "Admins only.",
}

Mode = Literal["validation", "serialization"]

_H = TypeVar("_H", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class RawContent:
    """A body that is not JSON (an uploaded file, audio): its media types and its limits."""

    media_types: tuple[str, ...]
    description: str
    # The largest body accepted (413 beyond it); None: no limit of its own.
    max_bytes: int | None = None

    def content(self) -> dict[str, Any]:
        """Return the OpenAPI ``content`` map: the same binary schema for each media type."""
        schema: dict[str, Any] = {"type": "string", "format": "binary"}
        if self.max_bytes is not None:
            schema["x-max-bytes"] = self.max_bytes
        return {media_type: {"schema": dict(schema)} for media_type in self.media_types}


_RAW_BODY = "openapi_raw_body"
_RAW_RESPONSE = "openapi_raw_response"


def raw_body(content: RawContent) -> Callable[[_H], _H]:
    """Declare that a handler reads a non-JSON request body itself.

    Such an endpoint has no ``body`` model (the route table's checks would require JSON);
    the handler checks the media type and the size, and the OpenAPI document describes
    the body from ``content``.
    """

    def declare(handler: _H) -> _H:
        setattr(handler, _RAW_BODY, content)
        return handler

    return declare


def raw_response(content: RawContent) -> Callable[[_H], _H]:
    """Declare that a handler answers with a non-JSON body (audio, a file)."""

    def declare(handler: _H) -> _H:
        setattr(handler, _RAW_RESPONSE, content)
        return handler

    return declare


def raw_request_body(endpoint: Endpoint) -> RawContent | None:
    """Return the non-JSON request body an endpoint's handler reads, if it declares one."""
    found = getattr(endpoint.handler, _RAW_BODY, None)
    return found if isinstance(found, RawContent) else None


def _raw_response_body(endpoint: Endpoint) -> RawContent | None:
    found = getattr(endpoint.handler, _RAW_RESPONSE, None)
    return found if isinstance(found, RawContent) else None


def path_parameters(path: str) -> list[str]:
    """Return the names of a route path's ``{parameters}``."""
    return _PATH_PARAMETER.findall(path)


# A query parameter ``format`` chooses the answer's media type: these are the ones known.
_FORMATS = {"csv": "text/csv"}


def _alternative_formats(endpoint: Endpoint) -> list[str]:
    """Return the media types besides JSON that the endpoint's ``format`` parameter offers."""
    if endpoint.query is None:
        return []
    schema = endpoint.query.model_json_schema(ref_template=_REF_TEMPLATE)
    field = schema.get("properties", {}).get("format", {})
    offered = field.get("enum", []) or [
        option.get("const") for option in field.get("anyOf", []) if "const" in option
    ]
    return [_FORMATS[name] for name in offered if name in _FORMATS]


def build_openapi(
    endpoints: Sequence[Endpoint], *, version: str, server_url: str = ""
) -> dict[str, Any]:
    """Return the OpenAPI document describing exactly these endpoints."""
    wanted: list[tuple[type[BaseModel], Mode]] = [(ErrorView, "serialization")]
    for endpoint in endpoints:
        if endpoint.body is not None:
            wanted.append((endpoint.body, "validation"))
        if endpoint.response is not None:
            wanted.append((endpoint.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(unique, ref_template=_REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Contact Center for Microsoft Teams: tab API",
            "version": version,
            "description": (
                "The JSON API behind the Teams tab: the agent workspace and the admin "
                "console. Send the tab's SSO token as a bearer token. Errors are "
                '`{"error": {"code", "message", "details"?}}`; `details` lists invalid '
                "fields as `{field, message}`."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The Entra ID token Teams gives the tab "
                    "(authentication.getAuthToken), scope access_as_user.",
                }
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def _operation(
    endpoint: Endpoint, refs: Mapping[tuple[Any, Mode], JsonSchemaValue]
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "description": _ACCESS_NOTES[endpoint.access],
        "tags": [endpoint.tag],
        "x-access": endpoint.access.value,
    }
    if endpoint.access in {Access.PUBLIC, Access.DEMO}:
        operation["security"] = []
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in path_parameters(endpoint.path)
    ]
    if endpoint.query is not None:
        schema = endpoint.query.model_json_schema(ref_template=_REF_TEMPLATE)
        required = set(schema.get("required", []))
        for name, field_schema in schema.get("properties", {}).items():
            parameters.append(
                {"name": name, "in": "query", "required": name in required, "schema": field_schema}
            )
    if parameters:
        operation["parameters"] = parameters
    raw_request = raw_request_body(endpoint)
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}},
        }
    elif raw_request is not None:
        operation["requestBody"] = {
            "required": True,
            "description": raw_request.description,
            "content": raw_request.content(),
        }
    raw_answer = _raw_response_body(endpoint)
    responses: dict[str, Any] = {}
    if raw_answer is not None:
        responses[str(endpoint.status)] = {
            "description": raw_answer.description,
            "content": raw_answer.content(),
        }
    elif endpoint.stream:
        responses["200"] = {
            "description": "A stream of server-sent events.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    elif endpoint.status == 204:
        responses["204"] = {"description": "Done; no content."}
    else:
        schema_ref: JsonSchemaValue = (
            refs[(endpoint.response, "serialization")]
            if endpoint.response is not None
            else {"type": "object"}
        )
        content: dict[str, Any] = {"application/json": {"schema": schema_ref}}
        for media_type in _alternative_formats(endpoint):
            content[media_type] = {"schema": {"type": "string"}}
        responses[str(endpoint.status)] = {
            "description": HTTPStatus(endpoint.status).phrase,
            "content": content,
        }
    error_ref = refs[(ErrorView, "serialization")]
    for status in endpoint.error_statuses:
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": error_ref}},
        }
    operation["responses"] = responses
    return operation
