"""Domain errors that adapters translate their libraries' failures into."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises or expects from its ports."""


class NotFound(DomainError):
    """The document, call or participant does not exist."""


class Conflict(DomainError):
    """A compare-and-set lost: the document changed (or exists) since it was read."""


class Throttled(DomainError):
    """The remote service asked us to slow down; ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """The remote service failed or timed out after the retries we allow."""


class InvalidInput(DomainError):
    """Input that breaks a domain rule; ``field`` names the offending field, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CallControlError(DomainError):
    """Graph refused a call-control request; ``status`` is its HTTP status."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Unauthorized(DomainError):
    """A bearer token is missing or not acceptable; ``reason`` says why (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
