"""Demo mode's "Teams chats" page: the simulator's conversations, with the bot's cards live.

``GET /demo/chats`` shows every conversation the local Teams simulator's Bot Connector keeps
(each agent's 1:1 chat with the bot, each channel it posted to) and renders the bot's
Adaptive Cards with Microsoft's ``adaptivecards`` renderer, vendored in
``bot/messaging/static/vendor/``. The page talks only to this host; the small JSON routes under
``/demo/api/`` call the simulator's control API for it. A card's ``Action.Execute`` button
takes the real path: the simulator sends the bot a signed ``adaptiveCard/action`` invoke
from the user, and the page shows the card the bot answers with. Typed messages go the same
way. None of this exists outside demo mode: the routes are not registered, so they are 404.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from bot import keys
from bot.http import error_response
from contactcenter.inbound import InvalidJson, parse_json
from simulator import SimulatorClient, SimulatorRequestError
from simulator.installations import personal_conversation_id

_LOGGER = logging.getLogger(__name__)


def _static_dir() -> Path:
    """Return the installed folder of the page, its assets and the vendored renderer."""
    folder = resources.files(__package__) / "static"
    # aiohttp serves files from disk; pip installs packages unzipped, so this always holds.
    if isinstance(folder, Path):
        return folder
    raise RuntimeError(f"the demo chats' static files are not on the file system: {folder}")


STATIC_DIR = _static_dir() / "demo"
# Microsoft's Adaptive Cards renderer, vendored from npm (tools/vendored.json).
ADAPTIVE_CARDS_JS = STATIC_DIR.parent / "vendor" / "adaptivecards" / "adaptivecards.min.js"

PREFIX = "/demo"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
BOT_NAME = "Contact Center"
# Graph names the app to install by its catalog URL (graph/teams_apps.py).
CATALOG_URL = "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps"
# The simulator's fake Graph takes any bearer token; this one only shows that one is sent.
DEMO_GRAPH_TOKEN = "demo-mode-token"  # noqa: S105 - not a secret
# A channel the page offers before the bot was seen in any: a team's General channel has
# the team's id.
DEMO_TEAM = {"id": "19:contact-center-demo@thread.tacv2", "name": "Contact center"}
DEMO_CHANNEL = {"id": DEMO_TEAM["id"], "name": "General"}

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_MENTION = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)


def add_demo_chats(app: web.Application) -> None:
    """Add the chats page, its assets and its JSON routes (call it in demo mode only)."""
    router = app.router
    router.add_get(f"{PREFIX}/chats", chats_page)
    router.add_get(f"{PREFIX}/vendor/adaptivecards.js", adaptive_cards_js)
    router.add_static(f"{PREFIX}/assets", STATIC_DIR, follow_symlinks=False)
    router.add_get(f"{PREFIX}/api/conversations", list_conversations)
    router.add_get(f"{PREFIX}/api/conversations/{{conversation_id}}", get_conversation)
    router.add_post(f"{PREFIX}/api/conversations/{{conversation_id}}/invoke", invoke)
    router.add_post(f"{PREFIX}/api/conversations/{{conversation_id}}/messages", send_message)
    router.add_post(f"{PREFIX}/api/people/{{user_id}}/install", install_app)
    app.on_response_prepare.append(_page_headers)


async def _page_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(f"{PREFIX}/"):
        for name, value in PAGE_HEADERS.items():
            response.headers[name] = value
        if request.path.startswith((f"{PREFIX}/assets/", f"{PREFIX}/vendor/")):
            response.headers["Cache-Control"] = "no-cache"


async def chats_page(request: web.Request) -> web.StreamResponse:
    """``GET /demo/chats``: the page."""
    return web.FileResponse(
        STATIC_DIR / "chats.html", headers={"Content-Type": "text/html; charset=utf-8"}
    )


async def adaptive_cards_js(request: web.Request) -> web.StreamResponse:
    """``GET /demo/vendor/adaptivecards.js``: Microsoft's renderer."""
    if not ADAPTIVE_CARDS_JS.is_file():
        raise web.HTTPNotFound(text="the Adaptive Cards renderer is missing from this install")
    return web.FileResponse(
        ADAPTIVE_CARDS_JS, headers={"Content-Type": "text/javascript; charset=utf-8"}
    )


