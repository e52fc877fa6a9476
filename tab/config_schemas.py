"""The caller-experience configuration's JSON shapes: IVRs, caller lists, the closed-now switch.

Queue hours, prompts and callbacks are part of the queue's own shape (``tab/schemas.py``);
an IVR's hours use the same shapes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from contactcenter.model import CallerListKind, MenuActionKind, PartyKind
from tab.schemas import (
    ApiModel,
    BusinessHoursBody,
    BusinessHoursView,
    CalledIdentity,
    Identifier,
    LanguageTag,
    Name,
    PromptId,
    QueueActionBody,
    QueueActionView,
    RequestModel,
    ShortText,
)

Key = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1)]


# =================================================================== requests
class MenuOptionBody(RequestModel):
    """A key and what it does."""

    digit: Key = Field(description="0-9, * or #; empty for a menu's fallback.")
    action: MenuActionKind
    target: Identifier | None = Field(
        default=None,
        description="A queue id (queue, voicemail), a menu id (menu), a user id (user) or an "
        "E.164 number (number); empty for repeat and disconnect.",
    )
    label: ShortText = ""

    @field_validator("target")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class MenuBody(RequestModel):
    """One level of an IVR: a prompt, its keys, and what no key (or a wrong one) does."""

    id: Identifier
    name: ShortText = ""
    prompt_id: PromptId | None = None
    options: list[MenuOptionBody] = Field(default_factory=list, max_length=12)
    timeout_s: int = Field(default=8, description="Seconds to wait for a key (1-60).")
    max_retries: int = Field(default=2, description="Times the menu is repeated (0-5).")
    fallback: MenuOptionBody | None = Field(
        default=None, description="When the retries are used up; none: goodbye."
    )

    @field_validator("prompt_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class IvrBody(RequestModel):
    """An IVR's configuration (create, or replace on update)."""

    name: Name
    menus: list[MenuBody] = Field(max_length=50)
    root_menu_id: Identifier
    greeting_prompt_id: PromptId | None = None
    language: LanguageTag = "en-US"
    hours: BusinessHoursBody | None = None

    @field_validator("greeting_prompt_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class IvrBindingBody(RequestModel):
    """Bind a called identity (resource account id or phone number) to an IVR."""

    identity: CalledIdentity
    display_name: ShortText = ""


class CallerEntryBody(RequestModel):
    """A blocked or VIP caller, by E.164 number or Teams user id."""

    kind: CallerListKind
    party_kind: PartyKind
    value: Identifier
    reason: ShortText = ""
    priority_boost: int = Field(default=10, description="VIP: added to the queue's priority.")


class CallerListsBody(RequestModel):
    """Every blocked and VIP caller of the organization (replaces the lists)."""

    entries: list[CallerEntryBody] = Field(max_length=20_000)


class ClosedNowBody(RequestModel):
    """Close at once whatever the schedule says, or open again."""

    closed: bool
    action: QueueActionBody | None = Field(
        default=None,
        description="What happens to calls while closed now; left out: unchanged "
        "(none set: the closed action).",
    )


# ================================================================== responses
class MenuOptionView(ApiModel):
    digit: str
    action: MenuActionKind
    target: str | None
    label: str


class MenuView(ApiModel):
    id: str
    name: str
    prompt_id: str | None
    options: list[MenuOptionView]
    timeout_s: int
    max_retries: int
    fallback: MenuOptionView | None


class IvrBindingView(ApiModel):
    id: str
    kind: Literal["applicationInstance", "phoneNumber"]
    ivr_id: str
    display_name: str


class IvrView(ApiModel):
    id: str
    name: str
    menus: list[MenuView]
    root_menu_id: str
    greeting_prompt_id: str | None
    language: str
    hours: BusinessHoursView | None
    bindings: list[IvrBindingView] = Field(
        description="The resource accounts and numbers whose calls it answers."
    )
    etag: str = Field(description="Send back as If-Match to update only this version.")


class IvrListView(ApiModel):
    ivrs: list[IvrView]


class CallerEntryView(ApiModel):
    kind: CallerListKind
    party_kind: PartyKind
    value: str
    reason: str
    priority_boost: int


class CallerListsView(ApiModel):
    entries: list[CallerEntryView]
    etag: str = Field(description="Send back as If-Match; empty while nothing is stored.")


class ClosedNowView(ApiModel):
    kind: Literal["queue", "ivr"]
    id: str
    name: str
    closed_now: bool
    closed_now_action: QueueActionView | None


class ClosedNowListView(ApiModel):
    items: list[ClosedNowView]
