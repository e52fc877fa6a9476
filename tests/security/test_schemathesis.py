"""Property-based fuzzing of the tab API from its own OpenAPI document (schemathesis).

The host runs on loopback in this test's event loop; schemathesis sends its generated
requests from a worker thread with an admin's token. Every operation gets a fixed number
of valid (positive) and invalid (negative) examples from a fixed seed, so a run is
deterministic and short. No answer may be a server error, every answer must be one the
document declares, in the declared media type and shape, and invalid input must be
refused with a 4xx.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import checks as openapi_checks

from tests.security.support import feature_off, refused
from tests.tab.support import ADMIN, TabStack

NEGATIVE = GenerationMode.NEGATIVE
SEED = 20260302
MAX_EXAMPLES = 10
# aiohttp's limit on a request line (method, URL, version).
MAX_REQUEST_LINE = 8190 - len("GET  HTTP/1.1")
# Checks that hold for this API. Not included: positive_data_acceptance (valid JSON can
# still break a business rule: a member who is not an agent is a 422, by design).
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


def _fuzz(document: dict[str, Any], base_url: str, token: str) -> dict[str, int]:
    """Run every operation's examples; return how many invalid requests each one refused."""
    # The admin's token is sent on every request (the session's header): schemathesis must
    # not generate Authorization headers of its own, valid or not, that it would not send.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_dict(document, config=config)
    sent: dict[str, int] = {}
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            responses = operation.definition.raw.get("responses", {})
            if "text/event-stream" in responses.get("200", {}).get("content", {}):
                continue  # a stream does not end: covered by tests/tab/test_events.py
            label = f"{operation.method.upper()} {operation.path}"
            sent[label] = 0
            _run(operation, GenerationMode.POSITIVE, base_url, session, sent, label)
            raw = operation.definition.raw
            if "requestBody" in raw or any(p["in"] == "query" for p in raw.get("parameters", [])):
                # A path parameter is any string: whatever is "invalid" about one becomes
                # valid once it is in a URL, so only bodies and queries get invalid examples.
                _run(operation, NEGATIVE, base_url, session, sent, label)
    return sent


def _run(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    sent: dict[str, int],
    label: str,
) -> None:
    """Send one operation's examples of one mode; count the invalid ones refused."""

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=base_url, session=session, timeout=10)
        if feature_off(response.status_code, response.text):
            return  # a feature this host does not run
        if len(response.request.url or "") > MAX_REQUEST_LINE:
            # aiohttp's HTTP parser refuses it (400) before any handler: not the API's answer.
            return
        case.validate_response(response, checks=CHECKS)
        if mode is NEGATIVE:
            sent[label] += 1

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to make invalid: an operation without parameters or a body.
        if mode is not NEGATIVE:
            raise


async def test_the_tab_api_survives_fuzzing_and_answers_as_documented(tab: TabStack) -> None:
    async with tab.host.get("/api/tab/openapi.json") as response:
        document = await response.json()
    base_url = str(tab.host.make_url("")).rstrip("/")
    token = tab.tokens.token(ADMIN.id)

    sent = await asyncio.to_thread(_fuzz, document, base_url, token)

    assert len(sent) >= 25
    assert sum(sent.values()) >= 100
    for label, count in sent.items():
        if count:
            refused(label, count)
