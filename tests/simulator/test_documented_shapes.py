"""Every kind of notification the simulator sends has the shape Microsoft documents for it.

The simulator is driven through everything it tells a bot of (calls in, answered,
rejected, redirected, transferred, hung up by either side; prompts, recordings and
invitations completing and failing; key presses; rosters), every notification the
stand-in bot receives is sorted into its kind, and each is held to the documented
examples of that kind in ``tests/fixtures/graph/`` (keys and value types, recursively:
``tests/graph/shapes.py``). A notification of a kind no documented example shows fails
the test too, so the simulator and the documentation cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from contactcenter.clock import Clock, VirtualClock
from simulator import MediaMode, SimulatorConfig
from tests.graph.corpus import documented_fixture, documented_fixtures
from tests.graph.shapes import Schema, schema_of
from tests.simulator.support import (
    AGENT_2_ID,
    AGENT_ID,
    CALLER_NUMBER,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
    answer_body,
    established_call,
    invite_body,
    media_prompt,
    user_invitee,
)

_TERMINATED_WITH_A_CODE = [
    f.name.removesuffix(".json")
    for f in documented_fixtures()
    if f.name.startswith("terminated-") and f.result is not None and f.result[1] != 7015
]

# Each kind of notification, and the documented examples of it.
KINDS: Mapping[str, tuple[str, ...]] = {
    "incoming": (
        "incoming-pstn-to-resource-account",
        "incoming-teams-user-to-resource-account",
        "incoming-teams-user-to-bot",
        "incoming-to-resource-account-policy-recording",
    ),
    "establishing": ("call-establishing", "outgoing-call-establishing"),
    "established": ("call-established", "outgoing-call-established"),
    "terminating": ("call-terminating",),
    "terminated": tuple(_TERMINATED_WITH_A_CODE),
    "terminated without a result": (
        "terminated-after-redirect",
        "transfer-completed-consultative",
    ),
    "transferring": ("transferring",),
    "transfer accepted": ("transfer-accepted",),
    "transfer completed": ("transfer-completed", "terminated-200-7015"),
    "transfer failed": ("transfer-failed",),
    "roster": ("roster-group-call", "roster-participant-left", "roster-pstn-participant-added"),
    "tone": ("tone-received",),
    "prompt played": ("play-prompt-completed",),
    "prompt failed": ("play-prompt-failed",),
    "recording completed": ("record-response-completed",),
    "recording failed": ("record-response-failed",),
    "invitation completed": ("invite-completed", "invite-completed-pstn"),
    "invitation failed": ("invite-failed",),
}

_OPERATION_KINDS = {
    ("#microsoft.graph.playpromptoperation", "completed"): "prompt played",
    ("#microsoft.graph.playpromptoperation", "failed"): "prompt failed",
    ("#microsoft.graph.recordoperation", "completed"): "recording completed",
    ("#microsoft.graph.recordoperation", "failed"): "recording failed",
    ("#microsoft.graph.inviteparticipantsoperation", "completed"): "invitation completed",
    ("#microsoft.graph.inviteparticipantsoperation", "failed"): "invitation failed",
}

_STATE_KINDS = {
    "establishing": "establishing",
    "established": "established",
    "terminating": "terminating",
    "transferring": "transferring",
    "transferAccepted": "transfer accepted",
}


def kind_of(notification: Mapping[str, Any]) -> str:
    """Return which kind of notification this is (a key of :data:`KINDS`, or why none)."""
    data = notification.get("resourceData")
    if isinstance(data, list):
        return "roster"
    if not isinstance(data, dict):
        return f"unknown: resourceData {data!r}"
    if "/operations/" in str(notification.get("resourceUrl", "")):
        key = (str(data.get("@odata.type", "")).lower(), str(data.get("status", "")))
        return _OPERATION_KINDS.get(key, f"unknown operation {key}")
    state = data.get("state")
    result = data.get("resultInfo")
    if notification.get("changeType") == "created" and state == "incoming":
        return "incoming"
    if "toneInfo" in data:
        return "tone"
    if state == "established" and result is not None:
        return "transfer failed"
    if state == "terminated":
        if result is None:
            return "terminated without a result"
        subcode = result.get("subcode", result.get("subCode"))
        return "transfer completed" if str(subcode) == "7015" else "terminated"
    return _STATE_KINDS.get(str(state), f"unknown state {state!r}")


def documented_schema(kind: str) -> Schema:
    """Return the schema of a kind's documented examples, whole bodies with their envelope."""
    return schema_of(
        documented_fixture(f"{name}.json").render_as_documented() for name in KINDS[kind]
    )


@pytest.fixture
def clock() -> Clock:
    return VirtualClock(datetime.now(UTC))


@pytest.fixture
def config(config: SimulatorConfig) -> SimulatorConfig:
    from dataclasses import replace

    return replace(config, media_mode=MediaMode.MANUAL)


def _on(call_id: str, action: str) -> str:
    return f"/communications/calls/{call_id}/{action}"


