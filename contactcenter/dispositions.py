"""Dispositions: what a call was about, as the agent who took it records it.

An agent picks one of the queue's disposition codes (when the queue has any) and may add a
note, during the call, in wrap-up or later, and may change both until
:data:`DISPOSITION_WINDOW` after the call ended. The disposition lives on the call record
itself, written by compare-and-set: the record is one document, and whatever else changed
it meanwhile is kept (a lost race reads the record again and applies the disposition to the
new version).

Notes are saved as they are typed (:func:`save_notes`). For the call at hand (the one the
agent is on, or wrapping up) they go to a draft on the agent document, since the record
does not exist yet or is about to get its wrap-up time: the engine puts the draft on the
record when the wrap-up ends, timer or not. For any other recent call they go to the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from contactcenter.errors import DomainError, InvalidInput, NotFound
from contactcenter.inbound import unsafe_character
from contactcenter.model import Agent, AgentActivity, CallRecord, NotesDraft
from contactcenter.repository import KEEP, Decision, Repository

DISPOSITION_WINDOW = timedelta(hours=24)
"""How long after a call ended its disposition may still be set or changed."""

MAX_NOTE_CHARS = 2000


class NotYourCall(DomainError):
    """Only the agent who took a call may record its disposition."""


class DispositionClosed(DomainError):
    """The call ended longer ago than :data:`DISPOSITION_WINDOW`."""


@dataclass(frozen=True, slots=True)
class Disposition:
    """A disposition as an agent enters it: a code (or none) and a note."""

    code: str | None
    note: str = ""


def disposable_until(record: CallRecord) -> datetime:
    """Return until when the record's disposition may be set or changed."""
    return record.ended_at + DISPOSITION_WINDOW


def can_dispose(record: CallRecord, agent_id: str, now: datetime) -> bool:
    """Tell whether ``agent_id`` may set the record's disposition at ``now``."""
    return record.agent_id == agent_id and now <= disposable_until(record)


def note_line_ends(note: str) -> str:
    """Return a note with its line ends as ``\\n`` (Windows sends ``\\r\\n``)."""
    return note.replace("\r\n", "\n").replace("\r", "\n")


def check_note(note: str) -> str:
    """Return a note tidied (line ends as ``\\n``, blank ends stripped), or raise InvalidInput.

    A note is plain text over several lines: line breaks and tabs are kept; any other
    control character, and the bidirectional overrides and isolates that make text read
    differently from how it is stored, are refused (the multi-line rule of
    :func:`contactcenter.inbound.unsafe_character`, which every text field follows).
    """
    tidy = note_line_ends(note).strip()
    if len(tidy) > MAX_NOTE_CHARS:
        raise InvalidInput(f"at most {MAX_NOTE_CHARS} characters", field="note")
    found = unsafe_character(tidy, multi_line=True)
    if found is not None:
        raise InvalidInput(
            "a note holds line breaks and tabs, but no other control or "
            f"bidirectional-override characters (found {found})",
            field="note",
        )
    return tidy


def check_disposition(
    disposition: Disposition, codes: Sequence[str], *, code_required: bool = True
) -> Disposition:
    """Return the disposition tidied (blanks stripped), or raise InvalidInput.

    With ``codes`` (the queue's), the code must be one of them (or, unless
    ``code_required``, not picked yet); without, there is nothing to pick and only the
    note is kept, so a code is refused.
    """
    note = check_note(disposition.note)
    code = (disposition.code or "").strip() or None
    if codes:
        if code is None:
            if not code_required:
                return Disposition(None, note)
            raise InvalidInput("pick one of the queue's disposition codes", field="code")
        if code not in codes:
            raise InvalidInput(
                f"{code!r} is not one of the queue's disposition codes", field="code"
            )
    elif code is not None:
        raise InvalidInput(
            "this queue has no disposition codes: leave the code empty", field="code"
        )
    return Disposition(code, note)


def apply_disposition(
    record: CallRecord,
    disposition: Disposition,
    *,
    agent_id: str,
    codes: Sequence[str],
    now: datetime,
    code_required: bool = True,
) -> CallRecord:
    """Return the record with the disposition, or raise why the agent may not set it."""
    if record.agent_id is None or record.agent_id != agent_id:
        raise NotYourCall(f"call {record.id} was not taken by this agent")
    if now > disposable_until(record):
        raise DispositionClosed(
            f"call {record.id} ended more than {DISPOSITION_WINDOW} ago: its disposition is final"
        )
    checked = check_disposition(disposition, codes, code_required=code_required)
    return replace(
        record,
        disposition_code=checked.code,
        disposition_note=checked.note,
        disposed_by=agent_id,
        disposed_at=now,
    )


