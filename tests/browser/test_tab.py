"""The tab in Chromium against the demo host: sign-in, the agent workspace, the admin console."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.demo import LINES
from contactcenter.model import AgentActivity, AgentStatus, RoutingMethod
from tests.browser.conftest import Tab
from tests.tab.support import ANA, BEN, SALES, TabStack

pytestmark = pytest.mark.browser

# Chromium reports every 4xx answer to fetch as a console error; tests that provoke one on
# purpose expect exactly that one.
UNPROCESSABLE = "the server responded with a status of 422"


async def test_the_sign_in_picker_lists_the_demo_people(tab_page: Tab) -> None:
    await tab_page.open("/tab/?view=agent")
    people = tab_page.page.locator(".people button")
    await people.first.wait_for()
    names = await tab_page.page.locator(".person-name").all_inner_texts()
    assert names[:2] == ["Grace Lee", "Hiro Tanaka"]
    assert "Ana Ruiz" in names
    await tab_page.screenshot("sign-in-picker")
    assert await tab_page.accessibility_violations() == []
    await tab_page.page.get_by_role("button", name="Ana Ruiz").click()
    await tab_page.page.wait_for_selector("body[data-ready='agent']")
    assert await tab_page.page.locator("#who").inner_text() == "Ana Ruiz (Agent)"
    tab_page.assert_clean()


async def test_an_agent_signs_in_to_a_queue_and_changes_status(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Ana Ruiz", "agent")
    await page.get_by_role("button", name="Sign out of Sales").click()
    await page.get_by_role("button", name="Sign in to Sales").wait_for()
    agent = (await demo.repository.agents.get(tenant, ANA.id)).value
    assert SALES not in agent.signed_in_queue_ids
    await page.get_by_role("button", name="Sign in to Sales").click()
    await page.get_by_role("button", name="Sign out of Sales").wait_for()
    assert SALES in (await demo.repository.agents.get(tenant, ANA.id)).value.signed_in_queue_ids

    await page.select_option("#status-select", "away")
    await page.select_option("#status-reason", "Lunch")
    await page.get_by_role("button", name="Set status").click()
    await page.wait_for_selector("#my-status:text('Away')")
    assert "Lunch" in await page.locator("#status-card .status-line").inner_text()
    agent = (await demo.repository.agents.get(tenant, ANA.id)).value
    assert (agent.status, agent.not_ready_reason) == (AgentStatus.AWAY, "Lunch")
    tab_page.assert_clean()


async def test_an_offer_arrives_live_and_is_declined(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    await tab_page.sign_in_as("Ana Ruiz", "agent")
    placed = await demo.simulator.place_call(
        demo.settings.microsoft_app_tenant_id,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550199",
    )
    decline = page.get_by_role("button", name="Decline")
    await decline.wait_for()
    assert "+14255550199" in await page.locator("#call-card").inner_text()
    announced = await page.locator("[aria-live='assertive']").inner_text()
    assert announced == "Incoming call from +14255550199, queue Sales"
    await tab_page.screenshot("agent-offer")
    await decline.click()
    await page.locator("#call-card", has_text="No call right now").wait_for()
    # The decline cancelled the invitation (prompts to the caller aside).
    ringing: list[dict[str, object]] = []
    for _ in range(50):
        call = await demo.simulator.call(placed.id)
        ringing = [r for r in call["requests"] if "/participants" in str(r["path"])]
        if len(ringing) >= 2:
            break
        call = await demo.simulator.wait_for_call(
            placed.id, requests=len(call["requests"]) + 1, timeout_s=5
        )
    assert [r["method"] for r in ringing][:2] == ["POST", "DELETE"]
    tab_page.assert_clean()


async def test_an_agent_ends_wrap_up_early(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    until = demo.clock.now() + timedelta(seconds=25)
    await demo.repository.agents.update(
        tenant, ANA.id, lambda a: replace(a, activity=AgentActivity.WRAP_UP, wrap_up_until=until)
    )
    await page.set_viewport_size({"width": 390, "height": 844})
    await tab_page.sign_in_as("Ana Ruiz", "agent")
    countdown = page.locator("#call-card .countdown")
    assert await countdown.inner_text() in {"0:25", "0:24", "0:23"}
    await tab_page.screenshot("agent-wrap-up-narrow")
    await page.get_by_role("button", name="End now").click()
    await page.locator("#call-card", has_text="No call right now").wait_for()
    assert (await demo.repository.agents.get(tenant, ANA.id)).value.activity is AgentActivity.IDLE
    tab_page.assert_clean()


async def test_an_admin_creates_a_queue_and_binds_a_number(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.click("#new-queue")
    await page.fill("#queue-name", "Billing")
    await page.select_option("#queue-routing", "serial")
    await page.check(f"#member-{ANA.id}")
    await page.check(f"#member-{BEN.id}")
    await page.get_by_role("button", name="Move Ben Okafor up").click()
    await page.fill("#queue-wrapUpS", "30")
    await page.select_option("#overflowAction-kind", "queue")
    await page.select_option("#overflowAction-target", label="Sales")
    await tab_page.screenshot("admin-queue-form")
    await page.get_by_role("button", name="Create queue").click()
    await page.wait_for_selector("#queues-table .queue-name:text('Billing')")
    queues = {q.value.name: q.value for q in await demo.repository.queues.find(tenant)}
    billing = queues["Billing"]
    assert billing.routing_method is RoutingMethod.SERIAL
    assert billing.members == (BEN.id, ANA.id)
    assert billing.wrap_up_s == 30
    assert billing.overflow_action.target == SALES

    await page.get_by_role("link", name="Numbers and accounts").click()
    await page.fill("#binding-identity", "+14255550177")
    await page.select_option("#binding-queue", label="Billing")
    await page.fill("#binding-name", "Billing line")
    await page.get_by_role("button", name="Bind", exact=True).click()
    await page.wait_for_selector("#bindings-table tr[data-binding-id='+14255550177']")
    binding = (await demo.repository.bindings.get(tenant, "+14255550177")).value
    assert binding.target_id == billing.id

    await page.get_by_role("link", name="Audit log").click()
    await page.wait_for_selector("#audit-table tr[data-action='binding.create']")
    actions = [
        await row.get_attribute("data-action")
        for row in await page.locator("#audit-table tr[data-action]").all()
    ]
    assert actions[:2] == ["binding.create", "queue.create"]
    tab_page.assert_clean()


async def test_invalid_fields_are_shown_on_the_form(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.click("#new-queue")
    await page.fill("#queue-name", "sales")
    await page.select_option("#timeoutAction-kind", "redirect-number")
    await page.fill("#timeoutAction-target", "555-0100")
    await page.get_by_role("button", name="Create queue").click()
    summary = page.get_by_role("alert")
    await summary.wait_for()
    text = await summary.inner_text()
    assert "Name: another queue is called Sales" in text
    assert "Phone number: not an E.164 phone number" in text
    assert await page.get_attribute("#queue-name", "aria-invalid") == "true"
    assert await page.get_attribute("#timeoutAction-target", "aria-invalid") == "true"
    await tab_page.screenshot("admin-queue-errors")
    assert await tab_page.accessibility_violations() == []
    assert len(await demo.repository.queues.find(demo.settings.microsoft_app_tenant_id)) == 2
    tab_page.assert_clean(expected=(UNPROCESSABLE,))


@pytest.mark.parametrize(("person", "view"), [("Ana Ruiz", "agent"), ("Grace Lee", "admin")])
async def test_views_in_light_dark_and_high_contrast(tab_page: Tab, person: str, view: str) -> None:
    page = tab_page.page
    await page.emulate_media(color_scheme="light")
    await tab_page.sign_in_as(person, view)
    ready = ".tile" if view == "agent" else "#queues-table"
    await page.wait_for_selector(ready)
    for theme in ("light", "dark", "contrast"):
        if theme == "dark":
            await page.emulate_media(color_scheme="dark")  # the picker is on "System"
        elif theme == "contrast":
            await page.select_option("#theme-select", "contrast")
        await page.wait_for_selector(f"html[data-theme='{theme}']")
        await tab_page.screenshot(f"{view}-{theme}")
        assert await tab_page.accessibility_violations() == [], theme
    tab_page.assert_clean()
