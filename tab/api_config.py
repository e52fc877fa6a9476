"""The caller experience's configuration: IVRs, caller lists, and the closed-now switch.

As in the rest of the admin console, a change is checked against the tenant's
configuration before anything is stored (targets exist, prompts were uploaded, the domain's
own rules hold), is one compare-and-set on one document, and leaves an audit entry with
the document before and after. The emergency switch is open to supervisors too, for the
queues they supervise. Queues share the hours, prompt and action helpers below.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from contactcenter.callbacks import validate_callback_settings
from contactcenter.callers import CALLER_LIST_ID, validate_caller_list
from contactcenter.errors import Conflict, InvalidInput, NotFound
from contactcenter.hours import validate_hours
from contactcenter.ivr import validate_ivr
from contactcenter.media import is_uploaded_prompt_id, parse_standard_id
from contactcenter.model import (
    ActionKind,
    Binding,
    BindingTarget,
    BusinessHours,
    CallbackSettings,
    CallerList,
    CallerListEntry,
    Holiday,
    HolidaySet,
    HoursMode,
    Ivr,
    Menu,
    MenuActionKind,
    MenuOption,
    OpenRange,
    Queue,
    QueueAction,
    Role,
    User,
)
from contactcenter.repository import Collection, Repository, Versioned
from tab.analytics import require_supervisor, supervised_queue_ids
from tab.config_schemas import (
    CallerEntryView,
    CallerListsBody,
    CallerListsView,
    ClosedNowBody,
    ClosedNowListView,
    ClosedNowView,
    IvrBindingBody,
    IvrBindingView,
    IvrBody,
    IvrListView,
    IvrView,
    MenuBody,
    MenuOptionBody,
    MenuOptionView,
    MenuView,
)
from tab.crud import (
    Details,
    binding_kind,
    changed_meanwhile,
    live_call_problems,
    record_change,
    repository,
    require_if_match,
    save_replacement,
    store_binding,
)
from tab.derived_shapes import fill
from tab.endpoints import ApiError, TabRequest, validation_failed
from tab.schemas import (
    BusinessHoursBody,
    BusinessHoursView,
    CallbackBody,
    CallbackView,
    QueueActionBody,
    QueueActionView,
)

_LOGGER = logging.getLogger(__name__)


# ================================================================ conversions
def action_from(body: QueueActionBody, before: QueueAction | None) -> QueueAction:
    """Return the action a body describes; a prompt left out keeps the one it had."""
    if "prompt_id" in body.model_fields_set:
        prompt_id = body.prompt_id
    else:
        prompt_id = before.prompt_id if before is not None else None
    return QueueAction(kind=body.kind, target=body.target, prompt_id=prompt_id)


def action_view(action: QueueAction) -> QueueActionView:
    return fill(QueueActionView, action)


def hours_from(body: BusinessHoursBody, before: BusinessHours | None) -> BusinessHours:
    """Return the business hours a body describes.

    The emergency switch is kept as it is unless the body names it: a form saved from a
    page loaded before a supervisor closed the queue must not open it again.
    """
    sent = body.model_fields_set
    earlier_sets = {s.name: s for s in before.holiday_sets} if before is not None else {}
    holiday_sets = []
    for holiday_set in body.holiday_sets:
        earlier = earlier_sets.get(holiday_set.name)
        holiday_sets.append(
            HolidaySet(
                name=holiday_set.name,
                holidays=tuple(Holiday(h.name, h.start, h.end) for h in holiday_set.holidays),
                action=(
                    action_from(holiday_set.action, earlier.action if earlier else None)
                    if holiday_set.action is not None
                    else None
                ),
            )
        )
    if "closed_now" in sent:
        closed_now = body.closed_now
    else:
        closed_now = before.closed_now if before is not None else False
    earlier_closed_now = before.closed_now_action if before is not None else None
    if "closed_now_action" not in sent:
        closed_now_action = earlier_closed_now
    elif body.closed_now_action is None:
        closed_now_action = None
    else:
        closed_now_action = action_from(body.closed_now_action, earlier_closed_now)
    mode = body.mode or (HoursMode.SET_TIMES if body.weekly else HoursMode.ALWAYS_OPEN)
    return BusinessHours(
        mode=mode,
        time_zone=body.time_zone,
        weekly=tuple(OpenRange(r.day, r.start, r.end) for r in body.weekly),
        holiday_sets=tuple(holiday_sets),
        closed_action=action_from(
            body.closed_action, before.closed_action if before is not None else None
        ),
        holiday_action=action_from(
            body.holiday_action, before.holiday_action if before is not None else None
        ),
        closed_now=closed_now,
        closed_now_action=closed_now_action,
    )


def hours_view(hours: BusinessHours | None) -> BusinessHoursView | None:
    return None if hours is None else fill(BusinessHoursView, hours)


def callback_from(body: CallbackBody) -> CallbackSettings:
    return CallbackSettings(**dict(body))


def callback_view(settings: CallbackSettings) -> CallbackView:
    return fill(CallbackView, settings)


# ===================================================================== checks
@dataclass(frozen=True, slots=True)
class TenantTargets:
    """What configuration may point at: the tenant's queues and users."""

    queues: dict[str, Queue]
    users: dict[str, User]


