"""The app added to (or removed from) a personal scope or a team."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from bot.cards.agent import help_card
from bot.cards.notices import notice_card
from bot.messaging.commands import Commands
from bot.messaging.documents import ConversationKind, TeamChannel, TeamRegistration
from bot.messaging.services import BotServices
from bot.messaging.turns import Reply, Turn
from contactcenter.errors import NotFound

_LOGGER = logging.getLogger(__name__)


class Installs:
    """Keep where the bot may write: users' 1:1 chats and teams' channels."""

    def __init__(self, services: BotServices, commands: Commands) -> None:
        self._services = services
        self._commands = commands

    async def installed(self, turn: Turn, channels: Sequence[TeamChannel] = ()) -> Reply | None:
        """Store the conversation; return the welcome to post, if any."""
        now = self._services.clock.now()
        log = {"tenant_id": turn.tenant_id}
        if turn.kind is ConversationKind.PERSONAL:
            if not turn.user_id:
                _LOGGER.warning("Personal install without the user's Entra id", extra=log)
                return None
            await self._services.documents.references.put(
                replace(turn.conversation, id=turn.user_id, updated_at=now)
            )
            _LOGGER.info("Personal chat with %s stored", turn.user_id, extra=log)
            return Reply(
                help_card(self._commands.help_lines()),
                summary="Contact center: you will get call alerts here",
            )
        if turn.team_id:
            known = {channel.id: channel for channel in channels}
            if turn.channel_id and turn.channel_id not in known:
                known[turn.channel_id] = TeamChannel(turn.channel_id, turn.channel_name)
            await self._services.documents.teams.put(
                TeamRegistration(
                    id=turn.team_id,
                    tenant_id=turn.tenant_id,
                    name=turn.team_name,
                    service_url=turn.conversation.service_url,
                    bot_id=turn.conversation.bot_id,
                    channels=tuple(known.values()),
                    installed_at=now,
                )
            )
            _LOGGER.info("Team %s registered with %d channels", turn.team_id, len(known), extra=log)
            return Reply(
                notice_card(
                    "Contact center added",
                    "Supervisors: mention me with “queue card <queue>” in a channel to post "
                    "that queue's live card there.",
                )
            )
        return None

    async def uninstalled(self, turn: Turn) -> None:
        """Forget the conversation the app was removed from."""
        try:
            if turn.kind is ConversationKind.PERSONAL and turn.user_id:
                await self._services.documents.references.delete(turn.tenant_id, turn.user_id)
            elif turn.team_id:
                await self._services.documents.teams.delete(turn.tenant_id, turn.team_id)
        except NotFound:
            return
