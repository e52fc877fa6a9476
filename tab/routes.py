"""Every route of the tab API, in one table (the OpenAPI document is generated from it)."""

from __future__ import annotations

from importlib import metadata

from aiohttp import web

from tab import api_admin, api_agent, api_privacy, demo, events
from tab.analytics_routes import ANALYTICS_ENDPOINTS
from tab.config_routes import CONFIG_ENDPOINTS
from tab.endpoints import Access, Endpoint, TabRequest
from tab.openapi import build_openapi
from tab.people_routes import PEOPLE_ENDPOINTS
from tab.schemas import (
    AgentSkillsBody,
    AuditPageView,
    AuditQuery,
    BindingBody,
    BindingListView,
    BindingView,
    CallsQuery,
    CallsView,
    DemoTokenBody,
    DemoUsersView,
    MeView,
    QueueBody,
    QueueListView,
    QueuesLiveView,
    QueueView,
    RolesBody,
    SeatCountBody,
    SeatsView,
    StatusBody,
    SupervisedQueuesBody,
    TokenView,
    UserAdminView,
    UserBody,
    UserListView,
)
from tab.tenant_routes import TENANT_ENDPOINTS
from tab.voicemail_routes import VOICEMAIL_ENDPOINTS
from tab.work_routes import WORK_ENDPOINTS

API = "/api/tab"
ME = f"{API}/me"
ADMIN = f"{API}/admin"


async def openapi_document(call: TabRequest) -> web.StreamResponse:
    """Describe this API (OpenAPI 3.1)."""
    try:
        version = metadata.version("contact-center-teams")
    except metadata.PackageNotFoundError:
        version = "0.0.0"
    document = build_openapi(
        ENDPOINTS, version=version, server_url=call.deps.settings.public_base_url
    )
    return web.json_response(document)


