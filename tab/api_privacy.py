"""The admin console's personal-data API: export or erase a user's data, or a phone
caller's by their number (GDPR).

The work is done by :class:`contactcenter.personal_data.PersonalDataService` (the CLI uses
it too); these handlers translate its outcomes into the tab API's answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from contactcenter.personal_data import ErasureRefused, PersonalDataService, UserUnknown
from tab.derived_shapes import fill
from tab.endpoints import ApiError, TabRequest
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
    notice_cards: list[Document] = Field(
        description="Voicemail and callback cards sent to the user (their copies only)."
    )
    aggregates: list[Document] = Field(description="Interval statistics about the user.")
    audit_entries: list[Document] = Field(description="Audit entries by or about the user.")


class CallerExportView(ApiModel):
    """Every document that names a phone caller's number, as stored."""

    tenant_id: str
    number: str = Field(description="The caller's number, in E.164 form.")
    exported_at: datetime
    calls: list[Document] = Field(description="Calls in progress, and waiting callbacks.")
    call_records: list[Document] = Field(description="Finished calls (with their dispositions).")
    voicemails: list[Document] = Field(description="Voicemails the caller left.")
    callbacks: list[Document] = Field(description="Finished callback requests.")
    caller_list_entries: list[Document] = Field(description="The caller's blocked and VIP entries.")
    webhook_deliveries: list[Document] = Field(
        description="Call records queued for (or sent to) the tenant's webhooks."
    )
    offer_cards: list[Document] = Field(description="Alert cards agents got for their calls.")
    audit_entries: list[Document] = Field(description="Audit entries that name the caller.")
    other: dict[str, list[Document]] = Field(
        description="Any other documents that name the number, by collection."
    )


class ErasureView(ApiModel):
    """What an erasure did."""

    pseudonym: str = Field(
        description="What the person's id (or number) was replaced with where kept; "
        "empty when nothing was left to erase."
    )
    deleted: int = Field(description="Documents deleted.")
    pseudonymised: int = Field(
        description="Documents kept with the person pseudonymised (or their entries removed)."
    )


def _service(call: TabRequest) -> PersonalDataService:
    deps = call.deps
    return PersonalDataService(
        deps.store,
        deps.repository,
        call.tab.audit,
        call.tab.seats,
        deps.clock,
        media=deps.media,
    )


def _refused(err: ErasureRefused, field: str) -> ApiError:
    return ApiError(
        409,
        err.message,
        code=err.code,
        details=[{"field": field, "message": detail} for detail in err.details],
    )


async def export_user_data(call: TabRequest) -> UserExportView:
    """Return everything stored about a user (an audited access)."""
    caller = call.caller
    try:
        data = await _service(call).export(caller.tenant_id, call.param("userId"), caller.actor)
    except UserUnknown:
        raise ApiError(404, "no such user") from None
    return fill(UserExportView, data)


async def erase_personal_data(call: TabRequest) -> ErasureView:
    """Delete a user's personal data; what is kept for reports names a pseudonym."""
    caller = call.caller
    try:
        erasure = await _service(call).erase(caller.tenant, call.param("userId"), caller.actor)
    except UserUnknown:
        raise ApiError(404, "no such user") from None
    except ErasureRefused as err:
        raise _refused(err, "userId") from None
    return fill(ErasureView, erasure)


async def export_caller_data(call: TabRequest) -> CallerExportView:
    """Return every document naming a phone caller's number (an audited access).

    422 if the number is not E.164.
    """
    caller = call.caller
    data = await _service(call).export_caller(caller.tenant_id, call.param("number"), caller.actor)
    return fill(CallerExportView, data)


async def erase_caller_data(call: TabRequest) -> ErasureView:
    """Delete a phone caller's personal data; what is kept for reports names a pseudonym.

    422 if the number is not E.164; 409 while a call of theirs is in progress.
    """
    caller = call.caller
    try:
        erasure = await _service(call).erase_caller(
            caller.tenant, call.param("number"), caller.actor
        )
    except ErasureRefused as err:
        raise _refused(err, "number") from None
    if erasure.deleted or erasure.pseudonymised:
        # Their caller-list entries may be gone: this host's cached lists with them.
        call.deps.engine.caller_list_changed(caller.tenant_id)
    return fill(ErasureView, erasure)
