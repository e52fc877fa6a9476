"""Settings: read once, validated, one clear error per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import AppType, Settings, SettingsError, is_loopback_url, read_dotenv

APP_ID = "11111111-2222-4333-8444-555555555555"
TENANT = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

PRODUCTION = {
    "MICROSOFT_APP_ID": APP_ID,
    "MICROSOFT_APP_PASSWORD": "secret-value",
    "MICROSOFT_APP_TENANT_ID": TENANT,
    "PUBLIC_BASE_URL": "https://cc.example.com/",
}


def test_demo_needs_no_settings() -> None:
    settings = Settings.from_env({}, demo=True, dotenv=None)
    assert settings.demo
    assert settings.data_dir == Path("data")
    assert settings.demo_call_rate == 60.0


def test_production_reads_every_named_setting() -> None:
    env = dict(
        PRODUCTION,
        MICROSOFT_APP_TYPE="MultiTenant",
        COSMOS_ENDPOINT="https://acct.documents.azure.com:443/",
        COSMOS_DATABASE="cc",
        COSMOS_VERIFY_TLS="false",
        DATA_DIR="/var/cc",
        DEMO_CALL_RATE="0",
    )
    settings = Settings.from_env(env, dotenv=None)
    assert settings.microsoft_app_type is AppType.MULTI_TENANT
    assert settings.public_base_url == "https://cc.example.com"
    assert settings.graph_base_url == ""
    assert settings.cosmos_database == "cc"
    assert settings.cosmos_verify_tls is False
    assert settings.uses_cosmos
    assert settings.data_dir == Path("/var/cc")
    assert settings.demo_call_rate == 0


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env(dict(PRODUCTION, COSMOS_KEY="cosmos-key"), dotenv=None)
    assert "secret-value" not in repr(settings)
    assert "cosmos-key" not in repr(settings)


def test_production_names_every_missing_setting() -> None:
    with pytest.raises(SettingsError, match="MICROSOFT_APP_ID, PUBLIC_BASE_URL"):
        Settings.from_env({}, dotenv=None)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MICROSOFT_APP_ID", "not-a-guid", "MICROSOFT_APP_ID='not-a-guid' is not a GUID"),
        ("MICROSOFT_APP_TYPE", "Both", "MICROSOFT_APP_TYPE='Both' is not one of"),
        ("PUBLIC_BASE_URL", "http://cc.example.com", "must be https"),
        ("COSMOS_VERIFY_TLS", "maybe", "COSMOS_VERIFY_TLS='maybe' is not true or false"),
        ("DEMO_CALL_RATE", "lots", "DEMO_CALL_RATE='lots' is not a number"),
        ("DEMO_CALL_RATE", "-1", "zero or more"),
        ("GRAPH_BASE_URL", "ftp://graph", "is not an http"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("ADMIN_OBJECT_IDS", "x, y", "not a GUID"),
        ("ENTRA_AUTHORITY_HOST", "http://127.0.0.1:8443", "Entra issues tokens over https only"),
    ],
)
def test_malformed_setting_is_one_clear_error(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(dict(PRODUCTION, **{name: value}), dotenv=None)


def test_demo_refuses_production_password() -> None:
    with pytest.raises(SettingsError, match="refuses to start with MICROSOFT_APP_PASSWORD"):
        Settings.from_env({"MICROSOFT_APP_PASSWORD": "x"}, demo=True, dotenv=None)


def test_demo_refuses_real_graph() -> None:
    with pytest.raises(SettingsError, match="refuses to start with GRAPH_BASE_URL"):
        Settings.from_env(
            {"GRAPH_BASE_URL": "https://graph.microsoft.com/v1.0"}, demo=True, dotenv=None
        )


def test_demo_accepts_loopback_graph() -> None:
    settings = Settings.from_env(
        {"GRAPH_BASE_URL": "http://127.0.0.1:4000/v1.0"}, demo=True, dotenv=None
    )
    assert settings.graph_base_url == "http://127.0.0.1:4000/v1.0"


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('# comment\nexport DEMO_CALL_RATE="12"\nDATA_DIR=/from/dotenv\n')
    settings = Settings.from_env({"DATA_DIR": "/from/env"}, demo=True, dotenv=dotenv)
    assert settings.demo_call_rate == 12
    assert settings.data_dir == Path("/from/env")


def test_dotenv_junk_is_reported_with_its_line(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("GOOD=1\nthis is not a setting\n")
    with pytest.raises(SettingsError, match=r"\.env:2: expected KEY=VALUE"):
        read_dotenv(dotenv)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:80/x", True),
        ("http://127.9.9.9", True),
        ("http://localhost:3978", True),
        ("http://[::1]:3978", True),
        ("https://graph.microsoft.com", False),
        ("http://10.0.0.1", False),
    ],
)
def test_loopback_detection(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback
