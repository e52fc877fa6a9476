"""What the engine tells people through the Notifier: offer cards, queue changes, notices.

A notifier that fails is logged and routing goes on: a card is never worth a call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import elapsed_s
from contactcenter.errors import DomainError
from contactcenter.model import Agent, Call, CallbackRequest, CallRecord, Voicemail
from contactcenter.ports import CallAtHand, OfferAlert, OfferEnd

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Alerts:
    """Tells agents of their offers, and queues' agents and supervisors of changes."""

    ctx: EngineContext
    store: CallStore

    @staticmethod
    def _alert(call: Call, agent_id: str, now: datetime, *, card_first: bool) -> OfferAlert:
        return OfferAlert(
            tenant_id=call.tenant_id,
            call_id=call.id,
            agent_id=agent_id,
            queue_id=call.queue_id or "",
            queue_name=call.queue_name,
            caller=call.caller,
            waited_s=elapsed_s(call.offered_at, now),
            card_first=card_first,
        )

    async def offer_started(
        self, call: Call, agent_id: str, now: datetime, *, card_first: bool
    ) -> None:
        try:
            await self.ctx.notifier.offer_started(
                self._alert(call, agent_id, now, card_first=card_first)
            )
        except DomainError as err:
            _LOGGER.warning("Offer card for %s: %s", agent_id, err, extra=log_extra(call))

    async def offer_ended(
        self,
        call: Call,
        agent_id: str,
        how: OfferEnd,
        now: datetime,
        *,
        agent: Agent | None = None,
        record: CallRecord | None = None,
    ) -> None:
        """Tell the agent how their offer ended.

        ``agent`` (as just written) and ``record`` (as just created) go to the card of the
        call at hand with the call, so that it is built without reading them back.
        """
        card_first = call.offer.card_first if call.offer is not None else False
        try:
            at_hand = await self._at_hand(call, agent, record) if agent is not None else None
            await self.ctx.notifier.offer_ended(
                self._alert(call, agent_id, now, card_first=card_first), how, at_hand=at_hand
            )
        except DomainError as err:
            _LOGGER.warning("Offer card update for %s: %s", agent_id, err, extra=log_extra(call))

    async def _at_hand(self, call: Call, agent: Agent, record: CallRecord | None) -> CallAtHand:
        # From the configuration caches (the tenant's kept minutes). The codes are for the
        # wrap-up: a card on the call lists them with the tenant's queues, which it queries.
        tenant = await self.store.tenant(call.tenant_id)
        codes: tuple[str, ...] | None = None
        if record is not None:
            queue = await self.store.queue(call.tenant_id, call.queue_id)
            codes = queue.disposition_codes if queue is not None else ()
        return CallAtHand(
            agent=agent,
            call=call,
            time_zone=tenant.time_zone if tenant is not None else "UTC",
            record=record,
            disposition_codes=codes,
        )

    async def queue_changed(self, call: Call) -> None:
        if call.queue_id is None:
            return
        try:
            await self.ctx.notifier.queue_changed(call.tenant_id, call.queue_id)
        except DomainError as err:
            _LOGGER.warning("Queue update: %s", err, extra=log_extra(call))

    async def voicemail_left(
        self, call: Call, message: Voicemail, agent_ids: Sequence[str]
    ) -> None:
        try:
            await self.ctx.notifier.voicemail_left(message, agent_ids)
        except DomainError as err:
            _LOGGER.warning("Voicemail alert: %s", err, extra=log_extra(call))

    async def callback_waiting(self, line: Call, agent_ids: Sequence[str]) -> None:
        try:
            await self.ctx.notifier.callback_waiting(line, agent_ids)
        except DomainError as err:
            _LOGGER.warning("Callback alert: %s", err, extra=log_extra(line))

    async def callback_ended(self, line: Call, record: CallbackRequest) -> None:
        try:
            await self.ctx.notifier.callback_ended(record)
        except DomainError as err:
            _LOGGER.warning("Callback alert: %s", err, extra=log_extra(line))
