"""What must hold after a scale-out run, checked from the simulator's calls and the store.

Each check takes the simulator's view of its calls (``GET /sim/calls``) and what the store
holds, and returns the violations it found as readable lines (empty: the invariant holds).
The simulator is the outside world's record: who was rung, who joined and left when, and
every request the hosts made to Graph. The store is what the hosts decided.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from contactcenter.model import Agent, AgentActivity, CallOutcome, CallRecord

SimCall = Mapping[str, Any]

_INVITE: Final = re.compile(r"^/v1\.0/communications/calls/[^/]+/participants/invite$")
_PARTICIPANT: Final = re.compile(r"^/v1\.0/communications/calls/[^/]+/participants/([^/]+)$")
_CALL: Final = re.compile(r"^/v1\.0/communications/calls/[^/]+$")
_OFFER: Final = re.compile(r"^offer:(?P<call>.+):(?P<attempt>\d+):(?P<agent>[^:]+)$")
_FOREVER: Final = datetime.max.replace(tzinfo=UTC)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def time_of(value: str) -> datetime:
    """Parse a timestamp of the simulator's JSON."""
    return datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class Participation:
    """An agent's part in one call: rung from ``rung_at``, maybe joined, until ``ended_at``."""

    agent_id: str
    call_id: str
    participant_id: str
    rung_at: datetime
    joined_at: datetime | None
    ended_at: datetime | None

    @property
    def until(self) -> datetime:
        return self.ended_at or _FOREVER

    @property
    def ringing_until(self) -> datetime:
        return self.joined_at or self.until


def participations(calls: Iterable[SimCall]) -> list[Participation]:
    """Return every agent invitation of every call, as the simulator saw it."""
    found: list[Participation] = []
    for call in calls:
        for participant in call["participants"]:
            user = participant["identity"].get("user")
            if participant["role"] != "invitee" or not isinstance(user, dict):
                continue
            rung_at = _time(participant["createdAt"])
            assert rung_at is not None
            found.append(
                Participation(
                    agent_id=str(user["id"]).lower(),
                    call_id=call["id"],
                    participant_id=participant["id"],
                    rung_at=rung_at,
                    joined_at=_time(participant["joinedAt"]),
                    ended_at=_time(participant["endedAt"]),
                )
            )
    return found


def by_agent(found: Iterable[Participation]) -> dict[str, list[Participation]]:
    """Group participations per agent, in the order they were rung."""
    grouped: dict[str, list[Participation]] = defaultdict(list)
    for participation in found:
        grouped[participation.agent_id].append(participation)
    for items in grouped.values():
        items.sort(key=lambda p: p.rung_at)
    return dict(grouped)


# ----------------------------------------------------------------- the checks
def agents_on_two_calls(found: Iterable[Participation]) -> list[str]:
    """An agent is rung for or talking on one call at a time, never two."""
    violations = []
    for agent_id, items in by_agent(found).items():
        for earlier_index, earlier in enumerate(items):
            for later in items[earlier_index + 1 :]:
                if later.call_id != earlier.call_id and later.rung_at < earlier.until:
                    what = "joined" if earlier.joined_at and later.joined_at else "rung"
                    violations.append(
                        f"agent {agent_id} {what} on calls {earlier.call_id} and {later.call_id} "
                        f"at once ({later.rung_at.isoformat()} < {earlier.until.isoformat()})"
                    )
    return violations


def invitations_repeated(calls: Iterable[SimCall]) -> list[str]:
    """Each offer (call, attempt, agent) is sent once, and offers go out in attempt order."""
    violations = []
    for call in calls:
        sent: Counter[tuple[int, str]] = Counter()
        last_attempt = 0
        for request in call["requests"]:
            if request["method"] != "POST" or not _INVITE.match(request["path"]):
                continue
            context = str(request["body"].get("clientContext") or "")
            offer = _OFFER.match(context)
            if offer is None or offer["call"] != call["id"]:
                violations.append(f"call {call['id']}: invitation with context {context!r}")
                continue
            attempt = int(offer["attempt"])
            sent[(attempt, offer["agent"].lower())] += 1
            if attempt < last_attempt:
                violations.append(
                    f"call {call['id']}: offer {attempt} sent after offer {last_attempt}"
                )
            last_attempt = max(last_attempt, attempt)
        violations += [
            f"call {call['id']}: offer {attempt} to {agent} sent {count} times"
            for (attempt, agent), count in sent.items()
            if count > 1
        ]
    return violations


def overlapping_rings(calls: Iterable[SimCall]) -> list[str]:
    """One agent rings at a time for a call (no attendant queue here): a re-ring follows the end
    of the previous ring."""
    violations = []
    for call in calls:
        rings = sorted(participations([call]), key=lambda p: (p.rung_at, p.participant_id))
        for before, after in itertools.pairwise(rings):
            if after.rung_at < before.ringing_until:
                violations.append(
                    f"call {call['id']}: {after.agent_id} rung while {before.agent_id} still rang"
                )
    return violations


