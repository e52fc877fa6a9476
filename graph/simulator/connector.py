"""The fake Bot Connector's state: the activities the bot sent and updated, per conversation."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contactcenter.clock import Clock
from graph.simulator.errors import ApiError


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


@dataclass(slots=True)
class Conversation:
    """A conversation's current activities and the history of how they got there."""

    id: str
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[ActivityEvent] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the control API's JSON for it."""
        return {
            "id": self.id,
            "activities": [
                {"id": activity_id, **activity} for activity_id, activity in self.activities.items()
            ],
            "events": [event.to_json() for event in self.events],
        }


class Conversations:
    """Every conversation the bot wrote to."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._conversations: dict[str, Conversation] = {}
        self._ids = itertools.count(1)

    def send(self, conversation_id: str, activity: dict[str, Any], *, authorized: bool) -> str:
        """Record a new activity; return the id the connector gives it."""
        conversation = self._conversations.setdefault(
            conversation_id, Conversation(id=conversation_id)
        )
        activity_id = f"{int(self._clock.now().timestamp() * 1000)}{next(self._ids):05d}"
        conversation.activities[activity_id] = activity
        conversation.events.append(
            ActivityEvent("sent", activity_id, activity, authorized, self._clock.now())
        )
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

    def get(self, conversation_id: str) -> Conversation | None:
        """Return a conversation, or None."""
        return self._conversations.get(conversation_id)

    def all(self) -> list[Conversation]:
        """Return every conversation."""
        return list(self._conversations.values())