async def tenant_targets(repo: Repository, tenant_id: str) -> TenantTargets:
    return TenantTargets(
        queues={q.value.id: q.value for q in await repo.queues.find(tenant_id)},
        users={u.value.id: u.value for u in await repo.users.find(tenant_id)},
    )


def action_problem(
    action: QueueActionBody, targets: TenantTargets, *, own_queue_id: str | None = None
) -> str | None:
    """Return what is wrong with where an action sends calls, if anything."""
    problem = action.target_problem()
    if problem is not None:
        return problem
    if action.kind is ActionKind.QUEUE:
        if action.target == own_queue_id:
            return "a queue cannot send its calls to itself"
        if action.target not in targets.queues:
            return "no such queue"
    if (
        action.kind is ActionKind.VOICEMAIL
        and action.target is not None
        and action.target not in targets.queues
    ):
        return "no such queue"
    if action.kind is ActionKind.REDIRECT_USER and action.target not in targets.users:
        return "no such user in this organization"
    return None


def hours_actions(hours: BusinessHoursBody | None, where: str) -> list[tuple[str, QueueActionBody]]:
    """Return every action of a schedule with the field that names it."""
    if hours is None:
        return []
    found = [
        (f"{where}.closedAction", hours.closed_action),
        (f"{where}.holidayAction", hours.holiday_action),
    ]
    if hours.closed_now_action is not None:
        found.append((f"{where}.closedNowAction", hours.closed_now_action))
    for index, holiday_set in enumerate(hours.holiday_sets):
        if holiday_set.action is not None:
            found.append((f"{where}.holidaySets[{index}].action", holiday_set.action))
    return found


def action_problems(
    actions: Iterable[tuple[str, QueueActionBody]],
    targets: TenantTargets,
    *,
    own_queue_id: str | None = None,
) -> Details:
    details: Details = []
    for field, action in actions:
        problem = action_problem(action, targets, own_queue_id=own_queue_id)
        if problem is not None:
            details.append({"field": f"{field}.target", "message": problem})
    return details


async def prompt_problems(
    repo: Repository, tenant_id: str, prompts: Iterable[tuple[str, str | None]]
) -> Details:
    """Check that each prompt is a standard one or one the tenant uploaded."""
    named = [(field, prompt_id) for field, prompt_id in prompts if prompt_id]
    if not named:
        return []
    uploaded: set[str] | None = None
    details: Details = []
    for field, prompt_id in named:
        if parse_standard_id(prompt_id) is not None:
            continue
        if not is_uploaded_prompt_id(prompt_id):
            details.append({"field": field, "message": "not a prompt id"})
            continue
        if uploaded is None:
            uploaded = {p.value.id for p in await repo.prompts.find(tenant_id)}
        if prompt_id not in uploaded:
            details.append({"field": field, "message": "no such prompt: upload it first"})
    return details


def action_prompts(actions: Iterable[tuple[str, QueueActionBody]]) -> list[tuple[str, str | None]]:
    return [(f"{field}.promptId", action.prompt_id) for field, action in actions]