# ----------------------------------------------------------------- the simulator
def _simulator_url(app: web.Application) -> str:
    """Return the simulator's base URL: the in-process one, else the one Graph points at."""
    simulator = app.get(keys.SIMULATOR)
    if simulator is not None:
        return simulator.base_url
    # Demo mode only trusts a loopback simulator: GRAPH_BASE_URL is "<simulator>/v1.0".
    return app[keys.GRAPH_BASE_URL].removesuffix("/").removesuffix("/v1.0")


@dataclass(frozen=True, slots=True)
class Person:
    """Someone in the simulator's directory."""

    id: str
    display_name: str
    tenant_id: str

    def to_json(self, *, has_chat: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "tenantId": self.tenant_id,
            "hasChat": has_chat,
        }


@dataclass(frozen=True, slots=True)
class Directory:
    """The simulator's tenants and people."""

    tenant_ids: tuple[str, ...]
    people: dict[str, Person]

    @property
    def default_tenant(self) -> str:
        return self.tenant_ids[0] if self.tenant_ids else ""


class DemoSimulator:
    """The simulator's control API and fake Graph, through the host's HTTP session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url
        self.control = SimulatorClient(session, base_url)

    @classmethod
    def of(cls, request: web.Request) -> DemoSimulator:
        return cls(request.app[keys.HTTP_SESSION], _simulator_url(request.app))

    async def directory(self) -> Directory:
        """Return the simulator's tenants and their people."""
        async with self._session.get(f"{self._base_url}/sim/tenants") as response:
            if response.status >= 400:
                raise SimulatorRequestError(response.status, None)
            body = await response.json()
        tenants = [_mapping(tenant) for tenant in body.get("tenants") or []]
        people: dict[str, Person] = {}
        for tenant in tenants:
            for user in tenant.get("users") or []:
                user_id = str(user["id"])
                name = str(user.get("displayName") or user_id)
                people[user_id] = Person(user_id, name, str(tenant["id"]))
        return Directory(tuple(str(tenant["id"]) for tenant in tenants), people)

    async def install_app(self, user_id: str, teams_app_id: str) -> int:
        """Install the app for a user through fake Graph; return its status (201, 409...)."""
        url = f"{self._base_url}/v1.0/users/{quote(user_id, safe='')}/teamwork/installedApps"
        body = {"teamsApp@odata.bind": f"{CATALOG_URL}/{teams_app_id}"}
        headers = {"Authorization": f"Bearer {DEMO_GRAPH_TOKEN}"}
        async with self._session.post(url, json=body, headers=headers) as response:
            return response.status


SIMULATOR_ERRORS = (SimulatorRequestError, aiohttp.ClientError, TimeoutError)


def _simulator_error(err: Exception) -> web.Response:
    if isinstance(err, SimulatorRequestError):
        if err.status == 404:
            return error_response(404, "the simulator has no such conversation")
        return error_response(502, f"the simulator answered {err.status}", code="simulatorError")
    _LOGGER.warning("The simulator could not be reached: %r", err)
    return error_response(502, "the simulator could not be reached", code="simulatorError")


# --------------------------------------------------------------- conversations
def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _sort_key(value: Any) -> datetime:
    # Missing times sort first; the simulator's times carry a zone, so compare in UTC.
    return _parse_time(value) or datetime.min.replace(tzinfo=UTC)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _card(activity: dict[str, Any]) -> dict[str, Any] | None:
    for attachment in activity.get("attachments") or []:
        if _mapping(attachment).get("contentType") == CARD_CONTENT_TYPE:
            content = attachment.get("content")
            return content if isinstance(content, dict) else None
    return None


