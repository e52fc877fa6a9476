"""After-call work in Chromium: the wrap-up form, dispositions and missed calls."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import keys
from bot.demo import LINES, PEOPLE
from contactcenter.model import AgentStatus, Queue
from tests.browser.conftest import Tab
from tests.tab.support import ANA, BEN, SALES, TabStack

pytestmark = pytest.mark.browser

CHLOE = next(p for p in PEOPLE if p.upn.startswith("chloe"))
CODES = ("Sale", "Question", "Complaint")


async def _sales_codes(demo: TabStack) -> None:
    def change(queue: Queue) -> Queue:
        return replace(queue, disposition_codes=CODES)

    await demo.repository.queues.update(demo.settings.microsoft_app_tenant_id, SALES, change)


async def _away(demo: TabStack, *agent_ids: str) -> None:
    engine = demo.app[keys.ENGINE]
    for agent_id in agent_ids:
        await engine.set_status(
            demo.settings.microsoft_app_tenant_id, agent_id, AgentStatus.AWAY, "Lunch"
        )


async def test_an_agent_picks_a_disposition_in_wrap_up(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    await _sales_codes(demo)
    await _away(demo, BEN.id, CHLOE.id)
    await tab_page.sign_in_as("Ana Ruiz", "agent")
    placed = await demo.simulator.place_call(
        tenant,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550188",
    )
    await page.get_by_role("button", name="Decline").wait_for()
    await demo.simulator.answer_participant(placed.id, ANA.id)
    await page.locator("#call-card .in-call").wait_for()
    await demo.simulator.hang_up_participant(placed.id, ANA.id)

    # The call ended: wrap-up, and the form asks what the call was about.
    wrap_up = page.locator("#wrap-up-card")
    await wrap_up.wait_for()
    assert "+14255550188" in await wrap_up.inner_text()
    await page.get_by_label("Disposition", exact=True).select_option("Sale")
    await page.get_by_label("Note", exact=True).fill("Two seats, renews in May")
    await tab_page.screenshot("agent-wrap-up-disposition")
    assert await tab_page.accessibility_violations() == []
    # Saved from the keyboard.
    await wrap_up.get_by_role("button", name="Save", exact=True).focus()
    await page.keyboard.press("Enter")

    row = page.locator(f"#calls-card tr[data-call-id='{placed.id}']")
    await row.locator(".badge", has_text="Sale").wait_for()
    assert "Two seats, renews in May" in await row.inner_text()
    record = (await demo.repository.call_records.get(tenant, placed.id)).value
    assert (record.disposition_code, record.disposition_note) == (
        "Sale",
        "Two seats, renews in May",
    )
    assert record.disposed_by == ANA.id

    # Changed again from my recent calls.
    await row.get_by_role("button", name="Edit").press("Enter")
    await page.get_by_label("Disposition", exact=True).select_option("Question")
    await wrap_up.get_by_role("button", name="Save", exact=True).click()
    await row.locator(".badge", has_text="Question").wait_for()
    assert (await demo.repository.call_records.get(tenant, placed.id)).value.disposition_code == (
        "Question"
    )
    assert "No callbacks waiting" in await page.locator("#callbacks-card").inner_text()
    await tab_page.screenshot("agent-recent-calls-disposition")
    assert await tab_page.accessibility_violations() == []
    tab_page.assert_clean()


async def test_a_call_i_declined_shows_as_missed(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    await _away(demo, CHLOE.id)
    await tab_page.sign_in_as("Ana Ruiz", "agent")
    placed = await demo.simulator.place_call(
        tenant,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550187",
    )
    await page.get_by_role("button", name="Decline").click()
    await page.locator("#call-card", has_text="No call right now").wait_for()
    # Ben takes the call and hangs up; the bot then ends it, its record written.
    await demo.simulator.answer_participant(placed.id, BEN.id)
    await demo.simulator.hang_up_participant(placed.id, BEN.id)
    await demo.simulator.wait_for_call(placed.id, state="terminated", timeout_s=10)

    row = page.locator(f"#calls-card tr[data-call-id='{placed.id}']")
    await row.locator(".badge", has_text="Missed").wait_for(timeout=15_000)
    assert await row.get_attribute("class") == "missed"
    assert await row.get_by_role("button").count() == 0  # not mine to dispose
    await tab_page.screenshot("agent-missed-call")
    tab_page.assert_clean()
