"""Parsing Graph's commsNotifications into call events, from recorded-shape payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contactcenter.events import (
    CallStateChanged,
    GraphCallState,
    IncomingCall,
    OperationFinished,
    OperationKind,
    OperationStatus,
    RosterEntry,
    RosterUpdated,
    ToneReceived,
)
from contactcenter.model import Party, PartyKind
from graph.notifications import InvalidNotification, parse_notifications
from tests.graph.corpus import documented_fixture

FIXTURES = Path(__file__).parent / "fixtures"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def documented(name: str) -> Any:
    """Return a fixture of the documented corpus with the ids its page used."""
    return documented_fixture(f"{name}.json").render_as_documented()


def notification(resource_url: str, resource_data: Any, change_type: str = "updated") -> Any:
    return {
        "value": [
            {
                "changeType": change_type,
                "resourceUrl": resource_url,
                "resourceData": resource_data,
            }
        ]
    }


def test_incoming_pstn_call_to_a_resource_account() -> None:
    events = parse_notifications(fixture("incoming_pstn_to_resource_account"), tenant_id=TENANT)

    assert events == [
        IncomingCall(
            tenant_id=TENANT,
            call_id="491f0b00-ffff-4bc9-a43e-b7ef5a0fb1d2",
            caller=Party(kind=PartyKind.PHONE, id="+14255550100"),
            target_id="3d913abb-aec0-4964-8fa6-3c6850c4f278",
            chain_id="bc0f6d28-2a57-4fa4-8a3f-5e1d2a6b0c11",
            target_display_name="Sales",
        )
    ]


def test_incoming_teams_user_names_the_caller_and_canonicalises_ids() -> None:
    (event,) = parse_notifications(fixture("incoming_teams_user_to_bot"), tenant_id=TENANT)

    assert isinstance(event, IncomingCall)
    assert event.call_id == "57dab8b1-894c-409a-b240-bd8beae78896"
    assert event.caller == Party(
        kind=PartyKind.USER,
        id="8a34a46b-3d17-4adc-8dce-dc4e7d572698",
        display_name="Test User",
        tenant_id=TENANT,
    )
    assert event.target_id == "8a34a46b-3d17-4adc-8dce-dc4e7d572699"
    assert event.target_display_name == "Test BOT"
    assert event.chain_id == ""


def test_incoming_call_without_caller_identity_is_anonymous_and_keeps_the_called_number() -> None:
    (event,) = parse_notifications(fixture("incoming_anonymous"), tenant_id=TENANT)

    assert isinstance(event, IncomingCall)
    assert event.caller == Party(kind=PartyKind.ANONYMOUS)
    assert event.target_id == "+14255550199"


def test_incoming_call_takes_the_tenant_from_the_token_not_the_body() -> None:
    (event,) = parse_notifications(
        fixture("incoming_pstn_to_resource_account"), tenant_id="token-tenant"
    )

    assert event.tenant_id == "token-tenant"


def test_call_updates_become_state_changes_in_order() -> None:
    events = parse_notifications(fixture("call_establishing_then_established"), tenant_id=TENANT)

    call_id = "57dab8b1-894c-409a-b240-bd8beae78896"
    assert events == [
        CallStateChanged(tenant_id=TENANT, call_id=call_id, state=GraphCallState.ESTABLISHING),
        CallStateChanged(tenant_id=TENANT, call_id=call_id, state=GraphCallState.ESTABLISHED),
    ]


def test_terminated_call_carries_its_result_info() -> None:
    (event,) = parse_notifications(documented("transfer-completed"), tenant_id=TENANT)

    assert event == CallStateChanged(
        tenant_id=TENANT,
        call_id="341a0500-d4bf-4224-8b19-1581168d328b",
        state=GraphCallState.TERMINATED,
        result_code=0,
        result_subcode=7015,
        result_message="GracefulTransferCompleted",
    )


def test_deleted_call_without_a_state_is_terminated() -> None:
    body = notification(
        "/communications/calls/c1", {"@odata.type": "#microsoft.graph.call"}, "deleted"
    )

    assert parse_notifications(body, tenant_id=TENANT) == [
        CallStateChanged(tenant_id=TENANT, call_id="c1", state=GraphCallState.TERMINATED)
    ]


def test_tone_notification_yields_the_digit_after_the_state() -> None:
    events = parse_notifications(documented("tone-received"), tenant_id=TENANT)

    call_id = "57dab8b1-894c-409a-b240-bd8beae78896"
    assert events == [
        CallStateChanged(tenant_id=TENANT, call_id=call_id, state=GraphCallState.ESTABLISHED),
        ToneReceived(tenant_id=TENANT, call_id=call_id, tone="1", sequence_id=1),
    ]


@pytest.mark.parametrize(
    ("graph_tone", "digit"),
    [("tone0", "0"), ("tone9", "9"), ("star", "*"), ("pound", "#"), ("Tone5", "5")],
)
def test_tones_map_to_keypad_characters(graph_tone: str, digit: str) -> None:
    body = notification(
        "/communications/calls/c1",
        {"state": "established", "toneInfo": {"sequenceId": 7, "tone": graph_tone}},
    )

    tones = [e for e in parse_notifications(body, tenant_id=TENANT) if isinstance(e, ToneReceived)]

    assert tones == [ToneReceived(tenant_id=TENANT, call_id="c1", tone=digit, sequence_id=7)]


def test_tones_outside_the_keypad_are_skipped() -> None:
    body = notification(
        "/communications/calls/c1", {"toneInfo": {"sequenceId": 2, "tone": "flash"}}
    )

    assert parse_notifications(body, tenant_id=TENANT) == []


def test_play_prompt_completion_named_only_in_the_url_matches_the_started_operation() -> None:
    (event,) = parse_notifications(documented("play-prompt-completed"), tenant_id=TENANT)

    assert event == OperationFinished(
        tenant_id=TENANT,
        call_id="57dab8b1-894c-409a-b240-bd8beae78896",
        operation_id="0fe0623f-d628-42ed-b4bd-8ac290072cc5",
        kind=OperationKind.PLAY_PROMPT,
        status=OperationStatus.COMPLETED,
        client_context="d45324c1-fcb5-430a-902c-f20af696537c",
        result_code=200,
        result_subcode=0,
        result_message="Action completed successfully.",
    )


def test_cancelled_prompt_fails_with_8508() -> None:
    (event,) = parse_notifications(fixture("play_prompt_cancelled"), tenant_id=TENANT)

    assert isinstance(event, OperationFinished)
    assert (event.kind, event.status) == (OperationKind.PLAY_PROMPT, OperationStatus.FAILED)
    assert (event.result_code, event.result_subcode) == (400, 8508)
    assert event.client_context == "hold:57dab8b1"


def test_record_response_completion_carries_the_recording_and_hides_its_token() -> None:
    (event,) = parse_notifications(documented("record-response-completed"), tenant_id=TENANT)

    assert isinstance(event, OperationFinished)
    assert event.kind is OperationKind.RECORD_RESPONSE
    assert event.status is OperationStatus.COMPLETED
    assert event.operation_id == "0fe0623f-d628-42ed-b4bd-8ac290072cc5"
    assert event.result_subcode == 8515
    assert event.recording_location == (
        "https://file.location/17e3b46c-f61d-4f4d-9635-c626ef18e6ad"
    )
    assert event.recording_access_token == "<access-token>"
    assert "<access-token>" not in repr(event)


def test_invite_completion_names_the_invited_user() -> None:
    (event,) = parse_notifications(fixture("invite_completed"), tenant_id=TENANT)

    assert isinstance(event, OperationFinished)
    assert event.kind is OperationKind.INVITE
    assert event.status is OperationStatus.COMPLETED
    assert event.call_id == "ab6233a5-20b7-4c5e-bea2-ce56c9776429"
    assert event.operation_id == "eec3812a-fdc3-4fb4-825c-a06c9f35414e"
    assert event.user_ids == ("278405a3-f568-4b3e-b684-009193463064",)
    assert event.client_context.startswith("offer:ab6233a5")


def test_declined_invite_fails_with_603() -> None:
    (event,) = parse_notifications(fixture("invite_declined"), tenant_id=TENANT)

    assert isinstance(event, OperationFinished)
    assert (event.kind, event.status, event.result_code) == (
        OperationKind.INVITE,
        OperationStatus.FAILED,
        603,
    )
    assert event.user_ids == ("278405a3-f568-4b3e-b684-009193463064",)


def test_subscribe_to_tone_and_cancel_media_processing_operations_have_their_kinds() -> None:
    events = parse_notifications(
        fixture("subscribe_to_tone_and_cancel_media_completed"), tenant_id=TENANT
    )

    assert [
        (e.kind, e.status, e.client_context) for e in events if isinstance(e, OperationFinished)
    ] == [
        (OperationKind.SUBSCRIBE_TO_TONE, OperationStatus.COMPLETED, "ivr:menu"),
        (OperationKind.CANCEL_MEDIA_PROCESSING, OperationStatus.COMPLETED, "connect:agent"),
    ]


def test_operation_status_is_read_regardless_of_case() -> None:
    body = notification(
        "/communications/calls/c1/operations/op1",
        {"@odata.type": "#microsoft.graph.someFutureOperation", "status": "Failed"},
        "deleted",
    )

    (event,) = parse_notifications(body, tenant_id=TENANT)

    assert isinstance(event, OperationFinished)
    assert (event.operation_id, event.kind, event.status) == (
        "op1",
        OperationKind.OTHER,
        OperationStatus.FAILED,
    )


def test_roster_lists_every_participant() -> None:
    (event,) = parse_notifications(fixture("roster_agent_joined"), tenant_id=TENANT)

    assert event == RosterUpdated(
        tenant_id=TENANT,
        call_id="ab6233a5-20b7-4c5e-bea2-ce56c9776429",
        participants=(
            RosterEntry(
                participant_id="0f4a8c2e-1b3d-4e5f-8a9b-1c2d3e4f5a6b",
                application_id="c3a2b1d0-5e4f-4a3b-9c8d-7e6f5a4b3c2d",
            ),
            RosterEntry(
                participant_id="1a5b9d3f-2c4e-4f60-9bac-2d3e4f5a6b7c", phone="+14255550100"
            ),
            RosterEntry(
                participant_id="2b6cae40-3d5f-4071-acbd-3e4f5a6b7c8d",
                user_id="278405a3-f568-4b3e-b684-009193463064",
            ),
        ),
    )


def test_roster_keeps_an_invitee_in_the_lobby_even_without_a_participant_id() -> None:
    (event,) = parse_notifications(fixture("roster_invitee_in_lobby"), tenant_id=TENANT)

    assert isinstance(event, RosterUpdated)
    assert event.participants == (
        RosterEntry(
            participant_id="",
            user_id="278405a3-f568-4b3e-b684-009193463064",
            is_in_lobby=True,
        ),
    )


def test_empty_roster_means_everyone_left() -> None:
    body = notification("/communications/calls/c1/participants", [])

    assert parse_notifications(body, tenant_id=TENANT) == [
        RosterUpdated(tenant_id=TENANT, call_id="c1", participants=())
    ]


def test_unknown_resources_and_running_operations_are_skipped() -> None:
    events = parse_notifications(fixture("mixed_with_unknown_resources"), tenant_id=TENANT)

    assert events == [
        CallStateChanged(
            tenant_id=TENANT,
            call_id="341a0500-d4bf-4224-8b19-1581168d328b",
            state=GraphCallState.TRANSFER_ACCEPTED,
        )
    ]


def test_unknown_call_state_is_skipped() -> None:
    body = notification("/communications/calls/c1", {"state": "unknownFutureValue"})

    assert parse_notifications(body, tenant_id=TENANT) == []


def test_parsed_mapping_and_text_bodies_give_the_same_events() -> None:
    raw = fixture("invite_completed")

    from_bytes = parse_notifications(raw, tenant_id=TENANT)

    assert parse_notifications(raw.decode(), tenant_id=TENANT) == from_bytes
    assert parse_notifications(json.loads(raw), tenant_id=TENANT) == from_bytes


def test_redelivered_notification_has_the_same_event_key() -> None:
    first = parse_notifications(fixture("invite_declined"), tenant_id=TENANT)
    again = parse_notifications(fixture("invite_declined"), tenant_id=TENANT)

    assert [e.key for e in first] == [e.key for e in again]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"{}", id="no-value"),
        pytest.param(b'{"value": {}}', id="value-not-a-list"),
        pytest.param(b'{"value": "established"}', id="value-a-string"),
    ],
)
def test_a_body_that_is_not_a_notification_batch_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidNotification):
        parse_notifications(body, tenant_id=TENANT)


BAD_ITEMS = [
    pytest.param(42, id="not-an-object"),
    pytest.param({"changeType": "updated", "resourceData": {}}, id="no-resource-url"),
    pytest.param(
        {"resourceUrl": "/communications/calls/c1", "resourceData": {"state": "established"}},
        id="no-change-type",
    ),
    pytest.param(
        {
            "changeType": "updated",
            "resourceUrl": "/communications/calls/c1",
            "resourceData": "established",
        },
        id="resource-data-a-string",
    ),
    pytest.param(
        {"changeType": 3, "resourceUrl": "/communications/calls/c1", "resourceData": {}},
        id="change-type-not-a-string",
    ),
    pytest.param(
        {
            "changeType": "updated",
            "resourceUrl": "/communications/calls/c1",
            "resourceData": {"state": 5},
        },
        id="state-not-a-string",
    ),
    pytest.param(
        {
            "changeType": "updated",
            "resourceUrl": "/communications/calls/c1",
            "resourceData": {"state": "established", "toneInfo": {"tone": "tone1"}},
        },
        id="tone-without-sequence",
    ),
    pytest.param(
        {
            "changeType": "deleted",
            "resourceUrl": "/communications/calls/c1/operations/o1",
            "resourceData": {"status": "completed", "resultInfo": {"code": "two hundred"}},
        },
        id="result-code-not-a-number",
    ),
    pytest.param(
        {
            "changeType": "updated",
            "resourceUrl": "/communications/calls/c1/participants",
            "resourceData": [{"id": "p1", "isInLobby": "maybe"}],
        },
        id="lobby-not-a-boolean",
    ),
]


@pytest.mark.parametrize("bad", BAD_ITEMS)
def test_a_malformed_notification_is_skipped_and_the_rest_of_the_batch_applies(
    bad: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.loads(fixture("call_establishing_then_established"))
    body["value"].insert(1, bad)

    events = parse_notifications(body, tenant_id=TENANT)

    call_id = "57dab8b1-894c-409a-b240-bd8beae78896"
    assert events == [
        CallStateChanged(tenant_id=TENANT, call_id=call_id, state=GraphCallState.ESTABLISHING),
        CallStateChanged(tenant_id=TENANT, call_id=call_id, state=GraphCallState.ESTABLISHED),
    ]
    [warning] = [r for r in caplog.records if r.name == "graph.notifications"]
    assert warning.levelname == "WARNING"
    named = bad.get("resourceUrl") if isinstance(bad, dict) else None
    expected_call = "c1" if named else None
    assert getattr(warning, "call_id", None) == expected_call
    assert (expected_call or "(unknown)") in warning.getMessage()


def test_a_notification_without_resource_data_is_skipped_as_an_unknown_resource(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = documented("content-sharing-started-without-resource-data")

    assert parse_notifications(body, tenant_id=TENANT) == []
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_unknown_keys_are_ignored_at_every_level() -> None:
    body = json.loads(fixture("call_establishing_then_established"))
    body["futureKey"] = {"anything": 1}
    body["value"][0]["futureKey"] = [1, 2]
    body["value"][0]["resourceData"]["futureKey"] = "x"

    events = parse_notifications(body, tenant_id=TENANT)

    assert [e.state for e in events if isinstance(e, CallStateChanged)] == [
        GraphCallState.ESTABLISHING,
        GraphCallState.ESTABLISHED,
    ]


def test_result_codes_written_as_strings_read_as_numbers() -> None:
    (event,) = parse_notifications(documented("terminated-200-5001"), tenant_id=TENANT)

    assert isinstance(event, CallStateChanged)
    assert (event.result_code, event.result_subcode) == (200, 5001)
    assert event.result_message == "The conversation has ended."


def test_a_subcode_spelt_subcode_with_a_capital_c_is_read() -> None:
    (event,) = parse_notifications(documented("transfer-failed"), tenant_id=TENANT)

    assert isinstance(event, CallStateChanged)
    assert event.state is GraphCallState.ESTABLISHED
    assert (event.result_code, event.result_subcode) == (500, 7000)


def test_a_consultative_transfer_ends_with_its_termination_reason() -> None:
    (event,) = parse_notifications(documented("transfer-completed-consultative"), tenant_id=TENANT)

    assert isinstance(event, CallStateChanged)
    assert event.state is GraphCallState.TERMINATED
    assert event.result_code is None
    assert event.termination_reason == "AppTransferred"


def test_an_invitation_of_several_completes_without_an_id_and_is_known_by_its_context() -> None:
    (event,) = parse_notifications(documented("invite-completed-group-call"), tenant_id=TENANT)

    assert isinstance(event, OperationFinished)
    assert event.kind is OperationKind.INVITE
    assert event.operation_id == ""
    assert event.client_context == "f2fa86af-3c51-4bc2-8fc0-475452d9764f"
    assert event.user_ids == (
        "7e1b4346-85a6-4bdd-abe3-d11c5d420efe",
        "1e126418-44a0-4a94-a6f8-0efe1ad71acb",
    )
    assert event.key == (
        "7531d31f-d10d-44de-802f-c569dbca451c:op:f2fa86af-3c51-4bc2-8fc0-475452d9764f:completed"
    )


def test_an_invitee_listed_under_application_keeps_the_users_id() -> None:
    (event,) = parse_notifications(documented("roster-invitee-added"), tenant_id=TENANT)

    assert event == RosterUpdated(
        tenant_id=TENANT,
        call_id="ab6233a5-20b7-4c5e-bea2-ce56c9776429",
        participants=(
            RosterEntry(participant_id="", application_id="278405a3-f568-4b3e-b684-009193463064"),
        ),
    )
