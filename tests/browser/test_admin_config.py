"""The admin console's caller-experience screens in Chromium: IVRs, hours, caller lists and
the closed-now switch, against the demo host."""

from __future__ import annotations

import pytest

from contactcenter.callers import CALLER_LIST_ID
from contactcenter.model import (
    BindingTarget,
    CallerListKind,
    HoursMode,
    MenuActionKind,
    OpenRange,
    Weekday,
)
from tests.browser.conftest import Tab
from tests.tab.support import SALES, SUPPORT, TabStack

pytestmark = pytest.mark.browser


async def test_an_admin_creates_an_ivr_binds_a_number_and_sets_hours(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.get_by_role("link", name="IVRs").click()
    await page.wait_for_selector("#ivrs-table")
    await page.click("#new-ivr")
    await page.fill("#ivr-name", "Billing menu")
    menu = page.locator("fieldset.menu").first
    await menu.get_by_role("button", name="Add a key").click()
    row = menu.locator("tbody tr").first
    await row.get_by_label("Key", exact=True).select_option("4")
    await row.get_by_label("Action", exact=True).select_option("queue")
    await row.get_by_label("Target", exact=True).select_option(label="Support")
    await row.get_by_label("Label", exact=True).fill("Support")
    hours = page.locator("#ivr-form .hours-editor")
    await hours.get_by_label("Open at set times").check()
    await hours.get_by_label("Monday closes").fill("18:30")
    closed = hours.locator("fieldset.action-editor", has_text="When closed")
    await closed.get_by_label("Action", exact=True).select_option("voicemail")
    await closed.get_by_label("Voicemail of").select_option(label="Support")
    await tab_page.screenshot("admin-ivr-form")
    assert await tab_page.accessibility_violations() == []
    await page.get_by_role("button", name="Create IVR").click()

    # The new IVR opens again, now with its numbers: bind one.
    await page.wait_for_selector("#ivr-binding-form")
    await page.get_by_label("Phone number or resource account id").fill("+14255550188")
    await page.get_by_label("Display name").fill("Billing line")
    await page.get_by_role("button", name="Bind to this IVR").click()
    await page.wait_for_selector("#ivr-bindings-table tr[data-binding-id='+14255550188']")

    ivrs = {i.value.name: i.value for i in await demo.repository.ivrs.find(tenant)}
    ivr = ivrs["Billing menu"]
    option = ivr.menus[0].options[0]
    assert (option.digit, option.action, option.target, option.label) == (
        "4",
        MenuActionKind.QUEUE,
        SUPPORT,
        "Support",
    )
    assert ivr.hours is not None
    assert ivr.hours.mode is HoursMode.SET_TIMES
    assert ivr.hours.weekly[0] == OpenRange(Weekday.MONDAY, "09:00", "18:30")
    assert [r.day for r in ivr.hours.weekly] == list(Weekday)[:5]
    assert ivr.hours.closed_action.target == SUPPORT
    binding = (await demo.repository.bindings.get(tenant, "+14255550188")).value
    assert (binding.target, binding.target_id) == (BindingTarget.IVR, ivr.id)
    await tab_page.screenshot("admin-ivr-bound")

    await page.get_by_role("link", name="Audit log").click()
    await page.wait_for_selector("#audit-table tr[data-action='binding.create']")
    actions = [
        await row.get_attribute("data-action")
        for row in await page.locator("#audit-table tr[data-action]").all()
    ]
    assert actions[:2] == ["binding.create", "ivr.create"]
    tab_page.assert_clean(expected=())


async def test_an_admin_sets_a_queues_hours_and_callbacks(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.get_by_role("button", name="Edit Sales").click()
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    form = page.locator("#queue-form")
    await form.get_by_label("Open at set times").check()
    for day in ("Monday", "Wednesday", "Thursday", "Friday"):
        await form.get_by_role("button", name=f"Remove {day} 09:00-17:00").click()
    await form.get_by_role("button", name="Add a holiday set").click()
    holiday = form.locator(".holiday").first
    await holiday.get_by_label("Holiday name").fill("Christmas Day")
    await holiday.get_by_label("From").fill("2026-12-25")
    await holiday.get_by_label("Until (not included)").fill("2026-12-26")
    await form.get_by_label("Offer callers a callback").check()
    await form.get_by_label("Codes agents choose from").fill("Sale\nRefund")
    await tab_page.screenshot("admin-queue-hours")
    assert await tab_page.accessibility_violations() == []
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_selector("#queues-table")
    sales = (await demo.repository.queues.get(tenant, SALES)).value
    assert sales.hours is not None
    assert sales.hours.weekly == (OpenRange(Weekday.TUESDAY, "09:00", "17:00"),)
    assert sales.hours.holiday_sets[0].holidays[0].name == "Christmas Day"
    assert sales.callback.offered
    assert sales.disposition_codes == ("Sale", "Refund")
    tab_page.assert_clean(expected=())


async def test_bad_hours_are_shown_on_the_queue_form(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    before = (await demo.repository.queues.get(tenant, SALES)).value
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.get_by_role("button", name="Edit Sales").click()
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    form = page.locator("#queue-form")
    await form.get_by_label("Open at set times").check()
    await form.get_by_label("Friday closes").fill("08:00")
    await page.get_by_role("button", name="Save changes").click()
    summary = page.locator("#queue-form [role='alert']")
    await summary.wait_for()
    assert "fri 09:00-08:00 ends before it starts" in await summary.inner_text()
    assert await form.locator("[data-field='hours.weekly[4]']").get_attribute("aria-invalid") == (
        "true"
    )
    assert (await demo.repository.queues.get(tenant, SALES)).value == before
    tab_page.assert_clean(expected=("status of 422",))


async def test_an_admin_blocks_a_caller_and_closes_a_queue_now(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.get_by_role("link", name="Caller lists").click()
    await page.wait_for_selector("#callers-form")
    await page.get_by_role("button", name="Block a caller").click()
    blocked = page.locator("[data-list='blocked'] tbody tr").last
    await blocked.get_by_label("Number or user id").fill("+14255550999")
    await blocked.get_by_label("Reason").fill("threats")
    await page.get_by_role("button", name="Save caller lists").click()
    await page.wait_for_selector("tr[data-caller='+14255550999']")
    callers = (await demo.repository.caller_lists.get(tenant, CALLER_LIST_ID)).value
    assert any(
        e.kind is CallerListKind.BLOCKED and e.value == "+14255550999" and e.reason == "threats"
        for e in callers.entries
    )
    await tab_page.screenshot("admin-caller-lists")
    assert await tab_page.accessibility_violations() == []

    await page.get_by_role("link", name="Closed now").click()
    switch = page.get_by_role("switch", name="Sales closed now")
    await switch.check()
    await page.wait_for_selector("tr[data-id='" + SALES + "'] .badge.danger")
    hours = (await demo.repository.queues.get(tenant, SALES)).value.hours
    assert hours is not None
    assert hours.closed_now
    await tab_page.screenshot("admin-closed-now")
    assert await tab_page.accessibility_violations() == []
    tab_page.assert_clean()
