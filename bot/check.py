"""What ``contact-center check`` verifies in the production settings, one finding per setting.

Each setting gets a :class:`Finding`: ok, a warning (allowed, but know it), or a problem
(missing, wrong, or failed when tried) with the way to fix it. Beyond their form (GUIDs, an
https origin), the settings are tried for real, the way the host will use them:

* Cosmos DB: the account is read with the key, or with the host's identity when there is
  none (azure-cosmos), then the database;
* each trusted OpenID configuration is fetched, and the signing keys it points to;
* Entra issues the bot its app tokens, for Bot Framework and for Microsoft Graph, with msal's
  client credentials against ``ENTRA_AUTHORITY_HOST`` (or, with ``UserAssignedMSI``, through
  the managed identity, which exists only on Azure).

Nothing is written anywhere, and no secret is ever shown.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msal
import requests
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.cosmos import exceptions as cosmos_errors
from azure.cosmos.aio import CosmosClient
from azure.identity.aio import DefaultAzureCredential

from bot.settings import (
    DEFAULT_BOT_OPENID_URL,
    DEFAULT_CALLING_OPENID_URL,
    DEFAULT_TAB_OPENID_URL,
    AppType,
    Settings,
)

_LOGGER = logging.getLogger(__name__)

# Every remote check gives up after this long and says so.
DEFAULT_TIMEOUT_S = 15.0
# Multi-tenant bots get their Bot Connector tokens from this tenant.
BOT_FRAMEWORK_TENANT = "botframework.com"
TOKEN_SCOPES = {
    "Bot Framework": "https://api.botframework.com/.default",
    "Microsoft Graph": "https://graph.microsoft.com/.default",
}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_AADSTS = re.compile(r"AADSTS(\d+)")


class Status(StrEnum):
    """How a setting fared; the last three are problems (exit code 2)."""

    OK = "ok"
    WARNING = "warning"
    NOT_CHECKED = "not checked"
    MISSING = "missing"
    WRONG = "wrong"
    FAILED = "failed"


PROBLEMS = frozenset({Status.MISSING, Status.WRONG, Status.FAILED})


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: a setting, its status, and what was found or how to fix it."""

    setting: str
    status: Status
    detail: str

    @property
    def is_problem(self) -> bool:
        return self.status in PROBLEMS


