"""Logging set-up: readable text or one JSON object per line, with call and tenant ids."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

# Fields callers pass in ``extra=`` that belong in every structured line when present.
CONTEXT_FIELDS = ("call_id", "tenant_id", "agent_id", "queue_id")

# Any credential after "Bearer", JWT-shaped or opaque (a recording's access token is not a JWT).
_BEARER = re.compile(r"(?i)(bearer\s+)(?!\[redacted)[^\s\"',;]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_.+/=]*")
# Configured secrets shorter than this are not looked for: they would blank ordinary words.
_MIN_SECRET_CHARS = 8


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Blank out anything that looks like a bearer token or JWT, and the given secrets."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[redacted-secret]")
    return _JWT.sub("[redacted-token]", _BEARER.sub(r"\1[redacted]", text))


class RedactingFilter(logging.Filter):
    """Keep tokens and the configured secrets out of log lines, whatever logged them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(
            sorted({s for s in secrets if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True)
        )

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A malformed call: the handler reports it, with the arguments as given.
            return True
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            # Exception messages carry URLs and headers too: format once, redacted; every
            # formatter uses exc_text when it is set.
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info), self._secrets)
        return True


_FORMATTER = logging.Formatter()


def install_redaction(secrets: Iterable[str] = ()) -> Callable[[], None]:
    """Redact every log record as it is made, for every handler; return how to undo it.

    A filter on a handler protects that handler only. Records are also shipped by handlers
    added later (Application Insights' exporter, a test's capture), and aiohttp's access log
    propagates to all of them: redacting when the record is made covers them all.
    """
    current = logging.getLogRecordFactory()
    # Installed again (a second configure_logging): replace, do not stack.
    previous: Callable[..., logging.LogRecord] = getattr(current, "without_redaction", current)
    redactor = RedactingFilter(secrets)

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor.filter(record)
        return record

    make_record.without_redaction = previous  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)

    def undo() -> None:
        logging.setLogRecordFactory(previous)

    return undo


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry)


class TextFormatter(logging.Formatter):
    """Readable lines with the context fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        )
        return f"{line} [{context}]" if context else line


def configure_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Send logs to stderr in the chosen format, with tokens and ``secrets`` redacted."""
    secrets = tuple(secrets)
    install_redaction(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log is one line per request: useful, but not at the default level.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # The Graph client logs every request at INFO; the engine already logs what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The Azure SDKs log every request with its headers at INFO.
    logging.getLogger("azure").setLevel(logging.WARNING)
