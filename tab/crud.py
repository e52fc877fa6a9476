"""The steps every change to the admin console's documents takes.

A change is made only to the document the admin loaded (If-Match: otherwise 412), is one
compare-and-set write, and leaves an audit entry with the document before and after.
Queues, IVRs, caller lists and bindings all go through these steps.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from contactcenter.errors import Conflict
from contactcenter.model import Binding, BindingTarget
from contactcenter.ports import Condition, Op
from contactcenter.repository import Collection, Repository, Versioned
from tab.appkeys import TAB
from tab.endpoints import ApiError, TabRequest
from tab.schemas import is_guid

T = TypeVar("T")

Details = list[dict[str, str]]


def repository(call: TabRequest) -> Repository:
    """Return the repository of the app that serves the call."""
    return call.deps.repository


def if_match(call: TabRequest) -> str | None:
    """Return the etag of an If-Match header (None when absent or ``*``)."""
    value = call.request.headers.get("If-Match")
    if value is None or value.strip() == "*":
        return None
    return value.strip().removeprefix("W/").strip('"')


def changed_meanwhile(what: str) -> ApiError:
    """Return the 412 for a document someone else changed since it was loaded."""
    return ApiError(412, f"the {what} changed since you loaded it", code="preconditionFailed")


def require_if_match(call: TabRequest, etag: str, what: str) -> None:
    """Refuse (412) a change to a document whose etag is not the one If-Match names."""
    expected = if_match(call)
    if expected is not None and expected != etag.strip('"'):
        raise changed_meanwhile(what)


async def record_change(
    call: TabRequest,
    action: str,
    *,
    target_type: str,
    target_id: str,
    before: object | None = None,
    after: object | None = None,
) -> None:
    """Write the audit entry for a change the caller made to their organization."""
    caller = call.caller
    await call.app[TAB].audit.record(
        caller.tenant_id,
        caller.actor,
        action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
    )


async def save_replacement(
    call: TabRequest,
    documents: Collection[T],
    current: Versioned[T],
    new: T,
    *,
    what: str,
    target_type: str,
    target_id: str,
) -> Versioned[T]:
    """Store ``new`` in place of ``current`` (412 if it changed meanwhile) and audit it.

    Nothing is written, nor audited, when ``new`` is what is stored already.
    """
    if new == current.value:
        return current
    try:
        saved = await documents.save(new, etag=current.etag)
    except Conflict:
        raise changed_meanwhile(what) from None
    await record_change(
        call,
        f"{target_type}.update",
        target_type=target_type,
        target_id=target_id,
        before=current.value,
        after=new,
    )
    return saved


def binding_kind(identity: str) -> Literal["applicationInstance", "phoneNumber"]:
    """Tell whether a called identity is a resource account or a phone number."""
    return "applicationInstance" if is_guid(identity) else "phoneNumber"


async def store_binding(
    call: TabRequest, *, identity: str, target: BindingTarget, target_id: str, display_name: str
) -> Binding:
    """Bind a called identity to a queue or IVR (409 if it is bound already) and audit it."""
    binding = Binding(
        id=identity,
        tenant_id=call.caller.tenant_id,
        target=target,
        target_id=target_id,
        display_name=display_name,
    )
    try:
        await repository(call).bindings.create(binding)
        call.deps.engine.binding_changed(binding.tenant_id, binding.id)
    except Conflict:
        raise ApiError(
            409,
            f"{binding.id} is bound already",
            code="alreadyBound",
            details=[{"field": "identity", "message": "bound already: delete that binding first"}],
        ) from None
    await record_change(
        call, "binding.create", target_type="binding", target_id=binding.id, after=binding
    )
    return binding


async def live_call_problems(
    repo: Repository, tenant_id: str, field: str, target_id: str
) -> Details:
    """Return a problem if calls are in a queue or IVR now (``field``: the call's field)."""
    live = await repo.calls.count(tenant_id, (Condition(field, Op.EQ, target_id),))
    if not live:
        return []
    return [{"field": "calls", "message": f"{live} calls are in it now"}]
