"""The scale-out invariants catch what they are meant to catch (on hand-made records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contactcenter.model import CallOutcome, CallRecord, Party, PartyKind
from tests.scaleout import invariants

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ANA = "a6e47000-0000-4000-8000-00000000000a"


def _at(seconds: float | None) -> str | None:
    return None if seconds is None else (T0 + timedelta(seconds=seconds)).isoformat()


def _invitee(
    pid: str, agent: str, rung: float, joined: float | None, ended: float | None
) -> dict[str, Any]:
    return {
        "id": pid,
        "role": "invitee",
        "status": "left" if joined is not None else "cancelled",
        "identity": {"user": {"id": agent}},
        "createdAt": _at(rung),
        "joinedAt": _at(joined),
        "endedAt": _at(ended),
        "resultInfo": None,
    }


def _invite(call_id: str, attempt: int, agent: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": f"/v1.0/communications/calls/{call_id}/participants/invite",
        "body": {"clientContext": f"offer:{call_id}:{attempt}:{agent}"},
        "status": 200,
    }


def _call(call_id: str, participants: list[dict[str, Any]], requests: list[dict[str, Any]]) -> Any:
    return {
        "id": call_id,
        "state": "terminated",
        "participants": participants,
        "requests": requests,
        "notifications": [],
    }


def _record(call_id: str, outcome: CallOutcome, agent: str | None, wrap_up_s: float) -> CallRecord:
    return CallRecord(
        id=call_id,
        tenant_id="t",
        chain_id="",
        direction="incoming",
        caller=Party(PartyKind.PHONE, "+1"),
        queue_id="q",
        queue_name="Q",
        offered_at=T0,
        ended_at=T0,
        outcome=outcome,
        agent_id=agent,
        wrap_up_s=wrap_up_s,
    )


def test_an_agent_talking_on_two_calls_at_once_is_caught() -> None:
    calls = [
        _call("c1", [_invitee("p1", ANA, 0, 1, 10)], []),
        _call("c2", [_invitee("p2", ANA, 5, 6, 12)], []),
    ]

    found = invariants.agents_on_two_calls(invariants.participations(calls))

    assert len(found) == 1
    assert "joined on calls c1 and c2" in found[0]


def test_back_to_back_calls_are_fine() -> None:
    calls = [
        _call("c1", [_invitee("p1", ANA, 0, 1, 10)], []),
        _call("c2", [_invitee("p2", ANA, 10, 11, 12)], []),
    ]

    assert invariants.agents_on_two_calls(invariants.participations(calls)) == []


def test_an_offer_sent_twice_is_caught() -> None:
    calls = [_call("c1", [], [_invite("c1", 1, ANA), _invite("c1", 1, ANA), _invite("c1", 2, ANA)])]

    assert invariants.invitations_repeated(calls) == [f"call c1: offer 1 to {ANA} sent 2 times"]


def test_a_ring_during_wrap_up_is_caught() -> None:
    calls = [
        _call("c1", [_invitee("p1", ANA, 0, 1, 10)], []),
        _call("c2", [_invitee("p2", ANA, 11, None, 14)], []),
    ]
    records = {"c1": _record("c1", CallOutcome.ANSWERED, ANA, wrap_up_s=2)}

    found = invariants.wrap_up_respected(invariants.participations(calls), records)

    assert len(found) == 1
    assert "in wrap-up" in found[0]


def test_a_record_that_contradicts_graph_is_caught() -> None:
    calls = [_call("c1", [_invitee("p1", ANA, 0, 1, 10)], [])]
    records = {"c1": _record("c1", CallOutcome.ABANDONED, None, wrap_up_s=0)}

    found = invariants.outcomes(calls, records, ["c1", "c2"])

    assert found == [
        f"call c1: abandoned but ['{ANA}'] joined",
        "call c2: unknown to the simulator",
    ]


def test_a_second_hang_up_is_caught() -> None:
    hang_up = {"method": "DELETE", "path": "/v1.0/communications/calls/c1", "status": 204}

    assert invariants.repeated_hang_ups([_call("c1", [], [hang_up, hang_up])]) == [
        "call c1: the call deleted 2 times"
    ]
