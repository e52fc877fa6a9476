"""The agent's after-call work routes of the tab API (part of the one route table)."""

from __future__ import annotations

from tab import api_work
from tab.endpoints import Access, Endpoint
from tab.schemas import CallRecordView
from tab.work_schemas import DispositionBody, MyCallbacksView

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
        f"{_ME}/callbacks",
        api_work.my_callbacks,
        "My queues' callbacks: waiting, in serving order, and those ended in the last day",
        Access.AGENT,
        "agent",
        response=MyCallbacksView,
    ),
)
