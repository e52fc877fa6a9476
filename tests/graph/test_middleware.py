"""The middleware our Graph requests pass through (docs/decisions/0033-graph-middleware.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware import ParametersNameDecodingHandler, UserAgentHandler
from msgraph.generated.communications.calls.calls_request_builder import CallsRequestBuilder
from msgraph_core.middleware import GraphTelemetryHandler

from contactcenter.errors import Throttled, Unavailable
from graph.calling import (
    GraphCallControl,
    GraphHttpClient,
    RetryPolicy,
    StaticTokenProvider,
    build_graph_client,
    graph_middleware,
)

CALL = "491f0b00-ffff-4bc9-a43e-b7ef5a0fb1d2"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class RecordingGraph:
    """Records each request's raw query and headers; answers with ``status`` and headers."""

    server: TestServer
    seen: list[Seen] = field(default_factory=list)
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("/v1.0"))


@pytest.fixture
async def graph(aiohttp_server: Callable[..., Any]) -> RecordingGraph:
    state: dict[str, RecordingGraph] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        recorder = state["graph"]
        await request.read()
        recorder.seen.append(
            Seen(request.method, request.path, request.query_string, dict(request.headers))
        )
        if request.method == "GET":
            return web.json_response({"value": []})
        if recorder.status >= 400:
            return web.json_response(
                {"error": {"code": "Busy", "message": "try later"}},
                status=recorder.status,
                headers=recorder.headers,
            )
        return web.Response(status=recorder.status, headers=recorder.headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    state["graph"] = RecordingGraph(server=await aiohttp_server(app))
    return state["graph"]


@pytest.fixture
async def client(graph: RecordingGraph) -> AsyncIterator[Any]:
    async with GraphHttpClient(timeout_s=5) as http:
        yield build_graph_client(
            base_url=graph.base_url, credential=StaticTokenProvider("demo-token"), httpx_client=http
        )


def calls_with_one_attempt(client: Any) -> GraphCallControl:
    async def no_wait(seconds: float) -> None:
        return None

    return GraphCallControl(client, retry=RetryPolicy(max_attempts=1), sleep=no_wait)


def test_the_chain_is_name_decoding_user_agent_and_telemetry() -> None:
    assert [type(middleware) for middleware in graph_middleware()] == [
        ParametersNameDecodingHandler,
        UserAgentHandler,
        GraphTelemetryHandler,
    ]


async def test_query_parameter_names_reach_graph_with_a_plain_dollar(
    graph: RecordingGraph, client: Any
) -> None:
    query = CallsRequestBuilder.CallsRequestBuilderGetQueryParameters(top=5)

    await client.communications.calls.get(RequestConfiguration(query_parameters=query))

    assert [seen.query for seen in graph.seen] == ["$top=5"]


async def test_requests_carry_the_sdk_user_agent(graph: RecordingGraph, client: Any) -> None:
    await GraphCallControl(client).keep_alive(CALL)

    assert "kiota-python/" in graph.seen[0].headers["User-Agent"]


@pytest.mark.parametrize(
    ("status", "error"), [(429, Throttled), (503, Unavailable), (504, Unavailable)]
)
async def test_a_retryable_answer_is_sent_once_when_our_policy_allows_one_attempt(
    graph: RecordingGraph, client: Any, status: int, error: type[Exception]
) -> None:
    graph.status = status
    graph.headers = {"Retry-After": "1"}

    with pytest.raises(error):
        await calls_with_one_attempt(client).keep_alive(CALL)

    assert len(graph.seen) == 1


async def test_a_redirect_is_not_followed(graph: RecordingGraph, client: Any) -> None:
    graph.status = 302
    graph.headers = {"Location": f"{graph.base_url}/elsewhere"}

    await calls_with_one_attempt(client).keep_alive(CALL)

    assert [seen.path for seen in graph.seen] == [f"/v1.0/communications/calls/{CALL}/keepAlive"]