def _plain_text(value: Any) -> str:
    """Return a message's text with mentions as ``@name``."""
    return _MENTION.sub(r"@\1", value).strip() if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class ConversationView:
    """What the page shows of one of the simulator's conversations."""

    raw: dict[str, Any]
    directory: Directory

    @property
    def id(self) -> str:
        return str(self.raw["id"])

    def _incoming(self) -> list[dict[str, Any]]:
        return [_mapping(item.get("activity")) for item in self.raw.get("incoming") or []]

    def _latest_incoming(self) -> dict[str, Any]:
        incoming = self._incoming()
        return incoming[-1] if incoming else {}

    @property
    def kind(self) -> str:
        """Return Teams' conversation type: personal, channel or groupChat."""
        latest = _mapping(self._latest_incoming().get("conversation"))
        conversation_type = latest.get("conversationType")
        if isinstance(conversation_type, str) and conversation_type:
            return conversation_type
        return "personal" if self.id.startswith("a:") else "channel"

    @property
    def user_id(self) -> str | None:
        """Return whose 1:1 chat this is (None for channels and group chats)."""
        if self.kind != "personal":
            return None
        for activity in reversed(self._incoming()):
            sender = _mapping(activity.get("from")).get("aadObjectId")
            if isinstance(sender, str) and sender:
                return sender
        return self.id.removeprefix("a:") if self.id.startswith("a:") else None

    @property
    def tenant_id(self) -> str:
        for activity in reversed(self._incoming()):
            tenant = _mapping(_mapping(activity.get("channelData")).get("tenant")).get("id")
            if isinstance(tenant, str) and tenant:
                return tenant
        person = self.directory.people.get(self.user_id or "")
        return person.tenant_id if person is not None else self.directory.default_tenant

    def context(self) -> dict[str, Any]:
        """Return what Teams puts on an activity in this conversation besides its id."""
        if self.kind == "personal":
            return {"conversation": {"conversationType": "personal"}}
        latest = self._latest_incoming()
        conversation = {
            key: value
            for key, value in _mapping(latest.get("conversation")).items()
            if key in {"conversationType", "isGroup", "name"}
        }
        conversation.setdefault("conversationType", self.kind)
        channel_data = {
            key: value
            for key, value in _mapping(latest.get("channelData")).items()
            if key in {"team", "channel"}
        }
        return {"conversation": conversation, "channelData": channel_data}

    def _titles(self) -> tuple[str, str]:
        if self.kind == "personal":
            person = self.directory.people.get(self.user_id or "")
            return (person.display_name if person else self.id), f"1:1 chat with {BOT_NAME}"
        channel_data = _mapping(self._latest_incoming().get("channelData"))
        channel = _mapping(channel_data.get("channel")).get("name")
        team = _mapping(channel_data.get("team")).get("name")
        return (str(channel) if channel else "Channel"), (str(team) if team else "Team")

    def messages(self) -> list[dict[str, Any]]:
        """Return the timeline: the bot's activities as they are now, and what users wrote."""
        first_sent: dict[str, str] = {}
        updates: dict[str, list[str]] = {}
        for event in self.raw.get("events") or []:
            activity_id = str(event["activityId"])
            if event["kind"] == "sent":
                first_sent.setdefault(activity_id, str(event["at"]))
            else:
                updates.setdefault(activity_id, []).append(str(event["at"]))
        timeline: list[dict[str, Any]] = []
        for activity in self.raw.get("activities") or []:
            activity_id = str(activity["id"])
            updated = updates.get(activity_id, [])
            timeline.append(
                {
                    "id": activity_id,
                    "from": "bot",
                    "author": BOT_NAME,
                    "at": first_sent.get(activity_id),
                    "text": _plain_text(activity.get("text")),
                    "card": _card(activity),
                    "updated": bool(updated),
                    "updatedAt": updated[-1] if updated else None,
                    # Grows with every update: the page drops a pressed card's answer then.
                    "version": 1 + len(updated),
                }
            )
        for number, item in enumerate(self.raw.get("incoming") or []):
            activity = _mapping(item.get("activity"))
            entry = _user_entry(activity, f"in-{number}")
            if entry is not None:
                # When Teams sent it, not when the bot finished answering it.
                entry["at"] = activity.get("timestamp") or item.get("at")
                timeline.append(entry)
        # Stable: what happened at the same moment stays in arrival order.
        return sorted(timeline, key=lambda entry: _sort_key(entry["at"]))

    def summary(self) -> dict[str, Any]:
        title, subtitle = self._titles()
        times = [event["at"] for event in self.raw.get("events") or []]
        times += [item["at"] for item in self.raw.get("incoming") or [] if item.get("at")]
        return {
            "id": self.id,
            "kind": self.kind,
            "title": title,
            "subtitle": subtitle,
            "tenantId": self.tenant_id,
            "userId": self.user_id,
            "cards": sum(1 for activity in self.raw.get("activities") or [] if _card(activity)),
            "lastAt": max(times, key=_sort_key, default=None),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "messages": self.messages()}


