"""Giving an agent a seat installs the Teams app for them, in the background."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.background import Background
from bot.messaging.app_installs import APP_INSTALLS, AppInstalls, Sleep
from bot.messaging.documents import ConversationRef, MessagingDocuments
from bot.settings import Settings, SettingsError
from contactcenter.errors import DomainError, NotFound, Unavailable
from graph.teams_apps import CATALOG_URL, InstallOutcome
from storage.memory import MemoryStore
from tests.messaging.support import ANA, BEN, GRACE, TENANT, ManualTimer, Stack

CATALOG_ID = "7b0a8f3e-1d2c-4e5f-8a9b-0c1d2e3f4a5b"
MANIFEST_ID = "6d3c1f6e-2c1a-4e5b-9a51-0c0ffee0d3d0"


async def _admin_token(stack: Stack) -> str:
    async with stack.host.post("/api/tab/demo/token", json={"userId": GRACE}) as answer:
        assert answer.status == 200
        token: str = (await answer.json())["accessToken"]
        return token


async def _assign_seat(stack: Stack, agent_id: str) -> int:
    token = await _admin_token(stack)
    async with stack.host.put(
        f"/api/tab/admin/seats/{agent_id}", headers={"Authorization": f"Bearer {token}"}
    ) as answer:
        return answer.status


async def _installed_apps(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    async with stack.host.session.get(
        f"{stack.simulator_url}/v1.0/users/{user_id}/teamwork/installedApps",
        headers={"Authorization": "Bearer demo"},
    ) as answer:
        assert answer.status == 200
        found: list[dict[str, Any]] = (await answer.json())["value"]
        return found


async def test_assigning_a_seat_installs_the_app_for_the_agent(stack: Stack) -> None:
    assert await _installed_apps(stack, ANA) == []

    assert await _assign_seat(stack, ANA) == 200
    await stack.host.app[APP_INSTALLS].wait_idle()

    [installed] = await _installed_apps(stack, ANA)
    assert installed["teamsApp"]["id"] == stack.settings.microsoft_app_id
    # Teams told the bot about the new chat: alerts can reach the agent now.
    stored = (await stack.documents.conversation_refs.get(TENANT, ANA)).value
    assert stored.user_mri == f"29:{ANA}"


async def test_an_app_uploaded_to_the_org_catalog_is_installed_by_its_catalog_id(
    stack: Stack,
) -> None:
    async with stack.host.session.put(
        f"{stack.simulator_url}/sim/app-catalog/{stack.settings.microsoft_app_id}",
        json={"id": CATALOG_ID, "displayName": "Contact Center"},
    ) as answer:
        assert answer.status == 200

    assert await _assign_seat(stack, ANA) == 200
    await stack.host.app[APP_INSTALLS].wait_idle()

    [installed] = await _installed_apps(stack, ANA)
    assert installed["teamsApp"]["id"] == CATALOG_ID
    assert (await stack.documents.conversation_refs.get(TENANT, ANA)).value.user_mri


async def test_the_simulated_catalog_refuses_an_uploaded_app_named_by_its_manifest_id(
    stack: Stack,
) -> None:
    app_id = stack.settings.microsoft_app_id
    async with stack.host.session.put(f"{stack.simulator_url}/sim/app-catalog/{app_id}") as answer:
        uploaded = await answer.json()
    async with stack.host.session.get(
        f"{stack.simulator_url}/v1.0/appCatalogs/teamsApps",
        params={"$filter": f"externalId eq '{app_id}'"},
        headers={"Authorization": "Bearer demo"},
    ) as answer:
        [found] = (await answer.json())["value"]
    async with stack.host.session.post(
        f"{stack.simulator_url}/v1.0/users/{ANA}/teamwork/installedApps",
        json={"teamsApp@odata.bind": f"{CATALOG_URL}/{app_id}"},
        headers={"Authorization": "Bearer demo"},
    ) as answer:
        refused = answer.status

    assert found == uploaded
    assert found["externalId"] == app_id
    assert found["distributionMethod"] == "organization"
    assert found["id"] != app_id
    assert refused == 404


async def test_assigning_the_seat_again_does_not_install_twice(stack: Stack) -> None:
    await _assign_seat(stack, ANA)
    await stack.host.app[APP_INSTALLS].wait_idle()

    assert await _assign_seat(stack, ANA) == 200
    await stack.host.app[APP_INSTALLS].wait_idle()

    assert len(await _installed_apps(stack, ANA)) == 1
    faults = await stack.simulator.list_faults()
    assert faults == []


async def test_a_graph_failure_leaves_the_seat_assigned_and_the_install_retried(
    stack: Stack,
) -> None:
    await stack.simulator.add_fault(
        r"/teamwork/installedApps$", status=500, count=None, method="POST"
    )

    assert await _assign_seat(stack, ANA) == 200
    installs = stack.host.app[APP_INSTALLS]
    await installs.wait_idle()

    assert (await stack.repository.agents.get(TENANT, ANA)).value.has_seat
    assert await _installed_apps(stack, ANA) == []
    # Parked until its retry is due.
    assert installs.installing == {(TENANT, ANA)}


# ------------------------------------------------------------------ the retries
class FlakyInstaller:
    """Fails with the given errors first, then installs."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[str, str]] = []

    async def find_catalog_id(self, external_id: str) -> str | None:
        raise AssertionError("the catalog id is configured")

    async def install_for_user(self, user_id: str, teams_app_id: str) -> InstallOutcome:
        self.calls.append((user_id, teams_app_id))
        if self.failures:
            raise self.failures.pop(0)
        return InstallOutcome.INSTALLED


