"""The Teams activity handler: botbuilder's activities in, the bot's logic out.

This is the only module besides ``adapter.py`` that sees botbuilder types: it turns an
activity into a :class:`Turn` and a card answer into an activity or invoke response.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from botbuilder.core import InvokeResponse
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import AdaptiveCardInvokeResponse
from botframework.connector.teams import TeamsConnectorClient

from bot.cards.adaptive import CARD_CONTENT_TYPE
from bot.cards.notices import error_card
from bot.messaging.actions import CardActions
from bot.messaging.adapter import (
    Message,
    activity_tenant,
    to_activity,
    turn_connector_credentials,
)
from bot.messaging.commands import Commands
from bot.messaging.documents import ConversationKind, ConversationRef, TeamChannel
from bot.messaging.installs import Installs
from bot.messaging.services import BotServices
from bot.messaging.turns import ActionResult, Reply, Turn, command_text

_LOGGER = logging.getLogger(__name__)

ADAPTIVE_CARD_ACTION = "adaptiveCard/action"


def _kind(conversation_type: str | None) -> ConversationKind:
    try:
        return ConversationKind(conversation_type or "personal")
    except ValueError:
        return ConversationKind.GROUP_CHAT


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def to_turn(activity: Any, services: BotServices) -> Turn:
    """Describe an incoming activity in the bot's own terms."""
    sender = activity.from_property
    conversation = activity.conversation
    channel_data = _mapping(activity.channel_data)
    team = _mapping(channel_data.get("team"))
    channel = _mapping(channel_data.get("channel"))
    tenant_id = activity_tenant(activity)
    user_mri = str(getattr(sender, "id", "") or "")
    user_name = str(getattr(sender, "name", "") or "")
    kind = _kind(getattr(conversation, "conversation_type", None))
    reference = ConversationRef(
        id=str(conversation.id),
        tenant_id=tenant_id,
        conversation_id=str(conversation.id),
        service_url=str(activity.service_url),
        bot_id=str(activity.recipient.id),
        kind=kind,
        user_mri=user_mri if kind is ConversationKind.PERSONAL else "",
        user_name=user_name if kind is ConversationKind.PERSONAL else "",
    )
    return Turn(
        tenant_id=tenant_id,
        user_id=str(getattr(sender, "aad_object_id", "") or ""),
        user_mri=user_mri,
        user_name=user_name,
        conversation=reference,
        text=command_text(str(activity.text or "")),
        team_id=str(team["id"]) if team.get("id") else None,
        team_name=str(team.get("name") or ""),
        channel_id=str(channel["id"]) if channel.get("id") else None,
        channel_name=str(channel.get("name") or ""),
        received_at=services.clock.now(),
    )


class ContactCenterBot(TeamsActivityHandler):  # type: ignore[misc]
    """Commands in chats and channels, installs, and the cards' buttons."""

    def __init__(self, services: BotServices) -> None:
        super().__init__()
        self._services = services
        self.commands = Commands(services)
        self.actions = CardActions(services)
        self.installs = Installs(services, self.commands)

    async def _reply(self, turn_context: Any, reply: Reply) -> None:
        response = await turn_context.send_activity(
            to_activity(Message(reply.card, summary=reply.summary))
        )
        activity_id = str(getattr(response, "id", "") or "")
        if reply.after_sent is not None and activity_id:
            await reply.after_sent(activity_id)

    async def on_message_activity(self, turn_context: Any) -> None:
        turn = to_turn(turn_context.activity, self._services)
        await self._reply(turn_context, await self.commands.handle(turn))

    async def on_conversation_update_activity(self, turn_context: Any) -> None:
        # Handled here rather than by TeamsActivityHandler's dispatch, which looks up every
        # added member through the connector: only the bot's own arrival matters.
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient is not None else None
        added = {member.id for member in activity.members_added or []}
        removed = {member.id for member in activity.members_removed or []}
        if bot_id in added:
            await self._installed(turn_context)
        elif bot_id in removed:
            await self.installs.uninstalled(to_turn(activity, self._services))

    async def on_installation_update_add(self, turn_context: Any) -> None:
        await self._installed(turn_context, welcome=False)

    async def on_installation_update_remove(self, turn_context: Any) -> None:
        await self.installs.uninstalled(to_turn(turn_context.activity, self._services))

    async def _installed(self, turn_context: Any, *, welcome: bool = True) -> None:
        turn = to_turn(turn_context.activity, self._services)
        channels = await self._team_channels(turn_context, turn) if turn.team_id else []
        reply = await self.installs.installed(turn, channels)
        if reply is not None and welcome:
            await self._reply(turn_context, reply)

    async def _team_channels(self, turn_context: Any, turn: Turn) -> list[TeamChannel]:
        """List the team's channels through the connector (its client blocks: in a thread)."""
        credentials = turn_connector_credentials(turn_context)
        team_id = turn.team_id
        if credentials is None or team_id is None:
            return []

        def fetch() -> list[TeamChannel]:
            client = TeamsConnectorClient(credentials, turn.conversation.service_url)
            client.config.retry_policy.retries = 0
            listing = client.teams.get_teams_channels(team_id)
            return [
                TeamChannel(str(item.id), str(item.name or "General"))
                for item in listing.conversations or []
            ]

        try:
            return await asyncio.to_thread(fetch)
        except Exception as err:  # noqa: BLE001 - the team is registered without the list
            _LOGGER.warning("Channels of team %s not listed: %s", team_id, err)
            return []

    async def on_invoke_activity(self, turn_context: Any) -> Any:
        activity = turn_context.activity
        if activity.name != ADAPTIVE_CARD_ACTION:
            return await super().on_invoke_activity(turn_context)
        # Answered here rather than through on_adaptive_card_invoke: botbuilder 4.17.1
        # serializes that answer twice on its way out of CloudAdapter, and fails.
        action = _mapping(_mapping(activity.value).get("action"))
        if action.get("type") != "Action.Execute":
            result = ActionResult(
                error_card(
                    "Not supported",
                    f"The action type {action.get('type')!r} is not supported.",
                    code="notSupported",
                ),
                status=400,
            )
        else:
            turn = to_turn(activity, self._services)
            data = _mapping(action.get("data"))
            result = await self.actions.handle(turn, str(action.get("verb") or ""), data)
        return InvokeResponse(
            status=200,
            body=AdaptiveCardInvokeResponse(
                status_code=result.status,
                type=CARD_CONTENT_TYPE,
                value=result.card.to_json(),
            ),
        )
