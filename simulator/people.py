"""The simulated people at the other end: how invitees respond, and their Teams presence."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from simulator.directory import CamelModel

OnInvite = Literal["answer", "decline", "ignore", "manual"]

Availability = Literal[
    "Available",
    "AvailableIdle",
    "Away",
    "BeRightBack",
    "Busy",
    "BusyIdle",
    "DoNotDisturb",
    "Offline",
    "PresenceUnknown",
]
Activity = Literal[
    "Available",
    "Away",
    "BeRightBack",
    "Busy",
    "DoNotDisturb",
    "InACall",
    "InAConferenceCall",
    "Inactive",
    "InAMeeting",
    "Offline",
    "OffWork",
    "OutOfOffice",
    "PresenceUnknown",
    "Presenting",
    "UrgentInterruptionsOnly",
]

# Teams keeps these while the user is in a call; anything else turns into Busy / InACall.
_KEPT_IN_A_CALL = frozenset({"DoNotDisturb", "Offline"})


class InviteeBehaviour(CamelModel):
    """How a simulated person responds when Teams rings them.

    ``onInvite``: ``answer`` or ``decline`` after ``answerAfterS`` seconds; ``ignore`` lets
    it ring until the invite timeout; ``manual`` waits for the control API (and still times
    out). Once joined, they hang up after ``hangUpAfterS`` seconds if it is set.
    """

    on_invite: OnInvite = "manual"
    answer_after_s: float = Field(default=0.0, ge=0.0, le=86_400.0)
    hang_up_after_s: float | None = Field(default=None, ge=0.0, le=86_400.0)


class PresenceSetting(CamelModel):
    """A presence set through the control API, as Graph spells it."""

    availability: Availability = "Available"
    activity: Activity = "Available"


MANUAL = InviteeBehaviour()


@dataclass(frozen=True, slots=True)
class PresenceReport:
    """A user's presence as ``getPresencesByUserId`` reports it."""

    user_id: str
    availability: str
    activity: str

    def to_json(self) -> dict[str, str]:
        """Return Graph's ``presence`` JSON."""
        return {
            "@odata.type": "#microsoft.graph.presence",
            "id": self.user_id,
            "availability": self.availability,
            "activity": self.activity,
        }


def _key(identifier: str) -> str:
    # Graph ids are GUIDs; the bot may write them in either case.
    return identifier.lower()


class People:
    """Behaviours and presences of the simulated users and phone numbers."""

    def __init__(
        self,
        *,
        default_user_behaviour: InviteeBehaviour = MANUAL,
        default_phone_behaviour: InviteeBehaviour = MANUAL,
    ) -> None:
        self.default_user_behaviour = default_user_behaviour
        self.default_phone_behaviour = default_phone_behaviour
        self._users: dict[str, InviteeBehaviour] = {}
        self._phones: dict[str, InviteeBehaviour] = {}
        self._presence: dict[str, PresenceSetting] = {}
        self._in_calls: Counter[str] = Counter()

    # ------------------------------------------------------------------ behaviour
    def set_user_behaviour(self, user_id: str, behaviour: InviteeBehaviour) -> None:
        """Set how a user responds to being rung."""
        self._users[_key(user_id)] = behaviour

    def set_phone_behaviour(self, number: str, behaviour: InviteeBehaviour) -> None:
        """Set how a phone number responds to being rung."""
        self._phones[number] = behaviour

    def user_behaviour(self, user_id: str) -> InviteeBehaviour:
        """Return how a user responds (the default for users never set)."""
        return self._users.get(_key(user_id), self.default_user_behaviour)

    def phone_behaviour(self, number: str) -> InviteeBehaviour:
        """Return how a phone number responds (the default for numbers never set)."""
        return self._phones.get(number, self.default_phone_behaviour)

    # ------------------------------------------------------------------- presence
    def set_presence(self, user_id: str, setting: PresenceSetting) -> None:
        """Set a user's own presence (what it is when they are not in a call)."""
        self._presence[_key(user_id)] = setting

    def joined_call(self, user_id: str) -> None:
        """Note that a user is now connected to a call."""
        self._in_calls[_key(user_id)] += 1

    def left_call(self, user_id: str) -> None:
        """Note that a user left a call."""
        key = _key(user_id)
        self._in_calls[key] -= 1
        if self._in_calls[key] <= 0:
            del self._in_calls[key]

    def in_call(self, user_id: str) -> bool:
        """Return whether a user is connected to any call."""
        return self._in_calls[_key(user_id)] > 0

    def presence(self, user_id: str) -> PresenceReport:
        """Return a user's presence, Busy / InACall while they are in a call."""
        setting = self._presence.get(_key(user_id), PresenceSetting())
        if self.in_call(user_id) and setting.availability not in _KEPT_IN_A_CALL:
            return PresenceReport(user_id, "Busy", "InACall")
        return PresenceReport(user_id, setting.availability, setting.activity)
