"""Fake Graph's directory: people, the members of groups, teams and channels, licences.

It follows Graph's documented behaviour for what the product asks: ``$search`` on users
needs ``ConsistencyLevel: eventual`` (without it: 400 ``Request_UnsupportedQuery``, Graph's
own message), each clause is a quoted ``"property:words"`` matched word by word as a prefix,
clauses join with OR; pages hold ``$top`` items (users: 100 by default, 999 at most) and
end with an ``@odata.nextLink`` while more remain. Faults (429 with Retry-After, 5xx) come
from the fault injection every fake Graph path goes through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from contactcenter.licences import TEAMS, TEAMS_PHONE, CountedPlan
from simulator.appkeys import DIRECTORY_KEY
from simulator.directory import GroupEntry, UserEntry
from simulator.errors import ApiError

GRAPH_PREFIX = "/v1.0"
_DEFAULT_TOP = 100
_MOST_TOP = 999
_CLAUSE = re.compile(r'"(displayName|mail|userPrincipalName):([^"]*)"')
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SEARCH_NEEDS_HEADER = (
    "Request with $search query parameter only works through MSGraph with a special request "
    "header: 'ConsistencyLevel: eventual'"
)
# The licences a simulated user holds, as SKUs of the plans that count.
_SKUS: dict[str, tuple[str, tuple[CountedPlan, ...]]] = {
    "teams-phone": ("SPE_E5", (TEAMS, TEAMS_PHONE)),
    "teams": ("SPE_E3", (TEAMS,)),
}


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _matches(user: UserEntry, clauses: Sequence[tuple[str, str]]) -> bool:
    values = {
        "displayName": user.display_name,
        "mail": user.mail,
        "userPrincipalName": user.user_principal_name,
    }
    for field, wanted in clauses:
        tokens = _words(values[field])
        if all(any(t.startswith(w) for t in tokens) for w in _words(wanted)):
            return True
    return False


def _user_json(user: UserEntry) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": user.id,
        "displayName": user.display_name,
        "mail": user.mail or None,
        "userPrincipalName": user.user_principal_name or None,
    }


def _top(request: web.Request, default: int) -> int:
    raw = request.query.get("$top", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= _MOST_TOP:
        raise ApiError(400, f"Invalid page size specified: '{raw}'. Must be between 1 and 999.")
    return int(raw)


def _page(request: web.Request, items: list[dict[str, Any]], default_top: int) -> web.Response:
    """Answer one page of ``items``, with a nextLink while more remain."""
    top = _top(request, default_top)
    skip_token = request.query.get("$skiptoken", "0")
    if not skip_token.isdigit():
        raise ApiError(400, "Invalid skip token.", code="Directory_ExpiredPageToken")
    start = int(skip_token)
    body: dict[str, Any] = {"value": items[start : start + top]}
    if start + top < len(items):
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = str(start + top)
        body["@odata.nextLink"] = (
            f"{request.url.origin()}{request.path}?{urlencode(query, quote_via=quote)}"
        )
    return web.json_response(body)


async def list_users(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/users: with $search (ConsistencyLevel: eventual), paged."""
    directory = request.app[DIRECTORY_KEY]
    search = request.query.get("$search")
    users = directory.every_user()
    if search is not None:
        if request.headers.get("ConsistencyLevel", "").lower() != "eventual":
            raise ApiError(400, _SEARCH_NEEDS_HEADER, code="Request_UnsupportedQuery")
        clauses = _CLAUSE.findall(search)
        remainder = _CLAUSE.sub("", search).replace(" OR ", "").strip()
        if not clauses or remainder:
            raise ApiError(
                400, f"Syntax error: '{search}' is not a valid search.", code="BadRequest"
            )
        users = [u for u in users if _matches(u, clauses)]
    users.sort(key=lambda u: u.display_name.casefold())
    return _page(request, [_user_json(u) for u in users], _DEFAULT_TOP)


