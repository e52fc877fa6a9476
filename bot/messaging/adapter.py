"""Bot Framework behind the host's own small interface: :class:`BotChannel`.

Everything that touches botbuilder's hosting and connector lives here (the activity
handler is in ``teams_bot.py``): authenticating ``/api/messages``, answering every
authentication failure with 401, checking the tenant, and sending or updating activities
proactively. A move to the Microsoft 365 Agents SDK replaces these two modules.

Trust is botbuilder's own: its ``JwtTokenExtractor`` checks issuer, audience, signing keys,
endorsements, the ``serviceurl`` claim and expiry with five minutes of skew. In demo mode it
is pointed at the local simulator's OpenID metadata through
``BotFrameworkAuthenticationFactory`` (validation is never switched off), and outbound calls
to the simulator carry a static demo token, since MSAL accepts only https authorities.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from aiohttp import web
from azure.core.exceptions import DeserializationError
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
)
from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    BotFrameworkAuthenticationFactory,
    ServiceClientCredentialsFactory,
)
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.cards.adaptive import CARD_CONTENT_TYPE, Card
from bot.http import error_response
from bot.messaging.documents import ConversationRef
from bot.settings import DEFAULT_BOT_OPENID_URL, DEFAULT_ENTRA_AUTHORITY_HOST, AppType, Settings
from contactcenter.inbound import InvalidJson, parse_json
from graph.retry_after import retry_after_seconds

_LOGGER = logging.getLogger(__name__)

TEAMS_CHANNEL = "msteams"
# The static bearer token outbound calls carry to the simulator's Bot Connector.
DEMO_CONNECTOR_TOKEN = "demo-mode-connector-token"  # noqa: S105 - not a secret: demo only

TenantCheck = Callable[[str], Awaitable[bool]]


# ----------------------------------------------------------------------- errors
class AuthenticationFailed(Exception):
    """The activity's bearer token is missing, malformed, forged or not for this bot."""


class KeysUnavailable(Exception):
    """The signing keys could not be fetched: the request cannot be judged now."""


class TenantRefused(Exception):
    """A valid activity from a tenant this host does not serve."""


