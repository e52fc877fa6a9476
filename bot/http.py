"""HTTP conventions shared by every route: the error shape, size limits, security headers."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot import keys

_LOGGER = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_REASON_CODES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "notFound",
    405: "methodNotAllowed",
    408: "requestTimeout",
    409: "conflict",
    413: "payloadTooLarge",
    415: "unsupportedMediaType",
    422: "unprocessable",
    429: "tooManyRequests",
    500: "internalError",
    503: "unavailable",
}


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """Build the JSON error every 4xx/5xx answers with: ``{"error": {"code", "message"}}``."""
    error: dict[str, Any] = {"code": code or _REASON_CODES.get(status, "error"), "message": message}
    if details:
        error["details"] = details
    return web.json_response({"error": error}, status=status, headers=headers)


# In production (an https public URL): browsers keep to https for a year.
HSTS = "max-age=31536000"

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-store",
}


def add_security_headers(response: web.StreamResponse) -> None:
    """Add the headers every answer carries (unless the handler set them itself)."""
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every HTTP error into the JSON error shape and add the usual security headers."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        response = error_response(exc.status, message or exc.reason)
        for name in ("Allow", "Retry-After", "WWW-Authenticate"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
    except json.JSONDecodeError:
        response = error_response(400, "the body is not valid JSON")
    except web.RequestPayloadError as err:
        # A body that does not decode (a broken chunk, content that is not gzip).
        _LOGGER.info("%s %s: the body could not be read (%s)", request.method, request.path, err)
        response = error_response(400, "the request body could not be read")
    except ConnectionError as err:
        # The client went away, or was cut off for sending too slowly: nobody reads this.
        _LOGGER.info("%s %s: the connection was lost (%s)", request.method, request.path, err)
        response = error_response(408, "the request did not arrive in time")
    except Exception:
        _LOGGER.exception("unhandled error on %s %s", request.method, request.path)
        response = error_response(500, "internal error")
    add_security_headers(response)
    if _served_over_https(request):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _served_over_https(request: web.Request) -> bool:
    """Tell whether the host is reached over https (production), by its public base URL."""
    settings = request.app.get(keys.SETTINGS)
    return settings is not None and settings.public_base_url.startswith("https://")
