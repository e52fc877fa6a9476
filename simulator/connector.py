"""The fake Bot Connector: what the bot sent and updated, and what Teams sends the bot.

Conversations keep, per conversation, the activities the bot sent (and their updates) and
the activities delivered to the bot with its answers. :class:`ActivityDelivery` plays the
Teams channel: it completes an activity, signs it like Bot Framework and POSTs it to the
bot's messaging endpoint.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from yarl import URL

from contactcenter.clock import Clock
from simulator.config import is_loopback_host
from simulator.errors import ApiError
from simulator.signing import ActivityTokenMinter

_LOGGER = logging.getLogger(__name__)

CHANNEL_ID = "msteams"


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """One send or update the bot made, in arrival order."""

    kind: str  # "sent" | "updated"
    activity_id: str
    activity: dict[str, Any]
    authorized: bool
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "kind": self.kind,
            "activityId": self.activity_id,
            "activity": self.activity,
            "authorized": self.authorized,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class IncomingActivity:
    """An activity delivered to the bot, and how the bot answered."""

    activity: dict[str, Any]
    status: int | None
    body: Any
    error: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "activity": self.activity,
            "status": self.status,
            "body": self.body,
            "error": self.error,
            "at": self.at.isoformat(),
        }


@dataclass(slots=True)
class Conversation:
    """A conversation's current activities and the history of how they got there."""

    id: str
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[ActivityEvent] = field(default_factory=list)
    incoming: list[IncomingActivity] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "id": self.id,
            "activities": [
                {"id": activity_id, **activity} for activity_id, activity in self.activities.items()
            ],
            "events": [event.to_json() for event in self.events],
            "incoming": [item.to_json() for item in self.incoming],
        }


@dataclass(slots=True)
class Team:
    """A team the bot was seen in, and the channels seen of it."""

    id: str
    name: str | None
    channels: dict[str, str | None] = field(default_factory=dict)

    def channels_json(self) -> dict[str, Any]:
        """Return the channel list as ``GET /v3/teams/{id}/conversations`` answers it."""
        return {"conversations": [{"id": cid, "name": name} for cid, name in self.channels.items()]}


class Conversations:
    """Every conversation the bot wrote to."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._conversations: dict[str, Conversation] = {}
        self._teams: dict[str, Team] = {}
        self._ids = itertools.count(1)
        self._changed: asyncio.Event | None = None

    def _touch(self) -> None:
        # Swap the event rather than clear it, so a woken waiter cannot miss the next change.
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate`` holds, re-checking after every change."""
        while not predicate():
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()

    def _conversation(self, conversation_id: str) -> Conversation:
        return self._conversations.setdefault(conversation_id, Conversation(id=conversation_id))

    def record_incoming(self, conversation_id: str, incoming: IncomingActivity) -> None:
        """Remember an activity delivered to the bot and the bot's answer."""
        self._conversation(conversation_id).incoming.append(incoming)
        self._touch()

    def see_team(self, activity: Mapping[str, Any]) -> None:
        """Learn a team and its channel from an activity's ``channelData``."""
        channel_data = activity.get("channelData") or {}
        team = channel_data.get("team") or {}
        if not isinstance(team, Mapping) or not team.get("id"):
            return
        known = self._teams.setdefault(
            str(team["id"]), Team(id=str(team["id"]), name=team.get("name"))
        )
        channel = channel_data.get("channel") or {}
        if isinstance(channel, Mapping) and channel.get("id"):
            known.channels[str(channel["id"])] = channel.get("name")
        conversation = activity.get("conversation") or {}
        if conversation.get("conversationType") == "channel" and conversation.get("id"):
            # A channel conversation's id may carry the thread (";messageid=..."): not a channel.
            channel_id = str(conversation["id"]).split(";")[0]
            known.channels.setdefault(channel_id, None)

    def team(self, team_id: str) -> Team | None:
        """Return a team seen so far, or None."""
        return self._teams.get(team_id)

    def send(self, conversation_id: str, activity: dict[str, Any], *, authorized: bool) -> str:
        """Record a new activity; return the id the connector gives it."""
        conversation = self._conversation(conversation_id)
        activity_id = f"{int(self._clock.now().timestamp() * 1000)}{next(self._ids):05d}"
        conversation.activities[activity_id] = activity
        conversation.events.append(
            ActivityEvent("sent", activity_id, activity, authorized, self._clock.now())
        )
        self._touch()
        return activity_id

    def update(
        self, conversation_id: str, activity_id: str, activity: dict[str, Any], *, authorized: bool
    ) -> None:
        """Replace an activity sent earlier."""
        conversation = self._conversations.get(conversation_id)
        if conversation is None or activity_id not in conversation.activities:
            raise ApiError(
                404,
                f"Activity {activity_id} not found in conversation {conversation_id}.",
                code="ActivityNotFound",
            )
        conversation.activities[activity_id] = activity
        conversation.events.append(
            ActivityEvent("updated", activity_id, activity, authorized, self._clock.now())
        )
        self._touch()

    def get(self, conversation_id: str) -> Conversation | None:
        """Return a conversation, or None."""
        return self._conversations.get(conversation_id)

    def all(self) -> list[Conversation]:
        """Return every conversation."""
        return list(self._conversations.values())


