"""GraphCallControl and GraphPresence through the real msgraph-sdk client, on loopback."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from azure.core.credentials import AccessToken
from kiota_abstractions import request_information

from contactcenter.errors import CallControlError, InvalidInput, NotFound, Throttled, Unavailable
from contactcenter.model import Party, PartyKind
from contactcenter.ports import (
    CallControl,
    Invitation,
    MediaPrompt,
    OutboundCall,
    Presence,
    PresenceReading,
    RejectReason,
)
from graph.calling import (
    GraphCallControl,
    GraphHttpClient,
    GraphPresence,
    RetryPolicy,
    StaticTokenProvider,
    build_graph_client,
)

CALL = "491f0b00-ffff-4bc9-a43e-b7ef5a0fb1d2"
TOKEN = "demo-token"
AGENT = Party(kind=PartyKind.USER, id="278405a3-f568-4b3e-b684-009193463064", display_name="Adele")
CALLER = Party(kind=PartyKind.PHONE, id="+14255550100")
GREETING = MediaPrompt(uri="https://bot.example/prompts/greeting.wav", resource_id="greeting-1")
MUSIC = MediaPrompt(uri="https://bot.example/prompts/music.wav", resource_id="music-1")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: Any
    authorization: str | None


@dataclass(frozen=True)
class Reply:
    status: int = 202
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def odata_error(status: int, code: str, message: str, **headers: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, headers)


@dataclass
class FakeGraph:
    """Records every request and answers from a script, then with a default per path."""

    server: TestServer
    requests: list[Recorded] = field(default_factory=list)
    script: dict[str, deque[Reply]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("/v1.0"))

    def then(self, path_suffix: str, *replies: Reply) -> None:
        self.script.setdefault(path_suffix, deque()).extend(replies)

    def reply_for(self, path: str) -> Reply:
        for suffix, replies in self.script.items():
            if path.endswith(suffix) and replies:
                return replies.popleft()
        return default_reply(path)


def default_reply(path: str) -> Reply:
    op = {"status": "running", "clientContext": "ctx"}
    if path.endswith("/playPrompt"):
        return Reply(
            200, op | {"@odata.type": "#microsoft.graph.playPromptOperation", "id": "OP-PLAY"}
        )
    if path.endswith("/recordResponse"):
        return Reply(200, op | {"@odata.type": "#microsoft.graph.recordOperation", "id": "op-rec"})
    if path.endswith("/participants/invite"):
        return Reply(
            200,
            op
            | {
                "@odata.type": "#microsoft.graph.inviteParticipantsOperation",
                "id": "EEC3812AFDC34FB4825CA06C9F35414E",
                "participants": [
                    {
                        "id": "2b6cae40-3d5f-4071-acbd-3e4f5a6b7c8d",
                        "identity": {"user": {"id": AGENT.id}},
                    }
                ],
            },
        )
    if path.endswith(("/subscribeToTone", "/cancelMediaProcessing")):
        return Reply(200, op | {"id": "op-x", "status": "completed"})
    if path.endswith("/communications/calls"):
        return Reply(
            201, {"@odata.type": "#microsoft.graph.call", "id": "c-out-1", "state": "establishing"}
        )
    if path.endswith("/getPresencesByUserId"):
        return Reply(200, None)
    return Reply(204 if path.endswith(CALL) or "/participants/" in path else 202)


@pytest.fixture
async def fake_graph(aiohttp_server: Callable[..., Any]) -> FakeGraph:
    state: dict[str, FakeGraph] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        graph = state["graph"]
        raw = await request.read()
        body: Any = json.loads(raw) if raw else None
        graph.requests.append(
            Recorded(request.method, request.path, body, request.headers.get("Authorization"))
        )
        reply = graph.reply_for(request.path)
        if request.path.endswith("/getPresencesByUserId") and reply.body is None:
            ids = body["ids"]
            reply = Reply(200, {"value": [presence(i) for i in ids]})
        if reply.body is None:
            return web.Response(status=reply.status, headers=reply.headers)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    state["graph"] = FakeGraph(server=await aiohttp_server(app))
    return state["graph"]


def presence(user_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.presence",
        "id": user_id,
        "availability": "Available" if user_id.endswith("0") else "Busy",
        "activity": "Available" if user_id.endswith("0") else "InACall",
    }


@dataclass
class Waits:
    """The injected sleep: records each wait and moves the injected clock on."""

    delays: list[float] = field(default_factory=list)
    now: float = 0.0

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
async def http() -> AsyncIterator[GraphHttpClient]:
    async with GraphHttpClient(timeout_s=5) as client:
        yield client


@pytest.fixture
def graph_client(fake_graph: FakeGraph, http: GraphHttpClient) -> Any:
    return build_graph_client(
        base_url=fake_graph.base_url, credential=StaticTokenProvider(TOKEN), httpx_client=http
    )


@pytest.fixture
def calls(graph_client: Any, waits: Waits) -> GraphCallControl:
    return GraphCallControl(
        graph_client,
        retry=RetryPolicy(max_attempts=4, base_delay_s=0.5, max_delay_s=8, budget_s=20),
        sleep=waits.sleep,
        random_fraction=lambda: 0.5,
        monotonic=waits.monotonic,
    )


@pytest.fixture
def presences(graph_client: Any, waits: Waits) -> GraphPresence:
    return GraphPresence(
        graph_client, sleep=waits.sleep, random_fraction=lambda: 0.5, monotonic=waits.monotonic
    )


def only(graph: FakeGraph) -> Recorded:
    assert len(graph.requests) == 1, graph.requests
    return graph.requests[0]


# ---------------------------------------------------------------- protocols
def test_adapters_satisfy_the_domain_protocols(
    calls: GraphCallControl, presences: GraphPresence
) -> None:
    call_control: CallControl = calls
    presence_port: Presence = presences

    assert call_control is calls
    assert presence_port is presences


# ------------------------------------------------------------------ requests
async def test_answer_posts_service_hosted_media_with_prefetch(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    await calls.answer(
        CALL, callback_uri="https://bot.example/api/calling", prefetch=[GREETING, MUSIC]
    )

    request = only(fake_graph)
    assert (request.method, request.path) == ("POST", f"/v1.0/communications/calls/{CALL}/answer")
    assert request.authorization == f"Bearer {TOKEN}"
    assert request.body == {
        "callbackUri": "https://bot.example/api/calling",
        "acceptedModalities": ["audio"],
        "mediaConfig": {
            "@odata.type": "#microsoft.graph.serviceHostedMediaConfig",
            "preFetchMedia": [
                {"uri": GREETING.uri, "resourceId": "greeting-1"},
                {"uri": MUSIC.uri, "resourceId": "music-1"},
            ],
        },
    }


async def test_answer_without_prefetch_sends_a_bare_media_config(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    await calls.answer(CALL, callback_uri="https://bot.example/api/calling")

    assert only(fake_graph).body["mediaConfig"] == {
        "@odata.type": "#microsoft.graph.serviceHostedMediaConfig"
    }


@pytest.mark.parametrize("reason", list(RejectReason))
async def test_reject_sends_the_reason(
    calls: GraphCallControl, fake_graph: FakeGraph, reason: RejectReason
) -> None:
    await calls.reject(CALL, reason)

    request = only(fake_graph)
    assert (request.method, request.path) == ("POST", f"/v1.0/communications/calls/{CALL}/reject")
    assert request.body == {"reason": reason.value}


async def test_redirect_to_a_number_sends_one_phone_target(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    await calls.redirect(CALL, CALLER, timeout_s=30, callback_uri="https://bot.example/api/calling")

    request = only(fake_graph)
    assert request.path == f"/v1.0/communications/calls/{CALL}/redirect"
    assert request.body["timeout"] == 30
    assert request.body["callbackUri"] == "https://bot.example/api/calling"
    (target,) = request.body["targets"]
    assert target["@odata.type"] == "#microsoft.graph.invitationParticipantInfo"
    assert target["identity"]["phone"] == {"id": "+14255550100"}
    assert "user" not in target["identity"]


async def test_transfer_sends_the_user_as_transfer_target(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    await calls.transfer(CALL, AGENT)

    request = only(fake_graph)
    assert request.path == f"/v1.0/communications/calls/{CALL}/transfer"
    target = request.body["transferTarget"]
    assert target["endpointType"] == "default"
    assert target["identity"]["user"] == {"id": AGENT.id, "displayName": "Adele"}


async def test_user_from_another_tenant_carries_its_tenant(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    guest = Party(kind=PartyKind.USER, id="u-2", display_name="Guest", tenant_id="t-2")

    await calls.transfer(CALL, guest)

    assert only(fake_graph).body["transferTarget"]["identity"]["user"] == {
        "id": "u-2",
        "displayName": "Guest",
        "tenantId": "t-2",
    }


async def test_anonymous_party_cannot_be_rung(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    with pytest.raises(InvalidInput):
        await calls.transfer(CALL, Party(kind=PartyKind.ANONYMOUS))

    assert fake_graph.requests == []


async def test_play_prompt_returns_the_operation_id(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    operation_id = await calls.play_prompt(CALL, [GREETING, MUSIC], client_context="greet:1")

    request = only(fake_graph)
    assert request.path == f"/v1.0/communications/calls/{CALL}/playPrompt"
    assert request.body == {
        "clientContext": "greet:1",
        "prompts": [
            {
                "@odata.type": "#microsoft.graph.mediaPrompt",
                "mediaInfo": {"uri": GREETING.uri, "resourceId": "greeting-1"},
            },
            {
                "@odata.type": "#microsoft.graph.mediaPrompt",
                "mediaInfo": {"uri": MUSIC.uri, "resourceId": "music-1"},
            },
        ],
    }
    assert operation_id == "OP-PLAY"


async def test_operation_without_an_id_is_an_error(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    fake_graph.then("/playPrompt", Reply(200, {"status": "running"}))

    with pytest.raises(CallControlError):
        await calls.play_prompt(CALL, [GREETING], client_context="greet:1")


async def test_cancel_media_processing_and_subscribe_to_tone_send_the_client_context(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    await calls.cancel_media_processing(CALL, client_context="connect")
    await calls.subscribe_to_tone(CALL, client_context="ivr")

    assert [(r.path, r.body) for r in fake_graph.requests] == [
        (f"/v1.0/communications/calls/{CALL}/cancelMediaProcessing", {"clientContext": "connect"}),
        (f"/v1.0/communications/calls/{CALL}/subscribeToTone", {"clientContext": "ivr"}),
    ]


async def test_record_response_records_a_voicemail(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    operation_id = await calls.record_response(
        CALL, prompt=GREETING, max_duration_s=120, client_context="voicemail"
    )

    request = only(fake_graph)
    assert request.path == f"/v1.0/communications/calls/{CALL}/recordResponse"
    assert request.body["prompts"] == [
        {
            "@odata.type": "#microsoft.graph.mediaPrompt",
            "mediaInfo": {"uri": GREETING.uri, "resourceId": "greeting-1"},
        }
    ]
    assert request.body["maxRecordDurationInSeconds"] == 120
    assert request.body["playBeep"] is True
    assert request.body["bargeInAllowed"] is True
    assert request.body["stopTones"] == ["#"]
    assert request.body["clientContext"] == "voicemail"
    assert operation_id == "op-rec"


async def test_record_response_without_a_prompt_sends_no_prompts(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    await calls.record_response(CALL, prompt=None, max_duration_s=60, client_context="vm")

    assert "prompts" not in only(fake_graph).body


async def test_invite_sends_one_user_and_returns_operation_and_participant(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    invitation = await calls.invite(
        CALL, AGENT, client_context=f"offer:{CALL}:1:{AGENT.id}", replaces_call_id="p2p-call"
    )

    request = only(fake_graph)
    assert request.path == f"/v1.0/communications/calls/{CALL}/participants/invite"
    assert request.body["clientContext"] == f"offer:{CALL}:1:{AGENT.id}"
    (participant,) = request.body["participants"]
    assert participant["@odata.type"] == "#microsoft.graph.invitationParticipantInfo"
    assert participant["replacesCallId"] == "p2p-call"
    assert participant["identity"]["user"] == {"id": AGENT.id, "displayName": "Adele"}
    # The id is canonicalised the way completion notifications are.
    assert invitation == Invitation(
        operation_id="eec3812a-fdc3-4fb4-825c-a06c9f35414e",
        participant_id="2b6cae40-3d5f-4071-acbd-3e4f5a6b7c8d",
    )


async def test_invite_without_a_participant_id_still_returns_the_operation(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    fake_graph.then(
        "/participants/invite",
        Reply(200, {"id": "op-9", "status": "running", "participants": [{"id": None}]}),
    )

    invitation = await calls.invite(CALL, AGENT, client_context="offer")

    assert invitation == Invitation(operation_id="op-9", participant_id=None)


async def test_remove_participant_hang_up_and_keep_alive(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    await calls.remove_participant(CALL, "2b6cae40-3d5f-4071-acbd-3e4f5a6b7c8d")
    await calls.hang_up(CALL)
    await calls.keep_alive(CALL)

    assert [(r.method, r.path) for r in fake_graph.requests] == [
        (
            "DELETE",
            f"/v1.0/communications/calls/{CALL}/participants/2b6cae40-3d5f-4071-acbd-3e4f5a6b7c8d",
        ),
        ("DELETE", f"/v1.0/communications/calls/{CALL}"),
        ("POST", f"/v1.0/communications/calls/{CALL}/keepAlive"),
    ]


async def test_each_request_expands_its_url_template_once(
    calls: GraphCallControl, fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    expanded: list[str] = []
    expand = request_information.StdUriTemplate.expand

    def counted(template: str, substitutions: Any) -> str:
        url: str = expand(template, substitutions)
        expanded.append(url)
        return url

    monkeypatch.setattr(request_information.StdUriTemplate, "expand", counted)

    await calls.play_prompt(CALL, [GREETING], client_context="ctx")
    await calls.hang_up(CALL)

    assert [(r.method, r.path, r.authorization) for r in fake_graph.requests] == [
        ("POST", f"/v1.0/communications/calls/{CALL}/playPrompt", f"Bearer {TOKEN}"),
        ("DELETE", f"/v1.0/communications/calls/{CALL}", f"Bearer {TOKEN}"),
    ]
    assert expanded == [
        f"{fake_graph.base_url}/communications/calls/{CALL}/playPrompt",
        f"{fake_graph.base_url}/communications/calls/{CALL}",
    ]


async def test_a_request_builder_used_again_keeps_its_url(
    graph_client: Any, fake_graph: FakeGraph
) -> None:
    keep_alive = graph_client.communications.calls.by_call_id(CALL).keep_alive

    await keep_alive.post()
    await keep_alive.post()

    assert [r.path for r in fake_graph.requests] == [
        f"/v1.0/communications/calls/{CALL}/keepAlive",
        f"/v1.0/communications/calls/{CALL}/keepAlive",
    ]


async def test_place_call_from_a_resource_account(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    outbound = await calls.place_call(
        tenant_id="tenant-1",
        source_application_instance_id="3d913abb-aec0-4964-8fa6-3c6850c4f278",
        target=CALLER,
        callback_uri="https://bot.example/api/calling",
        prefetch=[GREETING],
    )

    request = only(fake_graph)
    assert (request.method, request.path) == ("POST", "/v1.0/communications/calls")
    body = request.body
    assert body["@odata.type"] == "#microsoft.graph.call"
    assert body["tenantId"] == "tenant-1"
    assert body["callbackUri"] == "https://bot.example/api/calling"
    assert body["requestedModalities"] == ["audio"]
    assert body["source"]["identity"]["applicationInstance"] == {
        "id": "3d913abb-aec0-4964-8fa6-3c6850c4f278"
    }
    assert body["targets"][0]["identity"]["phone"] == {"id": "+14255550100"}
    assert body["mediaConfig"]["@odata.type"] == "#microsoft.graph.serviceHostedMediaConfig"
    assert body["mediaConfig"]["preFetchMedia"] == [
        {"uri": GREETING.uri, "resourceId": "greeting-1"}
    ]
    assert outbound == OutboundCall(call_id="c-out-1", state="establishing")


# ------------------------------------------------------------------- retries
async def test_throttled_request_is_retried_after_retry_after(
    calls: GraphCallControl, fake_graph: FakeGraph, waits: Waits
) -> None:
    fake_graph.then(
        "/answer", odata_error(429, "TooManyRequests", "slow down", **{"Retry-After": "3"})
    )

    await calls.answer(CALL, callback_uri="https://bot.example/api/calling")

    assert [r.path for r in fake_graph.requests] == [
        f"/v1.0/communications/calls/{CALL}/answer"
    ] * 2
    assert waits.delays == [3.0]


async def test_unavailable_is_retried_with_jittered_exponential_backoff(
    calls: GraphCallControl, fake_graph: FakeGraph, waits: Waits
) -> None:
    fake_graph.then(
        "/keepAlive",
        odata_error(503, "ServiceUnavailable", "busy"),
        odata_error(504, "GatewayTimeout", "slow"),
        odata_error(503, "ServiceUnavailable", "busy"),
    )

    await calls.keep_alive(CALL)

    assert len(fake_graph.requests) == 4
    # random() = 0.5 of 0.5 s, 1 s, 2 s.
    assert waits.delays == [0.25, 0.5, 1.0]


async def test_unavailable_after_every_attempt_raises_unavailable(
    calls: GraphCallControl, fake_graph: FakeGraph, waits: Waits
) -> None:
    fake_graph.then("/answer", *[odata_error(503, "ServiceUnavailable", "busy")] * 10)

    with pytest.raises(Unavailable) as caught:
        await calls.answer(CALL, callback_uri="https://bot.example/api/calling")

    assert len(fake_graph.requests) == 4
    assert len(waits.delays) == 3
    assert caught.value.__cause__ is not None


async def test_throttled_after_every_attempt_raises_throttled_with_retry_after(
    calls: GraphCallControl, fake_graph: FakeGraph, waits: Waits
) -> None:
    fake_graph.then(
        "/keepAlive", *[odata_error(429, "TooManyRequests", "no", **{"Retry-After": "2"})] * 10
    )

    with pytest.raises(Throttled) as caught:
        await calls.keep_alive(CALL)

    assert caught.value.retry_after == 2.0
    assert waits.delays == [2.0, 2.0, 2.0]


async def test_retry_after_beyond_the_budget_gives_up_at_once(
    calls: GraphCallControl, fake_graph: FakeGraph, waits: Waits
) -> None:
    fake_graph.then(
        "/keepAlive", odata_error(429, "TooManyRequests", "later", **{"Retry-After": "120"})
    )

    with pytest.raises(Throttled) as caught:
        await calls.keep_alive(CALL)

    assert caught.value.retry_after == 120.0
    assert waits.delays == []
    assert len(fake_graph.requests) == 1


async def test_not_found_is_not_retried(
    calls: GraphCallControl, fake_graph: FakeGraph, waits: Waits
) -> None:
    fake_graph.then("/participants/p-1", odata_error(404, "NotFound", "no such participant"))

    with pytest.raises(NotFound):
        await calls.remove_participant(CALL, "p-1")

    assert len(fake_graph.requests) == 1
    assert waits.delays == []


async def test_bad_request_is_a_call_control_error_with_status_and_code(
    calls: GraphCallControl, fake_graph: FakeGraph, waits: Waits
) -> None:
    fake_graph.then(
        "/participants/invite",
        odata_error(
            400, "BadRequest", "Inviting multiple participants is only supported for group calls"
        ),
    )

    with pytest.raises(CallControlError) as caught:
        await calls.invite(CALL, AGENT, client_context="offer")

    assert caught.value.status == 400
    assert caught.value.code == "BadRequest"
    assert "group calls" in str(caught.value)
    assert waits.delays == []


async def test_server_error_without_a_json_body_is_unavailable(
    calls: GraphCallControl, fake_graph: FakeGraph
) -> None:
    fake_graph.then("/reject", Reply(500, None))

    with pytest.raises(Unavailable):
        await calls.reject(CALL)

    assert len(fake_graph.requests) == 1


async def test_connection_refused_is_retried_then_unavailable(
    graph_client: Any, fake_graph: FakeGraph, waits: Waits
) -> None:
    await fake_graph.server.close()
    calls = GraphCallControl(
        graph_client, sleep=waits.sleep, random_fraction=lambda: 1.0, monotonic=waits.monotonic
    )

    with pytest.raises(Unavailable):
        await calls.play_prompt(CALL, [GREETING], client_context="greet")

    # Nothing reached Graph, so even a prompt is safe to send again.
    assert waits.delays == [0.5, 1.0, 2.0]


# ------------------------------------------------------------------- presence
async def test_presence_of_1300_users_takes_two_requests_of_650(
    presences: GraphPresence, fake_graph: FakeGraph
) -> None:
    user_ids = [f"user-{n:04d}" for n in range(1300)]

    readings = await presences.get_presences("tenant-1", user_ids)

    assert [(r.path, len(r.body["ids"])) for r in fake_graph.requests] == [
        ("/v1.0/communications/getPresencesByUserId", 650),
        ("/v1.0/communications/getPresencesByUserId", 650),
    ]
    assert fake_graph.requests[0].body["ids"] + fake_graph.requests[1].body["ids"] == user_ids
    assert len(readings) == 1300
    assert readings[0] == PresenceReading("user-0000", "Available", "Available")
    assert readings[1] == PresenceReading("user-0001", "Busy", "InACall")


async def test_presence_asks_once_per_user_and_not_at_all_for_nobody(
    presences: GraphPresence, fake_graph: FakeGraph
) -> None:
    assert await presences.get_presences("tenant-1", []) == []
    readings = await presences.get_presences("tenant-1", ["a", "b", "a"])

    assert only(fake_graph).body == {"ids": ["a", "b"]}
    assert [r.user_id for r in readings] == ["a", "b"]


async def test_throttled_presence_honours_retry_after(
    presences: GraphPresence, fake_graph: FakeGraph, waits: Waits
) -> None:
    fake_graph.then(
        "/getPresencesByUserId", odata_error(429, "TooManyRequests", "no", **{"Retry-After": "7"})
    )

    readings = await presences.get_presences("tenant-1", ["user-1"])

    assert waits.delays == [7.0]
    assert [r.user_id for r in readings] == ["user-1"]


# ------------------------------------------------------------ construction
def test_static_token_needs_a_loopback_base_url() -> None:
    with pytest.raises(ValueError, match="loopback"):
        build_graph_client(
            base_url="https://graph.microsoft.com/v1.0", credential=StaticTokenProvider(TOKEN)
        )


def test_plain_http_needs_a_loopback_base_url() -> None:
    with pytest.raises(ValueError, match="loopback"):
        build_graph_client(
            base_url="http://graph.example.com/v1.0", credential=StaticTokenProvider(TOKEN)
        )


async def test_static_token_is_not_sent_to_other_hosts() -> None:
    provider = StaticTokenProvider(TOKEN)

    assert await provider.get_authorization_token("http://127.0.0.1:9/v1.0/x") == TOKEN
    assert await provider.get_authorization_token("https://graph.microsoft.com/v1.0/x") == ""
    assert TOKEN not in repr(provider)


class FakeCredential:
    """An azure-identity style async credential that hands out a fixed token."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("app-token", 2_000_000_000)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> FakeCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        return None


