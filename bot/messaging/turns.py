"""What the bot's logic sees of an incoming activity, free of any Bot Framework type."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.cards.adaptive import Card
from bot.messaging.documents import ConversationKind, ConversationRef
from contactcenter.model import Agent, AgentStatus, AgentTransfer, Call, Party, Queue


@dataclass(frozen=True, slots=True)
class Turn:
    """Who wrote, where, and what (mentions of the bot removed)."""

    tenant_id: str
    # The user's Entra object id ("" if Teams did not send one) and Teams id (29:...).
    user_id: str
    user_mri: str
    user_name: str
    conversation: ConversationRef
    text: str = ""
    team_id: str | None = None
    team_name: str = ""
    channel_id: str | None = None
    channel_name: str = ""
    received_at: datetime | None = None

    @property
    def kind(self) -> ConversationKind:
        return self.conversation.kind


_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)


def command_text(raw: str) -> str:
    """Return a message's text without @mentions, markup and extra blanks."""
    without = _MENTION.sub(" ", raw)
    without = re.sub(r"<[^>]+>", " ", without).replace("&nbsp;", " ")
    return " ".join(without.split())


@dataclass(frozen=True, slots=True)
class Reply:
    """The bot's answer to a message: a card, and what to do once Teams gave it an id."""

    card: Card
    summary: str = ""
    after_sent: Callable[[str], Awaitable[None]] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The answer to an ``Action.Execute``: the card to show, and the status to report."""

    card: Card
    status: int = 200


class AgentControl(Protocol):
    """What the bot asks of the routing engine (``contactcenter.engine.RoutingEngine``)."""

    async def accept_offer(self, tenant_id: str, call_id: str, agent_id: str) -> bool: ...

    async def decline_offer(self, tenant_id: str, call_id: str, agent_id: str) -> bool: ...

    async def sign_in(self, tenant_id: str, agent_id: str, queue_id: str) -> Agent: ...

    async def sign_out(
        self, tenant_id: str, agent_id: str, queue_id: str | None = None
    ) -> Agent: ...

    async def set_status(
        self, tenant_id: str, agent_id: str, status: AgentStatus, reason: str | None = None
    ) -> Agent: ...

    async def end_wrap_up(self, tenant_id: str, agent_id: str) -> Agent: ...

    async def extend_wrap_up(self, tenant_id: str, agent_id: str) -> Agent: ...

    async def transfer_to_queue(
        self, tenant_id: str, call_id: str, agent_id: str, queue_id: str
    ) -> None: ...

    async def transfer_to_agent(
        self, tenant_id: str, call_id: str, agent_id: str, target_id: str
    ) -> AgentTransfer: ...

    async def call_back(self, queue: Queue, number: Party, origin_call_id: str) -> Call: ...
