"""The call at hand in the agent workspace: notes saved as typed, the caller's history,
handing the call on, more wrap-up time, and calling back a caller nobody answered.
"""

from __future__ import annotations

import logging

from contactcenter.caller_history import recent_calls_of
from contactcenter.dispositions import (
    Disposition,
    DispositionClosed,
    NotYourCall,
    call_at_hand,
    queue_codes,
    save_notes,
)
from contactcenter.engine import NotYourTalk
from contactcenter.errors import NotFound
from contactcenter.model import (
    Agent,
    AgentActivity,
    AgentStatus,
    CallRecord,
    NotesDraft,
    Party,
    Queue,
)
from contactcenter.records import is_record_of
from contactcenter.voicemail import is_agent_of_queue
from tab.api_agent import me_answer, my_agent
from tab.api_work import may_call_back
from tab.endpoints import ApiError, TabRequest
from tab.live import party_view
from tab.schemas import MeView
from tab.work_schemas import (
    CallbackAskedView,
    CallerCallView,
    CallerHistoryView,
    NotesBody,
    NotesView,
    TransferAgentView,
    TransferBody,
    TransferQueueView,
    TransferTargetsView,
)

_LOGGER = logging.getLogger(__name__)


async def _record(call: TabRequest, record_id: str) -> CallRecord | None:
    try:
        return (await call.deps.repository.call_records.get(call.caller.tenant_id, record_id)).value
    except NotFound:
        return None


async def _party_of(call: TabRequest, agent: Agent, call_id: str) -> tuple[Party, str | None]:
    """Return the caller of one of my calls (at hand, or on a record of mine) and its queue."""
    repository = call.deps.repository
    if agent.activity is AgentActivity.ON_CALL and agent.current_call_id == call_id:
        try:
            live = (await repository.calls.get(agent.tenant_id, call_id)).value
        except NotFound:
            live = None
        if live is not None:
            return live.caller, live.queue_id
    record = await _record(call, call_id)
    if record is None:
        raise ApiError(404, "no such call")
    if record.agent_id != agent.id and agent.id not in record.missed_agent_ids:
        raise ApiError(403, "this is not one of your calls", code="notYourCall")
    return record.caller, record.queue_id


# --------------------------------------------------------------------- notes
def _notes_of_draft(draft: NotesDraft, codes: tuple[str, ...]) -> NotesView:
    return NotesView(
        call_id=draft.call_id,
        note=draft.note,
        code=draft.code,
        codes=list(codes),
        saved_at=draft.saved_at,
        saved_to="draft",
    )


async def my_call_notes(call: TabRequest) -> NotesView:
    """Return a call's notes and code as saved so far (the draft of the call at hand)."""
    agent = await my_agent(call)
    call_id = call.param("callId")
    repository = call.deps.repository
    _, queue_id = await _party_of(call, agent, call_id)
    codes = await queue_codes(repository, agent.tenant_id, queue_id)
    draft = agent.notes_draft
    if call_at_hand(agent) == call_id and draft is not None and draft.call_id == call_id:
        return _notes_of_draft(draft, codes)
    record = await _record(call, call_id)
    if record is None:
        return NotesView(
            call_id=call_id, note="", code=None, codes=list(codes), saved_at=None, saved_to=None
        )
    return NotesView(
        call_id=call_id,
        note=record.disposition_note,
        code=record.disposition_code,
        codes=list(codes) if record.agent_id == agent.id else [],
        saved_at=record.disposed_at,
        saved_to="record" if record.disposed_at is not None else None,
    )


async def save_my_call_notes(call: TabRequest) -> NotesView:
    """Save a call's notes as I type them (a code too, once picked)."""
    body = call.body(NotesBody)
    agent = await my_agent(call)
    call_id = call.param("callId")
    _, queue_id = await _party_of(call, agent, call_id)
    try:
        saved = await save_notes(
            call.deps.repository,
            agent.tenant_id,
            call_id,
            Disposition(body.code, body.note),
            agent_id=agent.id,
            now=call.deps.clock.now(),
        )
    except NotYourCall as err:
        raise ApiError(403, "only the agent who took this call can write its notes") from err
    except DispositionClosed as err:
        raise ApiError(409, "this call's notes are final", code="dispositionClosed") from err
    except NotFound:
        raise ApiError(
            409, "this call has no record yet: try again in a moment", code="callNotEnded"
        ) from None
    codes = await queue_codes(call.deps.repository, agent.tenant_id, queue_id)
    return NotesView(
        call_id=call_id,
        note=saved.note,
        code=saved.code,
        codes=list(codes),
        saved_at=saved.saved_at,
        saved_to=saved.where,
    )


