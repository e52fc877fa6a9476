"""``contact-center check`` on loopback: the Cosmos DB test server, the simulator as Entra.

The simulator's application is served twice at once: over plain http for the OpenID
configurations (http is allowed on loopback) and over TLS, with a certificate made here, as
the Entra authority (msal insists on https). msal trusts that certificate through
``REQUESTS_CA_BUNDLE``; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from bot.check import Finding, Status, check_settings
from bot.check_cli import render_table
from bot.settings import AppType, Settings
from simulator import SimulatorConfig
from simulator.app import create_simulator_app
from simulator.directory import TenantEntry
from tests.cosmos_server import EMULATOR_KEY, fresh_database_name, shared_server
from tests.loopback_tls import self_signed_certificate

APP_ID = "3f6e2a41-8c5d-4b7e-9a10-2d3c4b5a6f70"
TENANT_ID = "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"
SECRET = "loopback-client-secret"
OTHER_GUID = "00000000-1111-4222-8333-444444444444"
# Settings a developer's environment may hold; cleared for the command's subprocess.
SETTINGS_PREFIXES = ("MICROSOFT_", "COSMOS_", "PUBLIC_", "GRAPH_", "TAB_", "BLOB_", "ENTRA_")


@dataclass(frozen=True)
class LoopbackCloud:
    """Where the loopback stand-ins listen, and the settings that point at them."""

    http_url: str
    https_url: str
    certificate: Path
    cosmos_endpoint: str
    cosmos_database: str

    def environ(self, **changes: str | None) -> dict[str, str]:
        """Return production settings that pass, with ``changes`` applied (None: unset)."""
        openid = f"{self.http_url}/.well-known/OpenIdConfiguration"
        environ: dict[str, str] = {
            "MICROSOFT_APP_ID": APP_ID,
            "MICROSOFT_APP_TENANT_ID": TENANT_ID,
            "MICROSOFT_APP_PASSWORD": SECRET,
            "PUBLIC_BASE_URL": "https://contact.contoso.example",
            "COSMOS_ENDPOINT": self.cosmos_endpoint,
            "COSMOS_KEY": EMULATOR_KEY,
            "COSMOS_DATABASE": self.cosmos_database,
            "COSMOS_VERIFY_TLS": "false",
            "CALLING_OPENID_CONFIG_URL": openid,
            "BOT_OPENID_CONFIG_URL": openid,
            "TAB_OPENID_CONFIG_URL": openid,
            "ENTRA_AUTHORITY_HOST": self.https_url,
        }
        for name, value in changes.items():
            if value is None:
                environ.pop(name, None)
            else:
                environ[name] = value
        return environ


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LoopbackCloud]:
    """The Cosmos DB test server, and the simulator over http and https."""
    server = shared_server()
    cert_path, key_path = self_signed_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_path, key_path)
    config = SimulatorConfig(
        data_dir=tmp_path / "simulator",
        app_id=APP_ID,
        client_secret=SECRET,
        seed_tenants=(TenantEntry(id=TENANT_ID, display_name="Contoso"),),
    )
    runner = web.AppRunner(create_simulator_app(config))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
    (_, http_port), (_, https_port) = (address[:2] for address in runner.addresses)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))
    try:
        yield LoopbackCloud(
            http_url=f"http://127.0.0.1:{http_port}",
            https_url=f"https://127.0.0.1:{https_port}",
            certificate=cert_path,
            cosmos_endpoint=server.endpoint,
            cosmos_database=fresh_database_name(),
        )
    finally:
        await runner.cleanup()


async def findings_for(environ: Mapping[str, str]) -> list[Finding]:
    return await check_settings(Settings.read(environ, dotenv=None), timeout_s=10)


def problems(findings: list[Finding]) -> dict[str, Status]:
    return {f.setting: f.status for f in findings if f.is_problem}


# --- a configuration that works ---------------------------------------------------------


@pytest.mark.cosmos
async def test_a_loopback_configuration_has_no_problem(cloud: LoopbackCloud) -> None:
    findings = await findings_for(cloud.environ())

    assert problems(findings) == {}
    by_setting = {f.setting: f for f in findings}
    assert by_setting["COSMOS_ENDPOINT"].status is Status.OK
    assert by_setting["COSMOS_KEY"].status is Status.OK
    assert by_setting["TAB_OPENID_CONFIG_URL"].detail.endswith("1 signing key(s)")
    assert by_setting["MICROSOFT_APP_PASSWORD"].detail == (
        f"{cloud.https_url}/{TENANT_ID} issued the bot tokens for Bot Framework and Microsoft Graph"
    )


@pytest.mark.cosmos
async def test_a_database_the_host_will_create_is_a_warning_not_a_problem(
    cloud: LoopbackCloud,
) -> None:
    findings = await findings_for(cloud.environ())

    (database,) = [f for f in findings if f.setting == "COSMOS_DATABASE"]
    assert database.status is Status.WARNING
    assert "creates it on first start" in database.detail


@pytest.mark.cosmos
async def test_the_secret_is_never_shown(cloud: LoopbackCloud) -> None:
    for environ in (cloud.environ(), cloud.environ(MICROSOFT_APP_PASSWORD="wrong-" + SECRET)):
        findings = await findings_for(environ)

        assert SECRET not in render_table([(f.setting, f.status, f.detail) for f in findings])


# --- each broken setting, its own line ---------------------------------------------------


@pytest.mark.cosmos
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"MICROSOFT_APP_ID": "contact-center"},
            {"MICROSOFT_APP_ID": Status.WRONG},
            id="app id not a GUID",
        ),
        pytest.param(
            {"MICROSOFT_APP_ID": OTHER_GUID},
            {"MICROSOFT_APP_ID": Status.FAILED},
            id="app id unknown to Entra",
        ),
        pytest.param(
            {"MICROSOFT_APP_TENANT_ID": None},
            {"MICROSOFT_APP_TENANT_ID": Status.MISSING},
            id="tenant missing",
        ),
        pytest.param(
            {"MICROSOFT_APP_TENANT_ID": OTHER_GUID},
            {"MICROSOFT_APP_TENANT_ID": Status.FAILED},
            id="tenant unknown to Entra",
        ),
        pytest.param(
            {"MICROSOFT_APP_PASSWORD": None},
            {"MICROSOFT_APP_PASSWORD": Status.MISSING},
            id="secret missing",
        ),
        pytest.param(
            {"MICROSOFT_APP_PASSWORD": "not-the-secret"},
            {"MICROSOFT_APP_PASSWORD": Status.FAILED},
            id="secret refused",
        ),
        pytest.param(
            {"PUBLIC_BASE_URL": "http://contact.contoso.example"},
            {"PUBLIC_BASE_URL": Status.WRONG},
            id="base url not https",
        ),
        pytest.param(
            {"PUBLIC_BASE_URL": "https://contact.contoso.example/cc?x=1"},
            {"PUBLIC_BASE_URL": Status.WRONG},
            id="base url with a path",
        ),
        pytest.param(
            {"TAB_CLIENT_ID": "tab"},
            {"TAB_CLIENT_ID": Status.WRONG},
            id="tab client id not a GUID",
        ),
        pytest.param(
            {"COSMOS_KEY": "not base64!"},
            {"COSMOS_KEY": Status.WRONG},
            id="cosmos key malformed",
        ),
        pytest.param(
            {"COSMOS_ENDPOINT": f"https://127.0.0.1:{_closed_port()}/"},
            {"COSMOS_ENDPOINT": Status.FAILED},
            id="cosmos unreachable",
        ),
        pytest.param(
            {"BOT_OPENID_CONFIG_URL": "http://127.0.0.1:{http_port}/.well-known/nothing"},
            {"BOT_OPENID_CONFIG_URL": Status.FAILED},
            id="openid configuration not found",
        ),
        pytest.param(
            {"CALLING_OPENID_CONFIG_URL": f"http://127.0.0.1:{_closed_port()}/openid"},
            {"CALLING_OPENID_CONFIG_URL": Status.FAILED},
            id="openid configuration unreachable",
        ),
        pytest.param(
            {"ENTRA_AUTHORITY_HOST": f"https://127.0.0.1:{_closed_port()}"},
            {"ENTRA_AUTHORITY_HOST": Status.FAILED},
            id="authority unreachable",
        ),
    ],
)
async def test_each_broken_setting_is_named_on_its_own_line(
    cloud: LoopbackCloud, changes: dict[str, str | None], expected: dict[str, Status]
) -> None:
    http_port = cloud.http_url.rsplit(":", 1)[1]
    environ = cloud.environ(
        **{k: v.replace("{http_port}", http_port) if v else v for k, v in changes.items()}
    )

    findings = await findings_for(environ)

    assert problems(findings) == expected
    lines = render_table([(f.setting, f.status, f.detail) for f in findings]).splitlines()
    (setting,) = expected
    assert len([line for line in lines if line.startswith(f"{setting} ")]) == 1


def test_missing_settings_block_the_token_check_and_say_so() -> None:
    findings = asyncio.run(
        check_settings(
            Settings(
                microsoft_app_type=AppType.SINGLE_TENANT,
                calling_openid_config_url=f"http://127.0.0.1:{_closed_port()}/o",
                bot_openid_config_url=f"http://127.0.0.1:{_closed_port()}/o",
                tab_openid_config_url=f"http://127.0.0.1:{_closed_port()}/o",
            ),
            timeout_s=5,
        )
    )

    (token,) = [f for f in findings if f.setting == "bot token"]
    assert token.status is Status.NOT_CHECKED
    assert "MICROSOFT_APP_ID, MICROSOFT_APP_TENANT_ID, MICROSOFT_APP_PASSWORD" in token.detail
    assert {"MICROSOFT_APP_ID", "PUBLIC_BASE_URL"} <= set(problems(findings))


def test_without_cosmos_db_the_sqlite_file_is_a_warning() -> None:
    findings = asyncio.run(
        check_settings(
            Settings(
                microsoft_app_id=APP_ID,
                calling_openid_config_url=f"http://127.0.0.1:{_closed_port()}/o",
                bot_openid_config_url=f"http://127.0.0.1:{_closed_port()}/o",
                tab_openid_config_url=f"http://127.0.0.1:{_closed_port()}/o",
            ),
            timeout_s=5,
        )
    )

    (cosmos,) = [f for f in findings if f.setting == "COSMOS_ENDPOINT"]
    assert cosmos.status is Status.WARNING
    assert "SQLite file data/contactcenter.db, for one host only" in cosmos.detail


# --- the command ---------------------------------------------------------------------------


async def _run_command(environ: Mapping[str, str], cwd: Path) -> tuple[int, str]:
    """Run ``contact-center check`` in its own process while this loop serves the cloud."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env.update(environ)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "check",
        "--timeout",
        "10",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


