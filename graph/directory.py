"""The organization's directory through msgraph-sdk's client: people, members, licences.

:class:`GraphDirectory` implements :class:`~contactcenter.ports.Directory`:

* people by name, mail or sign-in name: ``GET /users?$search="displayName:ana" OR
  "mail:ana" OR "userPrincipalName:ana"`` with ``ConsistencyLevel: eventual`` (which
  ``$search`` on directory objects requires), paged by ``@odata.nextLink``;
* one person: ``GET /users/{id}``; their licences: ``GET /users/{id}/licenseDetails``;
* members: ``GET /groups/{id}/members``, ``GET /teams/{id}/members``,
  ``GET /teams/{id}/channels/{id}/members``, every page.

Requests go through the SDK's request adapter (its authentication and middleware) and
answers are read as JSON, as in :mod:`graph.calling`, which also gives the retries (429
with ``Retry-After``, 503, 504) and the translation of errors into the domain's.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph import GraphServiceClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from contactcenter.errors import CallControlError, InvalidInput
from contactcenter.model import MembershipKind
from contactcenter.ports import DirectoryGroup, DirectoryPerson, PeoplePage, ServicePlan
from graph.calling import _ERROR_MAPPING, RetryPolicy, _Retrier

_PERSON_FIELDS = "id,displayName,mail,userPrincipalName"
# Graph's largest page of directory objects.
_MEMBERS_PAGE = 999
# Pages followed for one list of members (999 each): a bound on a runaway nextLink chain.
_MOST_PAGES = 100
_USER_TYPE = "#microsoft.graph.user"


class _Json(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


_R = TypeVar("_R", bound=_Json)


class _User(_Json):
    id: str = ""
    display_name: str | None = None
    mail: str | None = None
    user_principal_name: str | None = None
    odata_type: str | None = Field(default=None, alias="@odata.type")


class _Users(_Json):
    value: list[_User] = Field(default_factory=list)
    next_link: str | None = Field(default=None, alias="@odata.nextLink")


class _Group(_Json):
    id: str = ""
    display_name: str | None = None
    resource_provisioning_options: list[str] = Field(default_factory=list)


class _Groups(_Json):
    value: list[_Group] = Field(default_factory=list)


class _ConversationMember(_Json):
    user_id: str | None = None
    display_name: str | None = None
    email: str | None = None


class _ConversationMembers(_Json):
    value: list[_ConversationMember] = Field(default_factory=list)
    next_link: str | None = Field(default=None, alias="@odata.nextLink")


class _Plan(_Json):
    service_plan_id: str = ""
    service_plan_name: str = ""
    provisioning_status: str = ""


class _LicenceDetails(_Json):
    sku_part_number: str | None = None
    service_plans: list[_Plan] = Field(default_factory=list)


class _Licences(_Json):
    value: list[_LicenceDetails] = Field(default_factory=list)


def _person(user: _User) -> DirectoryPerson:
    return DirectoryPerson(
        id=user.id.lower(),
        display_name=user.display_name or user.user_principal_name or user.id,
        mail=user.mail or "",
        upn=user.user_principal_name or "",
    )


def search_clause(text: str) -> str:
    """Return the ``$search`` value for people whose name, mail or sign-in name match ``text``."""
    # Each clause is a quoted "property:words"; quotes and backslashes cannot be escaped there.
    words = " ".join(text.replace('"', " ").replace("\\", " ").split())[:64]
    if not words:
        raise InvalidInput("type part of a name, mail or sign-in name", field="text")
    return " OR ".join(
        f'"{field}:{words}"' for field in ("displayName", "mail", "userPrincipalName")
    )


class GraphDirectory:
    """People, the members of teams, channels and groups, and licences, from Graph."""

    def __init__(
        self,
        client: GraphServiceClient,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random_fraction: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._adapter = client.request_adapter
        self._base = str(self._adapter.base_url).rstrip("/")
        self._retrier = _Retrier(retry or RetryPolicy(), sleep, random_fraction, monotonic)

    async def search_people(
        self, tenant_id: str, text: str, *, limit: int = 25, next_page: str | None = None
    ) -> PeoplePage:
        """Return people whose name, mail or sign-in name starts with a word of ``text``."""
        if next_page is not None:
            if not next_page.startswith(f"{self._base}/users?"):
                raise InvalidInput("not a page of this search", field="nextPage")
            url = next_page
        else:
            query = {
                "$search": search_clause(text),
                "$select": _PERSON_FIELDS,
                "$top": str(max(1, min(limit, 100))),
            }
            url = f"{self._base}/users?{urlencode(query, quote_via=quote)}"
        page = await self._get(url, _Users, "search people", tenant_id, eventual=True)
        return PeoplePage(
            people=tuple(_person(u) for u in page.value if u.id), next_page=page.next_link
        )

    async def search_groups(self, tenant_id: str, text: str) -> list[DirectoryGroup]:
        """Return groups and teams whose name starts with a word of ``text`` (the first page)."""
        words = " ".join(text.replace('"', " ").replace("\\", " ").split())[:64]
        if not words:
            raise InvalidInput("type part of a team's or group's name", field="text")
        query = {
            "$search": f'"displayName:{words}"',
            "$select": "id,displayName,resourceProvisioningOptions",
            "$top": "25",
        }
        url = f"{self._base}/groups?{urlencode(query, quote_via=quote)}"
        groups = await self._get(url, _Groups, "search groups", tenant_id, eventual=True)
        return [
            DirectoryGroup(
                id=g.id,
                display_name=g.display_name or g.id,
                team="Team" in g.resource_provisioning_options,
            )
            for g in groups.value
            if g.id
        ]

    async def person(self, tenant_id: str, user_id: str) -> DirectoryPerson:
        """Return one person by object id; raise NotFound when the directory has none."""
        url = f"{self._base}/users/{quote(user_id, safe='')}?$select={_PERSON_FIELDS}"
        return _person(await self._get(url, _User, "read person", tenant_id))

    async def members(
        self, tenant_id: str, kind: MembershipKind, source_id: str
    ) -> list[DirectoryPerson]:
        """Return every person who is a member of a team, channel ("team/channel") or group."""
        if kind is MembershipKind.GROUP:
            url = (
                f"{self._base}/groups/{quote(source_id, safe='')}/members"
                f"?$select={_PERSON_FIELDS}&$top={_MEMBERS_PAGE}"
            )
            users: list[DirectoryPerson] = []
            for _ in range(_MOST_PAGES):
                page = await self._get(url, _Users, "list group members", tenant_id)
                users += [
                    _person(u) for u in page.value if u.id and u.odata_type in (None, _USER_TYPE)
                ]
                if page.next_link is None:
                    return users
                url = page.next_link
            return users
        if kind is MembershipKind.TEAM:
            url = f"{self._base}/teams/{quote(source_id, safe='')}/members"
        else:
            team_id, _, channel_id = source_id.partition("/")
            if not team_id or not channel_id:
                raise InvalidInput("a channel is named as team id/channel id", field="sourceId")
            url = (
                f"{self._base}/teams/{quote(team_id, safe='')}/channels/"
                f"{quote(channel_id, safe='')}/members"
            )
        people: list[DirectoryPerson] = []
        for _ in range(_MOST_PAGES):
            members = await self._get(url, _ConversationMembers, f"list {kind} members", tenant_id)
            people += [
                DirectoryPerson(
                    id=m.user_id.lower(),
                    display_name=m.display_name or m.email or m.user_id,
                    mail=m.email or "",
                )
                for m in members.value
                if m.user_id
            ]
            if members.next_link is None:
                break
            url = members.next_link
        return people

    async def service_plans(self, tenant_id: str, user_id: str) -> list[ServicePlan]:
        """Return the service plans of every licence the person holds."""
        url = f"{self._base}/users/{quote(user_id, safe='')}/licenseDetails"
        licences = await self._get(url, _Licences, "read licences", tenant_id)
        return [
            ServicePlan(
                name=plan.service_plan_name,
                provisioning_status=plan.provisioning_status,
                sku=licence.sku_part_number or "",
                plan_id=plan.service_plan_id,
            )
            for licence in licences.value
            for plan in licence.service_plans
        ]

    async def _get(
        self, url: str, response: type[_R], action: str, tenant_id: str, *, eventual: bool = False
    ) -> _R:
        request = RequestInformation()
        request.http_method = Method.GET
        request.url = url
        request.headers.try_add("Accept", "application/json")
        if eventual:
            request.headers.try_add("ConsistencyLevel", "eventual")

        async def send() -> Any:
            return await self._adapter.send_primitive_async(request, "bytes", _ERROR_MAPPING)

        raw = await self._retrier.run(action, f"tenant {tenant_id}", send, idempotent=True)
        try:
            return response.model_validate(json.loads(raw or b"{}"))
        except (ValueError, ValidationError) as err:
            raise CallControlError(f"Graph {action}: the answer is not the expected JSON") from err
