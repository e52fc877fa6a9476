"""Test helpers: a virtual timer, Teams activities, and tokens an impostor would send."""

from __future__ import annotations

import asyncio
import base64
import heapq
import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa

from bot import keys
from bot.demo import PEOPLE, queue_id
from bot.messaging.documents import MessagingDocuments
from bot.messaging.notifier import TeamsNotifier
from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID, Settings
from contactcenter.clock import VirtualClock
from contactcenter.engine import RoutingEngine
from contactcenter.repository import Repository
from simulator import SimulatorClient, load_or_create_signing_key
from simulator.installations import personal_conversation_id
from simulator.signing import BOT_FRAMEWORK_ISSUER, SigningKey

TENANT = DEMO_TENANT_ID
SALES = queue_id("Sales")
SUPPORT = queue_id("Support")
BY_NAME = {person.name.split()[0].lower(): person for person in PEOPLE}
ANA = BY_NAME["ana"].id
BEN = BY_NAME["ben"].id
CHLOE = BY_NAME["chloe"].id
HIRO = BY_NAME["hiro"].id  # the supervisor
GRACE = BY_NAME["grace"].id  # the admin
TEAM_ID = "19:team-general@thread.tacv2"


class ManualTimer:
    """A virtual timer: sleepers wake only when :meth:`advance` moves time past them."""

    def __init__(self) -> None:
        self._now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._ids = itertools.count()
        self._slept: asyncio.Event | None = None

    def monotonic(self) -> float:
        return self._now

    @property
    def sleeping(self) -> int:
        return sum(1 for *_, future in self._sleepers if not future.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._ids), future))
        if self._slept is not None:
            self._slept.set()
        await future

    async def wait_for_sleepers(self, count: int = 1) -> None:
        """Return once at least ``count`` tasks sleep on this timer."""
        while self.sleeping < count:
            self._slept = asyncio.Event()
            await self._slept.wait()

    async def advance(self, seconds: float) -> None:
        """Move time on, waking every sleeper due on the way, in order."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, due)
            if not future.done():
                future.set_result(None)
                # Let the woken task run up to its next wait before waking the next one.
                await asyncio.sleep(0)
        self._now = target


@dataclass
class Stack:
    """The host with the messaging bot, and the simulator (in its own thread)."""

    host: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    simulator: SimulatorClient
    simulator_url: str
    simulator_dir: Path
    settings: Settings
    clock: VirtualClock
    timer: ManualTimer
    notifier: TeamsNotifier

    @property
    def repository(self) -> Repository:
        return self.host.app[keys.REPOSITORY]

    @property
    def engine(self) -> RoutingEngine:
        return self.host.app[keys.ENGINE]

    @property
    def documents(self) -> MessagingDocuments:
        return MessagingDocuments(self.host.app[keys.STORE])

    def signing_key(self) -> SigningKey:
        return load_or_create_signing_key(self.simulator_dir / "simulator" / "signing-key.pem")

    async def install(self, user_id: str) -> dict[str, Any]:
        """Install the app for a user as Teams does: a conversationUpdate in their 1:1 chat."""
        return await self.simulator.send_activity(
            personal_conversation_id(user_id),
            {"type": "conversationUpdate", "membersAdded": [{"id": f"28:{DEMO_APP_ID}"}]},
            tenant_id=TENANT,
            user_id=user_id,
        )

    async def say(self, user_id: str, text: str, **extra: Any) -> dict[str, Any]:
        """Send the bot a message in a user's 1:1 chat; return the delivery and replies."""
        return await self.simulator.send_activity(
            personal_conversation_id(user_id),
            {"type": "message", "text": text, **extra},
            tenant_id=TENANT,
            user_id=user_id,
        )

    async def press(
        self, user_id: str, verb: str, data: dict[str, Any], *, conversation: str | None = None
    ) -> dict[str, Any]:
        """Press an ``Action.Execute`` button; return the delivery (its body: the response)."""
        return await self.simulator.send_activity(
            conversation or personal_conversation_id(user_id),
            {
                "type": "invoke",
                "name": "adaptiveCard/action",
                "value": {
                    "action": {"type": "Action.Execute", "verb": verb, "data": data},
                    "trigger": "manual",
                },
            },
            tenant_id=TENANT,
            user_id=user_id,
        )


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    """Return the Adaptive Card an activity carries."""
    [attachment] = activity["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachment["content"]
    return content


def card_text(card: dict[str, Any]) -> str:
    """Return what a reader sees on a card: its texts, facts and button titles, in order."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
            return
        if not isinstance(value, dict):
            return
        kind = value.get("type")
        if kind == "TextBlock":
            found.append(str(value["text"]))
        elif kind == "RichTextBlock":
            found.append("".join(str(run["text"]) for run in value["inlines"]))
        elif kind == "FactSet":
            found.extend(f"{fact['title']}: {fact['value']}" for fact in value["facts"])
        elif isinstance(kind, str) and kind.startswith("Action.") and "title" in value:
            found.append(str(value["title"]))
        for key in ("body", "items", "columns", "actions"):
            walk(value.get(key))

    walk(card)
    return "\n".join(found)


# --------------------------------------------------------------------- tokens
def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(service_url: str, **changes: Any) -> dict[str, Any]:
    """Return Bot Framework-like claims for the demo bot, with ``changes``."""
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "iss": BOT_FRAMEWORK_ISSUER,
        "aud": DEMO_APP_ID,
        "serviceurl": service_url,
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=30)).timestamp()),
    }
    base.update(changes)
    return base


def forged_tokens(key: SigningKey, service_url: str) -> dict[str, str]:
    """Return tokens that must all be refused, by what is wrong with them."""
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = claims(service_url)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    expired = claims(
        service_url,
        nbf=int(long_ago.timestamp()),
        exp=int((long_ago + timedelta(minutes=30)).timestamp()),
    )
    return {
        "garbage": "this-is-not-a-jwt",
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{_b64(good)}.",
        "hs256": jwt.encode(good, "a-shared-secret-nobody-agreed-on", algorithm="HS256"),
        "unknown-kid": jwt.encode(
            good, impostor, algorithm="RS256", headers={"kid": "a-key-nobody-published"}
        ),
        "forged-signature": jwt.encode(good, impostor, algorithm="RS256", headers={"kid": key.kid}),
        "wrong-audience": jwt.encode(
            claims(service_url, aud="11111111-2222-3333-4444-555555555555"),
            key.private_key,
            algorithm="RS256",
            headers={"kid": key.kid},
        ),
        "wrong-issuer": jwt.encode(
            claims(service_url, iss="https://issuer.example"),
            key.private_key,
            algorithm="RS256",
            headers={"kid": key.kid},
        ),
        "wrong-service-url": jwt.encode(
            claims("https://smba.elsewhere.example/"),
            key.private_key,
            algorithm="RS256",
            headers={"kid": key.kid},
        ),
        "expired": jwt.encode(
            expired, key.private_key, algorithm="RS256", headers={"kid": key.kid}
        ),
    }
