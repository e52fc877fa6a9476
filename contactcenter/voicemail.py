"""Shared voicemail: messages left for a queue, and which agent handled each.

The engine records a message (``recordResponse``), stores the recording as a media blob
and writes a :class:`~contactcenter.model.Voicemail`; the queue's agents are told through
the Notifier. Handling is a compare-and-set on the voicemail document, so two agents
cannot both claim one message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from contactcenter.errors import DomainError, InvalidInput, NotFound
from contactcenter.model import Voicemail
from contactcenter.ports import Condition, Notifier, Op
from contactcenter.repository import KEEP, Decision, Repository, Versioned

_LOGGER = logging.getLogger(__name__)

# Graph records at most 120 s per recordResponse.
MAX_RECORDING_S = 120


def voicemail_id(call_id: str) -> str:
    """Return the id of the voicemail a call leaves (one per call, so retries are idempotent)."""
    return f"vm-{call_id}"


def recording_media_id(call_id: str) -> str:
    """Return the media blob id a call's recording is stored under."""
    return f"recording-{call_id}"


@dataclass(frozen=True, slots=True)
class Handling:
    """A voicemail after a request to handle it."""

    voicemail: Voicemail
    # False: it was handled already (see ``voicemail.handled_by``) and nothing changed.
    changed: bool


async def _claim(
    repository: Repository, tenant_id: str, voicemail: str, user_id: str, now: datetime
) -> Handling:
    """Mark a voicemail handled by ``user_id`` unless it is already; raise NotFound."""

    def handled(found: Voicemail) -> Decision[Voicemail]:
        if found.handled_by is not None:
            return KEEP
        return replace(found, handled_by=user_id, handled_at=now)

    result = await repository.voicemails.apply(tenant_id, voicemail, handled)
    assert result.after is not None
    return Handling(result.after.value, changed=result.changed)


async def mark_handled(
    repository: Repository, tenant_id: str, voicemail: str, user_id: str, now: datetime
) -> Voicemail:
    """Mark a voicemail handled by ``user_id``; raise InvalidInput if someone else did."""
    try:
        handling = await _claim(repository, tenant_id, voicemail, user_id, now)
    except NotFound:
        raise InvalidInput(f"no voicemail {voicemail}", field="voicemailId") from None
    found = handling.voicemail
    if found.handled_by != user_id:
        raise InvalidInput(
            f"voicemail {voicemail} was handled by {found.handled_by}", field="voicemailId"
        )
    return found


async def handle_voicemail(
    repository: Repository,
    notifier: Notifier,
    tenant_id: str,
    voicemail: str,
    user_id: str,
    now: datetime,
) -> Handling:
    """Mark a voicemail handled (once: the first agent wins) and tell the queue's agents.

    The one way to handle a voicemail, from a card or from the tab, so that every agent's
    card shows who handled it. The agents are told again on a repeated request (the
    notifier shows each state once), so a crash between the write and the notice is
    mended by trying again. Raises NotFound for an unknown voicemail.
    """
    handling = await _claim(repository, tenant_id, voicemail, user_id, now)
    try:
        await notifier.voicemail_handled(handling.voicemail)
    except DomainError as err:
        _LOGGER.warning(
            "Voicemail %s handled, agents not told: %s",
            voicemail,
            err,
            extra={"tenant_id": tenant_id, "call_id": handling.voicemail.call_id},
        )
    return handling


async def is_agent_of_queue(repository: Repository, voicemail: Voicemail, agent_id: str) -> bool:
    """Tell whether the user is an agent of the voicemail's queue (who may play and handle it)."""
    try:
        queue = (await repository.queues.get(voicemail.tenant_id, voicemail.queue_id)).value
    except NotFound:
        return False
    return agent_id in queue.members


async def voicemails_of(
    repository: Repository,
    tenant_id: str,
    queue_id: str,
    *,
    unhandled_only: bool = False,
    limit: int | None = None,
) -> list[Versioned[Voicemail]]:
    """Return a queue's voicemails, newest first (at most ``limit``)."""
    where = [Condition("queueId", Op.EQ, queue_id)]
    if unhandled_only:
        where.append(Condition("handledBy", Op.EQ, None))
    return await repository.voicemails.find(
        tenant_id, where, order_by=(("recordedAt", True),), limit=limit
    )
