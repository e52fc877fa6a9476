"""The organization-wide settings routes of the tab API (part of the one route table)."""

from __future__ import annotations

from tab import api_tenant
from tab.endpoints import Access, Endpoint
from tab.tenant_schemas import (
    ConsentView,
    PromptListView,
    PromptUploadQuery,
    PromptView,
    TenantSettingsBody,
    TenantSettingsView,
    TimeZonesView,
)

ADMIN = "/api/tab/admin"
PROMPTS = f"{ADMIN}/prompts"

TENANT_ENDPOINTS: tuple[Endpoint, ...] = (
    # -------------------------------------------------------------- settings
    Endpoint(
        "GET",
        f"{ADMIN}/settings",
        api_tenant.get_settings,
        "The organization's settings: time zone, call-record retention, not-ready reasons",
        Access.ADMIN,
        "admin",
        response=TenantSettingsView,
    ),
    Endpoint(
        "PUT",
        f"{ADMIN}/settings",
        api_tenant.update_settings,
        "Replace the organization's settings (call records older than the retention are purged)",
        Access.ADMIN,
        "admin",
        body=TenantSettingsBody,
        response=TenantSettingsView,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/time-zones",
        api_tenant.list_time_zones,
        "The IANA time zones to pick from, and the organization's",
        Access.ADMIN,
        "admin",
        response=TimeZonesView,
    ),
    # --------------------------------------------------------------- prompts
    Endpoint(
        "GET",
        PROMPTS,
        api_tenant.list_prompts,
        "The uploaded prompts, newest first, and the queues and IVRs that play each",
        Access.ADMIN,
        "admin",
        response=PromptListView,
    ),
    Endpoint(
        "POST",
        PROMPTS,
        api_tenant.upload_prompt,
        "Upload a prompt: a PCM WAV file (8-32-bit, mono or stereo, 8-48 kHz), at most 5 MB; "
        "stored as 16 kHz mono",
        Access.ADMIN,
        "admin",
        query=PromptUploadQuery,
        response=PromptView,
        status=201,
        errors=(413, 415, 503),
    ),
    Endpoint(
        "GET",
        f"{PROMPTS}/{{promptId}}/audio",
        api_tenant.play_prompt,
        "An uploaded prompt's audio (audio/wav), to play it in the console",
        Access.ADMIN,
        "admin",
    ),
    Endpoint(
        "DELETE",
        f"{PROMPTS}/{{promptId}}",
        api_tenant.delete_prompt,
        "Delete an uploaded prompt (409 while a queue or IVR plays it)",
        Access.ADMIN,
        "admin",
        status=204,
    ),
    # --------------------------------------------------------------- consent
    Endpoint(
        "GET",
        f"{ADMIN}/consent",
        api_tenant.get_consent,
        "The admin-consent URL and which Microsoft Graph permissions the app is granted",
        Access.ADMIN,
        "admin",
        response=ConsentView,
        errors=(502,),
    ),
)
