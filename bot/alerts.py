"""Notifiers: how agents and supervisors hear about offers and queue changes."""

from __future__ import annotations

import logging

from contactcenter.ports import OfferAlert, OfferEnd

_LOGGER = logging.getLogger(__name__)


class LoggingNotifier:
    """Write every alert to the log; stands in where Teams cards are not configured."""

    async def offer_started(self, alert: OfferAlert) -> None:
        _LOGGER.info(
            "offering a %s call from %s (waited %.0f s)%s",
            alert.queue_name,
            alert.caller.display_name or alert.caller.id or "an anonymous caller",
            alert.waited_s,
            " - card first" if alert.card_first else "",
            extra={
                "call_id": alert.call_id,
                "tenant_id": alert.tenant_id,
                "agent_id": alert.agent_id,
            },
        )

    async def offer_ended(self, alert: OfferAlert, how: OfferEnd) -> None:
        _LOGGER.info(
            "offer ended: %s",
            how.value,
            extra={
                "call_id": alert.call_id,
                "tenant_id": alert.tenant_id,
                "agent_id": alert.agent_id,
            },
        )

    async def queue_changed(self, tenant_id: str, queue_id: str) -> None:
        _LOGGER.debug("queue changed", extra={"tenant_id": tenant_id, "queue_id": queue_id})
