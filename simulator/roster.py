"""Who is in a simulated call: invitations, ringing, joining, leaving, and what Graph says of it.

Everyone the cloud rings (an invitee, a transfer or redirect target, the callee of an
outbound call) responds as their :class:`~simulator.people.InviteeBehaviour` says,
or as the control API tells them. The bot hears of it the way Graph tells it:

* an invitee who answers: the invite operation ``completed``, then a roster update that
  lists everyone in the call; one who declines: the operation ``failed`` with 603; one
  nobody answers: ``failed`` with 408 after the invite timeout; one the bot removes before
  they answer: ``failed`` with 487. Nobody ringing is in a roster update (Graph reports
  joins and leaves), unless the silent point ``ringing_in_roster`` says otherwise: then a
  roster update lists an invitee from the moment they ring, exactly as one who joined, and
  another one follows when they stop ringing without joining.
* a joined participant who hangs up or is removed: a roster update without them.

Once an invitee joined, the call is a group call, and Graph's rules for those apply: the
bot deleting the call ends only its own leg (the others talk on); the caller hanging up
only leaves it; the call ends for the bot when everyone else has left it (200/5002), or
when the bot removed the last of them (only one participant remained, 200/5010); and
once the bot is gone, the call ends for the last one left alone.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.calls import (
    INVITE_OPERATION,
    OperationStatus,
    ParticipantRole,
    ParticipantStatus,
    ResultInfo,
    SimCall,
    SimOperation,
    SimParticipant,
)
from simulator.errors import ApiError
from simulator.people import InviteeBehaviour

if TYPE_CHECKING:
    from simulator.cloud import SimulatedCloud

_LOGGER = logging.getLogger(__name__)

DECLINED = ResultInfo(603, 0, "Call was declined.")
ALL_OTHERS_LEFT = ResultInfo(
    200, 5002, "The conversation has ended as all other participants have left the call."
)
ONLY_ONE_REMAINED = ResultInfo(
    200, 5010, "The conversation has ended as only one participant remained in the conversation."
)
NOT_ANSWERED = ResultInfo(408, 0, "The invitation timed out: nobody answered.")
INVITATION_CANCELLED = ResultInfo(487, 0, "The invitation was cancelled.")
# A resource account (another queue, an auto attendant) picks up at once.
_APPLICATION = InviteeBehaviour(on_invite="answer")


@dataclass(frozen=True, slots=True)
class Invitee:
    """Someone to ring, as the bot's ``invitationParticipantInfo`` names them."""

    identity: dict[str, Any]
    participant_id: str | None = None
    replaces_call_id: str | None = None

    def invitation_info(self, participant_id: str) -> dict[str, Any]:
        """Return Graph's ``invitationParticipantInfo`` JSON for it."""
        return {
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": {"@odata.type": "#microsoft.graph.identitySet", **self.identity},
            "endpointType": None,
            "id": participant_id,
            "participantId": participant_id,
            "replacesCallId": self.replaces_call_id,
        }


