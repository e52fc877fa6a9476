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
    INVITE_OPERATION,
    CallBook,
    DeliveredNotification,
    GraphCallState,
    OperationStatus,
    ParticipantRole,
    ParticipantStatus,
    RecordedRequest,
    ResultInfo,
    SimCall,
    SimOperation,
    documented_identity_set,
)
from simulator.config import MediaMode, SilentPoints, SimulatorConfig
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

# resultInfo values from Graph's table of call end reasons (the delete-call page).
ENDED_BY_BOT = ResultInfo(200, 5001, "The conversation has ended.")
ENDED_BY_PSTN_CALLER = ResultInfo(200, 540000, "Call ended by the PSTN User.")
ENDED_BY_PEER = ResultInfo(200, 4521, "Call ended by the other participant in peer-to-peer call.")
# Graph publishes no dedicated code for "the bot never answered"; this is its closest entry.
NOT_ANSWERED_IN_TIME = ResultInfo(
    408, 10057, "Call timed out due to no signaling from callee endpoints."
)
NOT_KEPT_ALIVE = ResultInfo(408, 8537, "Keep Alive timeout, cleaned up inactive call.")
# As Graph's transfer documentation shows it once the transfer target has answered.
TRANSFERRED = ResultInfo(0, 7015, "GracefulTransferCompleted")
# How the bot's application appears in a roster.
BOT_DISPLAY_NAME = "Contact center"
_CALL = "#microsoft.graph.call"


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
        # Which way the cloud goes where Graph's documentation is silent (replaced whole).
        self.silent_points: SilentPoints = config.silent_points
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
        notify: bool = True,
    ) -> tuple[SimCall, Delivery | None]:
        """Create an incoming call, notify the bot's calling webhook and return its answer.

        Without ``notify`` the call only waits for the bot (whoever tells the bot of it).
        """
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
        call.answer_deadline = self.timers.call_later(
            self.config.answer_timeout_s,
            lambda: self._end_if_unanswered(call),
            name=f"answer-deadline-{call.id}",
        )
        if not notify:
            return call, None
        delivered = self.notify(
            call, "created", self._incoming_resource(call), url=self.config.bot_url
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
        self.roster.add_party(
            call,
            ParticipantRole.BOT,
            self._bot_identity(call),
            participant_id=call.my_participant_id,
        )
        self.set_state(call, GraphCallState.ESTABLISHING)
        self.roster.ring_target(call, ParticipantRole.CALLEE, dict(target["identity"]))
        return call

    def answer(self, call: SimCall, *, callback_uri: str, prefetch: list[dict[str, Any]]) -> None:
        """Connect an incoming call to the bot: establishing, then established."""
        call.stop_timers()
        call.callback_uri = callback_uri
        call.prefetched = prefetch
        self.roster.add_party(
            call,
            ParticipantRole.BOT,
            self._bot_identity(call),
            participant_id=call.my_participant_id,
        )
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
        # As the redirect page shows it: terminated, without a resultInfo.
        self.end(call, result_info=None)

    def transfer(self, call: SimCall, *, target: dict[str, Any]) -> None:
        """Transfer an established call: transferring while the target rings."""
        self.set_state(call, GraphCallState.TRANSFERRING)
        self.roster.ring_target(call, ParticipantRole.TRANSFER_TARGET, target)

    def transfer_accepted(self, call: SimCall) -> None:
        """The transfer target answered: transferAccepted, then the bot is out."""
        self.set_state(call, GraphCallState.TRANSFER_ACCEPTED)
        # The transfer page writes this resultInfo's numbers as numbers.
        self.end(call, result_info=TRANSFERRED, as_text=False)

    def transfer_failed(self, call: SimCall, result_info: ResultInfo) -> None:
        """The transfer target did not answer: the call is back with the bot."""
        if call.ended:
            return
        call.state = GraphCallState.ESTABLISHED
        self.calls.touch()
        # As the transfer page shows it, subCode and all.
        self.notify(
            call,
            "updated",
            {
                "@odata.type": _CALL,
                "state": call.state.value,
                "resultInfo": result_info.to_json(subcode_key="subCode"),
            },
        )

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
        """The bot deletes its call: terminating, then terminated.

        A peer-to-peer call ends for everyone. In a group call (once an invitee joined)
        only the bot's leg ends: the others talk on, until only one of them is left.
        """
        self.set_state(call, GraphCallState.TERMINATING)
        self.end(call, result_info=ENDED_BY_BOT, others_stay=call.group_call)

    def hang_up_by_remote(self, call: SimCall) -> None:
        """The other party (the caller, or whom the bot called) hangs up.

        That ends a peer-to-peer call; from a group call they only leave.
        """
        remote = next(
            (
                p
                for p in call.participants.values()
                if p.is_remote and p.status is ParticipantStatus.JOINED
            ),
            None,
        )
        if call.group_call and remote is not None:
            self.roster.leave(call, remote, removed=False)
            return
        identity = call.source if call.direction == "incoming" else call.targets[0]
        by_phone = "phone" in identity.get("identity", {})
        self.end(call, result_info=ENDED_BY_PSTN_CALLER if by_phone else ENDED_BY_PEER)

    def set_state(self, call: SimCall, state: GraphCallState) -> None:
        """Move a call to ``state`` and send the ``updated`` notification."""
        call.state = state
        self.calls.touch()
        resource: dict[str, Any] = {"@odata.type": _CALL, "state": state.value}
        url = None
        if state in (GraphCallState.ESTABLISHING, GraphCallState.ESTABLISHED):
            # As the answer page shows them: the call named in compact form, with an etag.
            url = f"/communications/calls/{compact_id(call.id)}"
            resource = {
                "@odata.type": _CALL,
                "@odata.id": url,
                "@odata.etag": call.next_etag(),
                "state": state.value,
            }
        self.notify(call, "updated", resource, resource_url=url)

    def end(
        self,
        call: SimCall,
        *,
        result_info: ResultInfo | None,
        as_text: bool = True,
        others_stay: bool = False,
    ) -> None:
        """Terminate the bot's call and send the ``deleted`` notification.

        ``as_text`` writes the result's numbers as strings, as the delete-call page does;
        ``others_stay`` ends only the bot's leg of a group call.
        """
        if call.ended:
            return
        call.stop_timers()
        self.media.drop(call)
        call.state = GraphCallState.TERMINATED
        call.result_info = result_info
        call.ended_at = self.clock.now()
        if others_stay:
            self.roster.bot_left(call)
        else:
            self.roster.call_ended(call)
        self.calls.mark_ended(call)
        _LOGGER.info("Call %s terminated (%s)", call.id, result_info)
        resource_data: dict[str, Any] = {
            "@odata.type": _CALL,
            "state": GraphCallState.TERMINATED.value,
        }
        if result_info is not None:
            resource_data["resultInfo"] = result_info.to_json(as_text=as_text)
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
        url = f"{call.resource_url}/operations/{operation.id}"
        if compact_url:
            url = (
                f"/communications/calls/{compact_id(call.id)}/operations/{compact_id(operation.id)}"
            )
        resource = operation.notification_resource(url, call.next_etag())
        # The invite page's notifications also name the operation in "resource".
        extra = (
            {"resource": f"/app/calls/{call.id}/operations/{operation.id}"}
            if operation.odata_type == INVITE_OPERATION
            else None
        )
        self.notify(call, "deleted", resource, resource_url=url, extra=extra)

    # ------------------------------------------------------------------ notifications
    def notify(
        self,
        call: SimCall,
        change_type: str,
        resource_data: dict[str, Any] | list[dict[str, Any]],
        *,
        resource_url: str | None = None,
        url: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> asyncio.Future[Delivery]:
        """Queue a notification about ``call`` behind the ones already queued for it.

        ``extra`` adds keys to the notification itself (beside ``resourceData``).
        """
        payload = comms_notifications(
            {
                **comms_notification(change_type, resource_url or call.resource_url, resource_data),
                **(extra or {}),
            }
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
        return {
            "application": {
                "id": self.config.app_id,
                "displayName": BOT_DISPLAY_NAME,
                "tenantId": call.tenant_id,
            }
        }

    def _incoming_resource(self, call: SimCall) -> dict[str, Any]:
        """Return the incoming call as Graph's notification carries it (the redirect page's).

        The bot's own participant is named before it answers (``myParticipantId``), and the
        called resource account is that participant.
        """
        source = call.source
        target = call.targets[0]
        return {
            "@odata.type": _CALL,
            "@odata.id": call.resource_url,
            "state": call.state.value,
            "direction": call.direction,
            "callbackUri": self.config.bot_url,
            "source": {
                "@odata.type": "#microsoft.graph.participantInfo",
                "identity": documented_identity_set(source.get("identity", {})),
                # Where the caller's media comes from (every documented example names one).
                "region": "amer",
            },
            "targets": [
                {
                    "@odata.type": "#microsoft.graph.invitationParticipantInfo",
                    "identity": documented_identity_set(target.get("identity", {})),
                    "endpointType": "default",
                    "id": call.my_participant_id,
                    "languageId": None,
                }
            ],
            "callChainId": call.call_chain_id,
            "tenantId": call.tenant_id,
            "myParticipantId": call.my_participant_id,
            "id": call.id,
            "requestedModalities": call.requested_modalities,
        }

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