async def test_credential_token_is_sent_for_the_base_url_host_scope(
    fake_graph: FakeGraph, http: GraphHttpClient
) -> None:
    credential = FakeCredential()
    client = build_graph_client(
        base_url=fake_graph.base_url, credential=credential, httpx_client=http
    )

    await GraphCallControl(client).keep_alive(CALL)

    assert only(fake_graph).authorization == "Bearer app-token"
    assert credential.scopes == [("https://127.0.0.1/.default",)]


async def test_read_timeout_is_not_retried_for_an_invite(waits: Waits) -> None:
    attempts: list[str] = []

    async def time_out(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise httpx.ReadTimeout("no answer", request=request)

    async with GraphHttpClient(transport=httpx.MockTransport(time_out)) as http:
        client = build_graph_client(
            base_url="http://127.0.0.1:9/v1.0",
            credential=StaticTokenProvider(TOKEN),
            httpx_client=http,
        )
        calls = GraphCallControl(
            client, sleep=waits.sleep, random_fraction=lambda: 1.0, monotonic=waits.monotonic
        )

        # The first invite may have reached Graph: a second would ring the agent twice.
        with pytest.raises(Unavailable):
            await calls.invite(CALL, AGENT, client_context="offer")
        assert len(attempts) == 1

        # Hanging up twice is harmless, so it is retried.
        with pytest.raises(Unavailable):
            await calls.hang_up(CALL)
        assert len(attempts) == 5
        assert waits.delays == [0.5, 1.0, 2.0]


async def test_retries_stop_at_the_time_budget(fake_graph: FakeGraph, graph_client: Any) -> None:
    waits = Waits()
    calls = GraphCallControl(
        graph_client,
        retry=RetryPolicy(max_attempts=10, base_delay_s=4, max_delay_s=8, budget_s=10),
        sleep=waits.sleep,
        random_fraction=lambda: 1.0,
        monotonic=waits.monotonic,
    )
    fake_graph.then("/keepAlive", *[odata_error(503, "ServiceUnavailable", "busy")] * 10)

    with pytest.raises(Unavailable):
        await calls.keep_alive(CALL)

    # 4 s, then 8 s would end at 12 s, past the 10 s budget.
    assert waits.delays == [4.0]
    assert len(fake_graph.requests) == 2


async def test_cancelling_during_a_retry_wait_stops_the_retries(
    fake_graph: FakeGraph, graph_client: Any
) -> None:
    waiting = asyncio.Event()

    async def wait_forever(seconds: float) -> None:
        waiting.set()
        await asyncio.Event().wait()

    calls = GraphCallControl(graph_client, sleep=wait_forever, random_fraction=lambda: 1.0)
    fake_graph.then("/keepAlive", *[odata_error(503, "ServiceUnavailable", "busy")] * 10)
    task = asyncio.create_task(calls.keep_alive(CALL))
    await waiting.wait()

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(fake_graph.requests) == 1
