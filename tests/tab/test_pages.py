"""The tab's pages: what the manifest names exists, with the headers Teams needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tab.appkeys import STATIC_DIR
from tab.pages import FRAME_ANCESTORS
from tests.tab.support import TabStack

MANIFEST_PAGES = ["/tab/?view=agent", "/tab/?view=admin", "/tab/configure", "/tab/about"]


@pytest.mark.parametrize("path", MANIFEST_PAGES)
async def test_the_pages_the_manifest_names_exist(tab: TabStack, path: str) -> None:
    async with tab.host.get(path) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "<!doctype html>" in (await response.text()).lower()


@pytest.mark.parametrize("path", MANIFEST_PAGES)
async def test_pages_may_be_framed_by_teams_only(tab: TabStack, path: str) -> None:
    async with tab.host.get(path) as response:
        policy = response.headers["Content-Security-Policy"]
        assert "X-Frame-Options" not in response.headers
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    for host in (
        "https://teams.microsoft.com",
        "https://*.teams.microsoft.com",
        "https://*.cloud.microsoft",
        "https://*.office.com",
        "https://outlook.office.com",
    ):
        assert host in directives["frame-ancestors"]
    assert "*" not in directives["frame-ancestors"]
    assert list(FRAME_ANCESTORS) == directives["frame-ancestors"]


async def test_the_about_page_has_privacy_and_terms(tab: TabStack) -> None:
    async with tab.host.get("/tab/about") as response:
        page = await response.text()
    assert 'id="privacy"' in page
    assert 'id="terms"' in page


async def test_the_teams_library_is_served_from_npm(tab: TabStack) -> None:
    async with tab.host.get("/tab/vendor/teams-js.js") as response:
        assert response.status == 200
        assert "javascript" in response.headers["Content-Type"]
        assert "microsoftTeams" in (await response.text())[:2000]


async def test_assets_are_served_with_the_page_headers(tab: TabStack) -> None:
    async with tab.host.get("/tab/assets/js/main.js") as response:
        assert response.status == 200
        assert "javascript" in response.headers["Content-Type"]
        assert "Content-Security-Policy" in response.headers
    async with tab.host.get("/tab/assets/../../auth.py") as response:
        assert response.status in {403, 404}


def _imports(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    return re.findall(r"""(?:^|\n)\s*import\s[^;]*?from\s+["'](\.[^"']+)["']""", source)


def test_every_module_the_pages_import_exists() -> None:
    modules = sorted((STATIC_DIR / "assets" / "js").glob("*.js"))
    assert modules
    for module in modules:
        for name in _imports(module):
            assert (module.parent / name).resolve().is_file(), f"{module.name} imports {name}"
    for page in STATIC_DIR.glob("*.html"):
        for src in re.findall(r'(?:src|href)="(/tab/assets/[^"]+)"', page.read_text()):
            assert (STATIC_DIR / src.removeprefix("/tab/")).is_file(), f"{page.name}: {src}"


def test_no_page_or_module_uses_inline_code_or_html_injection() -> None:
    for page in STATIC_DIR.glob("*.html"):
        text = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), page.name
        assert " style=" not in text, page.name
        assert not re.search(r"\son[a-z]+=", text), page.name
    for module in (STATIC_DIR / "assets" / "js").glob("*.js"):
        text = module.read_text()
        for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{module.name} uses {sink}"
