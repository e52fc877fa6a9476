"""Settings: read once from the environment (and an optional ``.env``) into one object.

Nothing else in the project reads ``os.environ``. Secrets have no defaults and are kept out
of ``repr``. A missing or malformed setting is one clear :class:`SettingsError`.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_CALLING_OPENID_URL = "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration"
DEFAULT_BOT_OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
DEFAULT_TAB_OPENID_URL = (
    "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
)
# Where the bot gets its app tokens: <authority host>/<tenant> (Entra's public cloud).
DEFAULT_ENTRA_AUTHORITY_HOST = "https://login.microsoftonline.com"

# Fixed identities of the seeded demo tenant, so links and tests stay stable across runs.
DEMO_APP_ID = "6d3c1f6e-2c1a-4e5b-9a51-0c0ffee0d3d0"
DEMO_TENANT_ID = "0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
DEMO_DEFAULT_CALL_RATE = 60.0

# Settings the app reads that deployments need not set (local-only or optional); the
# infrastructure consistency check allows exactly these to be absent from infra/.
OPTIONAL_SETTINGS = frozenset(
    {
        "COSMOS_VERIFY_TLS",  # local test server only
        "COSMOS_KEY",  # absent: managed identity
        "BLOB_CONNECTION_STRING",  # Azurite / key auth; production uses BLOB_ACCOUNT_URL
        "DEMO_CALL_RATE",  # demo mode only
        "DATA_DIR",  # default ./data; App Service uses its own
        "GRAPH_BASE_URL",  # default Microsoft Graph
        "CALLING_OPENID_CONFIG_URL",
        "BOT_OPENID_CONFIG_URL",
        "TAB_OPENID_CONFIG_URL",
        "ENTRA_AUTHORITY_HOST",
        "SIMULATOR_PORT",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "TAB_CLIENT_ID",
        "ADMIN_OBJECT_IDS",
        "MICROSOFT_APP_PASSWORD",  # absent with UserAssignedMSI
    }
)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what is wrong."""


