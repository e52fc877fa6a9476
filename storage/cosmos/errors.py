"""Cosmos DB's failures as the domain's errors, at the store's boundary."""

from __future__ import annotations

from azure.cosmos.exceptions import CosmosHttpResponseError

from contactcenter.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Throttled,
    Unavailable,
)


def _retry_after_s(err: CosmosHttpResponseError) -> float | None:
    headers = getattr(err, "headers", None) or {}
    raw = headers.get("x-ms-retry-after-ms")
    try:
        return int(raw) / 1000 if raw is not None else None
    except (TypeError, ValueError):
        return None


def translate_error(err: CosmosHttpResponseError, what: str) -> DomainError:
    """Return the domain error for a failed Cosmos DB request about ``what``."""
    status = err.status_code
    sub_status = getattr(err, "sub_status", None)
    if status == 404:
        return NotFound(f"{what} not found")
    if status == 409:
        return Conflict(f"{what} already exists")
    if status == 412:
        return Conflict(f"{what} changed since it was read")
    if status == 429:
        retry_after = _retry_after_s(err)
        return Throttled(
            f"{what}: Cosmos DB is throttling requests (retries exhausted)",
            retry_after=retry_after,
        )
    if status in (400, 413):
        return InvalidInput(f"{what}: Cosmos DB refused the request ({status}): {err.message}")
    if status in (401, 403):
        return Unavailable(
            f"{what}: Cosmos DB refused access ({status}, sub-status {sub_status}): "
            "check the key, or the identity's data-plane role and the account's firewall"
        )
    return Unavailable(f"{what}: Cosmos DB answered {status} (sub-status {sub_status})")


def status_of(err: DomainError) -> int | None:
    """Return the HTTP status of the Cosmos DB error a domain error was translated from."""
    cause = err.__cause__
    return cause.status_code if isinstance(cause, CosmosHttpResponseError) else None
