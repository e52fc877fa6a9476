"""Shared voicemail: messages left for a queue, and which agent handled each.

The engine records a message (``recordResponse``), stores the recording as a media blob
and writes a :class:`~contactcenter.model.Voicemail`; the queue's agents are told through
the Notifier. Handling is a compare-and-set on the voicemail document, so two agents
cannot both claim one message.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contactcenter.errors import Conflict, InvalidInput, NotFound
from contactcenter.model import Voicemail
from contactcenter.ports import Condition, Op
from contactcenter.repository import Repository, Versioned

# Graph records at most 120 s per recordResponse.
MAX_RECORDING_S = 120


def voicemail_id(call_id: str) -> str:
    """Return the id of the voicemail a call leaves (one per call, so retries are idempotent)."""
    return f"vm-{call_id}"


def recording_media_id(call_id: str) -> str:
    """Return the media blob id a call's recording is stored under."""
    return f"recording-{call_id}"


async def mark_handled(
    repository: Repository, tenant_id: str, voicemail: str, user_id: str, now: datetime
) -> Voicemail:
    """Mark a voicemail handled by ``user_id``; raise InvalidInput if someone else did."""
    for _ in range(8):
        try:
            current = await repository.voicemails.get(tenant_id, voicemail)
        except NotFound:
            raise InvalidInput(f"no voicemail {voicemail}", field="voicemailId") from None
        found = current.value
        if found.handled_by is not None:
            if found.handled_by == user_id:
                return found
            raise InvalidInput(
                f"voicemail {voicemail} was handled by {found.handled_by}", field="voicemailId"
            )
        handled = replace(found, handled_by=user_id, handled_at=now)
        try:
            return (await repository.voicemails.save(handled, etag=current.etag)).value
        except Conflict:
            continue
    raise Conflict(f"voicemail {voicemail}: gave up after lost races")


async def voicemails_of(
    repository: Repository, tenant_id: str, queue_id: str, *, unhandled_only: bool = False
) -> list[Versioned[Voicemail]]:
    """Return a queue's voicemails, newest first."""
    where = [Condition("queueId", Op.EQ, queue_id)]
    if unhandled_only:
        where.append(Condition("handledBy", Op.EQ, None))
    return await repository.voicemails.find(tenant_id, where, order_by=(("recordedAt", True),))
