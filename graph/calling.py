"""Call control and presence through the real msgraph-sdk client.

:class:`GraphCallControl` implements :class:`~contactcenter.ports.CallControl` and
:class:`GraphPresence` implements :class:`~contactcenter.ports.Presence`. Both retry
throttling and transient failures themselves (docs/decisions/0003-graph-retries.md) and
translate Kiota's ``APIError`` into the domain's errors at this boundary.

The same code talks to graph.microsoft.com and to the local Teams simulator: only the
base URL and the credential differ (:func:`build_graph_client`).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import logging
import random
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import (
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware import (
    BaseMiddleware,
    ParametersNameDecodingHandler,
    UserAgentHandler,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.communications.calls.item.answer.answer_post_request_body import (
    AnswerPostRequestBody,
)
from msgraph.generated.communications.calls.item.cancel_media_processing.cancel_media_processing_post_request_body import (
    CancelMediaProcessingPostRequestBody,
)
from msgraph.generated.communications.calls.item.participants.invite.invite_post_request_body import (
    InvitePostRequestBody,
)
from msgraph.generated.communications.calls.item.play_prompt.play_prompt_post_request_body import (
    PlayPromptPostRequestBody,
)
from msgraph.generated.communications.calls.item.record_response.record_response_post_request_body import (
    RecordResponsePostRequestBody,
)
from msgraph.generated.communications.calls.item.redirect.redirect_post_request_body import (
    RedirectPostRequestBody,
)
from msgraph.generated.communications.calls.item.reject.reject_post_request_body import (
    RejectPostRequestBody,
)
from msgraph.generated.communications.calls.item.subscribe_to_tone.subscribe_to_tone_post_request_body import (
    SubscribeToTonePostRequestBody,
)
from msgraph.generated.communications.calls.item.transfer.transfer_post_request_body import (
    TransferPostRequestBody,
)
from msgraph.generated.communications.get_presences_by_user_id.get_presences_by_user_id_post_request_body import (
    GetPresencesByUserIdPostRequestBody,
)
from msgraph.generated.models.call import Call
from msgraph.generated.models.communications_identity_set import CommunicationsIdentitySet
from msgraph.generated.models.identity import Identity
from msgraph.generated.models.invitation_participant_info import InvitationParticipantInfo
from msgraph.generated.models.media_info import MediaInfo
from msgraph.generated.models.media_prompt import MediaPrompt as GraphMediaPrompt
from msgraph.generated.models.modality import Modality
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.participant_info import ParticipantInfo
from msgraph.generated.models.reject_reason import RejectReason as GraphRejectReason
from msgraph.generated.models.service_hosted_media_config import ServiceHostedMediaConfig
from msgraph.graph_request_adapter import options as sdk_middleware_options
from msgraph_core import GraphClientFactory
from msgraph_core.middleware import GraphTelemetryHandler
from msgraph_core.middleware.options import GraphTelemetryHandlerOption
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from contactcenter.errors import (
    CallControlError,
    DomainError,
    InvalidInput,
    NotFound,
    Throttled,
    Unavailable,
)
from contactcenter.events import RosterEntry
from contactcenter.model import Party, PartyKind
from contactcenter.ports import (
    Invitation,
    MediaPrompt,
    OutboundCall,
    PresenceReading,
    RejectReason,
)
from graph.connection_pool import graph_transport
from graph.notifications import canonical_id
from graph.retry_after import retry_after_seconds

_LOGGER = logging.getLogger(__name__)

# msgraph-sdk's request builder modules (and one of kiota-abstractions') define
# deprecated configuration classes that warn as their modules are imported, lazily, on
# first use. Import the ones this module uses now, once, so those warnings do not
# surface in the middle of a call.
_CALLS = "msgraph.generated.communications.calls"
_LAZY_MODULES = (
    "kiota_abstractions.default_query_parameters",
    "msgraph.generated.communications.communications_request_builder",
    f"{_CALLS}.calls_request_builder",
    f"{_CALLS}.item.call_item_request_builder",
    f"{_CALLS}.item.answer.answer_request_builder",
    f"{_CALLS}.item.reject.reject_request_builder",
    f"{_CALLS}.item.redirect.redirect_request_builder",
    f"{_CALLS}.item.transfer.transfer_request_builder",
    f"{_CALLS}.item.play_prompt.play_prompt_request_builder",
    f"{_CALLS}.item.cancel_media_processing.cancel_media_processing_request_builder",
    f"{_CALLS}.item.subscribe_to_tone.subscribe_to_tone_request_builder",
    f"{_CALLS}.item.record_response.record_response_request_builder",
    f"{_CALLS}.item.keep_alive.keep_alive_request_builder",
    f"{_CALLS}.item.participants.participants_request_builder",
    f"{_CALLS}.item.participants.invite.invite_request_builder",
    f"{_CALLS}.item.participants.item.participant_item_request_builder",
    "msgraph.generated.communications.get_presences_by_user_id."
    "get_presences_by_user_id_request_builder",
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    for _module in _LAZY_MODULES:
        importlib.import_module(_module)

__all__ = [
    "LOOPBACK_HOSTS",
    "PRESENCE_BATCH_SIZE",
    "GraphCallControl",
    "GraphHttpClient",
    "GraphPresence",
    "RetryPolicy",
    "StaticTokenProvider",
    "build_graph_client",
    "graph_middleware",
]

_T = TypeVar("_T")

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts that may be reached over plain http and given a static token."""

