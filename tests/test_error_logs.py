"""The rule of tests/conftest.py: an ERROR log nobody expects fails the test that caused it."""

from __future__ import annotations

from pathlib import Path

import pytest

RULES = Path(__file__).with_name("conftest.py")

CASES = """
import asyncio
import logging
import threading

import pytest

LOG = logging.getLogger("product")


def test_an_error_in_the_body_fails():
    LOG.error("the queue is lost")


def test_an_error_from_another_thread_fails():
    thread = threading.Thread(target=LOG.error, args=("lost in a thread",))
    thread.start()
    thread.join()


def test_an_error_from_a_background_task_fails():
    async def background():
        LOG.error("lost in a task")

    async def main():
        await asyncio.create_task(background())

    asyncio.run(main())


@pytest.fixture
def noisy_teardown():
    yield
    LOG.error("lost in teardown")


def test_an_error_in_teardown_fails(noisy_teardown):
    pass


def test_a_warning_passes():
    LOG.warning("only a warning")


@pytest.mark.expect_error_logs(r"^the caller hung up$")
def test_an_expected_error_passes():
    LOG.error("the caller hung up")


@pytest.mark.expect_error_logs(r"ValueError: bad digit")
def test_a_pattern_may_match_the_exception():
    try:
        raise ValueError("bad digit")
    except ValueError:
        LOG.exception("the menu failed")


@pytest.mark.expect_error_logs(r"^the caller hung up$")
def test_an_error_other_than_the_expected_one_fails():
    LOG.error("the caller hung up")
    LOG.error("an agent is lost")


@pytest.mark.expect_error_logs()
def test_a_marker_without_patterns_is_refused():
    pass


@pytest.mark.expect_error_logs("(unclosed")
def test_a_marker_with_a_broken_pattern_is_refused():
    pass
"""


def test_only_expected_error_logs_pass(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(RULES.read_text(encoding="utf-8"))
    pytester.makepyfile(test_cases=CASES)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")

    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")

    output = result.stdout.str()
    for name in (
        "test_an_error_in_the_body_fails",
        "test_an_error_from_another_thread_fails",
        "test_an_error_from_a_background_task_fails",
        "test_an_error_other_than_the_expected_one_fails",
    ):
        assert f"::{name} FAILED" in output, name
    for name in (
        "test_an_error_in_teardown_fails",
        "test_a_marker_without_patterns_is_refused",
        "test_a_marker_with_a_broken_pattern_is_refused",
    ):
        assert f"::{name} ERROR" in output, name
    for name in (
        "test_a_warning_passes",
        "test_an_expected_error_passes",
        "test_a_pattern_may_match_the_exception",
    ):
        assert f"::{name} PASSED" in output, name
    result.assert_outcomes(passed=4, failed=4, errors=3)
    # The report names each unexpected record, its logger and its thread.
    assert "ERROR product [MainThread]: an agent is lost" in output
    assert "ERROR product [MainThread]: the caller hung up" not in output
    assert "lost in a thread" in output
    assert "unexpected ERROR log record(s) during teardown" in output