class ConnectorError(Exception):
    """The Bot Connector refused or failed a request.

    ``status`` is the HTTP status (None when no answer came); ``retry_after`` is what the
    connector asked for, in seconds.
    """

    def __init__(self, message: str, *, status: int | None, retry_after: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


# ----------------------------------------------------------------- authentication
class _GuardedAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """botbuilder's authentication, with every failure raised as one of our errors.

    Out of the box a malformed or forged token escapes ``CloudAdapter.process`` as a
    ``jwt`` error, an ``IndexError`` (unknown key id) or a bare ``Exception``, which the
    host would answer with 500. After a successful check, the activity's tenant must be one
    this host serves: Bot Framework tokens carry no tenant, Teams puts it in channelData.
    """

    def __init__(self, inner: Any, tenant_allowed: TenantCheck) -> None:
        super().__init__()
        self._inner = inner
        self._tenant_allowed = tenant_allowed

    async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
        _require_expiry(auth_header)
        try:
            result = await self._inner.authenticate_request(activity, auth_header)
        except requests.RequestException as err:
            _LOGGER.warning("Bot Framework signing keys unavailable: %s", type(err).__name__)
            raise KeysUnavailable("the signing keys could not be fetched") from err
        except Exception as err:
            # The reason goes to the log only; the caller learns nothing about our keys.
            _LOGGER.warning("Activity refused: %s: %s", type(err).__name__, err)
            raise AuthenticationFailed(str(err)) from err
        if result is None or getattr(result, "claims_identity", None) is None:
            raise AuthenticationFailed("no identity")
        tenant_id = activity_tenant(activity)
        if activity.channel_id != TEAMS_CHANNEL or not tenant_id:
            raise TenantRefused("only Teams activities with a tenant are served")
        if not await self._tenant_allowed(tenant_id):
            raise TenantRefused(f"tenant {tenant_id} is not served here")
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
        raise AuthenticationFailed("streaming connections are not served")

    def create_connector_factory(self, claims_identity: Any) -> Any:
        return self._inner.create_connector_factory(claims_identity)

    async def create_user_token_client(self, claims_identity: Any) -> Any:
        return await self._inner.create_user_token_client(claims_identity)

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        audience: str = self._inner.get_originating_audience()
        return audience

    async def authenticate_channel_request(self, auth_header: str) -> Any:
        try:
            return await self._inner.authenticate_channel_request(auth_header)
        except Exception as err:
            raise AuthenticationFailed(str(err)) from err


def _require_expiry(auth_header: str) -> None:
    """Refuse a token without an ``exp`` claim before botbuilder judges it.

    botbuilder checks ``exp`` only when it is there: a token without one would never
    expire. Reading the claims unverified is enough to refuse; acceptance still takes
    botbuilder's full validation.
    """
    _, _, token = (auth_header or "").partition(" ")
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError as err:
        _LOGGER.warning("Activity refused: %s", type(err).__name__)
        raise AuthenticationFailed("malformed token") from err
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        _LOGGER.warning("Activity refused: no exp claim")
        raise AuthenticationFailed("no exp claim")


def activity_tenant(activity: Any) -> str:
    """Return the tenant Teams names in the activity's channelData (or its conversation)."""
    channel_data = activity.channel_data if isinstance(activity.channel_data, Mapping) else {}
    tenant = channel_data.get("tenant")
    if isinstance(tenant, Mapping) and isinstance(tenant.get("id"), str):
        return str(tenant["id"])
    conversation = activity.conversation
    return str(getattr(conversation, "tenant_id", "") or "")


class _DemoConnectorCredentials(AppCredentials):  # type: ignore[misc]
    """Credentials for the simulator's Bot Connector: a static demo bearer token, no MSAL."""

    def __init__(self, app_id: str) -> None:
        super().__init__(app_id=app_id)

    def get_access_token(self, force_refresh: bool = False) -> str:
        return DEMO_CONNECTOR_TOKEN


class DemoCredentialsFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Demo mode's credentials: only this app id, and the simulator's static token."""

    def __init__(self, app_id: str) -> None:
        self._app_id = app_id

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(app_id) and app_id == self._app_id

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        if not await self.is_valid_app_id(app_id):
            raise AuthenticationFailed("invalid app id")
        return _DemoConnectorCredentials(app_id)


class _CachingCredentialsFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Keep one credentials object per audience and fetch its tokens off the event loop.

    botbuilder makes new credentials (a new MSAL client, so a new token request) for every
    connector, and msrest asks for the token on the event loop with blocking I/O. Here the
    credentials are kept, and each use first refreshes the token in a worker thread, so the
    call msrest makes is answered from MSAL's cache.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._cache: dict[tuple[str, str, str, bool], Any] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        valid: bool = await self._inner.is_valid_app_id(app_id)
        return valid

    async def is_authentication_disabled(self) -> bool:
        disabled: bool = await self._inner.is_authentication_disabled()
        return disabled

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        key = (app_id, oauth_scope or "", login_endpoint or "", bool(validate_authority))
        credentials = self._cache.get(key)
        if credentials is None:
            credentials = await self._inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
            self._cache[key] = credentials
        if isinstance(credentials, AppCredentials) and credentials.microsoft_app_id:
            await asyncio.to_thread(credentials.get_access_token)
        return credentials


@dataclass(frozen=True, slots=True)
class _BotConfiguration:
    """The configuration object botbuilder reads (attribute names are its own)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str


def build_authentication(
    settings: Settings, *, tenant_allowed: TenantCheck, demo_openid_url: str | None
) -> BotFrameworkAuthentication:
    """Build botbuilder's authentication from the settings, guarded.

    ``demo_openid_url`` (demo mode only) is the simulator's OpenID metadata URL: tokens on
    activities must be signed with its key, and outbound calls carry the demo token.
    """
    if settings.demo:
        if not demo_openid_url:
            raise ValueError("demo mode needs the simulator's OpenID metadata URL")
        inner = BotFrameworkAuthenticationFactory.create(
            to_channel_from_bot_login_url=(
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
                + AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT
            ),
            to_channel_from_bot_oauth_scope=AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
            to_bot_from_channel_token_issuer=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
            oauth_url=AuthenticationConstants.OAUTH_URL,
            to_bot_from_channel_open_id_metadata_url=demo_openid_url,
            # Emulator-style tokens are judged against the simulator's keys too, so a
            # demo host never fetches keys from the internet.
            to_bot_from_emulator_open_id_metadata_url=demo_openid_url,
            caller_id="urn:botframework:azure",
            credential_factory=DemoCredentialsFactory(settings.microsoft_app_id),
        )
        return _GuardedAuthentication(inner, tenant_allowed)
    configuration = _BotConfiguration(
        APP_ID=settings.microsoft_app_id,
        APP_PASSWORD=settings.microsoft_app_password,
        APP_TYPE=settings.microsoft_app_type.value,
        APP_TENANTID=settings.microsoft_app_tenant_id,
    )
    if settings.microsoft_app_type is AppType.USER_ASSIGNED_MSI and not (
        settings.microsoft_app_tenant_id
    ):
        raise ValueError("MICROSOFT_APP_TENANT_ID is needed with UserAssignedMSI")
    credentials = _CachingCredentialsFactory(
        ConfigurationServiceClientCredentialFactory(configuration)
    )
    if (
        settings.bot_openid_config_url == DEFAULT_BOT_OPENID_URL
        and settings.entra_authority_host == DEFAULT_ENTRA_AUTHORITY_HOST
    ):
        inner = ConfigurationBotFrameworkAuthentication(
            configuration, credentials_factory=credentials
        )
    else:
        # A non-default metadata URL or authority (a sovereign or private cloud) takes
        # botbuilder's parameterized path, which needs every endpoint spelled out.
        inner = BotFrameworkAuthenticationFactory.create(
            to_channel_from_bot_login_url=(
                f"{settings.entra_authority_host}/"
                + (
                    settings.microsoft_app_tenant_id
                    or AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT
                )
            ),
            to_channel_from_bot_oauth_scope=AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
            to_bot_from_channel_token_issuer=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
            oauth_url=AuthenticationConstants.OAUTH_URL,
            to_bot_from_channel_open_id_metadata_url=settings.bot_openid_config_url,
            to_bot_from_emulator_open_id_metadata_url=(
                AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
            ),
            caller_id="urn:botframework:azure",
            credential_factory=credentials,
        )
    return _GuardedAuthentication(inner, tenant_allowed)


# ------------------------------------------------------------------------ channel
@dataclass(frozen=True, slots=True)
class Message:
    """An activity the bot sends: a card, with text for notifications and old clients."""

    card: Card
    summary: str = ""


def to_activity(message: Message) -> Any:
    """Return botbuilder's ``Activity`` for a message."""
    return Activity(
        type=ActivityTypes.message,
        summary=message.summary or None,
        attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=message.card.to_json())],
    )


