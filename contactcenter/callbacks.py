"""Callbacks: a caller keeps their place in line, hangs up, and is called back.

The waiting call becomes a *callback*: a call document of its own in the same line
(``Call.callback`` set, the caller's offered time and priority kept), so routing serves it
in turn like any other waiting call. When an agent is reserved for it (claimed exactly as
for an offer), the engine places an outbound call; each attempt is kept on the callback,
and when the callback ends its :class:`~contactcenter.model.CallbackRequest` is written
with every attempt and the final status.
"""

from __future__ import annotations

import re

from contactcenter.errors import InvalidInput
from contactcenter.model import (
    Call,
    CallbackRequest,
    CallbackSettings,
    CallbackStatus,
    Party,
    PartyKind,
)

_E164 = re.compile(r"\+[1-9]\d{1,14}")
MAX_ATTEMPTS = 10
MAX_RETRY_S = 24 * 3600


def is_e164(number: str) -> bool:
    """Return whether ``number`` is in E.164 form (+, country code, at most 15 digits)."""
    return _E164.fullmatch(number) is not None


def callback_number(party: Party) -> Party:
    """Return the party to call back, or raise InvalidInput if it is not an E.164 number."""
    if party.kind is not PartyKind.PHONE or not is_e164(party.id):
        raise InvalidInput(
            f"{party.id or 'an anonymous caller'} is not an E.164 number to call back",
            field="number",
        )
    return Party(PartyKind.PHONE, party.id, party.display_name)


def validate_callback_settings(settings: CallbackSettings, *, field: str = "callback") -> None:
    """Raise InvalidInput for settings a queue cannot call back with."""
    if settings.key not in set("0123456789*#"):
        raise InvalidInput(f"{settings.key!r} is not a telephone key", field=f"{field}.key")
    if not 1 <= settings.max_attempts <= MAX_ATTEMPTS:
        raise InvalidInput(f"between 1 and {MAX_ATTEMPTS} attempts", field=f"{field}.maxAttempts")
    if not 0 <= settings.retry_s <= MAX_RETRY_S:
        raise InvalidInput("retry interval out of range", field=f"{field}.retryS")
    if not 15 <= settings.dial_timeout_s <= 90:
        raise InvalidInput("between 15 and 90 s", field=f"{field}.dialTimeoutS")
    if not 1 <= settings.offer_timeout_s <= 60:
        raise InvalidInput("between 1 and 60 s", field=f"{field}.offerTimeoutS")


def callback_id(origin_call_id: str) -> str:
    """Return the id of the callback a call becomes (one per call, so requests are idempotent)."""
    return f"callback-{origin_call_id}"


def build_callback_request(
    line: Call,
    status: CallbackStatus,
    *,
    reason: str = "",
    connected_call_id: str | None = None,
    agent_id: str | None = None,
) -> CallbackRequest:
    """Return the record of a callback that has ended (``line`` is its call document)."""
    state = line.callback
    if state is None or line.ended_at is None:
        raise ValueError(f"{line.id} is not an ended callback")
    return CallbackRequest(
        id=state.request_id,
        tenant_id=line.tenant_id,
        queue_id=line.queue_id or "",
        queue_name=line.queue_name,
        number=line.caller,
        origin_call_id=state.origin_call_id,
        requested_at=state.requested_at,
        offered_at=line.offered_at,
        ended_at=line.ended_at,
        status=status,
        priority=line.priority,
        attempts=state.attempts,
        connected_call_id=connected_call_id,
        agent_id=agent_id,
        reason=reason,
    )
