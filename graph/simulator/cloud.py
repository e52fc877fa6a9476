"""The simulated Teams cloud: its calls, their state changes and the notifications they cause."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from contactcenter.clock import Clock
from graph.simulator.calls import (
    CallBook,
    DeliveredNotification,
    GraphCallState,
    RecordedRequest,
    ResultInfo,
    SimCall,
)
from graph.simulator.config import SimulatorConfig
from graph.simulator.directory import Directory
from graph.simulator.notifications import (
    CallOutbox,
    Delivery,
    Sender,
    comms_notification,
    comms_notifications,
)

_LOGGER = logging.getLogger(__name__)

# resultInfo values from Graph's table of call end reasons.
ENDED_BY_BOT = ResultInfo(200, 5001, "The conversation has ended.")
ENDED_BY_PSTN_CALLER = ResultInfo(200, 540000, "Call ended by the PSTN User.")
ENDED_BY_PEER = ResultInfo(200, 4521, "Call ended by the other participant in peer-to-peer call.")
# Graph publishes no dedicated code for "the bot never answered"; this is its closest entry.
NOT_ANSWERED_IN_TIME = ResultInfo(
    408, 10057, "Call timed out due to no signaling from callee endpoints."
)


class SimulatedCloud:
    """Hold calls, move them between states and tell the bot, in order, like Graph does."""

    def __init__(
        self,
        config: SimulatorConfig,
        directory: Directory,
        sender: Sender,
        *,
        clock: Clock,
    ) -> None:
        self.config = config
        self.directory = directory
        self.clock = clock
        self.calls = CallBook(max_ended_calls=config.max_ended_calls)
        self.outbox = CallOutbox(sender, on_delivered=self._record_delivery)
        self._answer_deadlines: dict[str, asyncio.Task[None]] = {}

    async def close(self) -> None:
        """Cancel timers and stop delivering."""
        deadlines = list(self._answer_deadlines.values())
        for deadline in deadlines:
            deadline.cancel()
        await asyncio.gather(*deadlines, return_exceptions=True)
        await self.outbox.close()

    # ------------------------------------------------------------------ call lifecycle
    async def place_incoming_call(
        self,
        *,
        tenant_id: str,
        source: dict[str, Any],
        targets: list[dict[str, Any]],
        requested_modalities: list[str],
    ) -> tuple[SimCall, Delivery]:
        """Create an incoming call, notify the bot's calling webhook and return its answer."""
        call = SimCall(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            call_chain_id=str(uuid.uuid4()),
            direction="incoming",
            source=source,
            targets=targets,
            requested_modalities=requested_modalities,
            created_at=self.clock.now(),
        )
        self.calls.add(call)
        _LOGGER.info("Incoming call %s for tenant %s", call.id, tenant_id)
        resource_data = {
            "@odata.type": "#microsoft.graph.call",
            "@odata.id": call.resource_url,
            "state": call.state.value,
            "direction": call.direction,
            "callChainId": call.call_chain_id,
            "tenantId": call.tenant_id,
            "source": call.source,
            "targets": call.targets,
            "requestedModalities": call.requested_modalities,
        }
        delivered = self.notify(call, "created", resource_data, url=self.config.bot_url)
        self._answer_deadlines[call.id] = asyncio.create_task(
            self._end_if_unanswered(call), name=f"simulator-answer-deadline-{call.id}"
        )
        return call, await delivered

    def answer(self, call: SimCall, *, callback_uri: str, prefetch: list[dict[str, Any]]) -> None:
        """Connect an incoming call to the bot: establishing, then established."""
        self._cancel_answer_deadline(call)
        call.callback_uri = callback_uri
        call.prefetched = prefetch
        self.set_state(call, GraphCallState.ESTABLISHING)
        self.set_state(call, GraphCallState.ESTABLISHED)

    def reject(self, call: SimCall, *, callback_uri: str | None) -> None:
        """End an incoming call the bot refused."""
        if callback_uri is not None:
            call.callback_uri = callback_uri
        # Graph's notification after a reject carries no resultInfo.
        self.end(call, result_info=None)

    def hang_up_by_bot(self, call: SimCall) -> None:
        """End a call the bot deleted: terminating, then terminated."""
        self.set_state(call, GraphCallState.TERMINATING)
        self.end(call, result_info=ENDED_BY_BOT)

    def hang_up_by_caller(self, call: SimCall) -> None:
        """End a call because the caller hung up."""
        by_phone = "phone" in call.source.get("identity", {})
        self.end(call, result_info=ENDED_BY_PSTN_CALLER if by_phone else ENDED_BY_PEER)

    def set_state(self, call: SimCall, state: GraphCallState) -> None:
        """Move a call to ``state`` and send the ``updated`` notification."""
        call.state = state
        self.calls.touch()
        self.notify(
            call,
            "updated",
            {
                "@odata.type": "#microsoft.graph.call",
                "@odata.id": call.resource_url,
                "state": state.value,
            },
        )

    def end(self, call: SimCall, *, result_info: ResultInfo | None) -> None:
        """Terminate a call and send the ``deleted`` notification."""
        if call.ended:
            return
        self._cancel_answer_deadline(call)
        call.state = GraphCallState.TERMINATED
        call.result_info = result_info
        call.ended_at = self.clock.now()
        self.calls.mark_ended(call)
        _LOGGER.info("Call %s terminated (%s)", call.id, result_info)
        resource_data: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.call",
            "@odata.id": call.resource_url,
            "state": GraphCallState.TERMINATED.value,
        }
        if result_info is not None:
            resource_data["resultInfo"] = result_info.to_json()
        self.notify(call, "deleted", resource_data)

    # ------------------------------------------------------------------ notifications
    def notify(
        self,
        call: SimCall,
        change_type: str,
        resource_data: dict[str, Any],
        *,
        resource_url: str | None = None,
        url: str | None = None,
    ) -> asyncio.Future[Delivery]:
        """Queue a notification about ``call`` behind the ones already queued for it."""
        payload = comms_notifications(
            comms_notification(change_type, resource_url or call.resource_url, resource_data)
        )
        target = url or call.callback_uri or self.config.bot_url
        return self.outbox.enqueue(call.id, target, payload, tenant_id=call.tenant_id)

    def record_request(
        self, call: SimCall, *, method: str, path: str, body: Any, status: int
    ) -> None:
        """Remember a request the bot made on a call."""
        call.requests.append(
            RecordedRequest(method=method, path=path, body=body, status=status, at=self.clock.now())
        )
        self.calls.touch()

    def _record_delivery(self, call_id: str, payload: dict[str, Any], delivery: Delivery) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        for note in payload["value"]:
            call.notifications.append(
                DeliveredNotification(
                    change_type=note["changeType"],
                    resource_url=note["resourceUrl"],
                    state=note["resourceData"].get("state"),
                    url=delivery.url,
                    status=delivery.status,
                    error=delivery.error,
                    at=self.clock.now(),
                )
            )
        self.calls.touch()

    # ------------------------------------------------------------------ timers
    async def _end_if_unanswered(self, call: SimCall) -> None:
        await asyncio.sleep(self.config.answer_timeout_s)
        self._answer_deadlines.pop(call.id, None)
        if call.state is GraphCallState.INCOMING:
            _LOGGER.warning(
                "Call %s was not answered within %ss; ending it",
                call.id,
                self.config.answer_timeout_s,
            )
            self.end(call, result_info=NOT_ANSWERED_IN_TIME)

    def _cancel_answer_deadline(self, call: SimCall) -> None:
        deadline = self._answer_deadlines.pop(call.id, None)
        if deadline is not None and deadline is not asyncio.current_task():
            deadline.cancel()