async def queue_codes(
    repository: Repository, tenant_id: str, queue_id: str | None
) -> tuple[str, ...]:
    """Return the queue's disposition codes (none for a deleted queue or no queue)."""
    if queue_id is None:
        return ()
    try:
        return (await repository.queues.get(tenant_id, queue_id)).value.disposition_codes
    except NotFound:
        return ()


async def record_disposition(
    repository: Repository,
    tenant_id: str,
    call_id: str,
    disposition: Disposition,
    *,
    agent_id: str,
    now: datetime,
    code_required: bool = True,
) -> CallRecord:
    """Set a call's disposition on its record, by compare-and-set; return the record.

    Raises NotFound (no record), NotYourCall, DispositionClosed, InvalidInput, or Conflict
    when the record kept changing under every retry.
    """
    codes: dict[str | None, tuple[str, ...]] = {}

    async def change(current: CallRecord) -> CallRecord:
        if current.queue_id not in codes:
            codes[current.queue_id] = await queue_codes(repository, tenant_id, current.queue_id)
        return apply_disposition(
            current,
            disposition,
            agent_id=agent_id,
            codes=codes[current.queue_id],
            now=now,
            code_required=code_required,
        )

    saved = await repository.call_records.update(tenant_id, call_id, change)
    assert saved is not None  # change() never leaves the record as it is
    return saved.value


def call_at_hand(agent: Agent) -> str | None:
    """Return the call (or record) id the agent's notes draft is for: the talk, or wrap-up."""
    if agent.activity is AgentActivity.ON_CALL and agent.current_call_id is not None:
        return agent.current_call_id
    if agent.activity is AgentActivity.WRAP_UP and agent.wrap_up is not None:
        return agent.wrap_up.record_id
    return None


@dataclass(frozen=True, slots=True)
class SavedNotes:
    """Where notes went: the draft of the call at hand, or a past call's record."""

    where: Literal["draft", "record"]
    call_id: str
    note: str
    code: str | None
    saved_at: datetime
    record: CallRecord | None = None


async def _at_hand_codes(repository: Repository, agent: Agent) -> tuple[str, ...]:
    if agent.wrap_up is not None and agent.activity is AgentActivity.WRAP_UP:
        return await queue_codes(repository, agent.tenant_id, agent.wrap_up.queue_id)
    if agent.current_call_id is None:
        return ()
    try:
        call = (await repository.calls.get(agent.tenant_id, agent.current_call_id)).value
    except NotFound:
        return ()
    return await queue_codes(repository, agent.tenant_id, call.queue_id)


async def save_notes(
    repository: Repository,
    tenant_id: str,
    call_id: str,
    disposition: Disposition,
    *,
    agent_id: str,
    now: datetime,
) -> SavedNotes:
    """Save notes (and a code, if picked) as the agent types them; say where they went.

    The call at hand keeps them in a draft on the agent document (the engine moves it to
    the record when the wrap-up ends); any other call of the agent's gets them on its
    record, a code not picked yet left unset. Raises as :func:`record_disposition`.
    """
    try:
        agent = (await repository.agents.get(tenant_id, agent_id)).value
    except NotFound:
        agent = None
    if agent is not None and call_at_hand(agent) == call_id:
        checked = check_disposition(
            disposition, await _at_hand_codes(repository, agent), code_required=False
        )
        draft = NotesDraft(call_id, checked.note, checked.code, now)
        kept = False

        def drafted(current: Agent) -> Decision[Agent]:
            nonlocal kept
            kept = call_at_hand(current) == call_id
            return replace(current, notes_draft=draft) if kept else KEEP

        await repository.agents.apply(tenant_id, agent_id, drafted)
        if kept:
            return SavedNotes("draft", call_id, checked.note, checked.code, now)
        # The wrap-up ended meanwhile: its record is complete now, and takes the notes.
    record = await record_disposition(
        repository, tenant_id, call_id, disposition, agent_id=agent_id, now=now, code_required=False
    )
    return SavedNotes(
        "record", call_id, record.disposition_note, record.disposition_code, now, record
    )
