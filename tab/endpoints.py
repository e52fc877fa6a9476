"""The tab API's route table and what every route gets for free.

Each :class:`Endpoint` names its method and path, who may call it, the pydantic models of
its body, query and response, and its handler. :func:`add_endpoints` registers them with a
wrapper that, in order: checks the bearer token (401), finds the caller in the store and
checks the role (403), requires JSON for a body (415) of a bounded size (413), validates the
body and the query (422 with field-level details), runs the handler and serializes its
answer, which must be the declared response model. The OpenAPI document is generated from
the same table (``tab/openapi.py``), so the two cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from contactcenter.errors import Conflict, InvalidInput, NotFound, Unauthorized
from contactcenter.inbound import InvalidJson, parse_json
from contactcenter.model import Role
from tab.access import AccessDenied, Caller, resolve_caller
from tab.appkeys import TAB, TabState
from tab.dependencies import TabDependencies
from tab.ports import TabIdentity

_LOGGER = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

# Tab requests are small; a queue with 200 members is a few kilobytes.
MAX_TAB_BODY_BYTES = 64 * 1024

# The code of an error raised without one: the host's code for the status.
_STATUS_CODES: Mapping[int, str] = {
    400: "badRequest",
    404: "notFound",
    413: "payloadTooLarge",
    415: "unsupportedMediaType",
}


class Access(StrEnum):
    """Who may call an endpoint."""

    PUBLIC = "public"
    # Demo mode only (404 otherwise), no token: the demo sign-in picker.
    DEMO = "demo"
    # Any user of the tenant, whatever their roles.
    SIGNED_IN = "signed-in"
    # Users with the agent role.
    AGENT = "agent"
    # Agents, supervisors and admins.
    STAFF = "staff"
    ADMIN = "admin"


_ROLES: Mapping[Access, frozenset[Role]] = {
    Access.AGENT: frozenset({Role.AGENT}),
    Access.STAFF: frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    Access.ADMIN: frozenset({Role.ADMIN}),
}


class ApiError(Exception):
    """An error answer: raise it from a handler to answer with the JSON error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Sequence[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.details = [dict(d) for d in details]
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """Return the JSON error every 4xx/5xx answers with: ``{"error": {"code", "message"}}``."""
        error: dict[str, Any] = {
            "code": self.code or _STATUS_CODES.get(self.status, "error"),
            "message": self.message,
        }
        if self.details:
            error["details"] = self.details
        return web.json_response({"error": error}, status=self.status, headers=self.headers or None)


def validation_failed(details: Sequence[Mapping[str, str]], message: str = "") -> ApiError:
    """Return the 422 error listing each invalid field."""
    return ApiError(
        422,
        message or "the request has invalid fields",
        code="validationFailed",
        details=details,
    )


class TabRequest:
    """One request as a handler sees it: the caller, the validated body and query."""

    def __init__(
        self,
        request: web.Request,
        caller: Caller | None,
        body: BaseModel | None,
        query: BaseModel | None,
    ) -> None:
        self.request = request
        self._caller = caller
        self._body = body
        self._query = query

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def tab(self) -> TabState:
        """Return what the tab's handlers share."""
        return self.request.app[TAB]

    @property
    def deps(self) -> TabDependencies:
        """Return what the host gave the tab."""
        return self.request.app[TAB].deps

    @property
    def caller(self) -> Caller:
        if self._caller is None:
            raise RuntimeError("this endpoint has no signed-in caller")
        return self._caller

    def param(self, name: str) -> str:
        return self.request.match_info[name]

    def body(self, model: type[M]) -> M:
        if not isinstance(self._body, model):
            raise TypeError(f"the endpoint's body is not a {model.__name__}")
        return self._body

    def query(self, model: type[M]) -> M:
        if not isinstance(self._query, model):
            raise TypeError(f"the endpoint's query is not a {model.__name__}")
        return self._query


Result = BaseModel | web.StreamResponse | None
Handler = Callable[[TabRequest], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route of the tab API."""

    method: str
    path: str
    handler: Handler
    summary: str
    access: Access
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    # 200, 201 (created) or 204 (no content: the handler returns None).
    status: int = 200
    # The response is a text/event-stream the handler writes itself.
    stream: bool = False
    # Error statuses the handler answers besides those the checks above produce.
    errors: tuple[int, ...] = ()

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.lstrip("_")

    @property
    def error_statuses(self) -> tuple[int, ...]:
        """The error statuses this endpoint can answer with."""
        statuses: set[int] = {500, *self.errors}
        if self.access is Access.DEMO:
            statuses.add(404)
        if self.access not in {Access.PUBLIC, Access.DEMO}:
            statuses |= {401, 403}
        if "{" in self.path:
            statuses.add(404)
        if self.body is not None:
            statuses |= {400, 413, 415, 422}
        if self.query is not None:
            statuses.add(422)
        if self.method in {"POST", "PUT", "DELETE"} and self.access is not Access.PUBLIC:
            statuses.add(409)
        if self.stream:
            # Live streams are limited per user and per host.
            statuses.add(429)
        return tuple(sorted(statuses))


def add_endpoints(app: web.Application, endpoints: Sequence[Endpoint]) -> None:
    """Register every endpoint on the app's router, wrapped with the checks above."""
    for endpoint in endpoints:
        app.router.add_route(endpoint.method, endpoint.path, _wrap(endpoint))


def _wrap(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await _handle(endpoint, request)
        except ApiError as err:
            return err.response()

    handle.__name__ = endpoint.operation_id
    return handle


async def _handle(endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
    app = request.app
    caller: Caller | None = None
    if endpoint.access is Access.DEMO and not app[TAB].deps.settings.demo:
        raise ApiError(404, "not found")
    if endpoint.access not in {Access.PUBLIC, Access.DEMO}:
        caller = await authenticate(request)
        allowed = _ROLES.get(endpoint.access)
        if allowed is not None and not (allowed & caller.user.roles):
            raise ApiError(
                403,
                f"this needs the {' or '.join(sorted(r.value for r in allowed))} role",
                code="forbidden",
            )
    body = await _parse_body(request, endpoint.body) if endpoint.body is not None else None
    query = _parse_query(request, endpoint.query) if endpoint.query is not None else None
    try:
        result = await endpoint.handler(TabRequest(request, caller, body, query))
    except InvalidInput as err:
        field = err.field or "request"
        raise validation_failed([{"field": field, "message": str(err)}], str(err)) from err
    except NotFound as err:
        raise ApiError(404, "not found") from err
    except Conflict as err:
        raise ApiError(409, "the data changed meanwhile: try again", code="conflict") from err
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=204)
    if endpoint.response is not None and not isinstance(result, endpoint.response):
        raise TypeError(
            f"{endpoint.operation_id} answered a {type(result).__name__}, "
            f"not its declared {endpoint.response.__name__}"
        )
    return web.json_response(result.model_dump(mode="json"), status=endpoint.status)


async def authenticate(request: web.Request) -> Caller:
    """Return the signed-in caller of a request, or raise the 401 / 403 ApiError."""
    state = request.app[TAB]
    try:
        identity: TabIdentity = await state.deps.validator.validate(
            request.headers.get("Authorization")
        )
    except Unauthorized as err:
        _LOGGER.info("Tab request refused: %s", err.reason)
        raise ApiError(
            401,
            "a valid sign-in token is required",
            code="invalidToken",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from err
    try:
        return await resolve_caller(
            identity, state.deps.settings, state.deps.repository, state.audit
        )
    except AccessDenied as err:
        _LOGGER.info(
            "Tab user %s refused: %s",
            identity.object_id,
            err.code,
            extra={"tenant_id": identity.tenant_id},
        )
        raise ApiError(403, err.message, code=err.code) from err


async def _parse_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    if request.content_type != "application/json":
        raise ApiError(415, "send the body as application/json")
    if (request.charset or "utf-8").lower() != "utf-8":
        raise ApiError(415, "send the body as UTF-8 JSON")
    length = request.content_length
    if length is not None and length > MAX_TAB_BODY_BYTES:
        raise ApiError(413, f"the body is larger than {MAX_TAB_BODY_BYTES} bytes")
    raw = await _read_limited(request, MAX_TAB_BODY_BYTES)
    try:
        data = parse_json(raw or b"null")
    except InvalidJson as err:
        raise ApiError(400, str(err), code="invalidJson") from err
    if not isinstance(data, dict):
        raise validation_failed([{"field": "body", "message": "expected a JSON object"}])
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise validation_failed(field_errors(err)) from err


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """Read the whole body, or raise the 413 ApiError as soon as it exceeds ``limit``.

    ``content.read(n)`` answers with what has arrived so far, at most ``n`` bytes: one read
    would take the first part of a slowly sent (chunked) body for all of it.
    """
    raw = bytearray()
    while len(raw) <= limit:
        chunk = await request.content.read(limit + 1 - len(raw))
        if not chunk:
            return bytes(raw)
        raw += chunk
    raise ApiError(413, f"the body is larger than {limit} bytes")


def _parse_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    data: dict[str, Any] = dict(request.query)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise validation_failed(field_errors(err)) from err


def field_errors(err: ValidationError) -> list[dict[str, str]]:
    """Turn pydantic's errors into ``{"field", "message"}`` details (``members[2]``)."""
    details: list[dict[str, str]] = []
    for error in err.errors(include_url=False, include_context=True, include_input=False):
        details.append({"field": field_path(error["loc"]), "message": _message(error)})
    return details


def field_path(location: Sequence[str | int]) -> str:
    """Return ``a.b[2].c`` for pydantic's location ``("a", "b", 2, "c")``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "body"


# pydantic's error types in plain words; ``{name}`` is filled from the error's context.
PLAIN_WORDS: Mapping[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "is not in the expected form",
    "too_short": "needs at least {min_length}",
    "too_long": "can list at most {max_length}",
    "greater_than_equal": "must be {ge} or more",
    "less_than_equal": "must be {le} or less",
    "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}",
    "enum": "must be one of {expected}",
    "literal_error": "must be one of {expected}",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "datetime_type": "must be a date and time",
    "datetime_parsing": "must be a date and time",
    "date_type": "must be a date",
    "date_parsing": "must be a date",
}


def _message(error: Mapping[str, Any]) -> str:
    """Say what is wrong with a field in plain words (the sentence shown next to it)."""
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind == "string_too_short":
        least = context.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters"
    template = PLAIN_WORDS.get(kind)
    if template is not None:
        try:
            return template.format(**{k: str(v) for k, v in context.items()})
        except (KeyError, IndexError):
            pass
    message = str(error.get("msg", "invalid"))
    # pydantic prefixes messages of custom validators with "Value error, ".
    return message.removeprefix("Value error, ")