PRESENCE_BATCH_SIZE = 650
"""Graph's limit of user ids in one ``getPresencesByUserId`` request."""

_RETRY_STATUSES = frozenset({429, 503, 504})
# Failures that happen before the request reaches Graph: safe to repeat for any action.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# recordResponse (voicemail): give the caller time to start after the beep and to pause.
_RECORD_INITIAL_SILENCE_S = 10
_RECORD_MAX_SILENCE_S = 10
_RECORD_STOP_TONES = ["#"]


# ------------------------------------------------------------------- the client
class StaticTokenProvider:
    """Hand one fixed bearer token to loopback hosts: the local simulator's demo token.

    It has the shape of Kiota's ``AccessTokenProvider``. It never gives the token to a
    host outside ``allowed_hosts``, nor over plain http to anything but loopback.
    """

    def __init__(self, token: str, *, allowed_hosts: Iterable[str] = LOOPBACK_HOSTS) -> None:
        if not token:
            raise ValueError("the static token is empty")
        self._token = token
        self._hosts = AllowedHostsValidator(sorted(allowed_hosts))

    def __repr__(self) -> str:
        return f"StaticTokenProvider(allowed_hosts={self._hosts.get_allowed_hosts()!r})"

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        """Return the token for ``uri``, or an empty string for a host it is not meant for."""
        if not self._hosts.is_url_host_valid(uri):
            return ""
        parts = urlsplit(uri)
        if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError("a bearer token goes over https, or over http to loopback only")
        return self._token

    def get_allowed_hosts_validator(self) -> Any:
        """Return Kiota's validator of the hosts that get the token."""
        return self._hosts


class UrlOnceAuthentication:
    """Expand a request's URL template once, then authenticate the request with ``inner``.

    It has the shape of Kiota's ``AuthenticationProvider``. Kiota expands the template
    every time a request's URL is read: for the token, for the tracing attributes and for
    the HTTP request itself. Keeping the first expansion saves the other two, pure-Python
    work on every Graph request.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def authenticate_request(
        self, request: Any, additional_authentication_context: dict[str, Any] | None = None
    ) -> None:
        """Fix the request's URL as expanded now, then let ``inner`` add the token."""
        url = request.url
        # Setting the URL clears the parameter dicts, and a request builder shares its own
        # with every request it makes (a retry uses them again): give this request its own.
        request.path_parameters = {}
        request.query_parameters = {}
        request.url = url
        await self._inner.authenticate_request(request, additional_authentication_context or {})


def graph_middleware() -> list[BaseMiddleware]:
    """Return the middleware chain of our Graph requests (docs/decisions/0033-graph-middleware.md).

    Of the SDK's default chain only what our requests use stays: the query-parameter
    name decoding (``$filter``, ``$select``), the user agent, and msgraph's telemetry
    headers (``client-request-id``, ``SdkVersion``) on Graph's own hosts. Retries are ours
    (docs/decisions/0003-graph-retries.md); nothing we call redirects or uses ``/me``, and
    we never inspect headers or bodies through request options.
    """
    return [
        ParametersNameDecodingHandler(),
        UserAgentHandler(),
        GraphTelemetryHandler(
            options=sdk_middleware_options[GraphTelemetryHandlerOption.get_key()]
        ),
    ]