async def list_groups(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/groups: with $search on displayName (ConsistencyLevel: eventual), paged."""
    directory = request.app[DIRECTORY_KEY]
    search = request.query.get("$search")
    groups = directory.every_group()
    if search is not None:
        if request.headers.get("ConsistencyLevel", "").lower() != "eventual":
            raise ApiError(400, _SEARCH_NEEDS_HEADER, code="Request_UnsupportedQuery")
        clauses = _CLAUSE.findall(search)
        if not clauses or any(field != "displayName" for field, _ in clauses):
            raise ApiError(
                400, f"Syntax error: '{search}' is not a valid search.", code="BadRequest"
            )
        groups = [
            g
            for g in groups
            if any(
                all(any(t.startswith(w) for t in _words(g.display_name)) for w in _words(wanted))
                for _, wanted in clauses
            )
        ]
    groups.sort(key=lambda g: g.display_name.casefold())
    items = [
        {
            "id": g.id,
            "displayName": g.display_name,
            "resourceProvisioningOptions": ["Team"] if g.team else [],
        }
        for g in groups
    ]
    return _page(request, items, _DEFAULT_TOP)


def _user(request: web.Request) -> UserEntry:
    user_id = request.match_info["user_id"]
    found = request.app[DIRECTORY_KEY].user(user_id) or request.app[DIRECTORY_KEY].user(
        user_id.lower()
    )
    if found is None:
        raise ApiError(
            404,
            f"Resource '{user_id}' does not exist or one of its queried reference-property "
            "objects are not present.",
            code="Request_ResourceNotFound",
        )
    return found[1]


async def get_user(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/users/{id}."""
    return web.json_response(_user_json(_user(request)))


async def list_licence_details(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/users/{id}/licenseDetails: the user's licences and their service plans."""
    user = _user(request)
    held = _SKUS.get(user.licences)
    value = []
    if held is not None:
        sku, plans = held
        value.append(
            {
                "id": f"{user.id}-{sku}",
                "skuPartNumber": sku,
                "servicePlans": [
                    {
                        "servicePlanId": plan.plan_id,
                        "servicePlanName": plan.name,
                        "provisioningStatus": "Success",
                        "appliesTo": "User",
                    }
                    for plan in plans
                ],
            }
        )
    return web.json_response({"value": value})


def _group(request: web.Request, *, team: bool) -> GroupEntry:
    group_id = request.match_info["group_id"]
    group = request.app[DIRECTORY_KEY].group(group_id)
    if group is None or (team and not group.team):
        if team:
            raise ApiError(404, f"No team found with Group Id {group_id}", code="NotFound")
        raise ApiError(
            404,
            f"Resource '{group_id}' does not exist or one of its queried reference-property "
            "objects are not present.",
            code="Request_ResourceNotFound",
        )
    return group


def _known_users(request: web.Request, ids: Sequence[str]) -> list[UserEntry]:
    directory = request.app[DIRECTORY_KEY]
    found = [directory.user(user_id) for user_id in ids]
    return [entry[1] for entry in found if entry is not None]


async def list_group_members(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/groups/{id}/members: directory objects (here users), paged."""
    group = _group(request, team=False)
    users = _known_users(request, group.member_ids)
    return _page(request, [_user_json(u) for u in users], _DEFAULT_TOP)


def _conversation_member(user: UserEntry, scope: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "id": f"{scope}:{user.id}",
        "roles": [],
        "displayName": user.display_name,
        "userId": user.id,
        "email": user.mail or None,
    }


def _members_of(request: web.Request, ids: Sequence[str], scope: str) -> web.Response:
    users = _known_users(request, ids)
    return _page(request, [_conversation_member(u, scope) for u in users], _DEFAULT_TOP)


async def list_team_members(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/teams/{id}/members: the team's conversation members."""
    team = _group(request, team=True)
    return _members_of(request, team.member_ids, team.id)


async def list_channel_members(request: web.Request) -> web.StreamResponse:
    """GET /v1.0/teams/{id}/channels/{channel_id}/members."""
    team = _group(request, team=True)
    channel_id = request.match_info["channel_id"]
    channel = next((c for c in team.channels if c.id == channel_id), None)
    if channel is None:
        raise ApiError(404, f"Channel {channel_id} not found in team {team.id}.", code="NotFound")
    return _members_of(request, channel.member_ids, channel.id)


def add_directory_routes(app: web.Application) -> None:
    """Serve fake Graph's users, groups, teams and channels members, and licences."""
    router = app.router
    routes: list[tuple[str, Callable[[web.Request], Any]]] = [
        (f"{GRAPH_PREFIX}/users", list_users),
        (f"{GRAPH_PREFIX}/users/{{user_id}}", get_user),
        (f"{GRAPH_PREFIX}/users/{{user_id}}/licenseDetails", list_licence_details),
        (f"{GRAPH_PREFIX}/groups", list_groups),
        (f"{GRAPH_PREFIX}/groups/{{group_id}}/members", list_group_members),
        (f"{GRAPH_PREFIX}/teams/{{group_id}}/members", list_team_members),
        (
            f"{GRAPH_PREFIX}/teams/{{group_id}}/channels/{{channel_id}}/members",
            list_channel_members,
        ),
    ]
    for path, handler in routes:
        router.add_get(path, handler)
