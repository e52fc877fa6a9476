"""Parse Graph's ``commsNotifications`` webhook bodies into the domain's call events.

msgraph-sdk has no model for these notifications, so the JSON is validated here with
pydantic and mapped onto :mod:`contactcenter.events`. Only the shape is checked: a
notification about something the domain does not follow is skipped, not refused.

Graph sends notifications in batches. A body that is not a batch at all is refused
(:class:`InvalidNotification`); within a batch, each notification stands alone: one that
is malformed is logged once, with its call id, and skipped while the others apply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from contactcenter.events import (
    CallEvent,
    CallStateChanged,
    GraphCallState,
    IncomingCall,
    OperationFinished,
    OperationKind,
    OperationStatus,
    RosterEntry,
    RosterUpdated,
    ToneReceived,
)
from contactcenter.inbound import InvalidJson, parse_json, plain_text, unsafe_character
from contactcenter.model import Party, PartyKind

_LOGGER = logging.getLogger(__name__)

__all__ = ["InvalidNotification", "canonical_id", "parse_notifications"]

_M = TypeVar("_M", bound=BaseModel)


class InvalidNotification(ValueError):
    """The body is not a well-formed ``commsNotifications`` payload."""


# ----------------------------------------------------------------- JSON shapes
class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _Identity(_Model):
    id: str | None = None
    display_name: str | None = None
    tenant_id: str | None = None


class _IdentitySet(_Model):
    user: _Identity | None = None
    application: _Identity | None = None
    application_instance: _Identity | None = None
    phone: _Identity | None = None


class _ParticipantInfo(_Model):
    identity: _IdentitySet | None = None


class _ResultInfo(_Model):
    # The resultInfo resource documents Int32; the delete-call page writes the numbers as
    # strings ("200"), which validate as the numbers they spell. The transfer page spells
    # the subcode "subCode".
    code: int | None = None
    subcode: int | None = Field(default=None, validation_alias=AliasChoices("subcode", "subCode"))
    message: str | None = None


class _ToneInfo(_Model):
    sequence_id: int
    tone: str


class _CallResource(_Model):
    state: str | None = None
    call_chain_id: str | None = None
    source: _ParticipantInfo | None = None
    targets: list[_ParticipantInfo] | None = None
    result_info: _ResultInfo | None = None
    # A consultative transfer ends with "AppTransferred" here and no resultInfo.
    termination_reason: str | None = None
    tone_info: _ToneInfo | None = None


class _OperationResource(_Model):
    odata_type: str | None = Field(default=None, alias="@odata.type")
    id: str | None = None
    status: str | None = None
    client_context: str | None = None
    result_info: _ResultInfo | None = None
    participants: list[_ParticipantInfo] | None = None
    recording_location: str | None = None
    recording_access_token: str | None = None


class _ParticipantResource(_Model):
    id: str | None = None
    info: _ParticipantInfo | None = None
    is_in_lobby: bool | None = None


class _Notification(_Model):
    change_type: str
    resource_url: str
    # Absent on some notifications (content sharing started): nothing the domain follows.
    resource_data: dict[str, Any] | list[dict[str, Any]] | None = None


class _Envelope(_Model):
    # Each notification is validated on its own, so one bad item spoils only itself.
    value: list[Any]


# ------------------------------------------------------------------ vocabulary
# ".../calls/{callId}", optionally followed by "/operations/{opId}" or "/participants".
# Graph's own examples use both "/communications/calls/..." and "/app/calls/...".
_RESOURCE = re.compile(
    r"(?:^|/)calls/(?P<call>[^/?#]+)"
    r"(?:/(?P<kind>operations|participants)(?:/(?P<sub>[^/?#]+))?)?/?$"
)

_OPERATION_KINDS = {
    "#microsoft.graph.inviteparticipantsoperation": OperationKind.INVITE,
    "#microsoft.graph.playpromptoperation": OperationKind.PLAY_PROMPT,
    "#microsoft.graph.recordoperation": OperationKind.RECORD_RESPONSE,
    "#microsoft.graph.subscribetotoneoperation": OperationKind.SUBSCRIBE_TO_TONE,
    "#microsoft.graph.cancelmediaprocessingoperation": OperationKind.CANCEL_MEDIA_PROCESSING,
}

_STATES = {state.value.lower(): state for state in GraphCallState}
_STATUSES = {status.value.lower(): status for status in OperationStatus}
_FINISHED = frozenset({OperationStatus.COMPLETED, OperationStatus.FAILED})

_TONES = {f"tone{digit}": str(digit) for digit in range(10)} | {"star": "*", "pound": "#"}

_GUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


def canonical_id(value: str) -> str:
    """Return a GUID in its lowercase, hyphenated form; any other id unchanged.

    Graph writes the same id both ways (a playPrompt answers
    ``0fe0623f-d628-...`` and its completion names ``0FE0623FD628...``), so ids are
    compared in one form.
    """
    if not _GUID.fullmatch(value):
        return value
    digits = value.replace("-", "").lower()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


# Graph's ids are GUIDs or short base64-like strings; anything else would fail later, in
# the store (Cosmos DB ids are at most 255 characters) or in a log line.
MAX_ID_CHARS = 256


def _sane_id(value: str) -> bool:
    return 0 < len(value) <= MAX_ID_CHARS and "\\" not in value and unsafe_character(value) is None


# Teams display names are at most 256 characters; a carrier's caller name, 15.
MAX_DISPLAY_NAME_CHARS = 256


def _display_name(value: str | None) -> str:
    """Return a name from outside as plain single-line text of bounded length."""
    return plain_text(value or "")[:MAX_DISPLAY_NAME_CHARS]


def _id_of(identity: _Identity | None) -> str | None:
    if identity is None or not identity.id:
        return None
    if not _sane_id(identity.id):
        raise InvalidNotification("an identity's id is not an id")
    return canonical_id(identity.id)


# --------------------------------------------------------------------- parsing
def parse_notifications(
    body: bytes | str | Mapping[str, Any], *, tenant_id: str
) -> list[CallEvent]:
    """Turn one webhook body into call events, in the order Graph listed them.

    ``tenant_id`` is the ``tid`` claim of the validated bearer token: operation and
    roster notifications carry no tenant of their own. Raises
    :class:`InvalidNotification` when the body is not JSON or not a ``commsNotifications``
    batch; a malformed notification within a batch is logged (WARNING, with its call id)
    and skipped, and the others are returned.
    """
    document = _load(body)
    try:
        envelope = _Envelope.model_validate(document)
    except ValidationError as err:
        raise InvalidNotification(_describe(err)) from err
    events: list[CallEvent] = []
    for item in envelope.value:
        try:
            notification = _validate(_Notification, item, "notification")
            events.extend(_parse_one(notification, tenant_id))
        except InvalidNotification as err:
            call_id = _call_id_of(item)
            _LOGGER.warning(
                "Skipping a malformed notification on call %s: %s",
                call_id or "(unknown)",
                err,
                extra={"call_id": call_id, "tenant_id": tenant_id},
            )
    return events


def _call_id_of(item: Any) -> str | None:
    """Return the call id a notification's resource URL names, if it names one."""
    url = item.get("resourceUrl") if isinstance(item, dict) else None
    match = _RESOURCE.search(url) if isinstance(url, str) else None
    return canonical_id(match["call"]) if match is not None else None


