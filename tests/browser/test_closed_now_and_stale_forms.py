"""The closed-now switch in the Supervise view, and a queue saved from a stale form, in
Chromium against the demo host."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from contactcenter.model import ActionKind
from tests.browser.conftest import Tab
from tests.tab.support import ADMIN, SALES, TabStack

pytestmark = pytest.mark.browser


async def test_a_supervisor_closes_and_reopens_sales_from_the_supervise_view(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Hiro Tanaka", "supervise")
    panel = page.locator("#supervise-closed-now")
    switch = panel.get_by_role("switch", name="Sales closed now")
    await switch.wait_for()
    await panel.get_by_label("What Sales does while closed now").select_option("disconnect")
    await switch.focus()
    await page.keyboard.press("Space")
    await page.locator(".toast", has_text="Sales is closed now").wait_for()
    await panel.locator(f"tr[data-id='{SALES}'] .badge.danger").wait_for()
    hours = (await demo.repository.queues.get(tenant, SALES)).value.hours
    assert hours is not None
    assert hours.closed_now
    assert hours.closed_now_action is not None
    assert hours.closed_now_action.kind is ActionKind.DISCONNECT
    assert await switch.is_checked()
    await tab_page.screenshot("supervise-closed-now")
    assert await tab_page.accessibility_violations() == []

    await switch.focus()
    await page.keyboard.press("Space")
    await page.locator(".toast", has_text="Sales follows its hours again").wait_for()
    await panel.locator(f"tr[data-id='{SALES}'] .badge.success").wait_for()
    hours = (await demo.repository.queues.get(tenant, SALES)).value.hours
    assert hours is not None
    assert not hours.closed_now
    assert not await switch.is_checked()
    tab_page.assert_clean()


async def test_a_queue_saved_from_a_stale_form_gets_the_changed_meanwhile_message(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    tenant = demo.settings.microsoft_app_tenant_id
    await tab_page.sign_in_as("Grace Lee", "admin")
    await page.get_by_role("button", name="Edit Sales").click()
    await page.wait_for_selector("#queue-form[data-extras-ready]")
    await page.fill("#queue-wrapUpS", "45")

    # Someone else changes Sales meanwhile.
    status, sales = await demo.call("GET", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id)
    assert status == 200
    body = {k: v for k, v in sales.items() if k not in {"id", "etag"}}
    status, _ = await demo.call(
        "PUT",
        f"/api/tab/admin/queues/{SALES}",
        user=ADMIN.id,
        json={**body, "priority": 7},
        headers={"If-Match": sales["etag"]},
    )
    assert status == 200

    await page.get_by_role("button", name="Save changes").click()
    summary = page.locator("#queue-form [role='alert']")
    await summary.get_by_text("Changed by someone else since you opened it").wait_for()
    assert await page.input_value("#queue-wrapUpS") == "45"
    stored = (await demo.repository.queues.get(tenant, SALES)).value
    assert (stored.priority, stored.wrap_up_s) == (7, sales["wrapUpS"])
    await tab_page.screenshot("admin-queue-stale")
    assert await tab_page.accessibility_violations() == []

    await summary.get_by_role("button", name="Reload").click()
    await expect(page.locator("#queue-priority")).to_have_value("7")
    await expect(page.locator("#queue-form [role='alert']")).to_be_hidden()
    assert await page.input_value("#queue-wrapUpS") == str(sales["wrapUpS"])
    tab_page.assert_clean(expected=("status of 412",))