async def _drive_every_kind(simulator: Simulator, receiver: BotReceiver) -> None:
    """Make the simulator send each kind of notification at least once."""
    graph, control = simulator.graph, simulator.control

    # A phone caller, answered; a prompt played and one cancelled; a recording made and
    # one cancelled; keys pressed; an agent invited who answers, a second who declines; the
    # caller leaves the group call, and the bot removes the agent.
    call_id = await established_call(simulator, receiver)
    await graph("POST", _on(call_id, "subscribeToTone"), {"clientContext": "tones"})
    await control.press_tones(call_id, "1")
    prompt = media_prompt(receiver.prompt_url("hello.wav"))
    await graph("POST", _on(call_id, "playPrompt"), {"clientContext": "p1", "prompts": [prompt]})
    await control.complete_media(call_id)
    await graph("POST", _on(call_id, "playPrompt"), {"clientContext": "p2", "prompts": [prompt]})
    await graph("POST", _on(call_id, "cancelMediaProcessing"), {"clientContext": "c"})
    record = {"clientContext": "r1", "maxRecordDurationInSeconds": 10}
    await graph("POST", _on(call_id, "recordResponse"), record)
    await control.record(call_id, 3)
    await graph("POST", _on(call_id, "recordResponse"), {**record, "clientContext": "r2"})
    await graph("POST", _on(call_id, "cancelMediaProcessing"), {"clientContext": "c"})
    await graph("POST", _on(call_id, "participants/invite"), invite_body(AGENT_ID))
    await control.answer_participant(call_id, AGENT_ID)
    await graph("POST", _on(call_id, "participants/invite"), invite_body(AGENT_2_ID))
    await control.decline_participant(call_id, AGENT_2_ID)
    await control.hang_up(call_id)
    agent = (await control.call(call_id))["participants"][-2]
    await graph("DELETE", _on(call_id, f"participants/{agent['id']}"))

    # A Teams user calls and the bot hangs up; a caller hangs up a peer-to-peer call.
    placed = await control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_user_id=AGENT_2_ID
    )
    await graph("POST", _on(placed.id, "answer"), answer_body(receiver.callback_url))
    await graph("DELETE", f"/communications/calls/{placed.id}")
    call_id = await established_call(simulator, receiver)
    await control.hang_up(call_id)

    # Rejected, redirected, and never answered.
    placed = await control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    await graph("POST", _on(placed.id, "reject"), {"reason": "busy"})
    placed = await control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    await graph("POST", _on(placed.id, "redirect"), {"targets": [user_invitee(AGENT_ID)]})
    await control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    await control.advance_clock(16)

    # Transfers: one taken, one declined.
    transfer = {"transferTarget": {**user_invitee(AGENT_2_ID), "endpointType": "default"}}
    call_id = await established_call(simulator, receiver)
    await graph("POST", _on(call_id, "transfer"), transfer)
    await control.answer_participant(call_id, AGENT_2_ID)
    await control.hang_up_participant(call_id, AGENT_2_ID)
    call_id = await established_call(simulator, receiver)
    await graph("POST", _on(call_id, "transfer"), transfer)
    await control.decline_participant(call_id, AGENT_2_ID)

    # A callback: the bot calls a phone, which answers; the bot invites a phone.
    status, outbound, _ = await graph(
        "POST",
        "/communications/calls",
        {
            "@odata.type": "#microsoft.graph.call",
            "callbackUri": receiver.callback_url,
            "source": {"identity": {"applicationInstance": {"id": SALES_ID}}},
            "targets": [{"identity": {"user": {"id": AGENT_ID}}}],
            "requestedModalities": ["audio"],
            "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
            "tenantId": TENANT_ID,
        },
    )
    assert status == 201, outbound
    await control.answer_call(outbound["id"])
    phone = {
        "participants": [{"identity": {"phone": {"id": CALLER_NUMBER}}}],
        "clientContext": "callback:1",
    }
    await graph("POST", _on(outbound["id"], "participants/invite"), phone)
    await control.answer_participant(outbound["id"], CALLER_NUMBER)

    await simulator.control.wait_for_call(outbound["id"], notifications=4)
    await receiver.wait_until(lambda note: note.resource_url.endswith("/participants"))


async def test_every_notification_the_simulator_sends_has_a_documented_shape(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    await _drive_every_kind(simulator, receiver)
    await simulator.control.wait_until_delivered()

    problems: dict[str, list[str]] = {}
    seen: set[str] = set()
    for received in receiver.received:
        for notification in received.body["value"]:
            kind = kind_of(notification)
            seen.add(kind)
            if kind not in KINDS:
                problems.setdefault(kind, []).append(str(notification)[:300])
                continue
            single = {**received.body, "value": [notification]}
            for problem in documented_schema(kind).problems(single):
                problems.setdefault(kind, []).append(problem)

    assert {k: sorted(set(v)) for k, v in problems.items()} == {}
    assert seen == set(KINDS)


def test_every_kind_has_documented_examples_in_the_corpus() -> None:
    for kind, names in KINDS.items():
        assert names, kind
        for name in names:
            assert documented_fixture(f"{name}.json").source.startswith("https://learn.microsoft")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_documented_examples_of_a_kind_are_sorted_into_it(kind: str) -> None:
    for name in KINDS[kind]:
        body = documented_fixture(f"{name}.json").render_as_documented()
        assert [kind_of(n) for n in body["value"]] == [kind], name