def domain_problems(*checks: Callable[[], object]) -> Details:
    """Run the domain's validators; return the problem each one found, field by field."""
    details: Details = []
    for check in checks:
        try:
            check()
        except InvalidInput as err:
            details.append({"field": err.field or "body", "message": str(err)})
    return details


def check_hours(hours: BusinessHours | None) -> Callable[[], object]:
    return lambda: validate_hours(hours) if hours is not None else None


def check_callback(settings: CallbackSettings) -> Callable[[], object]:
    return lambda: validate_callback_settings(settings)


# ======================================================================= IVRs
def _option_from(body: MenuOptionBody) -> MenuOption:
    return MenuOption(digit=body.digit, action=body.action, target=body.target, label=body.label)


def _option_view(option: MenuOption) -> MenuOptionView:
    return fill(MenuOptionView, option)


def _menu_from(body: MenuBody) -> Menu:
    return Menu(
        id=body.id,
        name=body.name,
        prompt_id=body.prompt_id,
        options=tuple(_option_from(o) for o in body.options),
        timeout_s=body.timeout_s,
        max_retries=body.max_retries,
        fallback=_option_from(body.fallback) if body.fallback is not None else None,
    )


def _menu_view(menu: Menu) -> MenuView:
    return fill(MenuView, menu)


def _ivr_binding_view(binding: Binding) -> IvrBindingView:
    return IvrBindingView(
        id=binding.id,
        kind=binding_kind(binding.id),
        ivr_id=binding.target_id,
        display_name=binding.display_name,
    )


def ivr_view(found: Versioned[Ivr], bindings: Sequence[Binding]) -> IvrView:
    ivr = found.value
    return IvrView(
        id=ivr.id,
        name=ivr.name,
        menus=[_menu_view(m) for m in ivr.menus],
        root_menu_id=ivr.root_menu_id,
        greeting_prompt_id=ivr.greeting_prompt_id,
        language=ivr.language,
        hours=hours_view(ivr.hours),
        bindings=[
            _ivr_binding_view(b)
            for b in sorted(bindings, key=lambda b: b.id)
            if b.target is BindingTarget.IVR and b.target_id == ivr.id
        ],
        etag=found.etag,
    )


def _ivr_from(body: IvrBody, ivr_id: str, tenant_id: str, base: Ivr | None) -> Ivr:
    return Ivr(
        id=ivr_id,
        tenant_id=tenant_id,
        name=body.name,
        menus=tuple(_menu_from(m) for m in body.menus),
        root_menu_id=body.root_menu_id,
        greeting_prompt_id=body.greeting_prompt_id,
        language=body.language,
        hours=(
            hours_from(body.hours, base.hours if base is not None else None)
            if body.hours is not None
            else None
        ),
    )


async def _check_ivr(call: TabRequest, body: IvrBody, ivr: Ivr) -> None:
    """Refuse an IVR that breaks a rule or points at nothing (422 with details)."""
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    targets = await tenant_targets(repo, tenant_id)
    details: Details = []
    clash = next(
        (
            other.value
            for other in await repo.ivrs.find(tenant_id)
            if other.value.id != ivr.id and other.value.name.casefold() == body.name.casefold()
        ),
        None,
    )
    if clash is not None:
        details.append({"field": "name", "message": f"another IVR is called {clash.name}"})
    prompts: list[tuple[str, str | None]] = [("greetingPromptId", body.greeting_prompt_id)]
    for index, menu in enumerate(body.menus):
        where = f"menus[{index}]"
        prompts.append((f"{where}.promptId", menu.prompt_id))
        options = [(f"{where}.options[{i}]", o) for i, o in enumerate(menu.options)]
        if menu.fallback is not None:
            options.append((f"{where}.fallback", menu.fallback))
        for at, option in options:
            if option.action is MenuActionKind.USER and option.target not in targets.users:
                details.append(
                    {"field": f"{at}.target", "message": "no such user in this organization"}
                )
    actions = hours_actions(body.hours, "hours")
    details += action_problems(actions, targets)
    details += await prompt_problems(repo, tenant_id, [*prompts, *action_prompts(actions)])
    if not details:
        details = domain_problems(lambda: validate_ivr(ivr, queue_ids=set(targets.queues)))
    if details:
        raise validation_failed(details)