class AppType(StrEnum):
    SINGLE_TENANT = "SingleTenant"
    MULTI_TENANT = "MultiTenant"
    USER_ASSIGNED_MSI = "UserAssignedMSI"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, validated; build with :meth:`from_env`."""

    demo: bool = False
    host: str = "127.0.0.1"
    port: int = 3978
    data_dir: Path = Path("data")
    microsoft_app_id: str = ""
    microsoft_app_password: str = field(default="", repr=False)
    microsoft_app_tenant_id: str = ""
    microsoft_app_type: AppType = AppType.SINGLE_TENANT
    tab_client_id: str = ""
    # The app's id in the org app catalog; empty: looked up by MICROSOFT_APP_ID (externalId).
    teams_app_catalog_id: str = ""
    public_base_url: str = ""
    graph_base_url: str = DEFAULT_GRAPH_BASE_URL
    calling_openid_config_url: str = DEFAULT_CALLING_OPENID_URL
    bot_openid_config_url: str = DEFAULT_BOT_OPENID_URL
    tab_openid_config_url: str = DEFAULT_TAB_OPENID_URL
    entra_authority_host: str = DEFAULT_ENTRA_AUTHORITY_HOST
    cosmos_endpoint: str = ""
    cosmos_key: str = field(default="", repr=False)
    cosmos_database: str = "contactcenter"
    cosmos_verify_tls: bool = True
    blob_account_url: str = ""
    blob_connection_string: str = field(default="", repr=False)
    applicationinsights_connection_string: str = field(default="", repr=False)
    demo_call_rate: float = DEMO_DEFAULT_CALL_RATE
    simulator_port: int = 0
    admin_object_ids: frozenset[str] = frozenset()
    log_level: str = "INFO"
    log_format: str = "text"

    @property
    def bot_client_id(self) -> str:
        """The Entra app the tab's SSO tokens are issued for."""
        return self.tab_client_id or self.microsoft_app_id

    @property
    def database_path(self) -> Path:
        return self.data_dir / "contactcenter.db"

    @property
    def uses_cosmos(self) -> bool:
        return bool(self.cosmos_endpoint)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        *,
        demo: bool = False,
        dotenv: Path | None = Path(".env"),
        **overrides: Any,
    ) -> Settings:
        """Build settings from ``environ`` over an optional ``.env`` file, then validate."""
        settings = cls.read(environ, demo=demo, dotenv=dotenv, **overrides)
        settings.validate()
        return settings

    @classmethod
    def read(
        cls,
        environ: Mapping[str, str],
        *,
        demo: bool = False,
        dotenv: Path | None = Path(".env"),
        **overrides: Any,
    ) -> Settings:
        """Build settings like :meth:`from_env` without validating them as a whole.

        For commands that need only some settings (``package``) or report on all of them
        (``check``); a value that cannot be parsed at all is still a SettingsError.
        """
        values: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            values.update(read_dotenv(dotenv))
        values.update(environ)
        settings = cls._parse(values, demo=demo)
        if overrides:
            settings = replace(settings, **overrides)
        if settings.demo:
            settings = settings._with_demo_defaults()
        return settings

    def _with_demo_defaults(self) -> Settings:
        """Fill in what demo mode can know by itself: its app id and its own address."""
        host = self.host if self.host not in {"0.0.0.0", "::", ""} else "127.0.0.1"  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        public_base_url = self.public_base_url or f"http://{host}:{self.port}"
        tab_openid = self.tab_openid_config_url
        if tab_openid == DEFAULT_TAB_OPENID_URL:
            # Demo sign-in: the host issues Entra-shaped tokens of its own (docs/decisions/0007).
            tab_openid = f"{public_base_url}/tab/demo/.well-known/openid-configuration"
        return replace(
            self,
            tab_openid_config_url=tab_openid,
            microsoft_app_id=self.microsoft_app_id or DEMO_APP_ID,
            microsoft_app_tenant_id=self.microsoft_app_tenant_id or DEMO_TENANT_ID,
            public_base_url=public_base_url,
        )

    @classmethod
    def _parse(cls, env: Mapping[str, str], *, demo: bool) -> Settings:
        def text(name: str, default: str = "") -> str:
            return env.get(name, default).strip()

        app_type_raw = text("MICROSOFT_APP_TYPE", AppType.SINGLE_TENANT.value)
        try:
            app_type = AppType(app_type_raw)
        except ValueError:
            allowed = " | ".join(t.value for t in AppType)
            raise SettingsError(
                f"MICROSOFT_APP_TYPE={app_type_raw!r} is not one of {allowed}"
            ) from None

        admin_ids = frozenset(p for p in re.split(r"[,\s]+", text("ADMIN_OBJECT_IDS")) if p)
        return cls(
            demo=demo,
            data_dir=Path(text("DATA_DIR", "data") or "data"),
            microsoft_app_id=text("MICROSOFT_APP_ID"),
            microsoft_app_password=env.get("MICROSOFT_APP_PASSWORD", ""),
            microsoft_app_tenant_id=text("MICROSOFT_APP_TENANT_ID"),
            microsoft_app_type=app_type,
            tab_client_id=text("TAB_CLIENT_ID"),
            teams_app_catalog_id=text("TEAMS_APP_CATALOG_ID"),
            public_base_url=text("PUBLIC_BASE_URL").rstrip("/"),
            graph_base_url=text("GRAPH_BASE_URL").rstrip("/"),
            calling_openid_config_url=text("CALLING_OPENID_CONFIG_URL", DEFAULT_CALLING_OPENID_URL),
            bot_openid_config_url=text("BOT_OPENID_CONFIG_URL", DEFAULT_BOT_OPENID_URL),
            tab_openid_config_url=text("TAB_OPENID_CONFIG_URL", DEFAULT_TAB_OPENID_URL),
            entra_authority_host=text("ENTRA_AUTHORITY_HOST", DEFAULT_ENTRA_AUTHORITY_HOST).rstrip(
                "/"
            ),
            cosmos_endpoint=text("COSMOS_ENDPOINT"),
            cosmos_key=env.get("COSMOS_KEY", ""),
            cosmos_database=text("COSMOS_DATABASE", "contactcenter") or "contactcenter",
            cosmos_verify_tls=_parse_bool("COSMOS_VERIFY_TLS", text("COSMOS_VERIFY_TLS", "true")),
            blob_account_url=text("BLOB_ACCOUNT_URL"),
            blob_connection_string=env.get("BLOB_CONNECTION_STRING", ""),
            applicationinsights_connection_string=env.get(
                "APPLICATIONINSIGHTS_CONNECTION_STRING", ""
            ),
            demo_call_rate=_parse_float(
                "DEMO_CALL_RATE", text("DEMO_CALL_RATE", str(DEMO_DEFAULT_CALL_RATE))
            ),
            simulator_port=_parse_int("SIMULATOR_PORT", text("SIMULATOR_PORT", "0")),
            admin_object_ids=admin_ids,
            log_level=text("LOG_LEVEL", "INFO").upper() or "INFO",
            log_format=text("LOG_FORMAT", "text").lower() or "text",
        )

    def validate(self) -> None:
        """Raise SettingsError for the first setting that is missing or malformed."""
        if not 0 < self.port < 65536:
            raise SettingsError(f"port {self.port} is out of range 1-65535")
        if not 0 <= self.simulator_port < 65536:
            raise SettingsError(f"SIMULATOR_PORT={self.simulator_port} is out of range 0-65535")
        if self.demo_call_rate < 0:
            raise SettingsError("DEMO_CALL_RATE must be zero or more calls per hour")
        if self.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(
                f"LOG_LEVEL={self.log_level!r} is not DEBUG, INFO, WARNING or ERROR"
            )
        if self.log_format not in {"text", "json"}:
            raise SettingsError(f"LOG_FORMAT={self.log_format!r} is not text or json")
        for name, value in (
            ("MICROSOFT_APP_ID", self.microsoft_app_id),
            ("MICROSOFT_APP_TENANT_ID", self.microsoft_app_tenant_id),
            ("TAB_CLIENT_ID", self.tab_client_id),
            ("TEAMS_APP_CATALOG_ID", self.teams_app_catalog_id),
        ):
            if value and not _is_guid(value):
                raise SettingsError(f"{name}={value!r} is not a GUID")
        for oid in self.admin_object_ids:
            if not _is_guid(oid):
                raise SettingsError(f"ADMIN_OBJECT_IDS holds {oid!r}, which is not a GUID")
        for name, url in (
            ("PUBLIC_BASE_URL", self.public_base_url),
            ("GRAPH_BASE_URL", self.graph_base_url),
            ("CALLING_OPENID_CONFIG_URL", self.calling_openid_config_url),
            ("BOT_OPENID_CONFIG_URL", self.bot_openid_config_url),
            ("TAB_OPENID_CONFIG_URL", self.tab_openid_config_url),
            ("ENTRA_AUTHORITY_HOST", self.entra_authority_host),
            ("COSMOS_ENDPOINT", self.cosmos_endpoint),
            ("BLOB_ACCOUNT_URL", self.blob_account_url),
        ):
            if url:
                _check_url(name, url)
        if not self.entra_authority_host.startswith("https://"):
            raise SettingsError(
                f"ENTRA_AUTHORITY_HOST={self.entra_authority_host} must be https: Entra issues "
                "tokens over https only"
            )
        if self.demo:
            self._validate_demo()
        else:
            self._validate_production()

    def _validate_demo(self) -> None:
        if self.microsoft_app_password:
            raise SettingsError(
                "demo mode refuses to start with MICROSOFT_APP_PASSWORD set: demo mode trusts "
                "the local simulator's keys and must never run with production credentials"
            )
        if self.graph_base_url and not is_loopback_url(self.graph_base_url):
            raise SettingsError(
                f"demo mode refuses to start with GRAPH_BASE_URL={self.graph_base_url}: in demo "
                "mode Graph is the local simulator, which runs on loopback only"
            )

    def _validate_production(self) -> None:
        missing = [
            name
            for name, value in (
                ("MICROSOFT_APP_ID", self.microsoft_app_id),
                ("PUBLIC_BASE_URL", self.public_base_url),
            )
            if not value
        ]
        if self.microsoft_app_type is not AppType.MULTI_TENANT and not self.microsoft_app_tenant_id:
            missing.append("MICROSOFT_APP_TENANT_ID")
        if self.microsoft_app_type is not AppType.USER_ASSIGNED_MSI and not (
            self.microsoft_app_password
        ):
            missing.append("MICROSOFT_APP_PASSWORD")
        if missing:
            raise SettingsError(
                f"missing required setting{'s' if len(missing) > 1 else ''}: "
                f"{', '.join(missing)} (or run with --demo)"
            )
        if not self.public_base_url.startswith("https://"):
            raise SettingsError(
                f"PUBLIC_BASE_URL={self.public_base_url} must be https: Graph and Teams only "
                "call https endpoints"
            )


def read_dotenv(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines (``#`` comments, optional quotes); raise SettingsError on junk."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def is_loopback_url(url: str) -> bool:
    """Tell whether ``url`` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(f"{name}={url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback_url(url):
        raise SettingsError(f"{name}={url} must be https (plain http only on loopback)")


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}={raw!r} is not true or false")


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
