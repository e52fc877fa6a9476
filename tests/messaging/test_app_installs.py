"""Giving an agent a seat installs the Teams app for them, in the background."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.background import Background
from bot.messaging.app_installs import APP_INSTALLS, AppInstalls, Sleep
from bot.messaging.documents import ConversationRef, MessagingDocuments
from contactcenter.errors import NotFound, Unavailable
from graph.teams_apps import InstallOutcome
from storage.memory import MemoryStore
from tests.messaging.support import ANA, GRACE, TENANT, ManualTimer, Stack


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
