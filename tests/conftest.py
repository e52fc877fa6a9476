"""Rules every test follows, whatever its folder.

Error logs fail tests. A log record at ERROR or above emitted while a test runs (its setup,
body or teardown), by any logger, thread or background task of this process, fails that
test: an error the product logs and nobody looks at is a bug hidden in a passing test. A
test that provokes an error on purpose says which ones, narrowly::

    @pytest.mark.expect_error_logs(r"timer broken-timer failed")

Each argument is a regular expression searched in the record's message (followed, when
the record carries an exception, by `` (ExceptionType: text)``); records that match none of
them still fail the test. Records of child processes are theirs, not the test's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Sequence

import pytest

pytest_plugins = ["pytester"]

EXPECT_ERROR_LOGS = "expect_error_logs"


class ErrorLogGuard(logging.Handler):
    """Collect the ERROR records of one test that none of its expected patterns matches."""

    def __init__(self, expected: Sequence[re.Pattern[str]]) -> None:
        super().__init__(logging.ERROR)
        self.expected = tuple(expected)
        self.unexpected: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record unless the test expects it."""
        text = _text(record)
        if not any(pattern.search(text) for pattern in self.expected):
            # Records come from any thread; the handler's lock serializes emit().
            self.unexpected.append(record)

    def take(self) -> list[logging.LogRecord]:
        """Return the unexpected records collected so far, and forget them."""
        self.acquire()
        try:
            taken, self.unexpected = self.unexpected, []
        finally:
            self.release()
        return taken


_GUARD = pytest.StashKey[ErrorLogGuard]()


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        # A malformed record is itself worth failing for; show its raw text.
        return str(record.msg)


def _text(record: logging.LogRecord) -> str:
    """Return what expected patterns are searched in: the message, and its exception."""
    text = _message(record)
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        text += f" ({type(error).__name__}: {error})"
    return text


def _describe(record: logging.LogRecord) -> str:
    return f"{record.levelname} {record.name} [{record.threadName}]: {_text(record)}"


def _expected_patterns(item: pytest.Item) -> list[re.Pattern[str]]:
    """Return the test's expected patterns; raise ValueError for a marker without any."""
    patterns: list[re.Pattern[str]] = []
    for marker in item.iter_markers(EXPECT_ERROR_LOGS):
        if not marker.args:
            raise ValueError(
                f"{EXPECT_ERROR_LOGS} needs the patterns of the errors the test expects"
            )
        try:
            patterns.extend(re.compile(str(pattern)) for pattern in marker.args)
        except re.error as err:
            raise ValueError(
                f"{EXPECT_ERROR_LOGS}: a pattern is not a regular expression: {err}"
            ) from err
    return patterns


def _check(guard: ErrorLogGuard, phase: str) -> None:
    """Fail the phase if it logged errors the test does not expect."""
    records = guard.take()
    if records:
        listed = "\n".join(f"  {_describe(record)}" for record in records)
        pytest.fail(
            f"{len(records)} unexpected ERROR log record(s) during {phase}:\n{listed}\n"
            f"(a test that provokes them on purpose marks itself with "
            f"@pytest.mark.{EXPECT_ERROR_LOGS}(pattern, ...))",
            pytrace=False,
        )


def _guarded_phase(item: pytest.Item, phase: str) -> Generator[None, object, object]:
    guard = item.stash.get(_GUARD, None)
    if guard is None:
        return (yield)
    try:
        outcome = yield
    except BaseException:
        # The phase failed already: its own error says more than the logs it caused.
        guard.take()
        raise
    _check(guard, phase)
    return outcome


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker that declares expected error logs."""
    config.addinivalue_line(
        "markers",
        f"{EXPECT_ERROR_LOGS}(*patterns): the test expects ERROR log records whose "
        "message matches one of these regular expressions",
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    """Start collecting error logs before the test's fixtures are set up."""
    try:
        patterns, refusal = _expected_patterns(item), None
    except ValueError as err:
        patterns, refusal = [], str(err)
    guard = ErrorLogGuard(patterns)
    item.stash[_GUARD] = guard
    logging.getLogger().addHandler(guard)
    outcome = yield from _guarded_phase(item, "setup")
    if refusal is not None:
        # Refused after the other plugins' setup ran: their teardown expects it.
        pytest.fail(refusal, pytrace=False)
    return outcome


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail the test if its body logged unexpected errors."""
    return (yield from _guarded_phase(item, "the test"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Fail the teardown if it logged unexpected errors; stop collecting."""
    try:
        return (yield from _guarded_phase(item, "teardown"))
    finally:
        guard = item.stash.get(_GUARD, None)
        if guard is not None:
            logging.getLogger().removeHandler(guard)
