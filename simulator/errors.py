"""Errors in the JSON shape Graph and the host use: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ValidationError

_MODEL = TypeVar("_MODEL", bound=BaseModel)

# Graph's documented error codes, by the HTTP status the simulator answers with.
_CODES = {
    400: "invalidRequest",
    401: "unauthenticated",
    403: "accessDenied",
    404: "itemNotFound",
    405: "notSupported",
    408: "timeout",
    409: "conflict",
    413: "invalidRequest",
    429: "activityLimitReached",
    503: "serviceNotAvailable",
}


class ApiError(Exception):
    """A 4xx/5xx answer, raised from anywhere in a handler."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "generalException")
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Return an error in the shared JSON shape."""
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure with the shared JSON error shape."""
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err.status, err.code, err.message, headers=err.headers)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        # Keep headers such as Allow on a 405, but not the plain-text body's content type.
        kept = {
            name: value
            for name, value in err.headers.items()
            if name.lower() not in {"content-type", "content-length"}
        }
        return error_response(
            err.status, _CODES.get(err.status, "generalException"), err.reason, headers=kept
        )


async def read_json(request: web.Request) -> Any:
    """Return the request's JSON body; an empty body reads as None."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, f"The request body is not valid JSON: {err}") from err


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON body, which must be an object."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


async def read_model(request: web.Request, model: type[_MODEL]) -> _MODEL:
    """Parse and validate the request's JSON body into ``model``."""
    return parse_model(model, await read_json_object(request))


def parse_model(model: type[_MODEL], data: Any) -> _MODEL:
    """Validate JSON data into ``model``, answering 400 with what was wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in err.errors()
        )
        raise ApiError(400, f"Invalid request body: {problems}") from err
