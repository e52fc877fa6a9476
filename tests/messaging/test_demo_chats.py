"""Demo mode's Teams chats page: the simulator's conversations, and the bot's cards pressed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, unused_port
from playwright.async_api import Browser, ConsoleMessage, Error, async_playwright, expect
from pytest_aiohttp import AiohttpClient

from bot.app import Services, create_app
from bot.demo import LINES
from bot.messaging import demo_chats
from bot.messaging.demo_chats import ADAPTIVE_CARDS_JS, DEMO_CHANNEL
from bot.settings import AppType, Settings
from contactcenter.clock import VirtualClock
from contactcenter.model import AgentStatus, AlertingModel, Party, PartyKind, RoutingMethod
from contactcenter.ports import OfferAlert, OfferEnd
from simulator.installations import personal_conversation_id
from storage.memory import MemoryStore
from tests.messaging.support import (
    ANA,
    BEN,
    CHLOE,
    HIRO,
    SALES,
    TENANT,
    Stack,
    card_text,
)

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ANA_CHAT = personal_conversation_id(ANA)

Host = TestClient[web.Request, web.Application]


def _api(conversation_id: str, action: str = "") -> str:
    path = f"/demo/api/conversations/{quote(conversation_id, safe='')}"
    return f"{path}/{action}" if action else path


def _alert(call_id: str = "call-1") -> OfferAlert:
    return OfferAlert(
        tenant_id=TENANT,
        call_id=call_id,
        agent_id=ANA,
        queue_id=SALES,
        queue_name="Sales",
        caller=Party(PartyKind.PHONE, "+14255550199"),
        waited_s=12.0,
        card_first=False,
        ivr_path=("Main menu", "Sales"),
    )


async def _get(stack: Stack, path: str) -> Any:
    response = await stack.host.get(path)
    assert response.status == 200, await response.text()
    return await response.json()


async def _post(stack: Stack, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = await stack.host.post(path, json=body)
    return response.status, await response.json()


def _bot_cards(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in conversation["messages"] if m["from"] == "bot" and m["card"]]


# ------------------------------------------------------------ outside demo mode
@pytest.fixture
async def production(aiohttp_client: AiohttpClient, tmp_path: Path) -> Host:
    """A production-mode host; the keys it would fetch are on a closed loopback port."""
    closed = f"http://127.0.0.1:{unused_port()}"
    settings = Settings(
        demo=False,
        data_dir=tmp_path,
        microsoft_app_id="11111111-2222-3333-4444-555555555555",
        microsoft_app_password="not-used-in-these-tests",
        microsoft_app_tenant_id=TENANT,
        microsoft_app_type=AppType.SINGLE_TENANT,
        public_base_url="https://cc.contoso.example",
        bot_openid_config_url=f"{closed}/.well-known/openidconfiguration",
        calling_openid_config_url=f"{closed}/.well-known/openidconfiguration",
        tab_openid_config_url=f"{closed}/.well-known/openid-configuration",
    )
    clock = VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    app = create_app(settings, Services(store=MemoryStore(), clock=clock, run_timers=False))
    return await aiohttp_client(app)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/demo/chats"),
        ("GET", "/demo/vendor/adaptivecards.js"),
        ("GET", "/demo/assets/chats.js"),
        ("GET", "/demo/api/conversations"),
        ("GET", _api(ANA_CHAT)),
        ("POST", _api(ANA_CHAT, "invoke")),
        ("POST", _api(ANA_CHAT, "messages")),
        ("POST", f"/demo/api/people/{ANA}/install"),
    ],
)
async def test_the_demo_routes_are_404_outside_demo_mode(
    production: Host, method: str, path: str
) -> None:
    response = await production.request(method, path, json={"verb": "away", "userId": ANA})

    assert response.status == 404


# ------------------------------------------------------------ the page
async def test_the_page_and_the_card_library_are_served_under_a_strict_policy(
    stack: Stack,
) -> None:
    page = await stack.host.get("/demo/chats")
    script = await stack.host.get("/demo/assets/chats.js")
    library = await stack.host.get("/demo/vendor/adaptivecards.js")

    assert page.status == 200
    assert page.content_type == "text/html"
    assert '<script src="/demo/vendor/adaptivecards.js">' in await page.text()
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert script.status == 200
    assert "javascript" in script.content_type
    assert library.status == 200
    assert await library.read() == ADAPTIVE_CARDS_JS.read_bytes()


async def test_a_missing_card_library_is_a_404_that_says_so(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(demo_chats, "ADAPTIVE_CARDS_JS", tmp_path / "adaptivecards.min.js")

    response = await stack.host.get("/demo/vendor/adaptivecards.js")

    assert response.status == 404
    assert "missing from this install" in (await response.json())["error"]["message"]


# ------------------------------------------------------------ the proxy
async def test_the_proxy_lists_a_chat_once_an_alert_card_was_sent(stack: Stack) -> None:
    await stack.install(ANA)
    await stack.notifier.offer_started(_alert())
    await stack.notifier.wait_idle()

    listing = await _get(stack, "/demo/api/conversations")
    conversation = await _get(stack, _api(ANA_CHAT))

    [chat] = [c for c in listing["conversations"] if c["id"] == ANA_CHAT]
    assert chat["kind"] == "personal"
    assert chat["title"] == "Ana Ruiz"
    assert chat["userId"] == ANA
    assert chat["tenantId"] == TENANT
    assert chat["cards"] == 2  # the welcome card and the alert
    people = {person["id"]: person for person in listing["people"]}
    assert people[ANA]["hasChat"] is True
    assert people[BEN]["hasChat"] is False
    added, welcome, alert = conversation["messages"]
    assert added == {**added, "from": "system", "text": "Ana Ruiz added Contact Center."}
    assert welcome["from"] == "bot"
    assert "Incoming call" in card_text(alert["card"])
    assert (alert["updated"], alert["version"]) == (False, 1)


async def test_an_updated_card_is_listed_as_it_is_now_and_marked_updated(stack: Stack) -> None:
    await stack.install(ANA)
    await stack.notifier.offer_started(_alert())
    await stack.notifier.offer_ended(_alert(), OfferEnd.TAKEN_BY_OTHER)
    await stack.notifier.wait_idle()

    conversation = await _get(stack, _api(ANA_CHAT))

    alert = _bot_cards(conversation)[-1]
    assert alert["updated"] is True
    assert alert["version"] == 2
    assert "Another agent took this call." in card_text(alert["card"])


async def test_an_unknown_conversation_is_404(stack: Stack) -> None:
    response = await stack.host.get(_api("a:nobody"))

    assert response.status == 404


async def test_an_invoke_through_the_proxy_reaches_the_bot_and_returns_its_card(
    stack: Stack,
) -> None:
    await stack.install(ANA)

    status, answer = await _post(
        stack,
        _api(ANA_CHAT, "invoke"),
        {"verb": "away", "data": {"reason": "Training"}, "conversationId": ANA_CHAT, "userId": ANA},
    )

    assert status == 200
    assert answer["status"] == 200
    assert answer["statusCode"] == 200
    assert "Away (Training)" in card_text(answer["card"])
    agent = (await stack.repository.agents.get(TENANT, ANA)).value
    assert agent.status is AgentStatus.AWAY
    # The simulator sent it as Teams does: a signed invoke from Ana, in her chat.
    delivered = (await stack.simulator.conversation(ANA_CHAT))["incoming"][-1]
    assert delivered["status"] == 200
    assert delivered["activity"]["name"] == "adaptiveCard/action"
    assert delivered["activity"]["from"]["aadObjectId"] == ANA


async def test_the_bot_error_card_comes_back_with_its_status(stack: Stack) -> None:
    await stack.install(ANA)

    status, answer = await _post(stack, _api(ANA_CHAT, "invoke"), {"verb": "dance", "userId": ANA})

    assert status == 200
    assert answer["statusCode"] == 400
    assert "Unknown action" in card_text(answer["card"])


async def test_only_its_own_user_acts_in_a_1_1_chat(stack: Stack) -> None:
    await stack.install(ANA)

    status, _ = await _post(stack, _api(ANA_CHAT, "invoke"), {"verb": "away", "userId": BEN})

    assert status == 403
    agent = (await stack.repository.agents.get(TENANT, BEN)).value
    assert agent.status is not AgentStatus.AWAY


@pytest.mark.parametrize(
    "body",
    [
        {"data": {}, "userId": ANA},
        {"verb": "away"},
        {"verb": "away", "userId": ANA, "conversationId": "a:someone-else"},
        {"verb": "away", "userId": "not-in-the-directory"},
        {"verb": "away", "userId": ANA, "extra": True},
    ],
)
async def test_an_unusable_invoke_is_400_and_sends_nothing(
    stack: Stack, body: dict[str, Any]
) -> None:
    await stack.install(ANA)

    status, answer = await _post(stack, _api(ANA_CHAT, "invoke"), body)

    assert status == 400
    assert "error" in answer
    assert len((await stack.simulator.conversation(ANA_CHAT))["incoming"]) == 1


async def test_a_typed_command_reaches_the_bot_as_that_user(stack: Stack) -> None:
    await stack.install(ANA)

    status, answer = await _post(
        stack, _api(ANA_CHAT, "messages"), {"text": "status", "userId": ANA}
    )

    assert status == 200
    assert answer["replies"] == 1
    conversation = await _get(stack, _api(ANA_CHAT))
    said, replied = conversation["messages"][-2:]
    assert (said["from"], said["text"], said["userId"]) == ("user", "status", ANA)
    assert replied["from"] == "bot"
    assert "Available" in card_text(replied["card"]) or "Offline" in card_text(replied["card"])


async def test_a_command_in_the_demo_channel_mentions_the_bot(stack: Stack) -> None:
    listing = await _get(stack, "/demo/api/conversations")
    [channel] = [c for c in listing["conversations"] if c["kind"] == "channel"]
    assert channel["id"] == DEMO_CHANNEL["id"]

    status, _ = await _post(
        stack, _api(channel["id"], "messages"), {"text": "queue card sales", "userId": HIRO}
    )

    assert status == 200
    conversation = await _get(stack, _api(channel["id"]))
    assert (conversation["title"], conversation["subtitle"]) == ("General", "Contact center")
    said, card = conversation["messages"]
    assert (said["text"], said["author"]) == ("@Contact Center queue card sales", "Hiro Tanaka")
    assert "Sales queue" in card_text(card["card"])


async def test_adding_the_app_for_someone_opens_their_chat(stack: Stack) -> None:
    status, added = await _post(stack, f"/demo/api/people/{BEN}/install", {})
    again, _ = await _post(stack, f"/demo/api/people/{BEN}/install", {})

    assert (status, again) == (201, 200)
    assert added["conversationId"] == personal_conversation_id(BEN)
    listing = await _get(stack, "/demo/api/conversations")
    assert personal_conversation_id(BEN) in {c["id"] for c in listing["conversations"]}
    stored = await stack.documents.conversation_refs.get(TENANT, BEN)
    assert stored.value.conversation_id == personal_conversation_id(BEN)


# ------------------------------------------------------------ in the browser
@pytest.fixture(scope="session")
def chromium() -> Path:
    """Return Debian's Chromium; without it, fail on CI and skip elsewhere."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Launch Debian's Chromium (never a downloaded browser)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.mark.browser