@pytest.mark.cosmos
async def test_the_command_exits_0_with_a_table_when_the_configuration_works(
    cloud: LoopbackCloud, tmp_path: Path
) -> None:
    code, output = await _run_command(
        cloud.environ(REQUESTS_CA_BUNDLE=str(cloud.certificate)), tmp_path
    )

    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("setting ")
    assert lines[0].endswith("what was found, and how to fix it")
    assert any(line.split()[:2] == ["MICROSOFT_APP_PASSWORD", "ok"] for line in lines)
    assert lines[-1] == "Ready: no problems, 2 warnings"


@pytest.mark.cosmos
async def test_the_command_exits_2_naming_the_broken_setting(
    cloud: LoopbackCloud, tmp_path: Path
) -> None:
    environ = cloud.environ(
        REQUESTS_CA_BUNDLE=str(cloud.certificate), MICROSOFT_APP_PASSWORD="not-the-secret"
    )

    code, output = await _run_command(environ, tmp_path)

    assert code == 2, output
    failed = [line for line in output.splitlines() if " failed " in line]
    assert [line.split()[0] for line in failed] == ["MICROSOFT_APP_PASSWORD"]
    assert "Entra refused the secret" in failed[0]
    assert output.splitlines()[-1] == "1 problem: fix it and run contact-center check again"


async def test_settings_that_cannot_be_read_are_one_problem(tmp_path: Path) -> None:
    code, output = await _run_command({"MICROSOFT_APP_TYPE": "Bot"}, tmp_path)

    assert code == 2
    assert "settings  wrong   MICROSOFT_APP_TYPE='Bot' is not one of" in output