async def _bindings(repo: Repository, tenant_id: str) -> list[Binding]:
    return [b.value for b in await repo.bindings.find(tenant_id)]


async def list_ivrs(call: TabRequest) -> IvrListView:
    """List the tenant's IVRs."""
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    found = await repo.ivrs.find(tenant_id)
    found.sort(key=lambda i: i.value.name.casefold())
    bindings = await _bindings(repo, tenant_id)
    return IvrListView(ivrs=[ivr_view(i, bindings) for i in found])


async def get_ivr(call: TabRequest) -> IvrView:
    """Return one IVR (its etag goes back as If-Match on update)."""
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    found = await repo.ivrs.get(tenant_id, call.param("ivrId"))
    return ivr_view(found, await _bindings(repo, tenant_id))


async def create_ivr(call: TabRequest) -> IvrView:
    """Create an IVR."""
    body = call.body(IvrBody)
    caller = call.caller
    ivr = _ivr_from(body, str(uuid.uuid4()), caller.tenant_id, None)
    await _check_ivr(call, body, ivr)
    created = await repository(call).ivrs.create(ivr)
    await record_change(call, "ivr.create", target_type="ivr", target_id=ivr.id, after=ivr)
    return ivr_view(created, [])


async def update_ivr(call: TabRequest) -> IvrView:
    """Replace an IVR's configuration (If-Match: only if nobody changed it meanwhile)."""
    body = call.body(IvrBody)
    caller = call.caller
    repo = repository(call)
    current = await repo.ivrs.get(caller.tenant_id, call.param("ivrId"))
    require_if_match(call, current.etag, "IVR")
    new = _ivr_from(body, current.value.id, caller.tenant_id, current.value)
    await _check_ivr(call, body, new)
    bindings = await _bindings(repo, caller.tenant_id)
    saved = await save_replacement(
        call, repo.ivrs, current, new, what="IVR", target_type="ivr", target_id=new.id
    )
    call.deps.engine.ivr_changed(caller.tenant_id, new.id)
    return ivr_view(saved, bindings)


async def delete_ivr(call: TabRequest) -> None:
    """Delete an IVR no number is bound to and no caller is in."""
    caller = call.caller
    repo = repository(call)
    tenant_id = caller.tenant_id
    current = await repo.ivrs.get(tenant_id, call.param("ivrId"))
    ivr_id = current.value.id
    problems: Details = [
        {"field": "bindings", "message": f"{b.id} is bound to it"}
        for b in await _bindings(repo, tenant_id)
        if b.target is BindingTarget.IVR and b.target_id == ivr_id
    ]
    problems += await live_call_problems(repo, tenant_id, "ivrId", ivr_id)
    if problems:
        raise ApiError(409, "the IVR is in use", code="ivrInUse", details=problems)
    await repo.ivrs.delete(tenant_id, ivr_id, etag=current.etag)
    call.deps.engine.ivr_changed(tenant_id, ivr_id)
    await record_change(
        call, "ivr.delete", target_type="ivr", target_id=ivr_id, before=current.value
    )


async def bind_to_ivr(call: TabRequest) -> IvrBindingView:
    """Bind a resource account (application instance id) or a phone number to an IVR."""
    body = call.body(IvrBindingBody)
    caller = call.caller
    repo = repository(call)
    ivr = (await repo.ivrs.get(caller.tenant_id, call.param("ivrId"))).value
    binding = await store_binding(
        call,
        identity=body.identity,
        target=BindingTarget.IVR,
        target_id=ivr.id,
        display_name=body.display_name,
    )
    return _ivr_binding_view(binding)


# =============================================================== caller lists
def _entry_view(entry: CallerListEntry) -> CallerEntryView:
    return fill(CallerEntryView, entry)


async def _caller_list(repo: Repository, tenant_id: str) -> Versioned[CallerList] | None:
    try:
        return await repo.caller_lists.get(tenant_id, CALLER_LIST_ID)
    except NotFound:
        return None


