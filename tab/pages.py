"""The tab's pages and assets under ``/tab/``, with the headers Teams and browsers need.

Pages named in the Teams app manifest: ``/tab/?view=agent``, ``/tab/?view=admin``,
``/tab/configure`` (the configurable tab's setup page) and ``/tab/about`` (privacy and
terms). Assets are plain ES modules and CSS from ``tab/static/``; the Teams JavaScript
client library, vendored in ``tab/static/vendor/``, is served at ``/tab/vendor/teams-js.js``.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from tab.appkeys import STATIC_DIR, TAB

_LOGGER = logging.getLogger(__name__)

# Where Teams and the other Microsoft 365 hosts frame a tab (Microsoft Learn, "Tab
# requirements": *.cloud.microsoft for every host, then Teams, Microsoft 365 and Outlook).
FRAME_ANCESTORS = (
    "'self'",
    "https://*.cloud.microsoft",
    "https://teams.microsoft.com",
    "https://*.teams.microsoft.com",
    "https://*.microsoft365.com",
    "https://*.office.com",
    "https://outlook.office.com",
    "https://outlook.office365.com",
)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # Recordings and prompts play from blobs fetched with the bearer token.
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {' '.join(FRAME_ANCESTORS)}",
    )
)

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def add_pages(app: web.Application) -> None:
    """Add the tab's pages, assets and vendor bundle, and their security headers."""
    app.router.add_get("/tab", _to_tab)
    app.router.add_get("/tab/", _page("index.html"))
    app.router.add_get("/tab/configure", _page("configure.html"))
    app.router.add_get("/tab/about", _page("about.html"))
    app.router.add_get("/tab/vendor/teams-js.js", _teams_js)
    app.router.add_static("/tab/assets", STATIC_DIR / "assets", follow_symlinks=False)
    app.on_response_prepare.append(_tab_headers)


async def _to_tab(request: web.Request) -> web.StreamResponse:
    location = "/tab/" + (f"?{request.query_string}" if request.query_string else "")
    raise web.HTTPFound(location)


def _page(name: str) -> Handler:
    path = STATIC_DIR / name

    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={"Content-Type": "text/html; charset=utf-8"})

    page.__name__ = f"page_{name.partition('.')[0]}"
    return page


async def _teams_js(request: web.Request) -> web.StreamResponse:
    bundle = request.app[TAB].options.teams_js
    if bundle is None or not bundle.is_file():
        raise web.HTTPNotFound(text="the Teams JavaScript client library is not served here")
    return web.FileResponse(bundle, headers={"Content-Type": "text/javascript; charset=utf-8"})


async def _tab_headers(request: web.Request, response: web.StreamResponse) -> None:
    if not (request.path == "/tab" or request.path.startswith("/tab/")):
        return
    for name, value in PAGE_HEADERS.items():
        response.headers[name] = value
    state = request.app.get(TAB)
    if state is not None and state.deps.settings.public_base_url.startswith("https://"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.path.startswith(("/tab/assets/", "/tab/vendor/")):
        # Revalidated on every load (cheap: Last-Modified), so a deployment shows at once.
        response.headers["Cache-Control"] = "no-cache"
