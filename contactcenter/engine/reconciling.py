"""Who is in a talk: a roster update from Graph, or the participants read from Graph.

Graph tells that the agent or the caller left a talk only by a roster update. One that is
lost (a host down, a delivery that failed) would leave the agent "on a call" and the
caller listening to nobody for as long as they hold on. So a talk's timer reads the call's
participants (``GET .../participants``, at least every ``reconcile_s``) and reads them as
it reads a roster update: the agent missing ends the talk and lets the caller go, the
caller missing ends it and lets the agent go, and a call Graph no longer knows ends with
its record. Any host fires the timer, at least once; every step is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.end_reasons import EndReason
from contactcenter.engine.codecs import invitee_participant_id
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import GONE_AT_GRAPH, Endings
from contactcenter.engine.handover import Handover
from contactcenter.engine.store import CallStore
from contactcenter.errors import DomainError, NotFound
from contactcenter.events import RosterEntry
from contactcenter.model import Call
from contactcenter.repository import Versioned

_LOGGER = logging.getLogger(__name__)


def caller_present(call: Call, agent_ids: set[str], participants: Sequence[RosterEntry]) -> bool:
    """Return whether anyone but the bot and the agents is still in the call's roster."""
    for participant in participants:
        if participant.application_id is not None and participant.user_id is None:
            continue
        if participant.user_id is not None and (
            participant.user_id == call.agent_id or participant.user_id in agent_ids
        ):
            continue
        return True
    return False


def by_person(participants: Sequence[RosterEntry]) -> dict[str, RosterEntry]:
    """Return a roster's entries by the person's id.

    A user is known by their user id; an invitee the roster lists as an ``application``
    carrying the user's id (as the invite page's examples do) is known by that id too.
    """
    found: dict[str, RosterEntry] = {}
    for participant in participants:
        for person in (participant.application_id, participant.user_id):
            if person:
                found[person] = participant
    return found


def agent_participant_id(call: Call, agent_id: str, entry: RosterEntry) -> str | None:
    """Return the participant id to remove an agent by: the roster's, else the offer's."""
    if entry.participant_id:
        return entry.participant_id
    offer = call.offer
    if offer is not None and agent_id in offer.agent_ids:
        # Rosters may give no id ("id": null); the invitation named one in advance.
        return offer.participant_ids.get(agent_id) or invitee_participant_id(
            call.id, offer.attempt, agent_id
        )
    return None


def transferring_to(call: Call) -> set[str]:
    """Return the agent a talk is being transferred to (listed, but not the caller)."""
    return {call.transfer.agent_id} if call.transfer is not None else set()


@dataclass(slots=True)
class Reconciler:
    """Ends a talk that someone has left, told by a roster update or read from Graph."""

    ctx: EngineContext
    store: CallStore
    endings: Endings
    handover: Handover

    async def roster(
        self,
        current: Versioned[Call],
        participants: Sequence[RosterEntry],
        now: datetime,
        key: str | None,
    ) -> bool:
        """Act on who is in a talk now; return True if that ended the talk."""
        call = current.value
        users = by_person(participants)
        # Whoever else we offered this call to has no place in it.
        offered = set(call.missed_agent_ids)
        if call.offer is not None:
            offered.update(call.offer.agent_ids)
        offered.discard(call.agent_id or "")
        if offered & users.keys():
            # Removing them acts on Graph before any write: decided on a read.
            self.store.insist_current(current)
        for user_id in offered & users.keys():
            stray = agent_participant_id(call, user_id, users[user_id])
            if stray is not None:
                await self._remove(call, stray)
        if call.agent_id not in users:
            # The agent hung up: the talk is over, and so is the caller's call.
            reason = EndReason.AGENT_HUNG_UP
        elif not caller_present(call, offered | transferring_to(call), participants):
            # Once an agent joined, the call is a group call: Graph tells of the caller
            # hanging up only by leaving them out of the roster.
            reason = EndReason.CALLER_HUNG_UP
        else:
            return False
        await self.endings.end_talk(current, now, key, hang_up=True, reason=reason.value)
        return True

    async def due(self, current: Versioned[Call], now: datetime) -> None:
        """A talk's timer: read who is in the call, and send a keepAlive when one is due."""
        call = current.value
        if call.handed_over:
            await self.handover.due(current, now)
            return
        control = self.ctx.call_control
        try:
            participants = await control.roster(call.id)
        except NotFound:
            # The terminated notification was lost: the talk is over.
            await self.endings.end_talk(current, now, None, hang_up=False, reason=GONE_AT_GRAPH)
            return
        except DomainError as err:
            _LOGGER.warning("Reading who is in the call failed: %s", err, extra=log_extra(call))
            participants = []
        # Graph has been seen to list nobody for a call it holds: a list without anyone
        # but our bot says nothing (the keepAlive below tells whether the call still exists).
        people = {call.agent_id, *call.missed_agent_ids}
        if call.offer is not None:
            people.update(call.offer.agent_ids)
        anyone = any(p.user_id or p.phone or p.application_id in people for p in participants)
        if anyone and await self.roster(current, participants, now, None):
            return
        settings = self.ctx.settings
        keep_alive_at = call.keep_alive_at
        if keep_alive_at is None or keep_alive_at <= now:
            try:
                await control.keep_alive(call.id)
            except NotFound:
                await self.endings.end_talk(current, now, None, hang_up=False, reason=GONE_AT_GRAPH)
                return
            except DomainError as err:
                _LOGGER.warning("keepAlive failed: %s", err, extra=log_extra(call))
            keep_alive_at = now + timedelta(seconds=settings.keep_alive_s)
        due = min(now + timedelta(seconds=settings.reconcile_s), keep_alive_at)
        if call.transfer is not None:
            # A transfer's target has until then to answer.
            due = min(due, call.transfer.expires_at)
        await self.store.commit(current, replace(call, due_at=due, keep_alive_at=keep_alive_at))

    async def _remove(self, call: Call, participant_id: str) -> None:
        _LOGGER.info("Removing participant %s", participant_id, extra=log_extra(call))
        try:
            await self.ctx.call_control.remove_participant(call.id, participant_id)
        except DomainError as err:
            _LOGGER.debug("Removing %s: %s", participant_id, err, extra=log_extra(call))