async def check_settings(
    settings: Settings, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[Finding]:
    """Check every production setting; return the findings in the report's order."""
    findings = identity_findings(settings)
    findings.append(base_url_finding(settings))
    findings += await cosmos_findings(settings, timeout_s=timeout_s)
    findings.append(media_finding(settings))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        for name, url, default in (
            (
                "CALLING_OPENID_CONFIG_URL",
                settings.calling_openid_config_url,
                DEFAULT_CALLING_OPENID_URL,
            ),
            ("BOT_OPENID_CONFIG_URL", settings.bot_openid_config_url, DEFAULT_BOT_OPENID_URL),
            ("TAB_OPENID_CONFIG_URL", settings.tab_openid_config_url, DEFAULT_TAB_OPENID_URL),
        ):
            fix = (
                "check that this machine reaches the internet (proxy, firewall)"
                if url == default
                else "correct it, or remove it for Microsoft's default"
            )
            findings.append(await openid_finding(session, name, url, fix=fix))
    blocked = [f.setting for f in findings if f.is_problem and f.setting in _TOKEN_INPUTS]
    if blocked:
        findings.append(
            Finding(
                "bot token",
                Status.NOT_CHECKED,
                f"fix {', '.join(blocked)} first: Entra is asked for the bot's token with them",
            )
        )
    else:
        _merge(findings, await asyncio.to_thread(token_findings, settings, timeout_s))
    return findings


def _merge(findings: list[Finding], tried: list[Finding]) -> None:
    """Put what trying a setting found in place of what its form said: one line a setting."""
    for finding in tried:
        for index, earlier in enumerate(findings):
            if earlier.setting == finding.setting:
                findings[index] = finding
                break
        else:
            findings.append(finding)


# --- form ------------------------------------------------------------------------------

_TOKEN_INPUTS = frozenset(
    {
        "MICROSOFT_APP_ID",
        "MICROSOFT_APP_TENANT_ID",
        "MICROSOFT_APP_PASSWORD",
        "ENTRA_AUTHORITY_HOST",
    }
)


def identity_findings(settings: Settings) -> list[Finding]:
    """Check the bot's identity settings: present where the app type needs them, GUIDs."""
    app_type = settings.microsoft_app_type
    findings = [
        _guid_finding(
            "MICROSOFT_APP_ID",
            settings.microsoft_app_id,
            required=True,
            fix="the Application (client) ID of the bot's app registration",
        ),
        Finding("MICROSOFT_APP_TYPE", Status.OK, app_type.value),
        _guid_finding(
            "MICROSOFT_APP_TENANT_ID",
            settings.microsoft_app_tenant_id,
            required=app_type is not AppType.MULTI_TENANT,
            fix="the Directory (tenant) ID of the bot's app registration",
        ),
    ]
    if app_type is AppType.USER_ASSIGNED_MSI:
        findings.append(
            Finding(
                "MICROSOFT_APP_PASSWORD",
                Status.WRONG if settings.microsoft_app_password else Status.OK,
                "remove it: with UserAssignedMSI the bot signs in as its managed identity"
                if settings.microsoft_app_password
                else "not set: the bot signs in as its managed identity (UserAssignedMSI)",
            )
        )
    elif settings.microsoft_app_password:
        findings.append(Finding("MICROSOFT_APP_PASSWORD", Status.OK, "set (not shown)"))
    else:
        findings.append(
            Finding(
                "MICROSOFT_APP_PASSWORD",
                Status.MISSING,
                "set it to a client secret of the bot's app registration (az ad app "
                "credential reset), best as a Key Vault reference",
            )
        )
    for name, value, fix in (
        ("TAB_CLIENT_ID", settings.tab_client_id, "the tab's app registration, if not the bot's"),
        ("TEAMS_APP_CATALOG_ID", settings.teams_app_catalog_id, "the app's org catalog id"),
    ):
        if value:
            findings.append(_guid_finding(name, value, required=False, fix=fix))
    bad_admins = sorted(oid for oid in settings.admin_object_ids if not _GUID.match(oid))
    if bad_admins:
        findings.append(
            Finding(
                "ADMIN_OBJECT_IDS",
                Status.WRONG,
                f"{', '.join(bad_admins)} not a GUID: list Entra object ids, comma-separated",
            )
        )
    authority = urlsplit(settings.entra_authority_host)
    if authority.scheme != "https" or not authority.hostname:
        findings.append(
            Finding(
                "ENTRA_AUTHORITY_HOST",
                Status.WRONG,
                f"{settings.entra_authority_host} is not https://<host>: remove it for "
                "https://login.microsoftonline.com",
            )
        )
    else:
        findings.append(
            Finding("ENTRA_AUTHORITY_HOST", Status.OK, f"{settings.entra_authority_host}")
        )
    return findings


def base_url_finding(settings: Settings) -> Finding:
    """Check PUBLIC_BASE_URL: the https origin Graph and Teams reach the host at."""
    url = settings.public_base_url
    if not url:
        return Finding(
            "PUBLIC_BASE_URL",
            Status.MISSING,
            "set it to the https origin Graph and Teams reach this host at, e.g. "
            "https://<web app>.azurewebsites.net",
        )
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return Finding(
            "PUBLIC_BASE_URL",
            Status.WRONG,
            f"{url} is not https: Graph and Teams call https endpoints only",
        )
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        return Finding(
            "PUBLIC_BASE_URL",
            Status.WRONG,
            f"{url} is more than an origin: use https://<host>[:port] without a path or query",
        )
    return Finding("PUBLIC_BASE_URL", Status.OK, f"{url}: an https origin")


def media_finding(settings: Settings) -> Finding:
    """Say where prompts and recordings are kept; the data dir is for one host only."""
    if settings.blob_account_url or settings.blob_connection_string:
        where = settings.blob_account_url or "the storage account of BLOB_CONNECTION_STRING"
        return Finding("BLOB_ACCOUNT_URL", Status.OK, f"prompts and recordings in {where}")
    return Finding(
        "BLOB_ACCOUNT_URL",
        Status.WARNING,
        f"not set: prompts and recordings are kept in {settings.data_dir / 'media'}, for this "
        "host only; set BLOB_ACCOUNT_URL to keep them in Blob Storage",
    )


def _guid_finding(name: str, value: str, *, required: bool, fix: str) -> Finding:
    if not value:
        if required:
            return Finding(name, Status.MISSING, f"set it to {fix}")
        return Finding(name, Status.OK, "not set")
    if not _GUID.match(value):
        return Finding(name, Status.WRONG, f"{value!r} is not a GUID: set it to {fix}")
    return Finding(name, Status.OK, f"{value}: a GUID")


# --- Cosmos DB -------------------------------------------------------------------------


async def cosmos_findings(settings: Settings, *, timeout_s: float) -> list[Finding]:
    """Read the Cosmos DB account and database the settings name, as the host will."""
    endpoint = settings.cosmos_endpoint
    if not endpoint:
        return [
            Finding(
                "COSMOS_ENDPOINT",
                Status.WARNING,
                f"not set: the host keeps its state in the SQLite file "
                f"{settings.database_path}, for one host only; set COSMOS_ENDPOINT to run "
                "several",
            )
        ]
    key = settings.cosmos_key
    if key:
        try:
            base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            return [
                Finding(
                    "COSMOS_KEY",
                    Status.WRONG,
                    "not an account key (those are base64): copy a key from the account's "
                    "Keys page, or remove it to sign in with the managed identity",
                )
            ]
    auth_name = "COSMOS_KEY" if key else "COSMOS_KEY (absent: managed identity)"
    credential: AsyncTokenCredential | None = None if key else DefaultAzureCredential()
    try:
        return await asyncio.wait_for(
            _read_cosmos(settings, key or credential, auth_name), timeout_s
        )
    except TimeoutError:
        return [
            Finding(
                "COSMOS_ENDPOINT",
                Status.FAILED,
                f"{endpoint} did not answer within {timeout_s:.0f} s: check the URL and that "
                "this machine may reach it (firewall, private endpoint)",
            )
        ]
    finally:
        if credential is not None:
            await credential.close()


async def _read_cosmos(settings: Settings, auth: Any, auth_name: str) -> list[Finding]:
    endpoint, database = settings.cosmos_endpoint, settings.cosmos_database
    client = CosmosClient(
        endpoint,
        credential=auth,
        connection_verify=settings.cosmos_verify_tls,
        # One try: a check says what is wrong instead of waiting out retries.
        retry_total=0,
        retry_connect=0,
        retry_read=0,
        connection_timeout=5,
    )
    try:
        await client.__aenter__()
    except ClientAuthenticationError as err:
        await client.close()
        return [_cosmos_refused(endpoint, auth_name, err)]
    except cosmos_errors.CosmosHttpResponseError as err:
        await client.close()
        if err.status_code in {401, 403}:
            return [_cosmos_refused(endpoint, auth_name, err)]
        return [Finding("COSMOS_ENDPOINT", Status.FAILED, f"{endpoint}: {_first_line(err)}")]
    except (AzureError, aiohttp.ClientError, OSError) as err:
        await client.close()
        return [
            Finding(
                "COSMOS_ENDPOINT",
                Status.FAILED,
                f"cannot reach {endpoint} ({_first_line(err)}): check the URL and that this "
                "machine may reach it",
            )
        ]
    findings = [
        Finding("COSMOS_ENDPOINT", Status.OK, f"{endpoint}: account read"),
        Finding(auth_name, Status.OK, "accepted"),
    ]
    try:
        await client.get_database_client(database).read()
    except cosmos_errors.CosmosResourceNotFoundError:
        findings.append(
            Finding(
                "COSMOS_DATABASE",
                Status.WARNING if settings.cosmos_key else Status.WRONG,
                f"{database} does not exist yet: the host creates it on first start"
                if settings.cosmos_key
                else f"{database} does not exist, and an identity may not create it: deploy "
                "infra/ (it creates the database) or correct COSMOS_DATABASE",
            )
        )
    except cosmos_errors.CosmosHttpResponseError as err:
        if err.status_code in {401, 403}:
            findings[1] = _cosmos_refused(endpoint, auth_name, err)
        else:
            findings.append(Finding("COSMOS_DATABASE", Status.FAILED, _first_line(err)))
    else:
        findings.append(Finding("COSMOS_DATABASE", Status.OK, f"{database} exists"))
    finally:
        await client.close()
    return findings


def _cosmos_refused(endpoint: str, auth_name: str, err: Exception) -> Finding:
    fix = (
        "copy a current key from the account's Keys page"
        if auth_name == "COSMOS_KEY"
        else "give the app's managed identity the role Cosmos DB Built-in Data Contributor "
        "(infra/ does), or run the check where that identity is (az webapp ssh)"
    )
    return Finding(auth_name, Status.FAILED, f"{endpoint} refused it ({_first_line(err)}): {fix}")


# --- OpenID configurations -------------------------------------------------------------


async def openid_finding(
    session: aiohttp.ClientSession, name: str, url: str, *, fix: str
) -> Finding:
    """Fetch an OpenID configuration and the signing keys its ``jwks_uri`` names."""
    try:
        configuration = await _get_json(session, url)
        jwks_uri = configuration.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            return Finding(name, Status.WRONG, f"{url} names no jwks_uri: {fix}")
        keys = (await _get_json(session, jwks_uri)).get("keys")
    except _FetchError as err:
        return Finding(name, Status.FAILED, f"{err}: {fix}")
    if not isinstance(keys, list) or not keys:
        return Finding(name, Status.WRONG, f"{jwks_uri} lists no signing keys: {fix}")
    return Finding(name, Status.OK, f"{url}: {len(keys)} signing key(s)")


class _FetchError(Exception):
    pass


async def _get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise _FetchError(f"{url} answered HTTP {response.status}")
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        if isinstance(err, _FetchError):
            raise
        raise _FetchError(f"cannot read {url} ({_first_line(err) or type(err).__name__})") from err
    if not isinstance(body, dict):
        raise _FetchError(f"{url} did not answer a JSON object")
    return body


# --- the bot's tokens ------------------------------------------------------------------


def token_findings(settings: Settings, timeout_s: float) -> list[Finding]:
    """Ask Entra for the bot's app tokens, as the host will (blocking: run it in a thread)."""
    if settings.microsoft_app_type is AppType.USER_ASSIGNED_MSI:
        return [_managed_identity_finding(settings, timeout_s)]
    tenant = settings.microsoft_app_tenant_id or BOT_FRAMEWORK_TENANT
    authority = f"{settings.entra_authority_host}/{tenant}"
    with _TimedSession(timeout_s) as http:
        try:
            app = msal.ConfidentialClientApplication(
                settings.microsoft_app_id,
                client_credential=settings.microsoft_app_password,
                authority=authority,
                # The authority is the configured one: no lookup in Microsoft's instance list.
                instance_discovery=False,
                http_client=http,
            )
        except requests.RequestException as err:
            return [_authority_unreachable(authority, err)]
        except ValueError:
            # msal found no OpenID configuration of the tenant at the authority.
            return [
                Finding(
                    "MICROSOFT_APP_TENANT_ID",
                    Status.FAILED,
                    f"Entra has no tenant at {authority}: set it to the Directory (tenant) ID "
                    "of the bot's app registration",
                )
            ]
        issued: list[str] = []
        for audience, scope in TOKEN_SCOPES.items():
            try:
                result: dict[str, Any] = app.acquire_token_for_client(scopes=[scope])
            except requests.RequestException as err:
                return [_authority_unreachable(authority, err)]
            if "access_token" not in result:
                return [_token_refused(settings, authority, audience, result)]
            issued.append(audience)
    return [
        Finding(
            "MICROSOFT_APP_PASSWORD",
            Status.OK,
            f"{authority} issued the bot tokens for {' and '.join(issued)}",
        )
    ]


def _token_refused(
    settings: Settings, authority: str, audience: str, result: dict[str, Any]
) -> Finding:
    description = str(result.get("error_description") or result.get("error") or "no reason")
    first = description.splitlines()[0][:200]
    codes = {int(code) for code in _AADSTS.findall(description)}
    codes |= {int(code) for code in result.get("error_codes") or [] if isinstance(code, int)}
    if codes & {7000215, 7000222, 7000216}:
        return Finding(
            "MICROSOFT_APP_PASSWORD",
            Status.FAILED,
            f"Entra refused the secret ({first}): create a new client secret (az ad app "
            "credential reset) and store its value, not its id",
        )
    if codes & {700016, 700038}:
        return Finding(
            "MICROSOFT_APP_ID",
            Status.FAILED,
            f"Entra does not know the app in {authority} ({first}): check the app id and "
            "MICROSOFT_APP_TENANT_ID",
        )
    if codes & {90002, 900023, 90013}:
        return Finding(
            "MICROSOFT_APP_TENANT_ID",
            Status.FAILED,
            f"Entra does not know the tenant ({first}): set the bot's Directory (tenant) ID",
        )
    return Finding(
        "MICROSOFT_APP_PASSWORD",
        Status.FAILED,
        f"no {audience} token from {authority}: {first}",
    )


def _authority_unreachable(authority: str, err: requests.RequestException) -> Finding:
    if isinstance(err, requests.exceptions.SSLError):
        reason = "its TLS certificate is not trusted"
    elif isinstance(err, requests.Timeout):
        reason = "no answer in time"
    elif isinstance(err, requests.ConnectionError):
        reason = "no connection"
    else:
        reason = _first_line(err)[:160]
    return Finding(
        "ENTRA_AUTHORITY_HOST",
        Status.FAILED,
        f"cannot reach {authority} ({reason}): check the network, or remove "
        "ENTRA_AUTHORITY_HOST for https://login.microsoftonline.com",
    )


class _TimedSession(requests.Session):
    """A requests session that gives up after a timeout, closed once the check is done."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout_s)
        return super().request(*args, **kwargs)


def _managed_identity_finding(settings: Settings, timeout_s: float) -> Finding:
    with _TimedSession(min(timeout_s, 5.0)) as http:
        client = msal.ManagedIdentityClient(
            msal.UserAssignedManagedIdentity(client_id=settings.microsoft_app_id),
            http_client=http,
        )
        try:
            result: dict[str, Any] = client.acquire_token_for_client(
                resource=TOKEN_SCOPES["Bot Framework"].removesuffix("/.default")
            )
        except (requests.RequestException, msal.ManagedIdentityError, ValueError) as err:
            result = {"error_description": _first_line(err)}
    if "access_token" in result:
        return Finding(
            "MICROSOFT_APP_ID", Status.OK, "the managed identity got a Bot Framework token"
        )
    return Finding(
        "MICROSOFT_APP_ID",
        Status.FAILED,
        f"no token for the managed identity {settings.microsoft_app_id} "
        f"({str(result.get('error_description', ''))[:160]}): run the check on the App Service "
        "(az webapp ssh), and check that this identity is assigned to the web app",
    )


def _first_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
