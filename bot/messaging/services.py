"""What the bot's handlers work with, handed in once the host runs."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cards.links import TabLinks
from bot.messaging.documents import MessagingDocuments
from bot.messaging.queue_cards import QueueCards
from bot.messaging.turns import AgentControl
from contactcenter.clock import Clock
from contactcenter.errors import NotFound
from contactcenter.model import Agent, User
from contactcenter.ports import Notifier
from contactcenter.repository import Repository


@dataclass(frozen=True, slots=True)
class BotServices:
    """The store, the routing engine, the notifier and the live queue cards."""

    repository: Repository
    documents: MessagingDocuments
    engine: AgentControl
    clock: Clock
    queue_cards: QueueCards
    notifier: Notifier
    # How cards link into the tab (None: no public address to link to).
    links: TabLinks | None = None

    async def agent(self, tenant_id: str, user_id: str) -> Agent | None:
        """Return the agent document of a Teams user (Entra object id), if they are one."""
        if not user_id:
            return None
        try:
            return (await self.repository.agents.get(tenant_id, user_id)).value
        except NotFound:
            return None

    async def user(self, tenant_id: str, user_id: str) -> User | None:
        """Return the user document (roles, supervised queues), if there is one."""
        if not user_id:
            return None
        try:
            return (await self.repository.users.get(tenant_id, user_id)).value
        except NotFound:
            return None

    async def may_supervise(self, tenant_id: str, user_id: str, queue_id: str) -> bool:
        """Tell whether the user may put a queue's live card in a channel."""
        user = await self.user(tenant_id, user_id)
        return user is not None and user.supervises(queue_id)