ENDPOINTS: tuple[Endpoint, ...] = (
    # ------------------------------------------------------------- public
    Endpoint(
        "GET",
        f"{API}/openapi.json",
        openapi_document,
        "This API's OpenAPI document",
        Access.PUBLIC,
        "meta",
    ),
    Endpoint(
        "GET",
        f"{API}/demo/users",
        demo.demo_users,
        "Demo sign-in: the users to pick from",
        Access.DEMO,
        "demo",
        response=DemoUsersView,
    ),
    Endpoint(
        "POST",
        f"{API}/demo/token",
        demo.demo_token,
        "Demo sign-in: a token for a user",
        Access.DEMO,
        "demo",
        body=DemoTokenBody,
        response=TokenView,
    ),
    # ------------------------------------------------------------ me
    Endpoint(
        "GET",
        ME,
        api_agent.get_me,
        "Who I am: user, roles, agent state and offer",
        Access.SIGNED_IN,
        "me",
        response=MeView,
    ),
    Endpoint(
        "GET",
        f"{API}/events",
        events.stream_events,
        "Live updates of my state and my queues (server-sent events)",
        Access.SIGNED_IN,
        "me",
        stream=True,
    ),
    Endpoint(
        "POST",
        f"{ME}/status",
        api_agent.set_my_status,
        "Set my status",
        Access.AGENT,
        "agent",
        body=StatusBody,
        response=MeView,
    ),
    Endpoint(
        "POST",
        f"{ME}/queues/{{queueId}}/sign-in",
        api_agent.sign_in_to_queue,
        "Sign in to one of my queues",
        Access.AGENT,
        "agent",
        response=MeView,
    ),
    Endpoint(
        "POST",
        f"{ME}/queues/{{queueId}}/sign-out",
        api_agent.sign_out_of_queue,
        "Sign out of one of my queues",
        Access.AGENT,
        "agent",
        response=MeView,
    ),
    Endpoint(
        "POST",
        f"{ME}/wrap-up/end",
        api_agent.end_my_wrap_up,
        "End my wrap-up now",
        Access.AGENT,
        "agent",
        response=MeView,
    ),
    Endpoint(
        "POST",
        f"{ME}/offers/{{callId}}/accept",
        api_agent.accept_offer,
        "Accept a card-first offer",
        Access.AGENT,
        "agent",
        response=MeView,
    ),
    Endpoint(
        "POST",
        f"{ME}/offers/{{callId}}/decline",
        api_agent.decline_offer,
        "Decline an offer",
        Access.AGENT,
        "agent",
        response=MeView,
    ),
    Endpoint(
        "GET",
        f"{ME}/calls",
        api_agent.my_calls,
        "My recent calls",
        Access.AGENT,
        "agent",
        query=CallsQuery,
        response=CallsView,
    ),
    Endpoint(
        "GET",
        f"{API}/queues/live",
        api_agent.live_queues,
        "My queues' live numbers",
        Access.STAFF,
        "queues",
        response=QueuesLiveView,
    ),
    # --------------------------------------------------------- admin
    Endpoint(
        "GET",
        f"{ADMIN}/queues",
        api_admin.list_queues,
        "List queues",
        Access.ADMIN,
        "admin",
        response=QueueListView,
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/queues",
        api_admin.create_queue,
        "Create a queue",
        Access.ADMIN,
        "admin",
        body=QueueBody,
        response=QueueView,
        status=201,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/queues/{{queueId}}",
        api_admin.get_queue,
        "Get a queue",
        Access.ADMIN,
        "admin",
        response=QueueView,
    ),
    Endpoint(
        "PUT",
        f"{ADMIN}/queues/{{queueId}}",
        api_admin.update_queue,
        "Replace a queue's configuration",
        Access.ADMIN,
        "admin",
        body=QueueBody,
        response=QueueView,
        errors=(412,),
    ),
    Endpoint(
        "DELETE",
        f"{ADMIN}/queues/{{queueId}}",
        api_admin.delete_queue,
        "Delete a queue",
        Access.ADMIN,
        "admin",
        status=204,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/bindings",
        api_admin.list_bindings,
        "List bindings",
        Access.ADMIN,
        "admin",
        response=BindingListView,
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/bindings",
        api_admin.create_binding,
        "Bind a resource account or number to a queue",
        Access.ADMIN,
        "admin",
        body=BindingBody,
        response=BindingView,
        status=201,
    ),
    Endpoint(
        "DELETE",
        f"{ADMIN}/bindings/{{bindingId}}",
        api_admin.delete_binding,
        "Delete a binding",
        Access.ADMIN,
        "admin",
        status=204,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/users",
        api_admin.list_users,
        "List users and their roles",
        Access.ADMIN,
        "admin",
        response=UserListView,
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/users",
        api_admin.create_user,
        "Add a user",
        Access.ADMIN,
        "admin",
        body=UserBody,
        response=UserAdminView,
        status=201,
    ),
    Endpoint(
        "PUT",
        f"{ADMIN}/users/{{userId}}/roles",
        api_admin.set_user_roles,
        "Set a user's roles",
        Access.ADMIN,
        "admin",
        body=RolesBody,
        response=UserAdminView,
    ),
    Endpoint(
        "PUT",
        f"{ADMIN}/agents/{{agentId}}/skills",
        api_admin.set_agent_skills,
        "Set an agent's skills and their levels",
        Access.ADMIN,
        "admin",
        body=AgentSkillsBody,
        response=UserAdminView,
    ),
    Endpoint(
        "PUT",
        f"{ADMIN}/users/{{userId}}/supervised-queues",
        api_admin.set_supervised_queues,
        "Set the queues a supervisor watches (every queue, or those named)",
        Access.ADMIN,
        "admin",
        body=SupervisedQueuesBody,
        response=UserAdminView,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/users/{{userId}}/export",
        api_privacy.export_user_data,
        "Export everything stored about a user",
        Access.ADMIN,
        "admin",
        response=api_privacy.UserExportView,
    ),
    Endpoint(
        "DELETE",
        f"{ADMIN}/users/{{userId}}/personal-data",
        api_privacy.erase_personal_data,
        "Erase a user's personal data",
        Access.ADMIN,
        "admin",
        response=api_privacy.ErasureView,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/callers/{{number}}/export",
        api_privacy.export_caller_data,
        "Export everything stored about a phone caller (by E.164 number)",
        Access.ADMIN,
        "admin",
        response=api_privacy.CallerExportView,
        errors=(422,),
    ),
    Endpoint(
        "DELETE",
        f"{ADMIN}/callers/{{number}}/personal-data",
        api_privacy.erase_caller_data,
        "Erase a phone caller's personal data (by E.164 number)",
        Access.ADMIN,
        "admin",
        response=api_privacy.ErasureView,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/seats",
        api_admin.get_seats,
        "Seats: how many, and who holds one",
        Access.ADMIN,
        "admin",
        response=SeatsView,
    ),
    Endpoint(
        "PUT",
        f"{ADMIN}/seats",
        api_admin.set_seat_count,
        "Set the number of seats",
        Access.ADMIN,
        "admin",
        body=SeatCountBody,
        response=SeatsView,
    ),
    Endpoint(
        "PUT",
        f"{ADMIN}/seats/{{agentId}}",
        api_admin.assign_seat,
        "Give an agent a seat",
        Access.ADMIN,
        "admin",
        response=SeatsView,
    ),
    Endpoint(
        "DELETE",
        f"{ADMIN}/seats/{{agentId}}",
        api_admin.release_seat,
        "Take an agent's seat back",
        Access.ADMIN,
        "admin",
        response=SeatsView,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/audit",
        api_admin.audit_log,
        "The audit log, newest first",
        Access.ADMIN,
        "admin",
        query=AuditQuery,
        response=AuditPageView,
    ),
    # ------------------------------------------ reports, wallboard, supervision
    *ANALYTICS_ENDPOINTS,
    # ------------------------------------------ caller experience configuration
    *CONFIG_ENDPOINTS,
    # ------------------------------------------ after-call work
    *WORK_ENDPOINTS,
    # ------------------------------------------ organization-wide settings
    *TENANT_ENDPOINTS,
    *PEOPLE_ENDPOINTS,
    *VOICEMAIL_ENDPOINTS,
)