class Roster:
    """Ring people into calls and keep each call's participants."""

    def __init__(self, cloud: SimulatedCloud) -> None:
        self._cloud = cloud

    # ------------------------------------------------------------------ parties
    def add_party(
        self,
        call: SimCall,
        role: ParticipantRole,
        identity: dict[str, Any],
        *,
        participant_id: str | None = None,
    ) -> SimParticipant:
        """Put someone in the call who is in it from the start (the bot, the caller)."""
        now = self._cloud.clock.now()
        participant = call.add_participant(
            SimParticipant(
                id=participant_id or str(uuid.uuid4()),
                role=role,
                identity=identity,
                status=ParticipantStatus.JOINED,
                created_at=now,
                joined_at=now,
            )
        )
        self._joined_call(participant)
        return participant

    def roster_json(self, call: SimCall) -> list[dict[str, Any]]:
        """Return the call's participants as a roster update lists them, the bot first."""
        listed = sorted(self._listed(call), key=lambda p: p.role is not ParticipantRole.BOT)
        return [participant.graph_resource() for participant in listed]

    def _listed(self, call: SimCall) -> list[SimParticipant]:
        """Return who a roster names: who joined, and (if so set) invitees still ringing."""
        if not self._cloud.silent_points.ringing_in_roster:
            return call.joined()
        return [
            p
            for p in call.participants.values()
            if p.status is ParticipantStatus.JOINED
            or (p.role is ParticipantRole.INVITEE and p.status is ParticipantStatus.RINGING)
        ]

    # ------------------------------------------------------------------ ringing
    def invite(
        self, call: SimCall, invitees: list[Invitee], *, client_context: str | None
    ) -> SimOperation:
        """Ring invitees into the call; return the running inviteParticipantsOperation."""
        operation = self._cloud.new_operation(call, INVITE_OPERATION, client_context)
        infos = []
        for invitee in invitees:
            participant = self._ringing(
                call,
                ParticipantRole.INVITEE,
                invitee.identity,
                participant_id=invitee.participant_id,
                operation_id=operation.id,
                replaces_call_id=invitee.replaces_call_id,
            )
            operation.participant_ids.append(participant.id)
            infos.append(invitee.invitation_info(participant.id))
        operation.fields["participants"] = infos
        for participant_id in operation.participant_ids:
            self.ring(call, call.participants[participant_id])
        if self._cloud.silent_points.ringing_in_roster:
            self._cloud.notify_roster(call)
        return operation

    def ring_target(
        self,
        call: SimCall,
        role: ParticipantRole,
        identity: dict[str, Any],
        *,
        timeout_s: float | None = None,
        outlives_call: bool = False,
    ) -> SimParticipant:
        """Ring a transfer or redirect target, or the callee of an outbound call."""
        participant = self._ringing(call, role, identity)
        participant.outlives_call = outlives_call
        self.ring(call, participant, timeout_s=timeout_s)
        return participant

    def ring(
        self, call: SimCall, participant: SimParticipant, *, timeout_s: float | None = None
    ) -> None:
        """Let a ringing participant respond as they would, and stop ringing in time."""
        behaviour = self.behaviour(participant)
        timers = self._cloud.timers

        def respond() -> None:
            if participant.status is ParticipantStatus.RINGING:
                if behaviour.on_invite == "answer":
                    self.answer(call, participant)
                else:
                    self.decline(call, participant)

        def give_up() -> None:
            if participant.status is ParticipantStatus.RINGING:
                self.time_out(call, participant)

        if behaviour.on_invite in {"answer", "decline"}:
            participant.timers.append(
                timers.call_later(
                    behaviour.answer_after_s, respond, name=f"respond-{participant.id}"
                )
            )
        ring_for = self._cloud.settings.invite_timeout_s if timeout_s is None else timeout_s
        participant.timers.append(
            timers.call_later(ring_for, give_up, name=f"ring-timeout-{participant.id}")
        )

    def behaviour(self, participant: SimParticipant) -> InviteeBehaviour:
        """Return how this participant responds when rung."""
        people = self._cloud.people
        if participant.user_id is not None:
            return people.user_behaviour(participant.user_id)
        if participant.phone is not None:
            return people.phone_behaviour(participant.phone)
        return _APPLICATION

    # --------------------------------------------------------------- responses
    def answer(self, call: SimCall, participant: SimParticipant) -> None:
        """A ringing participant picks up."""
        self._require(participant, ParticipantStatus.RINGING, "answer")
        participant.cancel_timers()
        participant.status = ParticipantStatus.JOINED
        participant.joined_at = self._cloud.clock.now()
        self._joined_call(participant)
        _LOGGER.info("Call %s: %s %s joined", call.id, participant.role, participant.id)
        role = participant.role
        if role is ParticipantRole.INVITEE:
            if len(call.joined()) >= 3:
                call.group_call = True
            self._settle(call, participant.operation_id)
            self._cloud.notify_roster(call)
        elif role is ParticipantRole.TRANSFER_TARGET:
            participant.outlives_call = True
            self._cloud.transfer_accepted(call)
        elif role is ParticipantRole.REDIRECT_TARGET:
            for other in call.participants.values():
                if other is not participant and other.status is ParticipantStatus.RINGING:
                    self._stop_ringing(other, ParticipantStatus.CANCELLED, INVITATION_CANCELLED)
        elif role is ParticipantRole.CALLEE:
            self._cloud.callee_answered(call)
        self._schedule_hang_up(call, participant)
        self._cloud.calls.touch()

    def decline(self, call: SimCall, participant: SimParticipant) -> None:
        """A ringing participant declines."""
        self._require(participant, ParticipantStatus.RINGING, "decline")
        self._unanswered(call, participant, ParticipantStatus.DECLINED, DECLINED)

    def time_out(self, call: SimCall, participant: SimParticipant) -> None:
        """Nobody answered in time: Teams stops ringing."""
        self._require(participant, ParticipantStatus.RINGING, "time out")
        self._unanswered(call, participant, ParticipantStatus.TIMED_OUT, NOT_ANSWERED)

    def hang_up(self, call: SimCall, participant: SimParticipant) -> None:
        """A joined participant hangs up."""
        self._require(participant, ParticipantStatus.JOINED, "hang up")
        if participant.is_remote and not call.group_call and not call.ended:
            # The caller (or the callee of an outbound call) hanging up ends a
            # peer-to-peer call.
            self._cloud.hang_up_by_remote(call)
            return
        self.leave(call, participant, removed=False)

    def remove(self, call: SimCall, participant: SimParticipant) -> None:
        """The bot deletes a participant: cancel a pending invitation or drop them."""
        if participant.status is ParticipantStatus.RINGING:
            if participant.role is ParticipantRole.CALLEE:
                self._cloud.hang_up_by_bot(call)
                return
            self._unanswered(call, participant, ParticipantStatus.CANCELLED, INVITATION_CANCELLED)
        elif participant.status is ParticipantStatus.JOINED:
            if participant.role is ParticipantRole.BOT:
                self._cloud.hang_up_by_bot(call)
            elif participant.is_remote and not call.group_call:
                # Without the other party a peer-to-peer call has nobody left to talk to.
                self._cloud.hang_up_by_bot(call)
            else:
                self.leave(call, participant, removed=True)
        else:
            raise ApiError(404, f"Participant {participant.id} is no longer in the call.")

    def leave(self, call: SimCall, participant: SimParticipant, *, removed: bool) -> None:
        """A joined participant leaves (or is removed); the call ends if the rules say so."""
        participant.cancel_timers()
        participant.status = ParticipantStatus.LEFT
        participant.ended_at = self._cloud.clock.now()
        self._left_call(participant)
        _LOGGER.info("Call %s: %s %s left", call.id, participant.role, participant.id)
        others = self._others(call)
        if not call.ended:
            if others:
                self._cloud.notify_roster(call)
            else:
                # The bot is alone: Graph ends its call too.
                self._cloud.end(call, result_info=ONLY_ONE_REMAINED if removed else ALL_OTHERS_LEFT)
        elif len(others) == 1:
            self._alone(call, others[0])
        self._cloud.calls.touch()

    def bot_left(self, call: SimCall) -> None:
        """The bot left a group call: pending invitations end, the others talk on."""
        now = self._cloud.clock.now()
        for participant in call.participants.values():
            if participant.role is ParticipantRole.BOT and (
                participant.status is ParticipantStatus.JOINED
            ):
                participant.status = ParticipantStatus.LEFT
                participant.ended_at = now
            elif participant.status is ParticipantStatus.RINGING and not participant.outlives_call:
                participant.cancel_timers()
                participant.status = ParticipantStatus.CANCELLED
                participant.ended_at = now
        others = self._others(call)
        for participant in others:
            participant.outlives_call = True
        if len(others) == 1:
            self._alone(call, others[0])

    def call_ended(self, call: SimCall) -> None:
        """The call is over: stop ringing and let everyone go, but for those who stay on."""
        for participant in call.participants.values():
            if participant.outlives_call:
                continue
            participant.cancel_timers()
            if participant.status is ParticipantStatus.RINGING:
                participant.status = ParticipantStatus.CANCELLED
                participant.ended_at = self._cloud.clock.now()
            elif participant.status is ParticipantStatus.JOINED:
                participant.status = ParticipantStatus.LEFT
                participant.ended_at = self._cloud.clock.now()
                self._left_call(participant)

    # ---------------------------------------------------------------- internals
    def _ringing(
        self,
        call: SimCall,
        role: ParticipantRole,
        identity: dict[str, Any],
        *,
        participant_id: str | None = None,
        operation_id: str | None = None,
        replaces_call_id: str | None = None,
    ) -> SimParticipant:
        return call.add_participant(
            SimParticipant(
                id=participant_id or str(uuid.uuid4()),
                role=role,
                identity=identity,
                status=ParticipantStatus.RINGING,
                created_at=self._cloud.clock.now(),
                operation_id=operation_id,
                replaces_call_id=replaces_call_id,
            )
        )

    def _unanswered(
        self,
        call: SimCall,
        participant: SimParticipant,
        status: ParticipantStatus,
        result: ResultInfo,
    ) -> None:
        self._stop_ringing(participant, status, result)
        _LOGGER.info("Call %s: %s %s %s", call.id, participant.role, participant.id, status)
        role = participant.role
        if role is ParticipantRole.INVITEE:
            self._settle(call, participant.operation_id)
            if self._cloud.silent_points.ringing_in_roster and not call.ended:
                # The roster named them while they rang: it no longer does.
                self._cloud.notify_roster(call)
        elif role is ParticipantRole.TRANSFER_TARGET:
            self._cloud.transfer_failed(call, result)
        elif role is ParticipantRole.CALLEE:
            self._cloud.end(call, result_info=result)
        # A redirect target who does not answer concerns nobody the simulator tells.
        self._cloud.calls.touch()

    def _stop_ringing(
        self, participant: SimParticipant, status: ParticipantStatus, result: ResultInfo
    ) -> None:
        participant.cancel_timers()
        participant.status = status
        participant.result_info = result
        participant.ended_at = self._cloud.clock.now()

    @staticmethod
    def _others(call: SimCall) -> list[SimParticipant]:
        """Return who is in the call now, but the bot."""
        return [p for p in call.joined() if p.role is not ParticipantRole.BOT]

    def _alone(self, call: SimCall, participant: SimParticipant) -> None:
        """Only one participant remained once the bot left: the call ends for them too."""
        participant.cancel_timers()
        participant.status = ParticipantStatus.LEFT
        participant.ended_at = self._cloud.clock.now()
        participant.result_info = ONLY_ONE_REMAINED
        self._left_call(participant)
        _LOGGER.info("Call %s: %s %s was left alone", call.id, participant.role, participant.id)

    def _settle(self, call: SimCall, operation_id: str | None) -> None:
        """Finish an invite operation once none of its invitees is still ringing."""
        operation = call.operations.get(operation_id or "")
        if operation is None or operation.status is not OperationStatus.RUNNING:
            return
        invitees = [call.participants[pid] for pid in operation.participant_ids]
        if any(p.status is ParticipantStatus.RINGING for p in invitees):
            return
        if any(p.status is ParticipantStatus.JOINED for p in invitees):
            self._cloud.finish_operation(call, operation, OperationStatus.COMPLETED, None)
            return
        failure = next(
            (p.result_info for p in reversed(invitees) if p.result_info is not None), NOT_ANSWERED
        )
        self._cloud.finish_operation(call, operation, OperationStatus.FAILED, failure)

    def _schedule_hang_up(self, call: SimCall, participant: SimParticipant) -> None:
        after = self.behaviour(participant).hang_up_after_s
        if after is None or participant.role is ParticipantRole.BOT:
            return

        def hang_up() -> None:
            if participant.status is ParticipantStatus.JOINED and (
                participant.outlives_call or not call.ended
            ):
                self.hang_up(call, participant)

        participant.timers.append(
            self._cloud.timers.call_later(after, hang_up, name=f"hang-up-{participant.id}")
        )

    def _joined_call(self, participant: SimParticipant) -> None:
        if participant.user_id is not None:
            self._cloud.people.joined_call(participant.user_id)

    def _left_call(self, participant: SimParticipant) -> None:
        if participant.user_id is not None:
            self._cloud.people.left_call(participant.user_id)

    @staticmethod
    def _require(participant: SimParticipant, status: ParticipantStatus, action: str) -> None:
        if participant.status is not status:
            raise ApiError(
                409,
                f"Participant {participant.id} is {participant.status.value}; "
                f"only a {status.value} participant can {action}.",
            )
