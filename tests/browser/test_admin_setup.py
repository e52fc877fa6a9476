"""Setting up what the engine can do, in Chromium at a laptop's size: hours, skills, scopes,
people from the directory and queues fed by a team."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import ViewportSize, expect

from bot.demo import BILLING_TEAM, DIRECTORY_ONLY, LINES
from bot.messaging.app_installs import APP_INSTALLS
from contactcenter.hours import check_hours
from contactcenter.model import HoursMode, OpenRange, Weekday
from tests.browser.conftest import Tab
from tests.tab.support import ADMIN, ANA, BEN, SALES, SUPERVISOR, TabStack

pytestmark = pytest.mark.browser

LAPTOP: ViewportSize = {"width": 1366, "height": 768}
ANIKA = next(p for p in DIRECTORY_ONLY if p.name.startswith("Anika"))
ANDRES = next(p for p in DIRECTORY_ONLY if p.name.startswith("Andr"))
LENA = next(p for p in DIRECTORY_ONLY if p.name.startswith("Lena"))


async def test_a_new_set_times_schedule_opens_on_weekdays(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    await page.set_viewport_size(LAPTOP)
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.click("#new-queue")
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    await page.fill("#queue-name", "Weekday line")
    form = page.locator("#queue-form")
    hours = form.locator(".hours-editor")
    assert await hours.get_by_label("Always open").is_checked()
    await hours.get_by_label("Open at set times").check()
    # Monday to Friday, nine to five, in the organization's time zone.
    assert await hours.get_by_label("Monday opens").input_value() == "09:00"
    assert await hours.get_by_label("Friday closes").input_value() == "17:00"
    assert await hours.locator("[data-day='sat'] .range").count() == 0
    zone = hours.get_by_label("Time zone")
    assert "America/New_York (the organization's)" in await zone.inner_text()
    await hours.scroll_into_view_if_needed()
    await tab_page.screenshot("setup-hours-set-times")
    await page.get_by_role("button", name="Create queue").click()
    await page.wait_for_selector("#queues-table")

    queues = {q.value.name: q.value for q in await demo.repository.queues.find(tenant)}
    created = queues["Weekday line"].hours
    assert created is not None
    assert created.mode is HoursMode.SET_TIMES
    assert created.weekly[0] == OpenRange(Weekday.MONDAY, "09:00", "17:00")
    tuesday_noon = datetime(2026, 12, 8, 17, 0, tzinfo=UTC)  # 12:00 in New York
    saturday_noon = datetime(2026, 12, 12, 17, 0, tzinfo=UTC)
    assert check_hours(created, tuesday_noon, "America/New_York").is_open
    assert not check_hours(created, saturday_noon, "America/New_York").is_open
    tab_page.assert_clean(expected=())


async def test_set_times_without_an_opening_time_is_refused(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    await page.set_viewport_size(LAPTOP)
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.click("#new-queue")
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    await page.fill("#queue-name", "Nobody home")
    hours = page.locator("#queue-form .hours-editor")
    await hours.get_by_label("Open at set times").check()
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        await hours.get_by_role("button", name=f"Remove {day} 09:00-17:00").click()
    await page.get_by_role("button", name="Create queue").click()
    summary = page.locator("#queue-form [role='alert']")
    await summary.wait_for()
    assert "needs at least one opening time" in await summary.inner_text()
    await tab_page.screenshot("setup-hours-empty-refused")
    tab_page.assert_clean(expected=("status of 422",))


async def test_a_person_found_by_part_of_their_name_becomes_an_agent_in_one_dialog(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await page.set_viewport_size(LAPTOP)
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.get_by_role("link", name="Users and roles").click()
    await page.click("#add-agents")
    dialog = page.locator("#add-agents-dialog")
    await dialog.get_by_label("Find people").fill("anik")
    await dialog.get_by_label("Anika Sharma").check()
    await dialog.get_by_label("Find people").fill("andr")
    await dialog.get_by_label("Andrés Gómez").check()
    await dialog.get_by_label("Sales", exact=True).check()
    assert await dialog.get_by_label("Give each a seat").is_checked()
    assert await dialog.get_by_label("Sign them in to these queues now").is_checked()
    await tab_page.screenshot("setup-add-agents-dialog")
    assert await tab_page.accessibility_violations() == []
    await dialog.get_by_role("button", name="Add 2 agents").click()
    results = dialog.locator(".enrolment-results")
    await results.wait_for()
    anika = results.locator(f"[data-person-id='{ANIKA.id}']")
    assert "Added" in await anika.inner_text()
    assert "signed in" in await anika.inner_text()
    andres = results.locator(f"[data-person-id='{ANDRES.id}']")
    assert "has no Microsoft Teams licence" in await andres.inner_text()
    await tab_page.screenshot("setup-add-agents-results")
    await dialog.get_by_role("button", name="Done").click()
    row = page.locator(f"#users-table tr[data-user-id='{ANDRES.id}']")
    await row.locator("[data-licence='none']").wait_for()
    await tab_page.screenshot("setup-users-licences")

    agent = (await demo.repository.agents.get(tenant, ANIKA.id)).value
    assert (agent.has_seat, agent.signed_in_queue_ids) == (True, frozenset({SALES}))
    sales = (await demo.repository.queues.get(tenant, SALES)).value
    assert {ANIKA.id, ANDRES.id} <= set(sales.members)
    tab_page.assert_clean(expected=())


async def test_a_skill_given_in_the_tab_routes_a_call_that_needs_it(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await page.set_viewport_size(LAPTOP)
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Grace Lee", "admin")
    # Ben gets Portuguese...
    await page.get_by_role("link", name="Users and roles").click()
    await page.get_by_role("button", name="Skills of Ben Okafor").click()
    editor = page.locator(".row-editor")
    await editor.get_by_role("button", name="Add a skill").click()
    await editor.get_by_label("Skill", exact=True).last.fill("portuguese")
    await editor.get_by_label("Level (1-10)").last.select_option("4")
    await tab_page.screenshot("setup-agent-skills")
    await editor.get_by_role("button", name="Save").click()
    await page.locator(".toast", has_text="Saved the skills of Ben Okafor").wait_for()
    # ... and Sales calls need it.
    await page.get_by_role("link", name="Queues").click()
    await page.get_by_role("button", name="Edit Sales").click()
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    required = page.locator("#queue-form .skills-editor")
    await required.get_by_role("button", name="Add a skill").click()
    await required.get_by_label("Skill", exact=True).fill("portuguese")
    await required.get_by_label("Least level").select_option("3")
    await required.scroll_into_view_if_needed()
    await tab_page.screenshot("setup-queue-required-skills")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_selector("#queues-table")
    sales = (await demo.repository.queues.get(tenant, SALES)).value
    assert sales.required_skills == {"portuguese": 3}

    # A call to Sales rings Ben, whom the skill sets apart, not Ana (first in line).
    await page.click("#sign-out")
    await tab_page.sign_in_as("Ben Okafor", "agent")
    placed = await demo.simulator.place_call(
        tenant, application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550166",
    )  # fmt: skip
    await page.get_by_role("button", name="Decline").wait_for()
    await tab_page.screenshot("setup-skilled-offer")
    ben = (await demo.repository.agents.get(tenant, BEN.id)).value
    ana = (await demo.repository.agents.get(tenant, ANA.id)).value
    assert (ben.current_call_id, ana.current_call_id) == (placed.id, None)
    tab_page.assert_clean(expected=())


async def test_a_supervisor_scoped_to_a_new_queue_sees_it_on_their_wallboard(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await page.set_viewport_size(LAPTOP)
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.click("#new-queue")
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    await page.fill("#queue-name", "Billing")
    await page.get_by_role("button", name="Create queue").click()
    await page.wait_for_selector("#queues-table .queue-name:text-is('Billing')")

    await page.get_by_role("link", name="Users and roles").click()
    await page.get_by_role("button", name="Queues Hiro Tanaka supervises").click()
    editor = page.locator(".row-editor")
    await editor.get_by_label("Billing").check()
    await tab_page.screenshot("setup-supervisor-scope")
    await editor.get_by_role("button", name="Save").click()
    await page.locator(".toast", has_text="Saved the queues Hiro Tanaka supervises").wait_for()
    row = page.locator(f"#users-table tr[data-user-id='{SUPERVISOR.id}']")
    assert "Billing" in await row.locator(".scope-summary").inner_text()

    await page.click("#sign-out")
    await tab_page.sign_in_as("Hiro Tanaka", "wallboard")
    await page.locator(".board-tile h2", has_text="Billing").wait_for()
    assert set(await page.locator(".board-tile h2").all_inner_texts()) == {
        "Billing",
        "Sales",
        "Support",
    }
    await tab_page.screenshot("setup-scoped-wallboard")
    tab_page.assert_clean(expected=())


async def test_a_queue_fed_by_a_team_takes_in_a_member_added_to_the_team(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await page.set_viewport_size(LAPTOP)
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.click("#new-queue")
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    await page.fill("#queue-name", "Billing")
    source = page.locator("#queue-form .membership-editor")
    await source.get_by_label("The queue's agents are").select_option("team")
    await source.get_by_label("Find a team").fill("bill")
    await source.get_by_role("button", name="Choose Billing team").click()
    await source.scroll_into_view_if_needed()
    await tab_page.screenshot("setup-team-queue-form")
    await page.get_by_role("button", name="Create queue").click()
    await page.wait_for_selector("#queues-table")
    row = page.locator("#queues-table tr", has_text="From Billing team")
    await row.get_by_role("button", name="Sync Billing now").click()
    await page.locator(".toast", has_text="Synced Billing: 2 joined").wait_for()
    row = page.locator("#queues-table tr", has_text="From Billing team")
    await expect(row.locator(".members-cell")).to_contain_text("Anika Sharma")

    # Lena joins the team in the (simulated) directory, and so the queue.
    await demo.simulator.set_group_member(tenant, BILLING_TEAM, LENA.id)
    await row.get_by_role("button", name="Sync Billing now").click()
    await page.locator(".toast", has_text="Synced Billing: 1 joined").wait_for()
    row = page.locator("#queues-table tr", has_text="From Billing team")
    await expect(row.locator(".members-cell")).to_contain_text("Lena Fischer")
    await tab_page.screenshot("setup-team-queue-synced")
    lena = (await demo.repository.agents.get(tenant, LENA.id)).value
    assert lena.has_seat
    assert len(lena.signed_in_queue_ids) == 1
    await demo.app[APP_INSTALLS].wait_idle()
    tab_page.assert_clean(expected=())


async def test_the_audit_log_says_who_did_what_to_which_named_thing(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await page.set_viewport_size(LAPTOP)
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.get_by_role("button", name="Edit Sales").click()
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    await page.fill("#queue-wrapUpS", "30")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_selector("#queues-table")
    await page.get_by_role("link", name="Audit log").click()
    row = page.locator("#audit-table tr[data-action='queue.update']").first
    await row.wait_for()
    assert await row.locator(".audit-sentence").inner_text() == "Grace Lee changed the queue Sales"
    await row.locator("summary").click()
    assert "Wrap up (s): 15 → 30" in await row.locator(".changes").inner_text()
    await tab_page.screenshot("setup-audit-log")
    tab_page.assert_clean(expected=())


async def test_a_wrong_number_is_explained_in_plain_words(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    await page.set_viewport_size(LAPTOP)
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.get_by_role("button", name="Edit Sales").click()
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    await page.fill("#queue-wrapUpS", "2.5")
    await page.get_by_role("button", name="Save changes").click()
    summary = page.locator("#queue-form [role='alert']")
    await summary.wait_for()
    assert "must be a whole number" in await summary.inner_text()
    tab_page.assert_clean(expected=("status of 422",))


async def test_a_long_queue_name_leaves_the_ivr_keys_and_the_switch_on_screen(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await page.set_viewport_size(LAPTOP)
    long_name = "Customer accounts, billing disputes and refunds for enterprise cus"[:64]
    status, _ = await demo.call(
        "POST", "/api/tab/admin/queues", user=ADMIN.id, json={"name": long_name}
    )
    assert status == 201
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.get_by_role("link", name="Closed now").click()
    switch = page.get_by_label(f"{long_name} closed now")
    await switch.wait_for()
    box = await switch.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= LAPTOP["width"]
    assert (
        await page.locator(".closed-now-name", has_text=long_name[:20]).get_attribute("title")
        == long_name
    )
    await tab_page.screenshot("setup-long-name-closed-now")
    await page.get_by_role("link", name="Queues").click()
    cell = page.locator("#queues-table .queue-name", has_text=long_name[:20])
    assert await cell.get_attribute("title") == long_name
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= LAPTOP["width"]
    await tab_page.screenshot("setup-long-name-queues")
    tab_page.assert_clean(expected=())
