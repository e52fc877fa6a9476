"""Why a call ended, from the ``resultInfo`` Graph reports when it terminates our call.

Graph's delete-call page lists the codes a terminated call carries (code/subcode, the
"Call end reason codes" table, copied into reference.md). :data:`RESULT_CODES` is the one
table that turns each of them into an :class:`EndReason`: the leave reason a record keeps,
and, for a call that was never answered, its outcome (:func:`unanswered_outcome`).
docs/decisions/0017-ending-a-talk.md explains the choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from contactcenter.model import CallOutcome

__all__ = [
    "APP_TRANSFERRED",
    "RESULT_CODES",
    "EndReason",
    "ResultCode",
    "end_reason",
    "unanswered_outcome",
]


class EndReason(StrEnum):
    """Who or what ended a call, in the words a record keeps as its leave reason."""

    CALLER_HUNG_UP = "caller hung up"
    AGENT_HUNG_UP = "agent hung up"
    # Someone else in the call (or a meeting's rule) took our bot out of it.
    REMOVED = "removed"
    FAILED = "failed"
    TRANSFERRED = "transferred"
    # The contact center ended it: our bot left or hung up.
    ENDED_BY_CONTACT_CENTER = "ended by the contact center"


@dataclass(frozen=True, slots=True)
class ResultCode:
    """One row of Graph's table of call end reasons, and what it means for us."""

    code: int
    subcode: int
    # Graph's message for it, as the delete-call page writes it.
    message: str
    reason: EndReason


_CALLER = EndReason.CALLER_HUNG_UP
_REMOVED = EndReason.REMOVED
_FAILED = EndReason.FAILED
_US = EndReason.ENDED_BY_CONTACT_CENTER
_TRANSFERRED = EndReason.TRANSFERRED

_ROWS = (
    # The other side left. In our calls the caller is the other side of the bot's
    # peer-to-peer call, and the one who started the group call an invitation made of it.
    ResultCode(200, 4097, "Call ended by the other participant in the call.", _CALLER),
    ResultCode(200, 4521, "Call ended by the other participant in peer-to-peer call.", _CALLER),
    ResultCode(
        200, 18503, "The other participant in the peer-to-peer call left the conversation.", _CALLER
    ),
    ResultCode(200, 540000, "Call ended by the PSTN User.", _CALLER),
    ResultCode(200, 560000, "Call ended by the PSTN User.", _CALLER),
    ResultCode(200, 5001, "The conversation has ended.", _CALLER),
    ResultCode(200, 5003, "The conversation has ended.", _CALLER),
    ResultCode(
        200,
        5002,
        "The conversation has ended as all other participants have left the call.",
        _CALLER,
    ),
    ResultCode(
        200,
        5007,
        "The conversation has ended as the initiator of the group call left the conversation.",
        _CALLER,
    ),
    ResultCode(
        200,
        5010,
        "The conversation has ended as only one participant remained in the conversation.",
        _CALLER,
    ),
    ResultCode(
        200,
        5012,
        "The conversation has ended as there are no participants in the incoming roster.",
        _CALLER,
    ),
    ResultCode(
        200,
        5013,
        "The conversation has ended as no one else has joined the group call.",
        _CALLER,
    ),
    ResultCode(
        200,
        5020,
        "The conversation has ended as there are no non-hidden participants in the incoming "
        "roster.",
        _CALLER,
    ),
    # Someone, or a meeting's rule, took the bot out of the call.
    ResultCode(200, 5000, "Removed from the conversation by another participant.", _REMOVED),
    ResultCode(
        200, 5300, "Participant was removed from the conversation by another participant.", _REMOVED
    ),
    ResultCode(
        200,
        5855,
        "Participant waiting in lobby was removed from the conversation after lobby "
        "inactivity timeout.",
        _REMOVED,
    ),
    ResultCode(
        200,
        5030,
        "The conversation has ended as the breakout room duration has elapsed.",
        _REMOVED,
    ),
    # A bot ended it: ours (another host, or our own hang-up seen late).
    ResultCode(200, 7000, "The conversation has ended by bot.", _US),
    ResultCode(200, 10550, "The conversation has ended by bot.", _US),
    # A transfer completed: the delete-call page writes 200, the transfer page 0.
    ResultCode(200, 7015, "Call ended as the transfer completed successfully.", _TRANSFERRED),
    ResultCode(0, 7015, "GracefulTransferCompleted", _TRANSFERRED),
    # The platform could not keep or make the call.
    ResultCode(
        200,
        5014,
        "The conversation has ended because we were unable to determine a "
        "potential host for the group call.",
        _FAILED,
    ),
    ResultCode(408, 8537, "Keep Alive timeout, cleaned up inactive call.", _FAILED),
    ResultCode(
        408,
        1106,
        "An acknowledgement was not received for the call acceptance in the allotted time.",
        _FAILED,
    ),
    ResultCode(408, 10057, "Call timed out due to no signaling from callee endpoints.", _FAILED),
    ResultCode(410, 301005, "Media connectivity failure.", _FAILED),
    ResultCode(480, 10037, "No callee endpoints were found.", _FAILED),
    ResultCode(480, 10076, "Callee could not be reached.", _FAILED),
    ResultCode(480, 10134, "Call rejected due to inability to route the call.", _FAILED),
    ResultCode(480, 10199, "Call rejected as private calling is disabled for the user.", _FAILED),
    ResultCode(
        500,
        1005,
        "Server encountered connectivity error with Bot's media. Please check media "
        "connectivity between Bot and Microsoft.",
        _FAILED,
    ),
)

RESULT_CODES: Mapping[tuple[int, int], ResultCode] = MappingProxyType(
    {(row.code, row.subcode): row for row in _ROWS}
)
"""Graph's documented call end codes, by (code, subcode)."""

APP_TRANSFERRED = "AppTransferred"
"""The ``terminationReason`` of a call a consultative transfer ended (it has no resultInfo)."""

_UNANSWERED_OUTCOMES: Mapping[EndReason, CallOutcome] = MappingProxyType(
    {
        EndReason.CALLER_HUNG_UP: CallOutcome.ABANDONED,
        EndReason.AGENT_HUNG_UP: CallOutcome.ABANDONED,
        EndReason.REMOVED: CallOutcome.FAILED,
        EndReason.FAILED: CallOutcome.FAILED,
        EndReason.TRANSFERRED: CallOutcome.TRANSFERRED,
        EndReason.ENDED_BY_CONTACT_CENTER: CallOutcome.FAILED,
    }
)


def end_reason(code: int | None, subcode: int | None, termination_reason: str = "") -> EndReason:
    """Return why Graph ended a call, from its resultInfo (or terminationReason).

    A code the table does not list is read by its class: 4xx/5xx failed, anything else
    (no result at all included) the other side hanging up.
    """
    if termination_reason == APP_TRANSFERRED:
        return EndReason.TRANSFERRED
    if code is not None and subcode is not None:
        row = RESULT_CODES.get((code, subcode))
        if row is not None:
            return row.reason
    if code is not None and code >= 400:
        return EndReason.FAILED
    return EndReason.CALLER_HUNG_UP


def unanswered_outcome(reason: EndReason) -> CallOutcome:
    """Return the outcome of a call no agent took, ended for ``reason``."""
    return _UNANSWERED_OUTCOMES[reason]
