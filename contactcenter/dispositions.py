"""Dispositions: what a call was about, as the agent who took it records it.

An agent picks one of the queue's disposition codes (when the queue has any) and may add a
note, during wrap-up or later, and may change both until :data:`DISPOSITION_WINDOW` after
the call ended. The disposition lives on the call record itself, written by
compare-and-set: the record is one document, and whatever else changed it meanwhile is
kept (a lost race reads the record again and applies the disposition to the new version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.errors import DomainError, InvalidInput, NotFound
from contactcenter.model import CallRecord
from contactcenter.repository import Repository

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


def check_disposition(disposition: Disposition, codes: Sequence[str]) -> Disposition:
    """Return the disposition tidied (blanks stripped), or raise InvalidInput.

    With ``codes`` (the queue's), the code must be one of them; without, there is nothing
    to pick and only the note is kept, so a code is refused.
    """
    note = disposition.note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(f"at most {MAX_NOTE_CHARS} characters", field="note")
    code = (disposition.code or "").strip() or None
    if codes:
        if code is None:
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
) -> CallRecord:
    """Return the record with the disposition, or raise why the agent may not set it."""
    if record.agent_id is None or record.agent_id != agent_id:
        raise NotYourCall(f"call {record.id} was not taken by this agent")
    if now > disposable_until(record):
        raise DispositionClosed(
            f"call {record.id} ended more than {DISPOSITION_WINDOW} ago: its disposition is final"
        )
    checked = check_disposition(disposition, codes)
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
            current, disposition, agent_id=agent_id, codes=codes[current.queue_id], now=now
        )

    saved = await repository.call_records.update(tenant_id, call_id, change)
    assert saved is not None  # change() never leaves the record as it is
    return saved.value