def _lists_view(found: Versioned[CallerList] | None) -> CallerListsView:
    if found is None:
        return CallerListsView(entries=[], etag="")
    return CallerListsView(entries=[_entry_view(e) for e in found.value.entries], etag=found.etag)


async def get_caller_lists(call: TabRequest) -> CallerListsView:
    """Return the blocked and VIP callers."""
    return _lists_view(await _caller_list(repository(call), call.caller.tenant_id))


async def replace_caller_lists(call: TabRequest) -> CallerListsView:
    """Replace the blocked and VIP callers (If-Match: only if nobody changed them meanwhile)."""
    body = call.body(CallerListsBody)
    caller = call.caller
    tenant_id = caller.tenant_id
    repo = repository(call)
    entries = [
        CallerListEntry(
            kind=e.kind,
            party_kind=e.party_kind,
            value=e.value,
            reason=e.reason,
            priority_boost=e.priority_boost,
        )
        for e in body.entries
    ]
    try:
        checked = validate_caller_list(entries)
    except InvalidInput as err:
        raise validation_failed([{"field": err.field or "entries", "message": str(err)}]) from err
    current = await _caller_list(repo, tenant_id)
    require_if_match(call, current.etag if current is not None else "", "caller lists")
    new = CallerList(id=CALLER_LIST_ID, tenant_id=tenant_id, entries=checked)
    if current is not None and new == current.value:
        return _lists_view(current)
    try:
        if current is None:
            saved = await repo.caller_lists.create(new)
        else:
            saved = await repo.caller_lists.save(new, etag=current.etag)
    except Conflict:
        raise changed_meanwhile("caller lists") from None
    call.deps.engine.caller_list_changed(tenant_id)
    await record_change(
        call,
        "callers.update",
        target_type="callerList",
        target_id=CALLER_LIST_ID,
        before=current.value if current is not None else None,
        after=new,
    )
    return _lists_view(saved)


# ============================================================== closed now
def ivr_queue_ids(ivr: Ivr) -> set[str]:
    """Return the queues an IVR sends callers to (options, fallbacks, closed actions)."""
    found: set[str] = set()
    for menu in ivr.menus:
        options = [*menu.options, *([menu.fallback] if menu.fallback is not None else [])]
        for option in options:
            if option.action in (MenuActionKind.QUEUE, MenuActionKind.VOICEMAIL) and option.target:
                found.add(option.target)
    hours = ivr.hours
    if hours is not None:
        actions = [hours.closed_action, hours.holiday_action, hours.closed_now_action]
        actions += [s.action for s in hours.holiday_sets]
        for action in actions:
            if (
                action is not None
                and action.kind in (ActionKind.QUEUE, ActionKind.VOICEMAIL)
                and action.target
            ):
                found.add(action.target)
    return found


def may_switch_ivr(user: User, ivr: Ivr, mine: Iterable[str]) -> bool:
    """Tell whether the user may close an IVR: admins, supervisors of every queue, and
    scoped supervisors who supervise every queue the IVR sends callers to."""
    if Role.ADMIN in user.roles:
        return True
    if Role.SUPERVISOR not in user.roles:
        return False
    if user.supervises_all_queues:
        return True
    reachable = ivr_queue_ids(ivr)
    return bool(reachable) and reachable <= set(mine)


def _closed_now_view(kind: str, thing: Queue | Ivr) -> ClosedNowView:
    hours = thing.hours
    action = hours.closed_now_action if hours is not None else None
    return ClosedNowView(
        kind="queue" if kind == "queue" else "ivr",
        id=thing.id,
        name=thing.name,
        closed_now=hours.closed_now if hours is not None else False,
        closed_now_action=action_view(action) if action is not None else None,
    )


async def list_closed_now(call: TabRequest) -> ClosedNowListView:
    """List the queues and IVRs I may close now, and whether they are."""
    user = require_supervisor(call)
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    queues = sorted((q.value for q in await repo.queues.find(tenant_id)), key=_by_name)
    mine = supervised_queue_ids(user, queues)
    ivrs = sorted((i.value for i in await repo.ivrs.find(tenant_id)), key=_by_name)
    return ClosedNowListView(
        items=[
            *(_closed_now_view("queue", q) for q in queues if q.id in mine),
            *(_closed_now_view("ivr", i) for i in ivrs if may_switch_ivr(user, i, mine)),
        ]
    )


