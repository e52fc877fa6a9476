"""The simulated Teams cloud: its calls, their state changes and the notifications they cause."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from contactcenter.clock import Clock
from simulator.calls import (
    CallBook,
    DeliveredNotification,
    GraphCallState,
    OperationStatus,
    ParticipantRole,
    RecordedRequest,
    ResultInfo,
    SimCall,
    SimOperation,
)
from simulator.config import MediaMode, SimulatorConfig
from simulator.directory import Directory
from simulator.faults import FaultPlan
from simulator.media import AssumeReachable, MediaPlayer, PromptSource, Recordings
from simulator.notifications import (
    CallOutbox,
    Delivery,
    LoadBalancer,
    Sender,
    comms_notification,
    comms_notifications,
)
from simulator.people import People
from simulator.roster import Roster
from simulator.timers import Timers

_LOGGER = logging.getLogger(__name__)

# resultInfo values from Graph's table of call end reasons.
ENDED_BY_BOT = ResultInfo(200, 5001, "The conversation has ended.")
ENDED_BY_PSTN_CALLER = ResultInfo(200, 540000, "Call ended by the PSTN User.")
ENDED_BY_PEER = ResultInfo(200, 4521, "Call ended by the other participant in peer-to-peer call.")
# Graph publishes no dedicated code for "the bot never answered"; this is its closest entry.
NOT_ANSWERED_IN_TIME = ResultInfo(
    408, 10057, "Call timed out due to no signaling from callee endpoints."
)
# As Graph's transfer documentation shows it once the transfer target has answered.
TRANSFERRED = ResultInfo(0, 7015, "GracefulTransferCompleted")
# The simulator's own wording where Graph documents none.
REDIRECTED = ResultInfo(200, 0, "The call was redirected.")
NOT_KEPT_ALIVE = ResultInfo(408, 0, "The call was ended: no keepAlive within 45 minutes.")


@dataclass(slots=True)
class RuntimeSettings:
    """What the control API may change while the simulator runs (``PATCH /sim/settings``)."""

    media_mode: MediaMode
    prompt_duration_s: float
    record_duration_s: float
    invite_timeout_s: float

    @classmethod
    def from_config(cls, config: SimulatorConfig) -> RuntimeSettings:
        """Start from the configuration."""
        return cls(
            media_mode=MediaMode(config.media_mode),
            prompt_duration_s=config.prompt_duration_s,
            record_duration_s=config.record_duration_s,
            invite_timeout_s=config.invite_timeout_s,
        )


def compact_id(value: str) -> str:
    """Return an id the way Graph writes some of them in resource URLs: no dashes, upper case."""
    return value.replace("-", "").upper()


class SimulatedCloud:
    """Hold calls, move them between states and tell the bot, in order, like Graph does."""

    def __init__(
        self,
        config: SimulatorConfig,
        directory: Directory,
        sender: Sender,
        *,
        clock: Clock,
        prompts: PromptSource | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.config = config
        self.faults = faults or FaultPlan()
        self.directory = directory
        self.clock = clock
        self.timers = Timers(clock)
        self.settings = RuntimeSettings.from_config(config)
        self.people = People(
            default_user_behaviour=config.default_user_behaviour,
            default_phone_behaviour=config.default_phone_behaviour,
        )
        self.calls = CallBook(max_ended_calls=config.max_ended_calls)
        # With several hosts of the bot, each notification goes to one of them.
        balanced = LoadBalancer(sender, config.webhook_pool, clock=clock)
        self.outbox = CallOutbox(balanced, on_delivered=self._record_delivery)
        self.roster = Roster(self)
        self.media = MediaPlayer(self, prompts or AssumeReachable(), Recordings())
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        """Cancel timers and background work, and stop delivering."""
        await self.timers.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.outbox.close()

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run ``work`` in the background, owned by the cloud and cancelled with it."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

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
        self.roster.add_party(call, ParticipantRole.CALLER, dict(source.get("identity", {})))
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
        call.answer_deadline = self.timers.call_later(
            self.config.answer_timeout_s,
            lambda: self._end_if_unanswered(call),
            name=f"answer-deadline-{call.id}",
        )
        return call, await delivered

    def place_outgoing_call(
        self,
        *,
        tenant_id: str,
        source: dict[str, Any],
        target: dict[str, Any],
        requested_modalities: list[str],
        callback_uri: str,
        prefetch: list[dict[str, Any]],
    ) -> SimCall:
        """Create a call from the bot (a callback) and ring its target."""
        call = SimCall(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            call_chain_id=str(uuid.uuid4()),
            direction="outgoing",
            source=source,
            targets=[target],
            requested_modalities=requested_modalities,
            created_at=self.clock.now(),
            state=GraphCallState.ESTABLISHING,
            callback_uri=callback_uri,
            prefetched=prefetch,
        )
        self.calls.add(call)
        _LOGGER.info("Outgoing call %s for tenant %s", call.id, tenant_id)
        self.roster.add_party(call, ParticipantRole.BOT, self._bot_identity(call))
        self.set_state(call, GraphCallState.ESTABLISHING)
        self.roster.ring_target(call, ParticipantRole.CALLEE, dict(target["identity"]))
        return call

    def answer(self, call: SimCall, *, callback_uri: str, prefetch: list[dict[str, Any]]) -> None:
        """Connect an incoming call to the bot: establishing, then established."""
        call.stop_timers()
        call.callback_uri = callback_uri
        call.prefetched = prefetch
        self.roster.add_party(call, ParticipantRole.BOT, self._bot_identity(call))
        self.set_state(call, GraphCallState.ESTABLISHING)
        self.set_state(call, GraphCallState.ESTABLISHED)
        self.keep_alive(call)

    def callee_answered(self, call: SimCall) -> None:
        """The target of an outbound call picked up."""
        self.set_state(call, GraphCallState.ESTABLISHED)
        self.keep_alive(call)

    def reject(self, call: SimCall, *, callback_uri: str | None) -> None:
        """End an incoming call the bot refused."""
        if callback_uri is not None:
            call.callback_uri = callback_uri
        # Graph's notification after a reject carries no resultInfo.
        self.end(call, result_info=None)

    def redirect(
        self,
        call: SimCall,
        *,
        targets: list[dict[str, Any]],
        timeout_s: float,
        callback_uri: str | None,
    ) -> None:
        """Send an unanswered incoming call to others: they ring, the bot is out at once."""
        if callback_uri is not None:
            call.callback_uri = callback_uri
        for identity in targets:
            self.roster.ring_target(
                call,
                ParticipantRole.REDIRECT_TARGET,
                identity,
                timeout_s=timeout_s,
                outlives_call=True,
            )
        self.end(call, result_info=REDIRECTED)

    def transfer(self, call: SimCall, *, target: dict[str, Any]) -> None:
        """Transfer an established call: transferring while the target rings."""
        self.set_state(call, GraphCallState.TRANSFERRING)
        self.roster.ring_target(call, ParticipantRole.TRANSFER_TARGET, target)

    def transfer_accepted(self, call: SimCall) -> None:
        """The transfer target answered: transferAccepted, then the bot is out."""
        self.set_state(call, GraphCallState.TRANSFER_ACCEPTED)
        self.end(call, result_info=TRANSFERRED)

    def transfer_failed(self, call: SimCall, result_info: ResultInfo) -> None:
        """The transfer target did not answer: the call is back with the bot."""
        if call.ended:
            return
        self.set_state(call, GraphCallState.ESTABLISHED, result_info=result_info)

    def keep_alive(self, call: SimCall) -> None:
        """Push the call's keep-alive deadline out again."""
        if call.keep_alive_deadline is not None:
            call.keep_alive_deadline.cancel()

        def expire() -> None:
            if not call.ended:
                _LOGGER.warning("Call %s had no keepAlive in time; ending it", call.id)
                self.end(call, result_info=NOT_KEPT_ALIVE)

        call.keep_alive_deadline = self.timers.call_later(
            self.config.keep_alive_timeout_s, expire, name=f"keep-alive-{call.id}"
        )

    def hang_up_by_bot(self, call: SimCall) -> None:
        """End a call the bot deleted: terminating, then terminated."""
        self.set_state(call, GraphCallState.TERMINATING)
        self.end(call, result_info=ENDED_BY_BOT)

    def hang_up_by_remote(self, call: SimCall) -> None:
        """End a call because the other party (the caller, or whom the bot called) hung up."""
        remote = call.source if call.direction == "incoming" else call.targets[0]
        by_phone = "phone" in remote.get("identity", {})
        self.end(call, result_info=ENDED_BY_PSTN_CALLER if by_phone else ENDED_BY_PEER)

    def set_state(
        self, call: SimCall, state: GraphCallState, *, result_info: ResultInfo | None = None
    ) -> None:
        """Move a call to ``state`` and send the ``updated`` notification (with why, if given)."""
        call.state = state
        self.calls.touch()
        resource: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.call",
            "@odata.id": call.resource_url,
            "state": state.value,
        }
        if result_info is not None:
            resource["resultInfo"] = result_info.to_json()
        self.notify(call, "updated", resource)

    def end(self, call: SimCall, *, result_info: ResultInfo | None) -> None:
        """Terminate a call and send the ``deleted`` notification."""
        if call.ended:
            return
        call.stop_timers()
        self.media.drop(call)
        call.state = GraphCallState.TERMINATED
        call.result_info = result_info
        call.ended_at = self.clock.now()
        self.roster.call_ended(call)
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

    # ------------------------------------------------------------------ operations
    def new_operation(
        self,
        call: SimCall,
        odata_type: str,
        client_context: str | None,
        *,
        status: OperationStatus = OperationStatus.RUNNING,
    ) -> SimOperation:
        """Start a commsOperation on the call."""
        operation = SimOperation(
            id=str(uuid.uuid4()),
            odata_type=odata_type,
            client_context=client_context,
            created_at=self.clock.now(),
            status=status,
        )
        if status is not OperationStatus.RUNNING:
            operation.ended_at = operation.created_at
        call.operations[operation.id] = operation
        self.calls.touch()
        return operation

    def finish_operation(
        self,
        call: SimCall,
        operation: SimOperation,
        status: OperationStatus,
        result_info: ResultInfo | None,
        *,
        fields: dict[str, Any] | None = None,
        compact_url: bool = False,
    ) -> None:
        """End an operation and send its ``deleted`` notification (not once the call ended).

        ``compact_url`` writes the ids in the resource URL the way Graph's prompt and
        recording notifications do (``/calls/57DAB8B1.../operations/0FE0623F...``).
        """
        operation.status = status
        operation.result_info = result_info
        operation.ended_at = self.clock.now()
        operation.fields.update(fields or {})
        self.calls.touch()
        if call.ended:
            return
        resource = operation.graph_resource(call)
        url = f"{call.resource_url}/operations/{operation.id}"
        if compact_url:
            url = (
                f"/communications/calls/{compact_id(call.id)}/operations/{compact_id(operation.id)}"
            )
            resource["@odata.id"] = url
        self.notify(call, "deleted", resource, resource_url=url)

    # ------------------------------------------------------------------ notifications
    def notify(
        self,
        call: SimCall,
        change_type: str,
        resource_data: dict[str, Any] | list[dict[str, Any]],
        *,
        resource_url: str | None = None,
        url: str | None = None,
    ) -> asyncio.Future[Delivery]:
        """Queue a notification about ``call`` behind the ones already queued for it."""
        payload = comms_notifications(
            comms_notification(change_type, resource_url or call.resource_url, resource_data)
        )
        target = url or call.callback_uri or self.config.bot_url
        state = resource_data.get("state") if isinstance(resource_data, dict) else None
        drop = self.faults.take_drop(call.id, change_type, state)
        if drop is not None:
            _LOGGER.info("Fault %s loses a %s notification of call %s", drop.id, state, call.id)
            lost = Delivery(target, None, error=f"lost (injected fault {drop.id})")
            self._record_delivery(call.id, payload, lost)
            done: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
            done.set_result(lost)
            return done
        return self.outbox.enqueue(call.id, target, payload, tenant_id=call.tenant_id)

    def notify_roster(self, call: SimCall) -> None:
        """Tell the bot who is in the call now: a roster update on ``.../participants``."""
        self.notify(
            call,
            "updated",
            self.roster.roster_json(call),
            resource_url=f"{call.resource_url}/participants",
        )

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
            data = note["resourceData"]
            call.notifications.append(
                DeliveredNotification(
                    change_type=note["changeType"],
                    resource_url=note["resourceUrl"],
                    state=data.get("state") if isinstance(data, dict) else None,
                    url=delivery.url,
                    status=delivery.status,
                    error=delivery.error,
                    at=self.clock.now(),
                )
            )
        self.calls.touch()

    def _bot_identity(self, call: SimCall) -> dict[str, Any]:
        return {"application": {"id": self.config.app_id, "tenantId": call.tenant_id}}

    # ------------------------------------------------------------------ timers
    def _end_if_unanswered(self, call: SimCall) -> None:
        call.answer_deadline = None
        if call.state is GraphCallState.INCOMING:
            _LOGGER.warning(
                "Call %s was not answered within %ss; ending it",
                call.id,
                self.config.answer_timeout_s,
            )
            self.end(call, result_info=NOT_ANSWERED_IN_TIME)