class GraphHttpClient(httpx.AsyncClient):
    """An httpx client with the middleware of :func:`graph_middleware`, no SDK retries.

    Retries live in :class:`GraphCallControl` and :class:`GraphPresence` so that they
    are not doubled. Closing this client also closes the connection pool under the
    SDK's transport, which the SDK's wrapper would otherwise leave open.
    """

    def __init__(
        self, *, timeout_s: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._pool = transport or graph_transport()
        super().__init__(
            transport=self._pool, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        )
        GraphClientFactory.create_with_custom_middleware(graph_middleware(), client=self)
        self._pool_closed = False

    async def aclose(self) -> None:
        """Close the client and its connection pool."""
        await super().aclose()
        await self._close_pool()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await super().__aexit__(exc_type, exc_value, traceback)
        await self._close_pool()

    async def _close_pool(self) -> None:
        if not self._pool_closed:
            self._pool_closed = True
            await self._pool.aclose()


def build_graph_client(
    *,
    base_url: str,
    credential: AsyncTokenCredential | StaticTokenProvider,
    httpx_client: GraphHttpClient | None = None,
) -> GraphServiceClient:
    """Build msgraph-sdk's client for ``base_url`` (e.g. ``https://graph.microsoft.com/v1.0``).

    ``credential`` is an azure-identity aio credential for Graph itself, or a
    :class:`StaticTokenProvider` for the local simulator on a loopback base URL such as
    ``http://127.0.0.1:8790/v1.0``. The caller owns both the credential and
    ``httpx_client`` and closes them; without ``httpx_client`` a new one is made that
    lives as long as the process.
    """
    parts = urlsplit(base_url)
    host = parts.hostname
    if parts.scheme not in {"http", "https"} or not host:
        raise ValueError(f"the Graph base URL must be an http(s) URL, not {base_url!r}")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError("plain http is allowed for a loopback Graph base URL only")
    if isinstance(credential, StaticTokenProvider):
        if host not in LOOPBACK_HOSTS:
            raise ValueError("a static token is for the local simulator on loopback only")
        auth = BaseBearerTokenAuthenticationProvider(credential)
    else:
        auth = AzureIdentityAuthenticationProvider(
            credential, scopes=[f"https://{host}/.default"], allowed_hosts=[host]
        )
    adapter = GraphRequestAdapter(
        UrlOnceAuthentication(auth), client=httpx_client or GraphHttpClient()
    )
    # GraphServiceClient copies the adapter's base URL when it is built: set it first.
    adapter.base_url = base_url.rstrip("/")
    return GraphServiceClient(request_adapter=adapter)


# --------------------------------------------------------------------- retries
@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry throttled or failed Graph requests.

    ``max_attempts`` counts the first try. Backoff is exponential with full jitter
    (``random() * min(max_delay_s, base_delay_s * 2**n)``) unless Graph sends
    ``Retry-After``, which wins. No wait goes past ``budget_s`` from the first try.
    """

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    budget_s: float = 20.0


class _Retrier:
    """Run one Graph request with retries, and translate what finally fails."""

    def __init__(
        self,
        policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]],
        random_fraction: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self._policy = policy
        self._sleep = sleep
        self._random = random_fraction
        self._monotonic = monotonic

    async def run(
        self,
        action: str,
        subject: str,
        send: Callable[[], Awaitable[_T]],
        *,
        idempotent: bool,
    ) -> _T:
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                return await send()
            except APIError as err:
                failure: Exception = err
                retryable = err.response_status_code in _RETRY_STATUSES
                if retryable:
                    retry_after = retry_after_seconds(err.response_headers)
            except httpx.TransportError as err:
                failure = err
                # A timeout or broken connection after sending may have reached Graph:
                # repeating an invite or a prompt would ring or play twice.
                retryable = idempotent or isinstance(err, _NOT_SENT)
            delay = self._delay(attempt, retry_after)
            elapsed = self._monotonic() - started
            if (
                not retryable
                or attempt >= self._policy.max_attempts
                or elapsed + delay > self._policy.budget_s
            ):
                raise _translate(action, subject, failure) from failure
            _LOGGER.info(
                "Graph %s for %s failed (%s), attempt %d; retrying in %.2f s",
                action,
                subject,
                _describe_failure(failure),
                attempt,
                delay,
            )
            await self._sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self._policy.max_delay_s, self._policy.base_delay_s * 2.0 ** (attempt - 1))
        return self._random() * ceiling


def _odata_error(err: Any) -> tuple[str | None, str]:
    main = getattr(err, "error", None)
    code = getattr(main, "code", None)
    message = getattr(main, "message", None) or getattr(err, "message", None) or ""
    return (str(code) if code else None), str(message)


def _describe_failure(err: Exception) -> str:
    if isinstance(err, httpx.TransportError):
        return type(err).__name__
    status = getattr(err, "response_status_code", None)
    code, _ = _odata_error(err)
    return f"{status} {code or ''}".strip()


def _translate(action: str, subject: str, err: Exception) -> DomainError:
    if isinstance(err, httpx.TransportError):
        _LOGGER.warning("Graph %s for %s failed: %s", action, subject, type(err).__name__)
        return Unavailable(f"Graph {action} for {subject}: {type(err).__name__}")
    status: int | None = getattr(err, "response_status_code", None)
    code, message = _odata_error(err)
    text = f"Graph {action} for {subject}: {status} {code or ''} {message}".rstrip()
    if status == 404:
        return NotFound(text)
    if status == 429:
        _LOGGER.warning("Graph %s for %s still throttled after retries", action, subject)
        return Throttled(
            text, retry_after=retry_after_seconds(getattr(err, "response_headers", None))
        )
    if status is not None and status >= 500:
        _LOGGER.warning("Graph %s for %s failed: %s %s", action, subject, status, code)
        return Unavailable(text)
    return CallControlError(text, status=status, code=code)


# -------------------------------------------------------------- responses
# Responses with a body are read as JSON here rather than through the SDK's models:
# msgraph-sdk rebuilds Entity's map of some 2,400 field deserializers for every object
# it reads (about 5 ms each), which would cost seconds of event-loop time per presence
# poll and several milliseconds on every prompt and invite.
_ERROR_MAPPING = {"XXX": ODataError}


class _Response(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _InvitedParticipant(_Response):
    id: str | None = None
    participant_id: str | None = None


class _Operation(_Response):
    id: str | None = None
    status: str | None = None
    participants: list[_InvitedParticipant] | None = None


class _CreatedCall(_Response):
    id: str | None = None
    state: str | None = None


class _CallResource(_Response):
    my_participant_id: str | None = None


class _Identity(_Response):
    id: str | None = None


class _IdentitySet(_Response):
    user: _Identity | None = None
    application: _Identity | None = None
    application_instance: _Identity | None = None
    phone: _Identity | None = None


class _ParticipantInfo(_Response):
    identity: _IdentitySet | None = None


class _Participant(_Response):
    id: str | None = None
    info: _ParticipantInfo | None = None
    is_in_lobby: bool | None = None


class _Participants(_Response):
    value: list[_Participant] | None = None


class _Presence(_Response):
    id: str | None = None
    availability: str | None = None
    activity: str | None = None


class _Presences(_Response):
    value: list[_Presence] | None = None


_R = TypeVar("_R", bound=_Response)


async def _send(builder: Any, request: Any, response: type[_R]) -> _R:
    """Send a request the SDK's builder made and read the answer as ``response``."""
    raw = await builder.request_adapter.send_primitive_async(request, "bytes", _ERROR_MAPPING)
    if not raw:
        return response()
    try:
        return response.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as err:
        raise CallControlError("Graph answered with a body that is not the expected JSON") from err


async def _post(builder: Any, body: Any, response: type[_R]) -> _R:
    """POST ``body`` through the SDK's request builder and read the answer as ``response``."""
    return await _send(builder, builder.to_post_request_information(body), response)


async def _get(builder: Any, response: type[_R]) -> _R:
    """GET through the SDK's request builder and read the answer as ``response``."""
    return await _send(builder, builder.to_get_request_information(), response)


# ---------------------------------------------------------------- translation
def _identity_set(party: Party, *, role: str) -> Any:
    if not party.id or party.kind is PartyKind.ANONYMOUS:
        raise InvalidInput(f"an anonymous party cannot be the {role}", field=role)
    identity = Identity(id=party.id, display_name=party.display_name or None)
    if party.kind is PartyKind.PHONE:
        return CommunicationsIdentitySet(phone=identity)
    if party.tenant_id:
        identity.additional_data["tenantId"] = party.tenant_id
    return CommunicationsIdentitySet(user=identity)


def _invitee(
    party: Party,
    *,
    role: str,
    replaces_call_id: str | None = None,
    participant_id: str | None = None,
) -> Any:
    return InvitationParticipantInfo(
        odata_type="#microsoft.graph.invitationParticipantInfo",
        identity=_identity_set(party, role=role),
        replaces_call_id=replaces_call_id,
        participant_id=participant_id,
    )


def _media_info(prompt: MediaPrompt) -> Any:
    return MediaInfo(uri=prompt.uri, resource_id=prompt.resource_id)


def _media_config(prefetch: Sequence[MediaPrompt]) -> Any:
    return ServiceHostedMediaConfig(pre_fetch_media=[_media_info(p) for p in prefetch] or None)


def _prompts(prompts: Iterable[MediaPrompt]) -> list[Any]:
    return [GraphMediaPrompt(media_info=_media_info(p)) for p in prompts]


def _operation_id(operation: _Operation, action: str, call_id: str) -> str:
    if not operation.id:
        raise CallControlError(f"Graph {action} for {call_id} returned no operation id")
    return canonical_id(operation.id)


def _guid(identity: _Identity | None) -> str | None:
    return canonical_id(identity.id) if identity is not None and identity.id else None


def _roster_entry(participant: _Participant) -> RosterEntry:
    """Return a listed participant as a roster update names it (ids in one form)."""
    identity = participant.info.identity if participant.info is not None else None
    phone = identity.phone if identity is not None else None
    return RosterEntry(
        participant_id=canonical_id(participant.id or ""),
        user_id=_guid(identity.user) if identity is not None else None,
        application_id=(
            _guid(identity.application or identity.application_instance)
            if identity is not None
            else None
        ),
        phone=phone.id if phone is not None and phone.id else None,
        is_in_lobby=bool(participant.is_in_lobby),
    )


def _participant_id(operation: _Operation) -> str | None:
    if not operation.participants:
        return None
    first = operation.participants[0]
    # Graph's own examples answer with "id"; the SDK's model calls it participantId.
    value = first.id or first.participant_id
    return canonical_id(value) if value else None


# ---------------------------------------------------------------- call control
class GraphCallControl:
    """Graph's cloud-communications call actions, through msgraph-sdk."""

    def __init__(
        self,
        client: GraphServiceClient,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random_fraction: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._calls = client.communications.calls
        self._retrier = _Retrier(retry or RetryPolicy(), sleep, random_fraction, monotonic)

    def _call(self, call_id: str) -> Any:
        return self._calls.by_call_id(call_id)

    async def answer(
        self, call_id: str, *, callback_uri: str, prefetch: Sequence[MediaPrompt] = ()
    ) -> None:
        """Answer an incoming call with service-hosted media, prefetching the prompts."""
        body = AnswerPostRequestBody(
            callback_uri=callback_uri,
            accepted_modalities=[Modality.Audio],
            media_config=_media_config(prefetch),
        )
        await self._retrier.run(
            "answer", call_id, lambda: self._call(call_id).answer.post(body), idempotent=False
        )

    async def reject(self, call_id: str, reason: RejectReason = RejectReason.NONE) -> None:
        """Reject an incoming call."""
        body = RejectPostRequestBody(reason=GraphRejectReason(reason.value))
        await self._retrier.run(
            "reject", call_id, lambda: self._call(call_id).reject.post(body), idempotent=True
        )

    async def redirect(
        self, call_id: str, target: Party, *, timeout_s: int = 60, callback_uri: str
    ) -> None:
        """Send an unanswered incoming call to someone else; the bot leaves it."""
        body = RedirectPostRequestBody(
            targets=[_invitee(target, role="target")],
            timeout=timeout_s,
            callback_uri=callback_uri,
        )
        await self._retrier.run(
            "redirect", call_id, lambda: self._call(call_id).redirect.post(body), idempotent=False
        )

    async def transfer(self, call_id: str, target: Party) -> None:
        """Transfer an established call; the bot leaves once it is accepted."""
        transfer_target = _invitee(target, role="target")
        transfer_target.additional_data["endpointType"] = "default"
        body = TransferPostRequestBody(transfer_target=transfer_target)
        await self._retrier.run(
            "transfer", call_id, lambda: self._call(call_id).transfer.post(body), idempotent=False
        )

    async def play_prompt(
        self, call_id: str, prompts: Sequence[MediaPrompt], *, client_context: str
    ) -> str:
        """Start playing; return the operation id whose completion Graph notifies."""
        body = PlayPromptPostRequestBody(prompts=_prompts(prompts), client_context=client_context)
        operation = await self._retrier.run(
            "playPrompt",
            call_id,
            lambda: _post(self._call(call_id).play_prompt, body, _Operation),
            idempotent=False,
        )
        return _operation_id(operation, "playPrompt", call_id)

    async def cancel_media_processing(self, call_id: str, *, client_context: str) -> None:
        """Cancel the prompts and recordings running or queued on the call."""
        body = CancelMediaProcessingPostRequestBody(client_context=client_context)
        await self._retrier.run(
            "cancelMediaProcessing",
            call_id,
            lambda: _post(self._call(call_id).cancel_media_processing, body, _Operation),
            idempotent=True,
        )

    async def subscribe_to_tone(self, call_id: str, *, client_context: str) -> None:
        """Ask Graph to notify the caller's key presses."""
        body = SubscribeToTonePostRequestBody(client_context=client_context)
        await self._retrier.run(
            "subscribeToTone",
            call_id,
            lambda: _post(self._call(call_id).subscribe_to_tone, body, _Operation),
            idempotent=True,
        )

    async def record_response(
        self,
        call_id: str,
        *,
        prompt: MediaPrompt | None,
        max_duration_s: int,
        client_context: str,
    ) -> str:
        """Record the caller (a voicemail) after an optional prompt and a beep."""
        body = RecordResponsePostRequestBody(
            prompts=_prompts([prompt]) if prompt is not None else None,
            # Start now rather than behind the music on hold still queued on the call.
            barge_in_allowed=True,
            play_beep=True,
            max_record_duration_in_seconds=max_duration_s,
            initial_silence_timeout_in_seconds=_RECORD_INITIAL_SILENCE_S,
            max_silence_timeout_in_seconds=_RECORD_MAX_SILENCE_S,
            stop_tones=list(_RECORD_STOP_TONES),
            client_context=client_context,
        )
        operation = await self._retrier.run(
            "recordResponse",
            call_id,
            lambda: _post(self._call(call_id).record_response, body, _Operation),
            idempotent=False,
        )
        return _operation_id(operation, "recordResponse", call_id)

    async def invite(
        self,
        call_id: str,
        agent: Party,
        *,
        client_context: str,
        replaces_call_id: str | None = None,
        participant_id: str | None = None,
    ) -> Invitation:
        """Invite one agent into the call (one invitee per request, as Graph requires).

        ``participant_id`` names the invitee's participant in advance, so the invitation
        can be cancelled even before Graph's answer to this request is known.
        """
        body = InvitePostRequestBody(
            participants=[
                _invitee(
                    agent,
                    role="agent",
                    replaces_call_id=replaces_call_id,
                    participant_id=participant_id,
                )
            ],
            client_context=client_context,
        )
        operation = await self._retrier.run(
            "invite",
            call_id,
            lambda: _post(self._call(call_id).participants.invite, body, _Operation),
            idempotent=False,
        )
        return Invitation(
            operation_id=_operation_id(operation, "invite", call_id),
            participant_id=_participant_id(operation) or participant_id,
        )

    async def remove_participant(self, call_id: str, participant_id: str) -> None:
        """Remove a participant; for a pending invitee this cancels the invitation."""
        await self._retrier.run(
            "removeParticipant",
            call_id,
            lambda: self._call(call_id).participants.by_participant_id(participant_id).delete(),
            idempotent=True,
        )

    async def other_participants(self, call_id: str) -> list[str]:
        """Return the participant ids of everyone in the call but our bot.

        Our own participant is the call's ``myParticipantId``.
        """
        call, participants = await asyncio.gather(
            self._retrier.run(
                "getCall",
                call_id,
                lambda: _get(self._call(call_id), _CallResource),
                idempotent=True,
            ),
            self._retrier.run(
                "listParticipants",
                call_id,
                lambda: _get(self._call(call_id).participants, _Participants),
                idempotent=True,
            ),
        )
        ours = canonical_id(call.my_participant_id) if call.my_participant_id else None
        return [
            canonical_id(p.id)
            for p in participants.value or ()
            if p.id and canonical_id(p.id) != ours
        ]

    async def roster(self, call_id: str) -> list[RosterEntry]:
        """Return who is in the call now, our bot included (NotFound: the call is gone)."""
        listed = await self._retrier.run(
            "listParticipants",
            call_id,
            lambda: _get(self._call(call_id).participants, _Participants),
            idempotent=True,
        )
        return [_roster_entry(participant) for participant in listed.value or ()]

    async def hang_up(self, call_id: str) -> None:
        """Leave the call: it ends for everyone only if it is a peer-to-peer call."""
        await self._retrier.run(
            "hangUp", call_id, lambda: self._call(call_id).delete(), idempotent=True
        )

    async def keep_alive(self, call_id: str) -> None:
        """Tell Graph the call is still wanted (at least every 45 minutes)."""
        await self._retrier.run(
            "keepAlive", call_id, lambda: self._call(call_id).keep_alive.post(), idempotent=True
        )

    async def place_call(
        self,
        *,
        tenant_id: str,
        source_application_instance_id: str,
        target: Party,
        callback_uri: str,
        prefetch: Sequence[MediaPrompt] = (),
    ) -> OutboundCall:
        """Call someone (a callback) from a resource account; return the new call."""
        call = Call(
            odata_type="#microsoft.graph.call",
            callback_uri=callback_uri,
            source=ParticipantInfo(
                identity=CommunicationsIdentitySet(
                    application_instance=Identity(id=source_application_instance_id)
                )
            ),
            targets=[_invitee(target, role="target")],
            requested_modalities=[Modality.Audio],
            media_config=_media_config(prefetch),
            tenant_id=tenant_id,
        )
        created = await self._retrier.run(
            "placeCall", target.id, lambda: _post(self._calls, call, _CreatedCall), idempotent=False
        )
        if not created.id:
            raise CallControlError(f"Graph placeCall for {target.id} returned no call id")
        return OutboundCall(call_id=canonical_id(created.id), state=created.state or "")


# --------------------------------------------------------------------- presence
class GraphPresence:
    """Teams presence of many users, in batches of at most 650 ids per request."""

    def __init__(
        self,
        client: GraphServiceClient,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random_fraction: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._presences = client.communications.get_presences_by_user_id
        self._retrier = _Retrier(retry or RetryPolicy(), sleep, random_fraction, monotonic)

    async def get_presences(self, tenant_id: str, user_ids: Sequence[str]) -> list[PresenceReading]:
        """Return the presence of each user Graph knows, batch after batch."""
        ids = list(dict.fromkeys(user_ids))
        readings: list[PresenceReading] = []
        # One batch at a time: presence is throttled per app and tenant, and a burst of
        # parallel batches would only earn 429s.
        for start in range(0, len(ids), PRESENCE_BATCH_SIZE):
            batch = ids[start : start + PRESENCE_BATCH_SIZE]
            body = GetPresencesByUserIdPostRequestBody(ids=batch)
            response = await self._retrier.run(
                "getPresencesByUserId",
                f"{len(batch)} users of tenant {tenant_id}",
                functools.partial(_post, self._presences, body, _Presences),
                idempotent=True,
            )
            readings.extend(
                PresenceReading(
                    user_id=presence.id,
                    availability=presence.availability or "PresenceUnknown",
                    activity=presence.activity or "PresenceUnknown",
                )
                for presence in response.value or ()
                if presence.id
            )
        return readings