def _load(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        document = parse_json(body.encode() if isinstance(body, str) else body)
    except (InvalidJson, UnicodeEncodeError) as err:
        raise InvalidNotification(f"the body is not JSON: {err}") from err
    if not isinstance(document, dict):
        raise InvalidNotification("the body is not a JSON object")
    return document


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def _validate(model: type[_M], data: Any, resource_url: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InvalidNotification(f"{resource_url}: {_describe(err)}") from err


def _parse_one(notification: _Notification, tenant_id: str) -> list[CallEvent]:
    match = _RESOURCE.search(notification.resource_url)
    if match is None:
        _LOGGER.debug("Skipping a notification on %s", notification.resource_url)
        return []
    for part in ("call", "sub"):
        if match[part] is not None and not _sane_id(match[part]):
            raise InvalidNotification(f"{notification.resource_url!r}: not a {part} id")
    call_id = canonical_id(match["call"])
    data = notification.resource_data
    url = notification.resource_url
    if data is None:
        _LOGGER.debug("Skipping a notification without resource data on %s", url)
        return []
    if isinstance(data, list):
        if url.rstrip("/").endswith("/participants"):
            return [_roster(data, tenant_id, call_id, url)]
        _LOGGER.debug("Skipping a list notification on %s", url)
        return []
    if match["kind"] is None:
        call = _validate(_CallResource, data, url)
        return _call_events(notification.change_type, call, tenant_id, call_id)
    if match["kind"] == "operations":
        operation = _validate(_OperationResource, data, url)
        finished = _operation(operation, tenant_id, call_id, match["sub"])
        return [] if finished is None else [finished]
    _LOGGER.debug("Skipping a notification on %s", url)
    return []


def _call_events(
    change_type: str, call: _CallResource, tenant_id: str, call_id: str
) -> list[CallEvent]:
    change = change_type.lower()
    state = _STATES.get((call.state or "").lower())
    if state is None and change == "deleted":
        # A deleted call has ended, whether or not Graph repeated the state.
        state = GraphCallState.TERMINATED
    if state is GraphCallState.INCOMING and change == "created":
        return [_incoming(call, tenant_id, call_id)]
    events: list[CallEvent] = []
    if state is not None and state is not GraphCallState.INCOMING:
        result = call.result_info or _ResultInfo()
        events.append(
            CallStateChanged(
                tenant_id=tenant_id,
                call_id=call_id,
                state=state,
                result_code=result.code,
                result_subcode=result.subcode,
                result_message=result.message or "",
                termination_reason=call.termination_reason or "",
            )
        )
    elif call.state is not None:
        _LOGGER.debug("Skipping call %s in state %s", call_id, call.state)
    if call.tone_info is not None:
        tone = _TONES.get(call.tone_info.tone.lower())
        if tone is None:
            _LOGGER.debug("Skipping tone %s on call %s", call.tone_info.tone, call_id)
        else:
            events.append(
                ToneReceived(
                    tenant_id=tenant_id,
                    call_id=call_id,
                    tone=tone,
                    sequence_id=call.tone_info.sequence_id,
                )
            )
    return events


def _incoming(call: _CallResource, tenant_id: str, call_id: str) -> IncomingCall:
    target_id = ""
    target_name = ""
    if call.targets and call.targets[0].identity is not None:
        identity = call.targets[0].identity
        # A resource account is an application instance; a direct call to the bot
        # names the application itself.
        called = identity.application_instance or identity.phone or identity.application
        if called is not None and called.id:
            target_id = called.id if called is identity.phone else canonical_id(called.id)
            target_name = _display_name(called.display_name)
    return IncomingCall(
        tenant_id=tenant_id,
        call_id=call_id,
        caller=_caller(call.source),
        target_id=target_id,
        chain_id=call.call_chain_id or "",
        target_display_name=target_name,
    )


def _caller(source: _ParticipantInfo | None) -> Party:
    identity = source.identity if source is not None else None
    if identity is not None:
        if identity.phone is not None and identity.phone.id:
            if not _sane_id(identity.phone.id):
                raise InvalidNotification("the caller's number is not a phone number")
            return Party(
                kind=PartyKind.PHONE,
                id=identity.phone.id,
                display_name=_display_name(identity.phone.display_name),
            )
        user_id = _id_of(identity.user)
        if identity.user is not None and user_id is not None:
            tenant = identity.user.tenant_id
            return Party(
                kind=PartyKind.USER,
                id=user_id,
                display_name=_display_name(identity.user.display_name),
                tenant_id=canonical_id(tenant) if tenant else None,
            )
    return Party(kind=PartyKind.ANONYMOUS)


def _operation(
    operation: _OperationResource, tenant_id: str, call_id: str, url_operation_id: str | None
) -> OperationFinished | None:
    status = _STATUSES.get((operation.status or "").lower())
    if status not in _FINISHED:
        _LOGGER.debug("Skipping operation status %s on call %s", operation.status, call_id)
        return None
    # A completion may name its operation only in the resource URL. An invitation of
    # several participants completes on ".../operations/participants" with "id": null:
    # it is known by its client context alone.
    if url_operation_id is not None and url_operation_id.lower() == "participants":
        url_operation_id = None
    operation_id = operation.id or url_operation_id or ""
    if not operation_id and not operation.client_context:
        _LOGGER.debug("Skipping an operation without an id on call %s", call_id)
        return None
    kind = _OPERATION_KINDS.get((operation.odata_type or "").lower(), OperationKind.OTHER)
    result = operation.result_info or _ResultInfo()
    user_ids = tuple(
        user_id
        for participant in operation.participants or ()
        if participant.identity is not None
        and (user_id := _id_of(participant.identity.user)) is not None
    )
    return OperationFinished(
        tenant_id=tenant_id,
        call_id=call_id,
        operation_id=canonical_id(operation_id) if operation_id else "",
        kind=kind,
        status=status,
        client_context=operation.client_context or "",
        result_code=result.code,
        result_subcode=result.subcode,
        result_message=result.message or "",
        user_ids=user_ids,
        recording_location=operation.recording_location,
        recording_access_token=operation.recording_access_token,
    )


def _roster(
    data: list[dict[str, Any]], tenant_id: str, call_id: str, resource_url: str
) -> RosterUpdated:
    entries = []
    for item in data:
        participant = _validate(_ParticipantResource, item, resource_url)
        identity = participant.info.identity if participant.info is not None else None
        phone = identity.phone.id if identity is not None and identity.phone is not None else None
        entries.append(
            RosterEntry(
                participant_id=canonical_id(participant.id or ""),
                user_id=_id_of(identity.user) if identity is not None else None,
                application_id=(
                    _id_of(identity.application or identity.application_instance)
                    if identity is not None
                    else None
                ),
                phone=phone or None,
                is_in_lobby=bool(participant.is_in_lobby),
            )
        )
    return RosterUpdated(tenant_id=tenant_id, call_id=call_id, participants=tuple(entries))
