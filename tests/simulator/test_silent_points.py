"""The switches for what Graph's documentation leaves open, and the invite permission.

Which id an invitee's participant gets and what a roster lists while an invitee rings are
checked where invitations are (test_invite.py); here: choosing the switches, and ringing
one invitee at a time on a peer-to-peer call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator import SilentPoints, SimulatorConfig
from tests.simulator.support import (
    AGENT_2_ID,
    AGENT_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
    established_call,
    invite_body,
)


async def _invite(simulator: Simulator, call_id: str, user_id: str) -> tuple[int, Any]:
    status, body, _ = await simulator.graph(
        "POST", f"/communications/calls/{call_id}/participants/invite", invite_body(user_id)
    )
    return status, body


def test_the_switches_default_to_the_lenient_answers(tmp_path: Path) -> None:
    assert SimulatorConfig(data_dir=tmp_path).silent_points == SilentPoints(
        bot_participant_ids=True, parallel_invites=True, ringing_in_roster=False
    )


async def test_the_switches_start_as_configured_and_can_be_changed(
    simulator: Simulator, silent_points: SilentPoints
) -> None:
    assert await simulator.control.silent_points() == silent_points
    strict = SilentPoints(bot_participant_ids=False, parallel_invites=False, ringing_in_roster=True)

    assert await simulator.control.set_silent_points(strict) == strict
    assert await simulator.control.silent_points() == strict
    async with simulator.session.put(
        simulator.url("/sim/silent-points"), json={"parallelInvites": "maybe"}
    ) as refused:
        assert refused.status == 400
    assert await simulator.control.silent_points() == strict


def test_every_combination_is_named_once() -> None:
    every = SilentPoints.every()

    assert len(every) == 8
    assert every[0] == SilentPoints()
    assert len({points.label for points in every}) == 8


async def test_one_invitation_at_a_time_on_a_peer_to_peer_call_where_graph_says_so(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    await simulator.control.set_silent_points(SilentPoints(parallel_invites=False))
    call_id = await established_call(simulator, receiver)
    status, first = await _invite(simulator, call_id, AGENT_ID)
    assert status == 200

    status, refused = await _invite(simulator, call_id, AGENT_2_ID)

    assert status == 409
    assert refused["error"]["code"] == "conflict"
    # Once the first invitation is over, the next one rings.
    participant = first["participants"][0]["id"]
    await simulator.graph("DELETE", f"/communications/calls/{call_id}/participants/{participant}")
    status, _ = await _invite(simulator, call_id, AGENT_2_ID)
    assert status == 200


async def test_a_group_call_takes_invitations_in_parallel_whatever_the_switch(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    await simulator.control.set_silent_points(SilentPoints(parallel_invites=False))
    call_id = await established_call(simulator, receiver)
    await _invite(simulator, call_id, AGENT_ID)
    await simulator.control.answer_participant(call_id, AGENT_ID)
    another = "a6e47000-0000-4000-8000-000000000003"
    async with simulator.session.put(
        simulator.url(f"/sim/tenants/{TENANT_ID}/users/{another}"),
        json={"displayName": "Casey Agent"},
    ) as added:
        assert added.status == 201

    first, _ = await _invite(simulator, call_id, AGENT_2_ID)
    second, _ = await _invite(simulator, call_id, another)

    assert (first, second) == (200, 200)


@pytest.mark.parametrize("granted", [[], ["Calls.Initiate.All", "Calls.JoinGroupCall.All"]])
async def test_inviting_without_the_group_call_permission_is_forbidden(
    simulator: Simulator, receiver: BotReceiver, granted: list[str]
) -> None:
    await simulator.control.set_granted_app_roles(granted)
    call_id = await established_call(simulator, receiver)

    status, refused = await _invite(simulator, call_id, AGENT_ID)

    assert status == 403
    assert refused["error"]["code"] == "accessDenied"
    assert "Calls.InitiateGroupCall.All" in refused["error"]["message"]
    view = await simulator.control.call(call_id)
    assert [p["role"] for p in view["participants"]] == ["caller", "bot"]