def _by_name(thing: Queue | Ivr) -> str:
    return thing.name.casefold()


def _switched(hours: BusinessHours | None, body: ClosedNowBody) -> BusinessHours:
    before = hours or BusinessHours()
    action = before.closed_now_action
    if "action" in body.model_fields_set:
        action = action_from(body.action, action) if body.action is not None else None
    return replace(before, closed_now=body.closed, closed_now_action=action)


async def _check_switch(call: TabRequest, body: ClosedNowBody, own_queue_id: str | None) -> None:
    if body.action is None:
        return
    repo = repository(call)
    targets = await tenant_targets(repo, call.caller.tenant_id)
    actions = [("action", body.action)]
    details = action_problems(actions, targets, own_queue_id=own_queue_id)
    details += await prompt_problems(repo, call.caller.tenant_id, action_prompts(actions))
    if not details:
        probe = BusinessHours(closed_now_action=action_from(body.action, None))
        details = [
            {
                "field": d["field"].replace("hours.closedNowAction", "action"),
                "message": d["message"],
            }
            for d in domain_problems(check_hours(probe))
        ]
    if details:
        raise validation_failed(details)


async def set_queue_closed_now(call: TabRequest) -> ClosedNowView:
    """Close a queue now whatever its hours say, or open it again (its supervisors too)."""
    user = require_supervisor(call)
    body = call.body(ClosedNowBody)
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    queue = (await repo.queues.get(tenant_id, call.param("queueId"))).value
    if queue.id not in supervised_queue_ids(user, [queue]):
        raise ApiError(403, "you do not supervise that queue", code="notYourQueue")
    await _check_switch(call, body, queue.id)
    saved = await _switch(call, repo.queues, queue.id, body, "queue")
    call.deps.engine.queue_changed(tenant_id, queue.id)
    return _closed_now_view("queue", saved)


async def set_ivr_closed_now(call: TabRequest) -> ClosedNowView:
    """Close an IVR now whatever its hours say, or open it again."""
    user = require_supervisor(call)
    body = call.body(ClosedNowBody)
    repo = repository(call)
    tenant_id = call.caller.tenant_id
    ivr = (await repo.ivrs.get(tenant_id, call.param("ivrId"))).value
    queues = [q.value for q in await repo.queues.find(tenant_id)]
    if not may_switch_ivr(user, ivr, supervised_queue_ids(user, queues)):
        raise ApiError(
            403, "you do not supervise every queue this IVR sends calls to", code="notYourIvr"
        )
    await _check_switch(call, body, None)
    saved = await _switch(call, repo.ivrs, ivr.id, body, "ivr")
    call.deps.engine.ivr_changed(tenant_id, ivr.id)
    return _closed_now_view("ivr", saved)


_Switchable = TypeVar("_Switchable", Queue, Ivr)


async def _switch(
    call: TabRequest,
    documents: Collection[_Switchable],
    doc_id: str,
    body: ClosedNowBody,
    kind: str,
) -> _Switchable:
    """Set a queue's or IVR's emergency switch in one compare-and-set; audit a change."""
    before: list[_Switchable] = []

    def switch(current: _Switchable) -> _Switchable | None:
        before[:] = [current]
        hours = _switched(current.hours, body)
        return None if hours == current.hours else replace(current, hours=hours)

    saved = await documents.update(call.caller.tenant_id, doc_id, switch)
    assert saved is not None
    if before and before[0] != saved.value:
        await _audit_switch(call, kind, before[0], saved.value)
    return saved.value


async def _audit_switch(
    call: TabRequest, kind: str, before: Queue | Ivr, after: Queue | Ivr
) -> None:
    caller = call.caller
    _LOGGER.warning(
        "%s %s %s by %s",
        kind,
        after.id,
        "closed now" if after.hours is not None and after.hours.closed_now else "opened",
        caller.user_id,
        extra={"tenant_id": caller.tenant_id},
    )
    await record_change(
        call,
        f"{kind}.closed-now",
        target_type=kind,
        target_id=after.id,
        before=before,
        after=after,
    )
