"""Setting up what the engine can do, in Chromium at a laptop's size: hours, skills, scopes,
people from the directory and queues fed by a team."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import ViewportSize

from contactcenter.hours import check_hours
from contactcenter.model import HoursMode, OpenRange, Weekday
from tests.browser.conftest import Tab
from tests.tab.support import TabStack

pytestmark = pytest.mark.browser

LAPTOP: ViewportSize = {"width": 1366, "height": 768}


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
