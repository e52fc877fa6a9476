"""The admin console's personal-data API: export a user's data, or erase it (GDPR).

The work is done by :class:`tab.privacy.PersonalDataService` (the CLI uses it too);
these handlers translate its outcomes into the tab API's answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from bot import keys
from tab.appkeys import TAB
from tab.endpoints import ApiError, TabRequest
from tab.privacy import ErasureRefused, PersonalDataService, UserUnknown
from tab.schemas import ApiModel

Document = dict[str, Any]


class UserExportView(ApiModel):
    """Everything stored about one user, as stored."""

    tenant_id: str
    user_id: str
    exported_at: datetime
    user: Document | None = Field(description="The user document (name, UPN, roles).")
    agent: Document | None = Field(description="The agent document (state, skills, seat).")
    conversation: Document | None = Field(
        description="The messaging bot's chat with the user (to send them cards)."
    )
    queue_ids: list[str] = Field(description="Queues the user is a member of.")
    call_records: list[Document] = Field(description="Call records the user appears in.")
    offer_cards: list[Document] = Field(description="Alert cards sent to the user.")
    aggregates: list[Document] = Field(description="Interval statistics about the user.")
    audit_entries: list[Document] = Field(description="Audit entries by or about the user.")


class ErasureView(ApiModel):
    """What an erasure did."""

    pseudonym: str = Field(description="What the user's id was replaced with where kept.")
    deleted: int = Field(description="Documents deleted.")
    pseudonymised: int = Field(description="Documents kept with the user pseudonymised.")


def _service(call: TabRequest) -> PersonalDataService:
    app = call.app
    state = app[TAB]
    return PersonalDataService(
        app[keys.STORE], app[keys.REPOSITORY], state.audit, state.seats, app[keys.CLOCK]
    )


async def export_user_data(call: TabRequest) -> UserExportView:
    """Return everything stored about a user (an audited access)."""
    caller = call.caller
    try:
        data = await _service(call).export(caller.tenant_id, call.param("userId"), caller.actor)
    except UserUnknown:
        raise ApiError(404, "no such user") from None
    return UserExportView(
        tenant_id=data.tenant_id,
        user_id=data.user_id,
        exported_at=data.exported_at,
        user=data.user,
        agent=data.agent,
        conversation=data.conversation,
        queue_ids=data.queue_ids,
        call_records=data.call_records,
        offer_cards=data.offer_cards,
        aggregates=data.aggregates,
        audit_entries=data.audit_entries,
    )


async def erase_personal_data(call: TabRequest) -> ErasureView:
    """Delete a user's personal data; what is kept for reports names a pseudonym."""
    caller = call.caller
    try:
        erasure = await _service(call).erase(caller.tenant, call.param("userId"), caller.actor)
    except UserUnknown:
        raise ApiError(404, "no such user") from None
    except ErasureRefused as err:
        raise ApiError(
            409,
            err.message,
            code=err.code,
            details=[{"field": "userId", "message": detail} for detail in err.details],
        ) from None
    return ErasureView(
        pseudonym=erasure.pseudonym, deleted=erasure.deleted, pseudonymised=erasure.pseudonymised
    )
