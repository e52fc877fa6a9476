"""How a talk ends: who ended it goes on the record, and nobody is left in the call."""

from __future__ import annotations

import logging

import pytest

from contactcenter.end_reasons import RESULT_CODES, EndReason, end_reason
from contactcenter.errors import CallControlError
from contactcenter.events import (
    CallStateChanged,
    GraphCallState,
    OperationFinished,
    OperationKind,
    OperationStatus,
    RosterEntry,
    RosterUpdated,
)
from contactcenter.model import AgentActivity, CallOutcome, CallState
from tests.domain.harness import TENANT, Harness, make_agent, make_queue


async def _talking(h: Harness, call_id: str = "c1") -> None:
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=30), [make_agent("a1")])
    await h.arrive(call_id)
    await h.answers(call_id, "a1")


async def test_an_agent_who_hangs_up_ends_the_talk_by_removing_the_caller_and_leaving() -> None:
    h = Harness()
    await _talking(h)
    h.calls.participants["c1"] = ["p-caller"]

    await h.roster("c1")  # the agent left

    names = h.calls.names()
    tail = names[names.index("other_participants") :]
    assert tail == ["other_participants", "remove_participant", "hang_up"]
    assert h.calls.of("remove_participant")[-1] == ("c1", "p-caller")
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED
    assert record.leave_reason == "agent hung up"
    assert (await h.agent("a1")).activity is AgentActivity.WRAP_UP


@pytest.mark.parametrize(
    ("status", "level"), [(404, logging.DEBUG), (500, logging.INFO)], ids=["gone", "refused"]
)
async def test_leaving_a_call_that_ended_already_is_not_news_in_the_log(
    status: int, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness()
    await _talking(h)
    h.calls.participants["c1"] = ["p-caller"]
    h.calls.fail["hang_up"] = CallControlError("Graph hangUp: itemNotFound", status=status)

    with caplog.at_level(logging.DEBUG, logger="contactcenter.engine.endings"):
        await h.roster("c1")  # the agent left; removing the caller ended the call

    [line] = [r for r in caplog.records if r.getMessage().startswith("Hang-up")]
    assert line.levelno == level
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED


async def test_a_caller_who_leaves_the_group_call_ends_the_talk_for_the_agent_too() -> None:
    h = Harness()
    await _talking(h)
    [invite] = h.calls.invites
    h.calls.participants["c1"] = [invite.participant_id]
    roster = (
        RosterEntry("p-bot", application_id="bot"),
        RosterEntry(invite.participant_id, user_id="a1"),
    )

    await h.engine.handle(RosterUpdated(TENANT, "c1", roster))

    assert h.calls.of("remove_participant")[-1] == ("c1", invite.participant_id)
    assert h.calls.names()[-1] == "hang_up"
    record = await h.record("c1")
    assert record is not None
    assert record.leave_reason == "caller hung up"


async def test_a_talk_still_ends_when_the_participants_cannot_be_listed() -> None:
    from contactcenter.errors import Unavailable

    h = Harness()
    await _talking(h)
    h.calls.fail["other_participants"] = Unavailable("Graph is down")

    await h.roster("c1")

    assert h.calls.names()[-1] == "hang_up"
    assert (await h.record("c1")) is not None


async def test_a_talk_graph_ended_keeps_its_result_and_is_not_hung_up_again() -> None:
    h = Harness()
    await _talking(h)

    await h.engine.handle(
        CallStateChanged(
            TENANT,
            "c1",
            GraphCallState.TERMINATED,
            result_code=408,
            result_subcode=8537,
            result_message="Keep Alive timeout, cleaned up inactive call.",
        )
    )

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED
    assert record.leave_reason == "failed"
    assert (record.result_code, record.result_subcode) == (408, 8537)
    assert record.result_message == "Keep Alive timeout, cleaned up inactive call."
    assert "hang_up" not in h.calls.names()
    assert "other_participants" not in h.calls.names()


@pytest.mark.parametrize(
    ("code", "subcode", "outcome", "reason"),
    [
        (200, 540000, CallOutcome.ABANDONED, "caller hung up"),
        (200, 4521, CallOutcome.ABANDONED, "caller hung up"),
        (200, 5000, CallOutcome.FAILED, "removed"),
        (408, 8537, CallOutcome.FAILED, "failed"),
        (480, 10199, CallOutcome.FAILED, "failed"),
        (200, 7000, CallOutcome.FAILED, "ended by the contact center"),
        (0, 7015, CallOutcome.TRANSFERRED, "transferred"),
        (599, 1, CallOutcome.FAILED, "failed"),
        (None, None, CallOutcome.ABANDONED, "caller hung up"),
    ],
)
async def test_a_waiting_call_graph_ended_gets_the_outcome_its_code_means(
    code: int | None, subcode: int | None, outcome: CallOutcome, reason: str
) -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")

    await h.engine.handle(
        CallStateChanged(
            TENANT, "c1", GraphCallState.TERMINATED, result_code=code, result_subcode=subcode
        )
    )

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is outcome
    assert record.leave_reason == reason
    assert (record.result_code, record.result_subcode) == (code, subcode)
    assert (await h.agent("a1")).activity is AgentActivity.IDLE


def test_a_consultative_transfer_without_a_result_is_a_transfer() -> None:
    assert end_reason(None, None, "AppTransferred") is EndReason.TRANSFERRED


def test_the_table_knows_7015_as_the_delete_page_and_the_transfer_page_write_it() -> None:
    assert RESULT_CODES[(200, 7015)].reason is EndReason.TRANSFERRED
    assert RESULT_CODES[(0, 7015)].reason is EndReason.TRANSFERRED


async def test_an_invitation_of_several_completing_without_an_id_connects_by_its_context() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    invite = h.last_invite("c1", "a1")

    await h.engine.handle(
        OperationFinished(
            TENANT,
            "c1",
            "",
            OperationKind.INVITE,
            OperationStatus.COMPLETED,
            client_context=invite.client_context,
            user_ids=("a1", "someone-else"),
        )
    )

    assert (await h.agent("a1")).activity is AgentActivity.ON_CALL


async def test_a_roster_listing_a_ringing_invitee_connects_nobody() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")

    # Graph may list an invitee still ringing exactly as one who joined.
    await h.roster("c1", "a1")

    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.agent_id) == (CallState.RINGING, None)
    assert (await h.agent("a1")).activity is AgentActivity.RINGING


async def test_an_agent_the_roster_lists_as_an_application_is_in_the_talk() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")

    # The invite page's roster: the user under "application", and no participant id.
    roster = (RosterEntry("", application_id="a1"), RosterEntry("p-caller", phone="+1"))
    await h.engine.handle(RosterUpdated(TENANT, "c1", roster))

    call = await h.call("c1")
    assert call is not None
    assert (call.state, call.agent_id) == (CallState.CONNECTED, "a1")
    assert (await h.agent("a1")).activity is AgentActivity.ON_CALL
