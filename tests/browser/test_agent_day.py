"""The agent's day in Chromium, at a desktop size and at the Teams side-panel width:
the call at hand, notes that are never lost, transfers, calling back, one time rule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error

from bot import keys
from bot.demo import LINES, PEOPLE
from contactcenter.model import AgentStatus, Queue
from tests.browser.conftest import Tab
from tests.tab.support import ANA, BEN, SALES, TabStack

pytestmark = pytest.mark.browser

CHLOE = next(p for p in PEOPLE if p.upn.startswith("chloe"))
CODES = ("Sale", "Question", "Complaint")
# A desktop, and the width of the side panel Teams opens a tab in.
SIZES = {"desktop": (1366, 768), "side-panel": (400, 800)}


@pytest.fixture(params=sorted(SIZES))
async def agent_tab(
    request: pytest.FixtureRequest, browser: Browser, demo: TabStack, axe_source: str
) -> AsyncIterator[Tab]:
    """A page at one of the two sizes, in a time zone other than the tenant's."""
    width, height = SIZES[request.param]
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        reduced_motion="reduce",
        timezone_id="Europe/Berlin",
        locale="de-DE",
    )
    page = await context.new_page()
    tab = Tab(page=page, base_url=demo.base_url, axe_source=axe_source)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.errors.append(message.text)

    def on_page_error(error: Error) -> None:
        tab.errors.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.set_default_timeout(8000)
    tab.size = request.param  # type: ignore[attr-defined]
    try:
        yield tab
    finally:
        await context.close()


def _size(tab: Tab) -> str:
    return str(getattr(tab, "size", "desktop"))


def _tenant(demo: TabStack) -> str:
    return demo.settings.microsoft_app_tenant_id


async def _sales_codes(demo: TabStack) -> None:
    def change(queue: Queue) -> Queue:
        return replace(queue, disposition_codes=CODES)

    await demo.repository.queues.update(_tenant(demo), SALES, change)


async def _away(demo: TabStack, *agent_ids: str) -> None:
    engine = demo.app[keys.ENGINE]
    for agent_id in agent_ids:
        await engine.set_status(_tenant(demo), agent_id, AgentStatus.AWAY, "Lunch")


async def _fire_timers_in(demo: TabStack, seconds: float) -> None:
    """Fire the timers due ``seconds`` from now (the host's timer loop is off in tests)."""
    engine = demo.app[keys.ENGINE]
    await engine.fire_due_timers(demo.clock.now() + timedelta(seconds=seconds))


async def _ana_answers(tab: Tab, demo: TabStack, number: str) -> str:
    page = tab.page
    placed = await demo.simulator.place_call(
        _tenant(demo), application_instance_id=LINES[0].application_instance_id, caller_phone=number
    )
    await page.get_by_role("button", name="Decline").wait_for()
    await demo.simulator.answer_participant(placed.id, ANA.id)
    await page.locator("#call-card .in-call").wait_for()
    return placed.id


async def test_a_note_typed_in_wrap_up_is_on_the_record_after_the_timer(
    agent_tab: Tab, demo: TabStack
) -> None:
    page = agent_tab.page
    size = _size(agent_tab)
    await _sales_codes(demo)
    await _away(demo, BEN.id, CHLOE.id)
    await agent_tab.sign_in_as("Ana Ruiz", "agent")
    call_id = await _ana_answers(agent_tab, demo, "+14255550161")

    # The call at hand: who, which queue, the talk timer, hold not measured.
    panel = page.locator("#call-card")
    text = await panel.inner_text()
    assert "+14255550161" in text
    assert "Sales" in text
    assert "Not measured" in text
    await page.locator("#talk-timer", has_text="0:0").wait_for()
    await page.locator("#caller-history, .caller-history", has_text="No earlier calls").wait_for()
    await page.locator("#disposition-note").fill("Asked about seats")
    await page.locator("#notes-save-state", has_text="wrap-up ends").wait_for()
    await agent_tab.screenshot(f"agent-day-in-call-{size}")
    assert await agent_tab.accessibility_violations() == []

    await demo.simulator.hang_up_participant(call_id, ANA.id)
    await page.locator("#call-card", has_text="Wrap-up").wait_for()
    note = page.locator("#disposition-note")
    assert await note.input_value() == "Asked about seats"
    await note.press("End")
    await note.press("Enter")
    await note.type("Renewal in May\tcall back Friday")
    await agent_tab.screenshot(f"agent-day-wrap-up-{size}")
    # The wrap-up timer runs out before anyone presses Save.
    await _fire_timers_in(demo, 20)

    await page.locator("#call-card", has_text="No call right now").wait_for()
    await page.locator("#notes-save-state", has_text="on the call's record").wait_for()
    record = (await demo.repository.call_records.get(_tenant(demo), call_id)).value
    assert record.disposition_note == "Asked about seats\nRenewal in May\tcall back Friday"
    assert (record.wrap_up_pending, record.disposition_code) == (False, None)
    row = page.locator(f"#calls-card tr[data-call-id='{call_id}']")
    await row.get_by_text("Asked about seats").wait_for()
    await agent_tab.screenshot(f"agent-day-after-wrap-up-{size}")
    assert await agent_tab.accessibility_violations() == []
    agent_tab.assert_clean()