@dataclass(frozen=True, slots=True)
class DeliveredActivity:
    """An activity as delivered, the bot's answer, and what the bot sent meanwhile."""

    activity: dict[str, Any]
    status: int | None
    body: Any
    error: str | None
    replies: list[ActivityEvent]

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "activity": self.activity,
            "status": self.status,
            "body": self.body,
            "error": self.error,
            "replies": [reply.to_json() for reply in self.replies],
        }


class ActivityDelivery:
    """Play the Teams channel: complete activities, sign them and POST them to the bot."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        minter: ActivityTokenMinter,
        conversations: Conversations,
        *,
        app_id: str,
        messages_url: str,
        clock: Clock,
        timeout_s: float,
        allow_remote: bool = False,
    ) -> None:
        self._session = session
        self._minter = minter
        self._conversations = conversations
        self._app_id = app_id
        self._messages_url = messages_url
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._allow_remote = allow_remote
        self._ids = itertools.count(1)

    @property
    def bot_id(self) -> str:
        """Return the bot's Teams id (``28:<app id>``)."""
        return f"28:{self._app_id}"

    def complete(
        self,
        conversation_id: str,
        partial: Mapping[str, Any],
        *,
        service_url: str,
        tenant_id: str,
    ) -> dict[str, Any]:
        """Fill in what Teams puts on every activity: ids, channel, service URL, tenant."""
        activity = dict(partial)
        if not isinstance(activity.get("type"), str) or not activity["type"]:
            raise ApiError(
                400, "The activity needs a type (message, invoke, conversationUpdate...)."
            )
        activity.setdefault("id", f"f:{next(self._ids)}")
        activity.setdefault("timestamp", self._clock.now().isoformat())
        activity["channelId"] = CHANNEL_ID
        activity["serviceUrl"] = service_url
        conversation = dict(activity.get("conversation") or {})
        conversation["id"] = conversation_id
        conversation.setdefault("conversationType", "personal")
        conversation.setdefault("tenantId", tenant_id)
        activity["conversation"] = conversation
        activity.setdefault("recipient", {"id": self.bot_id, "name": "Contact Center"})
        channel_data = dict(activity.get("channelData") or {})
        channel_data.setdefault("tenant", {"id": tenant_id})
        activity["channelData"] = channel_data
        return activity

    async def deliver(
        self,
        conversation_id: str,
        activity: dict[str, Any],
        *,
        token: str | None = None,
    ) -> DeliveredActivity:
        """POST a completed activity to the bot, signed; record and return the outcome.

        ``token`` replaces the signed token (a test sending what an impostor would).
        """
        url = self._messages_url
        conversation = self._conversations.get(conversation_id)
        before = len(conversation.events) if conversation is not None else 0
        self._conversations.see_team(activity)
        status: int | None = None
        body: Any = None
        error: str | None = None
        if not self._allow_remote and not is_loopback_host(URL(url).host):
            error = "not delivered: host is not loopback"
        else:
            bearer = token or self._minter.token_for(self._app_id, activity["serviceUrl"])
            try:
                async with self._session.post(
                    url,
                    json=activity,
                    headers={"Authorization": f"Bearer {bearer}"},
                    timeout=self._timeout,
                ) as response:
                    status = response.status
                    raw = await response.read()
                    if raw.strip() and response.content_type == "application/json":
                        body = await response.json()
            except (aiohttp.ClientError, TimeoutError) as err:
                _LOGGER.warning("Activity to %s failed: %r", url, err)
                error = repr(err)
        self._conversations.record_incoming(
            conversation_id, IncomingActivity(activity, status, body, error, self._clock.now())
        )
        conversation = self._conversations.get(conversation_id)
        replies = conversation.events[before:] if conversation is not None else []
        return DeliveredActivity(activity, status, body, error, list(replies))
