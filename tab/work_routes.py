"""The agent's call at hand and after-call work routes of the tab API (part of the one
route table).
"""

from __future__ import annotations

from tab import api_call, api_work
from tab.endpoints import Access, Endpoint
from tab.schemas import CallRecordView, MeView
from tab.work_schemas import (
    CallbackAskedView,
    CallerHistoryView,
    DispositionBody,
    MyCallbacksView,
    NotesBody,
    NotesView,
    TransferBody,
    TransferTargetsView,
)

_ME = "/api/tab/me"

WORK_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{_ME}/calls/{{callId}}/disposition",
        api_work.dispose_call,
        "Record (or change) what my call was about: a code of its queue and a note",
        Access.AGENT,
        "agent",
        body=DispositionBody,
        response=CallRecordView,
    ),
    Endpoint(
        "GET",
        f"{_ME}/calls/{{callId}}/notes",
        api_call.my_call_notes,
        "My call's notes and code as saved so far",
        Access.AGENT,
        "agent",
        response=NotesView,
    ),
    Endpoint(
        "PUT",
        f"{_ME}/calls/{{callId}}/notes",
        api_call.save_my_call_notes,
        "Save my call's notes as I type them (kept with me until my wrap-up ends)",
        Access.AGENT,
        "agent",
        body=NotesBody,
        response=NotesView,
    ),
    Endpoint(
        "GET",
        f"{_ME}/calls/{{callId}}/caller-history",
        api_call.my_caller_history,
        "The last few calls of my call's caller",
        Access.AGENT,
        "agent",
        response=CallerHistoryView,
    ),
    Endpoint(
        "POST",
        f"{_ME}/calls/{{callId}}/transfer",
        api_call.transfer_my_call,
        "Hand my call to another queue (first in line there) or to another agent",
        Access.AGENT,
        "agent",
        body=TransferBody,
        response=MeView,
    ),
    Endpoint(
        "GET",
        f"{_ME}/transfer-targets",
        api_call.transfer_targets,
        "The queues and agents I may hand a call to",
        Access.AGENT,
        "agent",
        response=TransferTargetsView,
    ),
    Endpoint(
        "POST",
        f"{_ME}/wrap-up/extend",
        api_call.extend_my_wrap_up,
        "Take my queue's extra wrap-up time, once per call",
        Access.AGENT,
        "agent",
        response=MeView,
    ),
    Endpoint(
        "POST",
        f"{_ME}/calls/{{callId}}/callback",
        api_call.call_back_my_missed_call,
        "Have one of my queues call back a caller nobody answered",
        Access.AGENT,
        "agent",
        response=CallbackAskedView,
        status=201,
    ),
    Endpoint(
        "POST",
        f"{_ME}/voicemails/{{voicemailId}}/callback",
        api_call.call_back_voicemail,
        "Have a voicemail's queue call back the caller who left it",
        Access.AGENT,
        "agent",
        response=CallbackAskedView,
        status=201,
    ),
    Endpoint(
        "GET",
        f"{_ME}/callbacks",
        api_work.my_callbacks,
        "My queues' callbacks: waiting, in serving order, and those ended in the last day",
        Access.AGENT,
        "agent",
        response=MyCallbacksView,
    ),
)