def _user_entry(activity: dict[str, Any], fallback_id: str) -> dict[str, Any] | None:
    """Return how the page shows an activity Teams delivered to the bot (None: not shown)."""
    sender = _mapping(activity.get("from"))
    author = str(sender.get("name") or sender.get("aadObjectId") or "Someone")
    entry_id = str(activity.get("id") or fallback_id)
    kind = activity.get("type")
    if kind == "message":
        return {
            "id": entry_id,
            "from": "user",
            "author": author,
            "userId": sender.get("aadObjectId"),
            "text": _plain_text(activity.get("text")),
            "card": None,
        }
    if kind == "conversationUpdate" and activity.get("membersAdded"):
        return {
            "id": entry_id,
            "from": "system",
            "author": author,
            "text": f"{author} added {BOT_NAME}.",
            "card": None,
        }
    # Invokes (button presses) are not messages in Teams either.
    return None


def _demo_channel(tenant_id: str) -> dict[str, Any]:
    """Return the demo team's General channel as the simulator would list it, empty."""
    return {
        "id": DEMO_CHANNEL["id"],
        "activities": [],
        "events": [],
        "incoming": [
            {
                "activity": {
                    "conversation": {"conversationType": "channel", "isGroup": True},
                    "channelData": {
                        "tenant": {"id": tenant_id},
                        "team": dict(DEMO_TEAM),
                        "channel": dict(DEMO_CHANNEL),
                    },
                },
                "at": None,
            }
        ],
    }


async def _views(simulator: DemoSimulator) -> tuple[list[ConversationView], Directory]:
    directory = await simulator.directory()
    raw = await simulator.control.conversations()
    views = [ConversationView(item, directory) for item in raw]
    if not any(view.kind == "channel" for view in views):
        # A channel to post "queue card ..." in before the bot was seen in any.
        views.append(ConversationView(_demo_channel(directory.default_tenant), directory))
    return views, directory


async def _view(simulator: DemoSimulator, conversation_id: str) -> ConversationView:
    directory = await simulator.directory()
    try:
        raw = await simulator.control.conversation(conversation_id)
    except SimulatorRequestError as err:
        if err.status != 404 or conversation_id != DEMO_CHANNEL["id"]:
            raise
        raw = _demo_channel(directory.default_tenant)
    return ConversationView(raw, directory)


async def list_conversations(request: web.Request) -> web.Response:
    """``GET /demo/api/conversations``: every conversation, latest first, and the people."""
    try:
        views, directory = await _views(DemoSimulator.of(request))
    except SIMULATOR_ERRORS as err:
        return _simulator_error(err)
    summaries = sorted(
        (view.summary() for view in views), key=lambda item: _sort_key(item["lastAt"]), reverse=True
    )
    chats = {view.user_id for view in views if view.user_id}
    people = sorted(directory.people.values(), key=lambda person: person.display_name)
    return web.json_response(
        {
            "conversations": summaries,
            "people": [person.to_json(has_chat=person.id in chats) for person in people],
        }
    )


async def get_conversation(request: web.Request) -> web.Response:
    """``GET /demo/api/conversations/{id}``: one conversation's timeline."""
    try:
        view = await _view(DemoSimulator.of(request), request.match_info["conversation_id"])
    except SIMULATOR_ERRORS as err:
        return _simulator_error(err)
    return web.json_response(view.to_json())


# -------------------------------------------------------------------- acting
class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="forbid")


class InvokeBody(_Body):
    """A card button pressed: ``Action.Execute``'s verb and data, who pressed it, where."""

    verb: str = Field(min_length=1, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)
    conversation_id: str | None = Field(default=None, max_length=512)
    user_id: str = Field(min_length=1, max_length=128)
    # The card's activity: Teams sends it as the invoke's replyToId.
    activity_id: str | None = Field(default=None, max_length=128)


class MessageBody(_Body):
    """A message a user types to the bot."""

    text: str = Field(min_length=1, max_length=2000)
    user_id: str = Field(min_length=1, max_length=128)


