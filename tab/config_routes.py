"""The caller-experience configuration routes of the tab API (part of the one route table)."""

from __future__ import annotations

from tab import api_config
from tab.config_schemas import (
    CallerListsBody,
    CallerListsView,
    ClosedNowBody,
    ClosedNowListView,
    ClosedNowView,
    IvrBindingBody,
    IvrBindingView,
    IvrBody,
    IvrListView,
    IvrView,
)
from tab.endpoints import Access, Endpoint

API = "/api/tab"
IVRS = f"{API}/admin/ivrs"
CALLER_LISTS = f"{API}/admin/caller-lists"
SUPERVISION = f"{API}/supervision"
# The emergency switch: admins, and supervisors for the queues they supervise (checked by
# the handlers, as for the other supervision routes).
_SWITCH_NOTE = " Admins, and supervisors of the queues concerned."

CONFIG_ENDPOINTS: tuple[Endpoint, ...] = (
    # ------------------------------------------------------------------- IVRs
    Endpoint(
        "GET",
        IVRS,
        api_config.list_ivrs,
        "List IVRs (auto attendants)",
        Access.ADMIN,
        "admin",
        response=IvrListView,
    ),
    Endpoint(
        "POST",
        IVRS,
        api_config.create_ivr,
        "Create an IVR",
        Access.ADMIN,
        "admin",
        body=IvrBody,
        response=IvrView,
        status=201,
    ),
    Endpoint(
        "GET",
        f"{IVRS}/{{ivrId}}",
        api_config.get_ivr,
        "Get an IVR",
        Access.ADMIN,
        "admin",
        response=IvrView,
    ),
    Endpoint(
        "PUT",
        f"{IVRS}/{{ivrId}}",
        api_config.update_ivr,
        "Replace an IVR's configuration",
        Access.ADMIN,
        "admin",
        body=IvrBody,
        response=IvrView,
        errors=(412,),
    ),
    Endpoint(
        "DELETE",
        f"{IVRS}/{{ivrId}}",
        api_config.delete_ivr,
        "Delete an IVR nothing is bound to",
        Access.ADMIN,
        "admin",
        status=204,
    ),
    Endpoint(
        "POST",
        f"{IVRS}/{{ivrId}}/bindings",
        api_config.bind_to_ivr,
        "Bind a resource account or number to an IVR",
        Access.ADMIN,
        "admin",
        body=IvrBindingBody,
        response=IvrBindingView,
        status=201,
    ),
    # ----------------------------------------------------------- caller lists
    Endpoint(
        "GET",
        CALLER_LISTS,
        api_config.get_caller_lists,
        "The blocked and VIP callers",
        Access.ADMIN,
        "admin",
        response=CallerListsView,
    ),
    Endpoint(
        "PUT",
        CALLER_LISTS,
        api_config.replace_caller_lists,
        "Replace the blocked and VIP callers",
        Access.ADMIN,
        "admin",
        body=CallerListsBody,
        response=CallerListsView,
        errors=(412,),
    ),
    # ------------------------------------------------------------- closed now
    Endpoint(
        "GET",
        f"{SUPERVISION}/closed-now",
        api_config.list_closed_now,
        "The queues and IVRs I may close now, and whether they are." + _SWITCH_NOTE,
        Access.STAFF,
        "supervision",
        response=ClosedNowListView,
    ),
    Endpoint(
        "POST",
        f"{SUPERVISION}/queues/{{queueId}}/closed-now",
        api_config.set_queue_closed_now,
        "Close a queue now whatever its hours say, or open it again." + _SWITCH_NOTE,
        Access.STAFF,
        "supervision",
        body=ClosedNowBody,
        response=ClosedNowView,
    ),
    Endpoint(
        "POST",
        f"{SUPERVISION}/ivrs/{{ivrId}}/closed-now",
        api_config.set_ivr_closed_now,
        "Close an IVR now whatever its hours say, or open it again." + _SWITCH_NOTE,
        Access.STAFF,
        "supervision",
        body=ClosedNowBody,
        response=ClosedNowView,
    ),
)
