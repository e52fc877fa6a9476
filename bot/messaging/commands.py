"""What agents and supervisors can type to the bot, as one typed table.

Each :class:`Command` names its words, what its argument is, who may use it and the
handler that answers with a card. Parsing takes the longest command whose words begin the
message (case-insensitive); the rest of the message is the argument.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from bot.cards.adaptive import Card
from bot.cards.agent import CommandHelp, help_card, stats_card, status_card
from bot.cards.notices import error_card
from bot.messaging.documents import ConversationKind
from bot.messaging.services import BotServices
from bot.messaging.turns import Reply, Turn
from bot.messaging.views import agent_stats_view, agent_status_view, member_queues
from contactcenter.errors import Conflict, InvalidInput
from contactcenter.model import Agent, AgentStatus, Queue
from contactcenter.reasons import match_reason

_LOGGER = logging.getLogger(__name__)


class Argument(Enum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


AgentHandler = Callable[[Turn, Agent, str], Awaitable[Reply]]
AnyoneHandler = Callable[[Turn, str], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its words (and other spellings), its argument, and who may use it."""

    words: tuple[str, ...]
    help: CommandHelp
    argument: Argument = Argument.NONE
    # Handlers for agents get the agent document; the others run for anyone in the tenant.
    for_agents: AgentHandler | None = None
    for_anyone: AnyoneHandler | None = None
    aliases: tuple[tuple[str, ...], ...] = ()

    def spellings(self) -> tuple[tuple[str, ...], ...]:
        return (self.words, *self.aliases)


NOT_AN_AGENT = error_card(
    "You are not an agent here",
    "This command is for contact center agents. Ask an admin to add you to a queue.",
    code="notAnAgent",
)


def _error(title: str, message: str, code: str) -> Reply:
    return Reply(error_card(title, message, code=code))


def find_queue(queues: Sequence[Queue], name: str) -> Queue | None:
    """Find a queue by name: exact (ignoring case) first, then the only one it begins."""
    wanted = name.strip().lower()
    exact = [q for q in queues if q.name.lower() == wanted]
    if exact:
        return exact[0]
    starting = [q for q in queues if q.name.lower().startswith(wanted)]
    return starting[0] if len(starting) == 1 else None


