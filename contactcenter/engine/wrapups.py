"""Wrap-up: the agent's time after a talk, and the record that learns how long it took.

A talk's record is written when the talk ends (decision 14), before anyone knows how long
the agent will wrap up: it says so (``wrap_up_pending``). When the wrap-up ends (its
timer, the agent's "End now", after an extension), the record gets the time actually
taken and the notes the agent typed meanwhile (their draft on the agent document), in one
write, and only then is it counted and exported. The record is written before the agent is
freed, so a host dying in between leaves the agent in wrap-up, and the timer does it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.engine.context import EngineContext
from contactcenter.engine.store import CallStore
from contactcenter.errors import InvalidInput
from contactcenter.model import Agent, AgentActivity, Call, CallRecord, NotesDraft, WrapUp
from contactcenter.repository import KEEP, Decision, GiveUp, Missing, Versioned

_LOGGER = logging.getLogger(__name__)


def with_draft(record: CallRecord, draft: NotesDraft | None, codes: tuple[str, ...]) -> CallRecord:
    """Return the record with the agent's draft as its note and code, if the draft is newer.

    A code the queue no longer has is left out; the note is kept whatever it says.
    """
    if draft is None or draft.call_id != record.id or record.agent_id is None:
        return record
    saved_at = draft.saved_at
    if record.disposed_at is not None and (saved_at is None or saved_at <= record.disposed_at):
        return record  # saved on the record since (the agent's explicit Save)
    code = draft.code if draft.code in codes else None
    return replace(
        record,
        disposition_code=code,
        disposition_note=draft.note,
        disposed_by=record.agent_id,
        disposed_at=saved_at,
    )


@dataclass(slots=True)
class WrapUps:
    """Starts, extends and ends agents' wrap-ups, and completes their calls' records."""

    ctx: EngineContext
    store: CallStore

    async def start(
        self, talk: Call, record_id: str, talk_end: datetime
    ) -> tuple[Versioned[Agent] | None, bool]:
        """Put the agent who talked into wrap-up for ``record_id`` (or straight back to idle).

        Return the agent as written (None if unchanged) and whether the agent is (now, or
        already) wrapping up that record: when not, nobody will fill its wrap-up in.
        """
        agent_id = talk.agent_id
        if agent_id is None:
            return None, False
        wrap_up = timedelta(seconds=talk.wrap_up_s)

        def after_talk(agent: Agent) -> Agent | None:
            if agent.current_call_id != talk.id:
                return None
            draft = agent.notes_draft
            if draft is not None and draft.call_id == talk.id:
                draft = replace(draft, call_id=record_id)
            if wrap_up > timedelta(0):
                end = talk_end + wrap_up
                return replace(
                    agent,
                    activity=AgentActivity.WRAP_UP,
                    current_call_id=None,
                    wrap_up_until=end,
                    due_at=end,
                    # The idle period starts when wrap-up ends.
                    idle_since=end,
                    last_call_ended_at=talk_end,
                    wrap_up=WrapUp(
                        record_id=record_id,
                        queue_id=talk.queue_id or "",
                        started_at=talk_end,
                        extension_s=talk.wrap_up_extension_s,
                        offered_at=talk.transferred_at or talk.offered_at,
                        answered_at=talk.answered_at,
                    ),
                    notes_draft=draft,
                )
            return replace(
                agent,
                activity=AgentActivity.IDLE,
                current_call_id=None,
                wrap_up_until=None,
                due_at=None,
                idle_since=talk_end,
                last_call_ended_at=talk_end,
                wrap_up=None,
                notes_draft=draft,
            )

        updated = await self.store.apply_agent(talk.tenant_id, agent_id, after_talk)
        now = updated.after.value if updated.after is not None else None
        wrapping = (
            now is not None and now.wrap_up is not None and now.wrap_up.record_id == record_id
        )
        return (updated.after if updated.changed else None), wrapping

    async def extend(self, tenant_id: str, agent_id: str) -> Agent:
        """Make the agent's wrap-up longer by their queue's extension, once."""

        def extended(agent: Agent) -> Agent:
            wrap_up = agent.wrap_up
            if agent.activity is not AgentActivity.WRAP_UP or wrap_up is None:
                raise InvalidInput("you are not in wrap-up", field="agentId")
            if wrap_up.extension_s <= 0:
                raise InvalidInput("this queue does not allow more wrap-up time", field="agentId")
            if wrap_up.extended:
                raise InvalidInput("you already took more wrap-up time", field="agentId")
            until = (agent.wrap_up_until or self.ctx.clock.now()) + timedelta(
                seconds=wrap_up.extension_s
            )
            return replace(
                agent,
                wrap_up_until=until,
                due_at=until,
                idle_since=until,
                wrap_up=replace(wrap_up, extended=True),
            )

        updated = await self.ctx.repository.agents.apply(
            tenant_id, agent_id, extended, after_save=self.store.agent_saved
        )
        assert updated.after is not None
        return updated.after.value

    async def finish(
        self, tenant_id: str, agent_id: str, end: datetime, *, first: Versioned[Agent] | None = None
    ) -> Versioned[Agent] | None:
        """End the agent's wrap-up at ``end``: the record first, then the agent free.

        Return the agent as written, or None if they were not in wrap-up (any more).
        """
        finished: list[CallRecord] = []

        async def done(agent: Agent) -> Decision[Agent]:
            if agent.activity is not AgentActivity.WRAP_UP:
                return KEEP
            wrap_up = agent.wrap_up
            draft = agent.notes_draft
            if wrap_up is not None:
                record = await self.complete_record(tenant_id, wrap_up, draft, end)
                if record is not None:
                    finished[:] = [record]
                if draft is not None and draft.call_id == wrap_up.record_id:
                    draft = None  # on the record now
            return replace(
                agent,
                activity=AgentActivity.IDLE,
                wrap_up_until=None,
                due_at=None,
                idle_since=end,
                wrap_up=None,
                notes_draft=draft,
            )

        updated = await self.ctx.repository.agents.apply(
            tenant_id,
            agent_id,
            done,
            first=first,
            missing=Missing.SKIP,
            after_save=self.store.agent_saved,
            give_up=GiveUp.WARN,
        )
        on_record = self.ctx.on_record
        if updated.changed and finished and on_record is not None:
            # Counted and exported now that it is complete (contactcenter/finished_calls.py).
            await on_record(finished[0])
        return updated.after if updated.changed else None

    async def complete_record(
        self, tenant_id: str, wrap_up: WrapUp, draft: NotesDraft | None, end: datetime
    ) -> CallRecord | None:
        """Fill in the wrap-up time (and the draft); return the record if it was pending."""
        seconds = max(0.0, (end - wrap_up.started_at).total_seconds())
        codes: tuple[str, ...] = ()
        if draft is not None:
            queue = await self.store.queue(tenant_id, wrap_up.queue_id)
            codes = queue.disposition_codes if queue is not None else ()
        was_pending = False

        def completed(record: CallRecord) -> Decision[CallRecord]:
            nonlocal was_pending
            was_pending = record.wrap_up_pending
            new = with_draft(record, draft, codes)
            if record.wrap_up_pending:
                new = replace(new, wrap_up_s=seconds, wrap_up_pending=False)
            return KEEP if new == record else new

        updated = await self.ctx.repository.call_records.apply(
            tenant_id, wrap_up.record_id, completed, known=True, missing=Missing.SKIP
        )
        if not was_pending or updated.after is None:
            return None
        return updated.after.value

    async def close_unattended(self, record: CallRecord) -> None:
        """Complete a record whose agent is not wrapping it up (they left the call before)."""

        def closed(current: CallRecord) -> Decision[CallRecord]:
            if not current.wrap_up_pending:
                return KEEP
            return replace(current, wrap_up_pending=False)

        updated = await self.ctx.repository.call_records.apply(
            record.tenant_id, record.id, closed, known=True, missing=Missing.SKIP
        )
        on_record = self.ctx.on_record
        if updated.changed and updated.after is not None and on_record is not None:
            _LOGGER.info(
                "No wrap-up for the agent of call record %s",
                record.id,
                extra={"tenant_id": record.tenant_id, "call_id": record.id},
            )
            await on_record(updated.after.value)