def repeated_hang_ups(calls: Iterable[SimCall]) -> list[str]:
    """The bot hangs up a call at most once, and removes a participant at most once."""
    violations = []
    for call in calls:
        deletes: Counter[str] = Counter()
        for request in call["requests"]:
            if request["method"] != "DELETE":
                continue
            path = request["path"]
            participant = _PARTICIPANT.match(path)
            if participant is not None:
                deletes[f"participant {participant[1]}"] += 1
            elif _CALL.match(path):
                deletes["the call"] += 1
        violations += [
            f"call {call['id']}: {what} deleted {count} times"
            for what, count in deletes.items()
            if count > 1
        ]
    return violations


def outcomes(
    calls: Iterable[SimCall], records: Mapping[str, CallRecord], placed: Iterable[str]
) -> list[str]:
    """Every offered call has its record, and the record says what the simulator saw."""
    by_id = {call["id"]: call for call in calls}
    violations = []
    for call_id in placed:
        record = records.get(call_id)
        call = by_id.get(call_id)
        if call is None:
            violations.append(f"call {call_id}: unknown to the simulator")
            continue
        if call["state"] != "terminated":
            violations.append(f"call {call_id}: still {call['state']} at Graph")
        if record is None:
            violations.append(f"call {call_id}: no call record")
            continue
        joined = sorted({p.agent_id for p in participations([call]) if p.joined_at is not None})
        if record.outcome is CallOutcome.ANSWERED:
            agent = (record.agent_id or "").lower()
            if joined != [agent]:
                violations.append(
                    f"call {call_id}: answered by {agent} but {joined or 'nobody'} joined"
                )
        elif joined:
            violations.append(f"call {call_id}: {record.outcome.value} but {joined} joined")
    return violations


def wrap_up_respected(
    found: Iterable[Participation], records: Mapping[str, CallRecord]
) -> list[str]:
    """After a talk, the agent rings again only once the wrap-up is over."""
    violations = []
    for agent_id, items in by_agent(found).items():
        for index, talk in enumerate(items):
            if talk.joined_at is None or talk.ended_at is None:
                continue
            record = records.get(talk.call_id)
            wrap_up = timedelta(seconds=record.wrap_up_s if record is not None else 0.0)
            free_at = talk.ended_at + wrap_up
            for later in items[index + 1 :]:
                if later.call_id != talk.call_id and later.rung_at < free_at:
                    violations.append(
                        f"agent {agent_id} rung for {later.call_id} at "
                        f"{later.rung_at.isoformat()}, in wrap-up until {free_at.isoformat()}"
                    )
                    break
    return violations


def talks_match_records(found: Iterable[Participation], records: Iterable[CallRecord]) -> list[str]:
    """Each agent talked (joined a call) exactly as often as records say they answered."""
    talks = Counter(p.agent_id for p in found if p.joined_at is not None)
    answered = Counter(
        (r.agent_id or "").lower() for r in records if r.outcome is CallOutcome.ANSWERED
    )
    return [
        f"agent {agent_id}: {talks[agent_id]} talks, {answered[agent_id]} answered records"
        for agent_id in sorted(set(talks) | set(answered))
        if talks[agent_id] != answered[agent_id]
    ]


def agents_left_busy(agents: Sequence[Agent]) -> list[str]:
    """Once every call is over, every agent is idle with no call and no timer left."""
    return [
        f"agent {a.id}: {a.activity.value}, call {a.current_call_id}, due {a.due_at}"
        for a in agents
        if a.activity is not AgentActivity.IDLE
        or a.current_call_id is not None
        or a.due_at is not None
        or a.wrap_up_until is not None
    ]


def participants_left_behind(calls: Iterable[SimCall]) -> list[str]:
    """Once every call is over, nobody still rings or sits in a call at Graph."""
    return [
        f"call {call['id']}: participant {p['id']} ({p['role']}) still {p['status']}"
        for call in calls
        for p in call["participants"]
        if p["status"] in {"ringing", "joined"} and call["state"] == "terminated"
    ]


def undelivered_notifications(calls: Iterable[SimCall]) -> list[str]:
    """Every notification reached a host that accepted it (none lost with the killed host)."""
    return [
        f"call {call['id']}: {note['resourceUrl']} {note['state']} to {note['url']}: "
        f"{note['status']} {note['error'] or ''}".rstrip()
        for call in calls
        for note in call["notifications"]
        if note["status"] is None or not 200 <= note["status"] < 300
    ]


def deliveries_per_host(
    calls: Iterable[SimCall], *, before: datetime | None = None, after: datetime | None = None
) -> Counter[str]:
    """Count the notifications each host accepted (within a time window, if given)."""
    counted: Counter[str] = Counter()
    for call in calls:
        for note in call["notifications"]:
            at = _time(note["at"])
            assert at is not None
            if before is not None and at >= before:
                continue
            if after is not None and at <= after:
                continue
            if note["status"] is not None and 200 <= note["status"] < 300:
                counted[str(note["url"])] += 1
    return counted
