"""The admin console's tenant section in Chromium: prompts, not-ready reasons, consent."""

from __future__ import annotations

import pytest
from playwright.async_api import FilePayload

from graph.consent import required_permission_names
from simulator.media import wav_bytes
from tests.browser.conftest import Tab
from tests.tab.support import TabStack

pytestmark = pytest.mark.browser

# Chromium reports every 4xx answer to fetch as a console error; tests that provoke one on
# purpose expect exactly that one.
UNPROCESSABLE = "the server responded with a status of 422"


async def open_tenant_section(tab_page: Tab) -> None:
    await tab_page.sign_in_as("Grace Lee", "admin")
    await tab_page.page.get_by_role("link", name="Tenant settings").click()
    await tab_page.page.wait_for_selector("#tenant-settings-form")


async def test_an_admin_uploads_plays_a_prompt_and_changes_the_reasons(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    tenant_id = demo.settings.microsoft_app_tenant_id
    await open_tenant_section(tab_page)

    await page.set_input_files(
        "#prompt-file",
        files=[FilePayload(name="welcome.wav", mimeType="audio/wav", buffer=wav_bytes(1.0))],
    )
    assert await page.input_value("#prompt-name") == "welcome"
    await page.fill("#prompt-name", "Spring welcome")
    await page.get_by_role("button", name="Upload").click()
    row = page.locator("#prompts-table tbody tr", has_text="Spring welcome")
    await row.wait_for()
    assert "0:01" in await row.inner_text()
    [stored] = [p.value for p in await demo.repository.prompts.find(tenant_id)]
    assert stored.name == "Spring welcome"

    await page.get_by_role("button", name="Play Spring welcome").click()
    await page.wait_for_function(
        "() => document.querySelector('#prompt-player').src.startsWith('blob:')"
    )
    assert await page.locator("#prompt-player").is_visible()

    await page.fill("#reason-0", "Coffee break")
    await page.get_by_role("button", name="Add reason").click()
    last = await page.locator("#reasons-list input").count() - 1
    assert await page.evaluate("() => document.activeElement.id") == f"reason-{last}"
    await page.keyboard.type("Coaching")
    await page.get_by_role("button", name="Save settings").click()
    await page.locator(".toast", has_text="Settings saved").wait_for()
    tenant = (await demo.repository.tenants.get(tenant_id, tenant_id)).value
    assert tenant.not_ready_reasons[0] == "Coffee break"
    assert tenant.not_ready_reasons[-1] == "Coaching"

    await page.locator("#consent-table").wait_for()
    granted = await page.locator("#consent-table .badge.success").count()
    assert granted == len(required_permission_names())
    href = await page.locator("#consent-link").get_attribute("href")
    assert href is not None
    assert href.startswith(f"https://login.microsoftonline.com/{tenant_id}/adminconsent?")

    await tab_page.screenshot("admin-tenant")
    assert await tab_page.accessibility_violations() == []
    tab_page.assert_clean()


async def test_missing_permissions_and_bad_settings_are_shown(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await demo.simulator.set_granted_app_roles(["Calls.Initiate.All"])
    await open_tenant_section(tab_page)

    missing = page.locator("#consent-table tr[data-permission='Presence.Read.All'] .badge.danger")
    await missing.wait_for()
    assert "Missing" in await missing.inner_text()
    assert "missing" in await page.locator("#consent-summary").inner_text()

    await page.fill("#tenant-retention", "10")
    await page.get_by_role("button", name="Save settings").click()
    await page.locator("#tenant-retention[aria-invalid='true']").wait_for()
    assert (
        "Check these fields"
        in await page.locator("#tenant-settings-form .message-bar").inner_text()
    )
    tenant_id = demo.settings.microsoft_app_tenant_id
    tenant = (await demo.repository.tenants.get(tenant_id, tenant_id)).value
    assert tenant.retention_days != 10
    await tab_page.screenshot("admin-tenant-missing-consent")
    tab_page.assert_clean(expected=(UNPROCESSABLE,))
