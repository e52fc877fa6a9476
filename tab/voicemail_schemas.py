"""The JSON shapes of the agent's voicemail routes (``/api/tab/me/voicemails``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tab.schemas import ApiModel, PartyView, RequestModel


class VoicemailsQuery(RequestModel):
    limit: int = Field(default=50, ge=1, le=200)


class VoicemailHandlerView(ApiModel):
    """The agent who handled a voicemail."""

    id: str
    display_name: str


class VoicemailView(ApiModel):
    """A message left in one of my queues' shared voicemail."""

    id: str
    queue_id: str
    queue_name: str
    caller: PartyView
    recorded_at: datetime
    duration_s: float
    ivr_path: list[str]
    # False when the recording could not be fetched: there is nothing to play.
    has_recording: bool
    handled_by: VoicemailHandlerView | None = None
    handled_at: datetime | None = None


class VoicemailListView(ApiModel):
    """My queues' voicemails: unhandled first (newest first), then handled (newest first)."""

    voicemails: list[VoicemailView]
