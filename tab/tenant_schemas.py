"""JSON shapes of the tenant-wide settings: settings, the prompt library, admin consent."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from contactcenter.hours import is_time_zone_name
from contactcenter.media import DEFAULT_LANGUAGE, MAX_NAME_LENGTH
from tab.derived_shapes import view_of_body
from tab.schemas import ApiModel, RequestModel

MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650
MAX_NOT_READY_REASONS = 20
MAX_REASON_LENGTH = 40

NotReadyReason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON_LENGTH)
]


# =================================================================== settings
class TenantSettingsBody(RequestModel):
    """The organization-wide settings (replaced as a whole)."""

    time_zone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = Field(
        description="An IANA time zone name such as Europe/Paris: reports' days and hours, "
        "and business hours that name no zone of their own."
    )
    retention_days: int = Field(
        ge=MIN_RETENTION_DAYS,
        le=MAX_RETENTION_DAYS,
        description=f"How long call records are kept, in days ({MIN_RETENTION_DAYS} to "
        f"{MAX_RETENTION_DAYS}): call records older than this, and the report intervals "
        "built from them, are purged.",
    )
    not_ready_reasons: list[NotReadyReason] = Field(
        min_length=1,
        max_length=MAX_NOT_READY_REASONS,
        description=f"What agents may give as the reason they are away, 1 to "
        f"{MAX_NOT_READY_REASONS} different reasons of 1 to {MAX_REASON_LENGTH} characters, "
        "in the order the status picker offers them.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        if not is_time_zone_name(value):
            raise ValueError(f"{value!r} is not an IANA time zone name such as Europe/Paris")
        return value

    @field_validator("not_ready_reasons")
    @classmethod
    def _reasons_unique(cls, reasons: list[str]) -> list[str]:
        seen: set[str] = set()
        for reason in reasons:
            key = reason.casefold()
            if key in seen:
                raise ValueError(f"{reason!r} is listed twice")
            seen.add(key)
        return reasons


# The organization's name, then every setting TenantSettingsBody writes (derived from it,
# so that a setting added there shows here). mypy sees a plain ApiModel.
if TYPE_CHECKING:
    TenantSettingsView = ApiModel
else:
    TenantSettingsView = view_of_body(
        TenantSettingsBody, "TenantSettingsView", base=ApiModel, first={"name": str}
    )


class TimeZonesView(ApiModel):
    """The IANA time zones to pick from, and the organization's."""

    time_zones: list[str]
    organization_time_zone: str


# ===================================================================== prompts
class PromptUploadQuery(RequestModel):
    """What an uploaded prompt is called and which language it speaks."""

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH)
    ]
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")] = Field(
        default=DEFAULT_LANGUAGE, description="A language tag such as en-US."
    )


class PromptUseView(ApiModel):
    """A queue or IVR that plays the prompt, and where."""

    kind: Literal["queue", "ivr"]
    id: str
    name: str
    usage: str = Field(description="Where it is played, e.g. greeting or overflowAction.")


class PromptView(ApiModel):
    id: str
    name: str
    language: str
    duration_s: float
    sample_rate: int
    size_bytes: int
    uploaded_at: datetime | None
    uploaded_by: str = Field(description="The uploader's user id.")
    uploaded_by_name: str
    used_by: list[PromptUseView]


class PromptListView(ApiModel):
    prompts: list[PromptView]
    max_bytes: int = Field(description="The largest prompt file accepted, in bytes.")


# ===================================================================== consent
class PermissionView(ApiModel):
    name: str
    purpose: str
    granted: bool


class ConsentView(ApiModel):
    consent_url: str = Field(
        description="Where an admin of the organization grants the app its Microsoft Graph "
        "application permissions (Entra admin consent)."
    )
    app_id: str
    service_principal_found: bool = Field(
        description="False until someone consented: the app is not in the organization yet."
    )
    permissions: list[PermissionView]