class Commands:
    """Parse a message and answer it with a card."""

    def __init__(self, services: BotServices) -> None:
        self._services = services
        self.table: tuple[Command, ...] = (
            Command(("help",), CommandHelp("help", "What I understand"), for_anyone=self._help),
            Command(
                ("status",),
                CommandHelp("status", "Your status and queues"),
                for_agents=self._status,
            ),
            Command(
                ("available",),
                CommandHelp("available", "Take calls again"),
                for_agents=self._available,
            ),
            Command(
                ("away",),
                CommandHelp("away [reason]", "Stop taking calls for now"),
                Argument.OPTIONAL,
                for_agents=self._away,
            ),
            Command(
                ("sign", "in"),
                CommandHelp("sign in <queue>", "Take calls from a queue"),
                Argument.REQUIRED,
                for_agents=self._sign_in,
            ),
            Command(
                ("sign", "out"),
                CommandHelp("sign out [queue]", "Leave a queue (all queues without one)"),
                Argument.OPTIONAL,
                for_agents=self._sign_out,
            ),
            Command(
                ("my", "stats", "today"),
                CommandHelp("my stats today", "Your calls today"),
                for_agents=self._stats,
                aliases=(("my", "stats"), ("stats",)),
            ),
            Command(
                ("queue", "card"),
                CommandHelp("queue card <queue>", "Post a queue's live card (in a channel)"),
                Argument.REQUIRED,
                for_anyone=self._queue_card,
            ),
        )

    def help_lines(self) -> list[CommandHelp]:
        return [command.help for command in self.table]

    def parse(self, text: str) -> tuple[Command, str] | None:
        """Return the command a message names and its argument, or None."""
        words = text.split()
        lowered = [word.lower() for word in words]
        best: tuple[int, Command] | None = None
        for command in self.table:
            for spelling in command.spellings():
                size = len(spelling)
                if tuple(lowered[:size]) == spelling and (best is None or size > best[0]):
                    best = (size, command)
        if best is None:
            return None
        size, command = best
        argument = " ".join(words[size:])
        if argument and command.argument is Argument.NONE:
            return None
        return command, argument

    async def handle(self, turn: Turn) -> Reply:
        """Answer a message."""
        parsed = self.parse(turn.text)
        if parsed is None:
            return Reply(help_card(self.help_lines(), not_understood=turn.text or "(nothing)"))
        command, argument = parsed
        if command.argument is Argument.REQUIRED and not argument:
            return _error(
                "Something is missing",
                f"Write it as: {command.help.usage}",
                "missingArgument",
            )
        try:
            if command.for_anyone is not None:
                return await command.for_anyone(turn, argument)
            assert command.for_agents is not None
            agent = await self._services.agent(turn.tenant_id, turn.user_id)
            if agent is None:
                return Reply(NOT_AN_AGENT)
            return await command.for_agents(turn, agent, argument)
        except InvalidInput as err:
            return _error("That did not work", str(err), "invalidInput")
        except Conflict:
            return _error("Busy", "Your status changed meanwhile: please try again.", "conflict")

    # ----------------------------------------------------------------- handlers
    async def _help(self, turn: Turn, argument: str) -> Reply:
        return Reply(help_card(self.help_lines()))

    async def _status_reply(self, agent: Agent, note: str | None = None) -> Reply:
        view = await agent_status_view(self._services.repository, agent)
        return Reply(status_card(view, note=note))

    async def _status(self, turn: Turn, agent: Agent, argument: str) -> Reply:
        return await self._status_reply(agent)

    async def _available(self, turn: Turn, agent: Agent, argument: str) -> Reply:
        agent = await self._services.engine.set_status(
            turn.tenant_id, agent.id, AgentStatus.AVAILABLE
        )
        return await self._status_reply(agent, "You are available.")

    async def _away(self, turn: Turn, agent: Agent, argument: str) -> Reply:
        reason: str | None = None
        if argument.strip():
            tenant = (
                await self._services.repository.tenants.get(turn.tenant_id, turn.tenant_id)
            ).value
            reason = match_reason(tenant.not_ready_reasons, argument)
            if reason is None:
                return _error(
                    "No such reason",
                    f"Choose one of: {', '.join(tenant.not_ready_reasons)}.",
                    "unknownReason",
                )
        agent = await self._services.engine.set_status(
            turn.tenant_id, agent.id, AgentStatus.AWAY, reason
        )
        return await self._status_reply(agent, "You are away.")

    async def _queue_of(self, agent: Agent, name: str) -> Queue | Reply:
        queues = await member_queues(self._services.repository, agent)
        queue = find_queue(queues, name)
        if queue is None:
            names = ", ".join(q.name for q in queues) or "none"
            return _error("No such queue", f"Your queues: {names}.", "unknownQueue")
        return queue

    async def _sign_in(self, turn: Turn, agent: Agent, argument: str) -> Reply:
        queue = await self._queue_of(agent, argument)
        if isinstance(queue, Reply):
            return queue
        agent = await self._services.engine.sign_in(turn.tenant_id, agent.id, queue.id)
        return await self._status_reply(agent, f"You are signed in to {queue.name}.")

    async def _sign_out(self, turn: Turn, agent: Agent, argument: str) -> Reply:
        if not argument:
            agent = await self._services.engine.sign_out(turn.tenant_id, agent.id)
            return await self._status_reply(agent, "You are signed out of every queue.")
        queue = await self._queue_of(agent, argument)
        if isinstance(queue, Reply):
            return queue
        agent = await self._services.engine.sign_out(turn.tenant_id, agent.id, queue.id)
        return await self._status_reply(agent, f"You are signed out of {queue.name}.")

    async def _stats(self, turn: Turn, agent: Agent, argument: str) -> Reply:
        view = await agent_stats_view(self._services.repository, agent, self._services.clock.now())
        return Reply(stats_card(view))

    async def _queue_card(self, turn: Turn, argument: str) -> Reply:
        queues = [q.value for q in await self._services.repository.queues.find(turn.tenant_id)]
        queue = find_queue(queues, argument)
        if queue is None:
            return _error("No such queue", f"There is no queue “{argument}”.", "unknownQueue")
        if not await self._services.may_supervise(turn.tenant_id, turn.user_id, queue.id):
            return _error(
                "Supervisors only",
                f"Only a supervisor of {queue.name} or an admin can post its live card.",
                "forbidden",
            )
        card: Card | None = await self._services.queue_cards.card(turn.tenant_id, queue.id)
        if card is None:
            return _error("No such queue", f"There is no queue “{argument}”.", "unknownQueue")
        if turn.kind is ConversationKind.PERSONAL:
            # In a 1:1 chat: the figures now, with a refresh button; live cards are for channels.
            return Reply(card, summary=f"{queue.name} queue")
        queue_cards = self._services.queue_cards
        conversation = turn.conversation

        async def keep_current(activity_id: str) -> None:
            await queue_cards.register(conversation, queue, activity_id)

        _LOGGER.info("Live card of queue %s posted in %s", queue.name, conversation.conversation_id)
        return Reply(card, summary=f"{queue.name} queue", after_sent=keep_current)
