"""Every card kind rendered by Microsoft's Adaptive Cards library in Chromium, as PNGs.

The pictures land in ``artifacts/cards/`` (git-ignored) for a person to look at; the test
fails when the library cannot render a card, renders it empty, or logs an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, async_playwright

from tests.cards.catalog import every_card

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LIBRARY = ROOT / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
STYLES = ROOT / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.css"
ARTIFACTS = ROOT / "artifacts" / "cards"
HAVE_CHROMIUM = CHROMIUM.exists()
HAVE_LIBRARY = LIBRARY.exists()

# Close to the Teams light theme: Segoe UI, Teams purple accents, a grey emphasis box.
HOST_CONFIG = {
    "fontFamily": "'Segoe UI', system-ui, sans-serif",
    "spacing": {"small": 4, "default": 8, "medium": 16, "large": 20, "padding": 16},
    "containerStyles": {
        "default": {
            "backgroundColor": "#FFFFFF",
            "foregroundColors": {
                "default": {"default": "#242424", "subtle": "#616161"},
                "accent": {"default": "#5B5FC7", "subtle": "#444791"},
                "good": {"default": "#237B4B", "subtle": "#1B5E3A"},
                "warning": {"default": "#835B00", "subtle": "#6A4A00"},
                "attention": {"default": "#C4314B", "subtle": "#A72037"},
            },
        },
        "emphasis": {"backgroundColor": "#F5F5F5"},
        "attention": {"backgroundColor": "#FDF3F4"},
    },
    "actions": {"actionsOrientation": "horizontal", "buttonSpacing": 8, "maxActions": 6},
}

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
body { margin: 0; padding: 16px; background: #EBEBEB; font-family: 'Segoe UI', sans-serif; }
#card { width: 420px; background: white; border-radius: 6px; overflow: hidden;
        box-shadow: 0 1px 3px rgba(0,0,0,.2); }
</style></head><body><div id="card"></div></body></html>"""

RENDER = """([card, hostConfig]) => {
  const adaptive = new AdaptiveCards.AdaptiveCard();
  adaptive.hostConfig = new AdaptiveCards.HostConfig(hostConfig);
  adaptive.parse(card);
  const element = adaptive.render();
  const target = document.getElementById("card");
  target.replaceChildren();
  if (!element) return {rendered: false, text: ""};
  target.appendChild(element);
  return {rendered: true, text: element.innerText};
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Launch Debian's Chromium (never a downloaded browser)."""
    if not HAVE_CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing")
    if not HAVE_LIBRARY:
        pytest.fail(f"{LIBRARY} is missing: run npm ci")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.mark.browser
async def test_every_card_kind_renders_in_chromium(browser: Browser) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport={"width": 480, "height": 400})
    page = await context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_page_error(error: Error) -> None:
        errors.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    try:
        await page.set_content(PAGE)
        await page.add_script_tag(path=str(LIBRARY))
        await page.add_style_tag(path=str(STYLES))
        for name, card in every_card().items():
            result = await page.evaluate(RENDER, [card.to_json(), HOST_CONFIG])
            assert result["rendered"], f"{name} did not render"
            assert result["text"].strip(), f"{name} rendered empty"
            path = ARTIFACTS / f"{name}.png"
            await page.locator("#card").screenshot(path=str(path))
            assert path.stat().st_size > 1000, name
        # A card shows what it was built with: spot-check one of each family.
        cards = every_card()
        result = await page.evaluate(RENDER, [cards["offer-card-first"].to_json(), HOST_CONFIG])
        assert "Accept" in result["text"]
        assert "Decline" in result["text"]
        result = await page.evaluate(RENDER, [cards["queue"].to_json(), HOST_CONFIG])
        assert "Longest wait" in result["text"]
        assert "84%" in result["text"]
    finally:
        await context.close()
    assert errors == [], json.dumps(errors)