class Refused(Exception):
    """A request the page should not have made: answered with ``response``."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.text)
        self.response = response


BodyT = TypeVar("BodyT", bound=_Body)


async def _read(request: web.Request, model: type[BodyT]) -> BodyT:
    try:
        document = parse_json(await request.read())
    except InvalidJson as err:
        raise Refused(error_response(400, str(err), code="invalidJson")) from err
    try:
        return model.model_validate(document)
    except ValidationError as err:
        details = [
            {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in err.errors()
        ]
        raise Refused(error_response(400, "the body is not valid", details=details)) from err


async def _deliver(
    request: web.Request, conversation_id: str, user_id: str, activity: dict[str, Any]
) -> dict[str, Any]:
    """Have the simulator send the bot ``activity`` from ``user_id``; return the delivery."""
    simulator = DemoSimulator.of(request)
    view = await _view(simulator, conversation_id)
    if user_id not in view.directory.people:
        raise Refused(error_response(400, f"{user_id} is not in the simulator's directory"))
    if view.kind == "personal" and view.user_id not in {None, user_id}:
        raise Refused(error_response(403, "only its own user writes in a 1:1 chat with the bot"))
    return await simulator.control.send_activity(
        conversation_id, {**view.context(), **activity}, tenant_id=view.tenant_id, user_id=user_id
    )


def _delivery_failed(delivered: dict[str, Any]) -> web.Response | None:
    if delivered.get("error"):
        return error_response(502, "the bot could not be reached", code="botUnreachable")
    status = delivered.get("status")
    if not isinstance(status, int) or status >= 400:
        return error_response(502, f"the bot answered {status}", code="botError")
    return None


async def invoke(request: web.Request) -> web.Response:
    """``POST /demo/api/conversations/{id}/invoke``: press a card's ``Action.Execute``."""
    conversation_id = request.match_info["conversation_id"]
    try:
        body = await _read(request, InvokeBody)
        if body.conversation_id not in {None, conversation_id}:
            return error_response(400, "conversationId differs from the conversation's")
        activity: dict[str, Any] = {
            "type": "invoke",
            "name": "adaptiveCard/action",
            "value": {
                "action": {"type": "Action.Execute", "verb": body.verb, "data": body.data},
                "trigger": "manual",
            },
        }
        if body.activity_id:
            activity["replyToId"] = body.activity_id
        delivered = await _deliver(request, conversation_id, body.user_id, activity)
    except Refused as refused:
        return refused.response
    except SIMULATOR_ERRORS as err:
        return _simulator_error(err)
    failed = _delivery_failed(delivered)
    if failed is not None:
        return failed
    answer = _mapping(delivered.get("body"))
    value = answer.get("value")
    return web.json_response(
        {
            "status": delivered["status"],
            "statusCode": answer.get("statusCode"),
            "card": value if answer.get("type") == CARD_CONTENT_TYPE else None,
            "message": value if isinstance(value, str) else None,
        }
    )


async def send_message(request: web.Request) -> web.Response:
    """``POST /demo/api/conversations/{id}/messages``: a user writes to the bot."""
    conversation_id = request.match_info["conversation_id"]
    app_id = request.app[keys.SETTINGS].microsoft_app_id
    try:
        body = await _read(request, MessageBody)
        activity: dict[str, Any] = {"type": "message", "text": body.text.strip()}
        if not conversation_id.startswith("a:"):
            # In a channel the bot only hears messages that @mention it.
            mention = f"<at>{BOT_NAME}</at>"
            activity["text"] = f"{mention} {activity['text']}"
            activity["entities"] = [
                {
                    "type": "mention",
                    "text": mention,
                    "mentioned": {"id": f"28:{app_id}", "name": BOT_NAME},
                }
            ]
        delivered = await _deliver(request, conversation_id, body.user_id, activity)
    except Refused as refused:
        return refused.response
    except SIMULATOR_ERRORS as err:
        return _simulator_error(err)
    failed = _delivery_failed(delivered)
    if failed is not None:
        return failed
    return web.json_response({"status": delivered["status"], "replies": len(delivered["replies"])})


async def install_app(request: web.Request) -> web.Response:
    """``POST /demo/api/people/{id}/install``: a person adds the app, which opens their chat.

    Goes through the simulator's fake Graph (``POST /users/{id}/teamwork/installedApps``),
    so Teams tells the bot about the new 1:1 chat as it does in a tenant.
    """
    user_id = request.match_info["user_id"]
    app_id = request.app[keys.SETTINGS].microsoft_app_id
    try:
        status = await DemoSimulator.of(request).install_app(user_id, app_id)
    except SIMULATOR_ERRORS as err:
        return _simulator_error(err)
    if status == 404:
        return error_response(404, f"{user_id} is not in the simulator's directory")
    if status not in {201, 409}:
        _LOGGER.warning("The simulator did not install the app for %s: %s", user_id, status)
        return error_response(502, f"the simulator answered {status}", code="simulatorError")
    return web.json_response(
        {"conversationId": personal_conversation_id(user_id), "installed": status == 201},
        status=201 if status == 201 else 200,
    )