def to_reference(ref: ConversationRef) -> Any:
    """Return botbuilder's ``ConversationReference`` for a stored one."""
    return ConversationReference(
        activity_id=None,
        user=ChannelAccount(id=ref.user_mri, name=ref.user_name) if ref.user_mri else None,
        bot=ChannelAccount(id=ref.bot_id),
        conversation=ConversationAccount(
            id=ref.conversation_id,
            conversation_type=ref.kind.value,
            tenant_id=ref.tenant_id,
        ),
        channel_id=TEAMS_CHANNEL,
        service_url=ref.service_url,
    )


def _connector_error(action: str, err: Exception) -> ConnectorError:
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    retry_after = retry_after_seconds(getattr(response, "headers", None))
    return ConnectorError(
        f"Bot Connector {action}: {status or type(err).__name__}",
        status=status if isinstance(status, int) else None,
        retry_after=retry_after,
    )


def _no_sdk_retries(turn_context: Any) -> None:
    """Switch msrest's own retries off: retries (and their pacing) are the Outbox's."""
    client = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    if client is not None:
        client.config.retry_policy.retries = 0


class BotChannel:
    """The host's interface to Bot Framework: inbound activities and proactive messages."""

    def __init__(self, authentication: BotFrameworkAuthentication, *, app_id: str) -> None:
        self._adapter = CloudAdapter(authentication)
        self._app_id = app_id

    async def process(self, request: web.Request, bot: Any) -> web.StreamResponse:
        """Authenticate and run one activity; every authentication failure is a 401."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(401, "a bearer token is required", code="invalidToken")
        if request.content_type != "application/json":
            return error_response(415, "expected application/json")
        # botbuilder parses the body again with Python's json module: only a body that
        # passed the strict parser reaches it (no RecursionError, no huge numbers).
        try:
            body = parse_json(await request.read())
        except InvalidJson as err:
            return error_response(400, str(err), code="invalidJson")
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return error_response(400, "the body is not an activity", code="invalidActivity")
        try:
            response = await self._adapter.process(request, bot)
        except (AuthenticationFailed, web.HTTPUnauthorized):
            return error_response(401, "invalid or missing bearer token", code="invalidToken")
        except TenantRefused:
            return error_response(403, "this tenant is not served here", code="unknownTenant")
        except KeysUnavailable:
            return error_response(
                503, "signing keys are unavailable; try again", code="keysUnavailable"
            )
        except DeserializationError:
            return error_response(400, "the body is not an activity", code="invalidActivity")
        if response is None:
            return web.Response(status=201)
        assert isinstance(response, web.StreamResponse)
        return response

    async def send(self, ref: ConversationRef, message: Message) -> str:
        """Post a new message to a conversation; return its activity id."""
        sent: list[str] = []

        async def logic(turn_context: Any) -> None:
            _no_sdk_retries(turn_context)
            response = await turn_context.send_activity(to_activity(message))
            sent.append(str(getattr(response, "id", "") or ""))

        await self._continue(ref, logic, "send")
        if not sent or not sent[0]:
            raise ConnectorError(
                "Bot Connector send: no activity id", status=None, retry_after=None
            )
        return sent[0]

    async def update(self, ref: ConversationRef, activity_id: str, message: Message) -> None:
        """Replace a message sent earlier (a card updated in place)."""

        async def logic(turn_context: Any) -> None:
            _no_sdk_retries(turn_context)
            activity = to_activity(message)
            activity.id = activity_id
            await turn_context.update_activity(activity)

        await self._continue(ref, logic, "update")

    async def _continue(
        self, ref: ConversationRef, logic: Callable[[Any], Awaitable[None]], action: str
    ) -> None:
        try:
            await self._adapter.continue_conversation(to_reference(ref), logic, self._app_id)
        except (HttpOperationError, ClientRequestError) as err:
            raise _connector_error(action, err) from err


def turn_connector_credentials(turn_context: TurnContext) -> Any:
    """Return the credentials of the connector the current turn uses."""
    client = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    return None if client is None else client.config.credentials