async def _installs(
    installer: FlakyInstaller, timer: ManualTimer, store: MemoryStore
) -> tuple[AppInstalls, Background]:
    def installer_for(sleep: Sleep) -> FlakyInstaller:
        return installer

    installs = AppInstalls(installer_for, teams_app_id="app", timer=timer, retry_delays_s=(30, 60))
    background = Background()
    installs.bind(documents=MessagingDocuments(store), background=background)
    return installs, background


async def test_a_failed_install_is_retried_after_its_delay() -> None:
    installer = FlakyInstaller(Unavailable("Graph is down"))
    timer = ManualTimer()
    installs, background = await _installs(installer, timer, MemoryStore())

    installs.seat_assigned(TENANT, ANA)
    await installs.wait_idle()
    assert installer.calls == [(ANA, "app")]

    await timer.advance(30)
    await installs.wait_idle()

    assert installer.calls == [(ANA, "app"), (ANA, "app")]
    assert installs.installing == frozenset()
    await background.close()


async def test_an_unknown_user_is_not_retried() -> None:
    installer = FlakyInstaller(NotFound("no such user"))
    timer = ManualTimer()
    installs, background = await _installs(installer, timer, MemoryStore())

    installs.seat_assigned(TENANT, ANA)
    await installs.wait_idle()

    assert installs.installing == frozenset()
    assert timer.sleeping == 0
    assert len(installer.calls) == 1
    await background.close()


async def test_an_agent_the_bot_can_reach_already_is_not_installed_again() -> None:
    installer = FlakyInstaller()
    store = MemoryStore()
    await MessagingDocuments(store).conversation_refs.put(
        ConversationRef(
            id=ANA,
            tenant_id=TENANT,
            conversation_id=f"a:{ANA}",
            service_url="https://smba.example/",
            bot_id="28:app",
        )
    )
    installs, background = await _installs(installer, ManualTimer(), store)

    installs.seat_assigned(TENANT, ANA)
    installs.seat_assigned(TENANT, ANA)
    await installs.wait_idle()

    assert installer.calls == []
    await background.close()


async def test_shutting_down_cancels_a_waiting_retry() -> None:
    installer = FlakyInstaller(Unavailable("Graph is down"))
    timer = ManualTimer()
    installs, background = await _installs(installer, timer, MemoryStore())
    installs.seat_assigned(TENANT, ANA)
    await installs.wait_idle()

    await installs.close()
    await asyncio.wait_for(background.close(grace_s=0), timeout=5)

    assert installs.installing == frozenset()
    assert len(installer.calls) == 1


# ------------------------------------------------------------ the catalog id
class CatalogInstaller:
    """Answers the catalog lookup with ``found`` (or raises it), and installs."""

    def __init__(self, *found: str | DomainError | None) -> None:
        self.found = list(found)
        self.lookups: list[str] = []
        self.calls: list[tuple[str, str]] = []

    async def find_catalog_id(self, external_id: str) -> str | None:
        self.lookups.append(external_id)
        answer = self.found.pop(0)
        if isinstance(answer, DomainError):
            raise answer
        return answer

    async def install_for_user(self, user_id: str, teams_app_id: str) -> InstallOutcome:
        self.calls.append((user_id, teams_app_id))
        return InstallOutcome.INSTALLED


async def _install_for(
    installer: CatalogInstaller, *agent_ids: str, teams_app_id: str = ""
) -> None:
    def installer_for(sleep: Sleep) -> CatalogInstaller:
        return installer

    installs = AppInstalls(
        installer_for,
        teams_app_id=teams_app_id,
        manifest_id=MANIFEST_ID,
        timer=ManualTimer(),
        retry_delays_s=(30,),
    )
    background = Background()
    installs.bind(documents=MessagingDocuments(MemoryStore()), background=background)
    for agent_id in agent_ids:
        installs.seat_assigned(TENANT, agent_id)
    await installs.wait_idle()
    await background.close()


async def test_the_catalog_is_asked_once_for_the_apps_catalog_id() -> None:
    installer = CatalogInstaller(CATALOG_ID)

    await _install_for(installer, ANA, BEN)

    assert installer.lookups == [MANIFEST_ID]
    assert sorted(installer.calls) == sorted([(ANA, CATALOG_ID), (BEN, CATALOG_ID)])


async def test_an_app_not_in_the_org_catalog_is_installed_by_its_manifest_id() -> None:
    installer = CatalogInstaller(None)

    await _install_for(installer, ANA, BEN)

    assert installer.lookups == [MANIFEST_ID]
    assert sorted(installer.calls) == sorted([(ANA, MANIFEST_ID), (BEN, MANIFEST_ID)])


async def test_a_configured_catalog_id_is_used_without_a_lookup() -> None:
    installer = CatalogInstaller()

    await _install_for(installer, ANA, teams_app_id=CATALOG_ID)

    assert installer.lookups == []
    assert installer.calls == [(ANA, CATALOG_ID)]


async def test_a_refused_catalog_lookup_installs_by_the_manifest_id_and_asks_again() -> None:
    installer = CatalogInstaller(NotFound("403"), CATALOG_ID)

    await _install_for(installer, ANA)
    await _install_for(installer, BEN)

    assert installer.calls == [(ANA, MANIFEST_ID), (BEN, CATALOG_ID)]


def test_the_catalog_id_setting_must_be_a_guid() -> None:
    env = {"TEAMS_APP_CATALOG_ID": "contact-center"}
    with pytest.raises(SettingsError, match="TEAMS_APP_CATALOG_ID"):
        Settings.from_env(env, demo=True, dotenv=None)

    settings = Settings.from_env({"TEAMS_APP_CATALOG_ID": CATALOG_ID}, demo=True, dotenv=None)
    assert settings.teams_app_catalog_id == CATALOG_ID
