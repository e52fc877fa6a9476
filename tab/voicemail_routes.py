"""The agent's voicemail routes of the tab API (part of the one route table)."""

from __future__ import annotations

from tab import api_voicemail
from tab.endpoints import Access, Endpoint
from tab.voicemail_schemas import VoicemailListView, VoicemailsQuery, VoicemailView

VOICEMAILS = "/api/tab/me/voicemails"

VOICEMAIL_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        VOICEMAILS,
        api_voicemail.my_voicemails,
        "My queues' voicemails, unhandled first",
        Access.AGENT,
        "agent",
        query=VoicemailsQuery,
        response=VoicemailListView,
    ),
    Endpoint(
        "GET",
        f"{VOICEMAILS}/{{voicemailId}}/audio",
        api_voicemail.my_voicemail_audio,
        "Play a voicemail of one of my queues",
        Access.AGENT,
        "agent",
    ),
    Endpoint(
        "POST",
        f"{VOICEMAILS}/{{voicemailId}}/handled",
        api_voicemail.mark_my_voicemail_handled,
        "Mark a voicemail of one of my queues handled",
        Access.AGENT,
        "agent",
        response=VoicemailView,
    ),
)