# ------------------------------------------------------------------ history
async def my_caller_history(call: TabRequest) -> CallerHistoryView:
    """Return the last few calls of the caller of one of my calls (by number or user id)."""
    agent = await my_agent(call)
    call_id = call.param("callId")
    party, _ = await _party_of(call, agent, call_id)
    records = await recent_calls_of(
        call.deps.repository,
        agent.tenant_id,
        party,
        call.deps.clock.now(),
        leaving_out=call_id.split(".leg", 1)[0],
    )
    return CallerHistoryView(
        caller=party_view(party),
        calls=[
            CallerCallView(
                id=r.id,
                queue_name=r.queue_name,
                ended_at=r.ended_at,
                outcome=r.outcome,
                agent_name=r.agent_name,
                disposition_code=r.disposition_code,
                disposition_note=r.disposition_note,
            )
            for r in records
            if not is_record_of(call_id, r.id)
        ],
    )


# ---------------------------------------------------------------- transfers
async def transfer_targets(call: TabRequest) -> TransferTargetsView:
    """List the queues and agents I may hand my call to (agents free now first)."""
    agent = await my_agent(call)
    repository = call.deps.repository
    queues = sorted((q.value for q in await repository.queues.find(agent.tenant_id)), key=_name)
    agents = [
        a.value
        for a in await repository.agents.find(agent.tenant_id)
        if a.value.id != agent.id and a.value.has_seat
    ]
    views = [
        TransferAgentView(id=a.id, name=a.display_name, free=_is_free(a))
        for a in sorted(agents, key=lambda a: a.display_name.casefold())
    ]
    views.sort(key=lambda v: not v.free)
    return TransferTargetsView(
        queues=[TransferQueueView(id=q.id, name=q.name) for q in queues], agents=views
    )


def _name(queue: Queue) -> str:
    return queue.name.casefold()


def _is_free(agent: Agent) -> bool:
    return (
        agent.status is AgentStatus.AVAILABLE
        and agent.activity is AgentActivity.IDLE
        and agent.current_call_id is None
    )


async def transfer_my_call(call: TabRequest) -> MeView:
    """Hand my call to another queue (the caller first in line there) or another agent."""
    body = call.body(TransferBody)
    agent = await my_agent(call)
    engine = call.deps.engine
    call_id = call.param("callId")
    try:
        if body.queue_id is not None:
            await engine.transfer_to_queue(agent.tenant_id, call_id, agent.id, body.queue_id)
        else:
            assert body.agent_id is not None
            await engine.transfer_to_agent(agent.tenant_id, call_id, agent.id, body.agent_id)
    except NotYourTalk as err:
        raise ApiError(
            409, "you are not talking on this call any more", code="notYourTalk"
        ) from err
    return await me_answer(call)


# ---------------------------------------------------------------- wrap-up
async def extend_my_wrap_up(call: TabRequest) -> MeView:
    """Take my queue's extra wrap-up time (once per call)."""
    agent = await my_agent(call)
    await call.deps.engine.extend_wrap_up(agent.tenant_id, agent.id)
    return await me_answer(call)


# -------------------------------------------------------------- callbacks
async def _callback_queue(call: TabRequest, agent: Agent, queue_id: str | None) -> Queue:
    if queue_id is None:
        raise ApiError(409, "this call reached no queue: it cannot be called back")
    try:
        queue = (await call.deps.repository.queues.get(agent.tenant_id, queue_id)).value
    except NotFound:
        raise ApiError(409, "this call's queue no longer exists", code="queueGone") from None
    if agent.id not in queue.members:
        raise ApiError(403, "you are not a member of this call's queue", code="notAMember")
    return queue


def _asked(line_id: str, queue: Queue, number: Party) -> CallbackAskedView:
    return CallbackAskedView(
        id=line_id, queue_id=queue.id, queue_name=queue.name, number=party_view(number)
    )


async def call_back_my_missed_call(call: TabRequest) -> CallbackAskedView:
    """Have one of my queues call back a caller nobody answered (a missed call)."""
    agent = await my_agent(call)
    call_id = call.param("callId")
    record = await _record(call, call_id)
    if record is None:
        try:
            await call.deps.repository.calls.get(agent.tenant_id, call_id)
        except NotFound:
            raise ApiError(404, "no such call") from None
        raise ApiError(409, "the caller is still in the queue", code="callNotEnded")
    queue = await _callback_queue(call, agent, record.queue_id)
    if not may_call_back(record):
        raise ApiError(
            409,
            "only a call nobody answered, from a phone number, can be called back",
            code="notCallable",
        )
    line = await call.deps.engine.call_back(queue, record.caller, record.id)
    _LOGGER.info("Call back asked by %s", agent.id, extra={"call_id": record.id})
    return _asked(line.id, queue, line.caller)


async def call_back_voicemail(call: TabRequest) -> CallbackAskedView:
    """Have the voicemail's queue call back the caller who left it."""
    agent = await my_agent(call)
    repository = call.deps.repository
    try:
        voicemail = (
            await repository.voicemails.get(agent.tenant_id, call.param("voicemailId"))
        ).value
    except NotFound:
        raise ApiError(404, "no such voicemail") from None
    if not await is_agent_of_queue(repository, voicemail, agent.id):
        raise ApiError(404, "no such voicemail")
    queue = await _callback_queue(call, agent, voicemail.queue_id)
    line = await call.deps.engine.call_back(queue, voicemail.caller, voicemail.call_id)
    return _asked(line.id, queue, line.caller)