async def test_declining_on_the_rendered_alert_card_updates_it(
    stack: Stack, browser: Browser
) -> None:
    for agent in (ANA, BEN, CHLOE):
        await stack.install(agent)
    queue = (await stack.repository.queues.get(TENANT, SALES)).value
    await stack.repository.queues.put(
        replace(queue, alerting_model=AlertingModel.CARD_FIRST, routing_method=RoutingMethod.SERIAL)
    )
    placed = await stack.simulator.place_call(
        TENANT,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550142",
    )
    alert = (await stack.simulator.wait_for_conversation(ANA_CHAT, events=2))["events"][1]
    context = await browser.new_context(viewport={"width": 1200, "height": 820})
    page = await context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_page_error(error: Error) -> None:
        errors.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    try:
        await page.goto(str(stack.host.make_url(f"/demo/chats#{quote(ANA_CHAT, safe='')}")))
        card = page.locator(f'li[data-message-id="{alert["activityId"]}"]')
        await expect(card).to_contain_text("Incoming call")
        await expect(card.get_by_role("button", name="Accept")).to_be_visible()

        await card.get_by_role("button", name="Decline").click()

        await expect(card).to_contain_text("You declined this call.")
        await expect(card.locator(".badge", has_text="Updated")).to_be_visible()
        # The bot also updated the card in place: the page shows that version too.
        await expect(card).to_have_attribute("data-version", "2")
        await expect(page.locator("#live")).to_have_text("Live")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "demo-chats-declined.png"))
    finally:
        await context.close()
    stored = (await stack.repository.calls.get(TENANT, placed.id)).value
    assert stored.offer is not None
    assert stored.offer.agent_ids == (BEN,)
    assert errors == []
