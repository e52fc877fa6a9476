"""Fixtures: the demo host with the tab on loopback, and Debian's Chromium via Playwright.

Without ``/usr/bin/chromium`` the browser tests fail when ``CI`` is set and are skipped
otherwise. Every page collects console errors and uncaught exceptions; tests end with
``assert_clean()``. Screenshots go to ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright
from pytest_aiohttp import AiohttpClient, AiohttpServer

from contactcenter.clock import SystemClock
from simulator.signing import SigningKey
from tests.tab.support import TabStack, options_for, start_stack, write_key

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def browser_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser-key") / "demo-signing-key.pem"


@pytest.fixture(scope="session")
def browser_key(browser_key_path: Path) -> SigningKey:
    return write_key(browser_key_path)


@pytest.fixture(scope="session")
def browser_simulator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser-simulator")


@pytest.fixture
async def demo(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    browser_simulator_dir: Path,
    browser_key_path: Path,
    browser_key: SigningKey,
) -> TabStack:
    """Start the demo host with the tab, on the real clock (pages count down in real time)."""
    return await start_stack(
        aiohttp_server,
        aiohttp_client,
        data_dir=tmp_path / "host",
        simulator_dir=browser_simulator_dir,
        key=browser_key,
        clock=SystemClock(),
        options=options_for(browser_key_path, poll_interval_s=0.2, heartbeat_s=2.0),
    )


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Return Debian's Chromium; without it, fail on CI and skip elsewhere."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing")
    return CHROMIUM


@pytest.fixture(scope="session")
def axe_source() -> str:
    """Return axe-core's browser build, from npm."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run npm ci")
    return AXE.read_text(encoding="utf-8")


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


@dataclass
class Tab:
    """A page of the tab in Chromium, and what went wrong in it."""

    page: Page
    base_url: str
    axe_source: str
    errors: list[str] = field(default_factory=list)

    async def open(self, path: str = "/tab/") -> None:
        await self.page.goto(f"{self.base_url}{path}")

    async def sign_in_as(self, display_name: str, view: str) -> None:
        """Open a view and pick a demo user in the sign-in picker."""
        await self.open(f"/tab/?view={view}")
        await self.page.get_by_role("button", name=display_name).click()
        await self.page.wait_for_selector(f"body[data-ready='{view}']")

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def accessibility_violations(self) -> list[dict[str, Any]]:
        """Run axe-core (from npm) on the page; return its serious and critical violations."""
        # Evaluated through the DevTools protocol, which the page's CSP does not govern.
        await self.page.evaluate(self.axe_source)
        result: dict[str, Any] = await self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        return [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "targets": [n["target"] for n in v["nodes"]][:5],
            }
            for v in result["violations"]
            if v["impact"] in {"serious", "critical"}
        ]

    def assert_clean(self, *, expected: tuple[str, ...] = ()) -> None:
        """Fail on any console error or uncaught exception but those ``expected``."""
        unexpected = [e for e in self.errors if not any(x in e for x in expected)]
        assert unexpected == [], f"console errors: {unexpected}"


@pytest.fixture
async def tab_page(browser: Browser, demo: TabStack, axe_source: str) -> AsyncIterator[Tab]:
    """Open a browser page that records console errors and uncaught exceptions."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, reduced_motion="reduce"
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
    page.set_default_timeout(5000)
    try:
        yield tab
    finally:
        await context.close()
