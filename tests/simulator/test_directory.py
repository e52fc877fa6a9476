"""The directory through the real msgraph-sdk client against fake Graph: people by name,
mail or sign-in name (with ConsistencyLevel, paged), members of teams, channels and groups,
licences, and throttling."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from contactcenter.errors import NotFound, Throttled
from contactcenter.licences import CallingLicence, calling_licence
from contactcenter.model import MembershipKind
from graph.calling import GraphHttpClient, RetryPolicy, StaticTokenProvider, build_graph_client
from graph.directory import GraphDirectory
from simulator import ChannelEntry, GroupEntry, UserEntry
from tests.simulator.support import BOT_TOKEN, TENANT_ID, Simulator

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*"),
]

NAMES = ("Ana Ruiz", "Anabel Ortiz", "Anatole Petit", "Bruno Ana", "Carla Diaz")
TEAM = "b1111111-0000-4000-8000-000000000001"


def user_id(index: int) -> str:
    return f"d0000000-0000-4000-8000-{index:012d}"


@pytest.fixture
async def directory(simulator: Simulator) -> AsyncIterator[GraphDirectory]:
    for index, name in enumerate(NAMES):
        first = name.split()[0].lower()
        await simulator.control.put_user(
            TENANT_ID,
            UserEntry(
                id=user_id(index),
                display_name=name,
                mail=f"{first}@contoso.example",
                user_principal_name=f"{first}@contoso.example",
                licences="none" if index == 4 else "teams-phone",
            ),
        )
    await simulator.control.put_group(
        TENANT_ID,
        GroupEntry(
            id=TEAM,
            display_name="Billing team",
            team=True,
            member_ids=(user_id(0), user_id(1)),
            channels=(ChannelEntry(id="19:a@thread.tacv2", member_ids=(user_id(1),)),),
        ),
    )
    async with GraphHttpClient(timeout_s=5) as http:
        client = build_graph_client(
            base_url=simulator.url("/v1.0"),
            credential=StaticTokenProvider(BOT_TOKEN),
            httpx_client=http,
        )
        yield GraphDirectory(client, retry=RetryPolicy(max_attempts=1))


async def test_people_are_found_by_a_prefix_of_a_word_of_their_name(
    directory: GraphDirectory,
) -> None:
    page = await directory.search_people(TENANT_ID, "ana")
    assert [p.display_name for p in page.people] == [
        "Ana Ruiz",
        "Anabel Ortiz",
        "Anatole Petit",
        "Bruno Ana",
    ]
    assert page.next_page is None


async def test_people_are_found_by_their_mail(directory: GraphDirectory) -> None:
    page = await directory.search_people(TENANT_ID, "carla@contoso")
    assert [(p.display_name, p.mail, p.upn) for p in page.people] == [
        ("Carla Diaz", "carla@contoso.example", "carla@contoso.example")
    ]


async def test_a_search_comes_in_pages_linked_by_next_link(directory: GraphDirectory) -> None:
    first = await directory.search_people(TENANT_ID, "ana", limit=3)
    assert len(first.people) == 3
    assert first.next_page is not None
    rest = await directory.search_people(TENANT_ID, "ana", next_page=first.next_page)
    assert [p.display_name for p in rest.people] == ["Bruno Ana"]
    assert rest.next_page is None


async def test_search_without_consistency_level_is_refused_as_graph_does(
    simulator: Simulator,
) -> None:
    status, body, _ = await simulator.graph("GET", '/users?$search="displayName:ana"')
    assert status == 400
    assert body["error"]["code"] == "Request_UnsupportedQuery"
    assert "ConsistencyLevel: eventual" in body["error"]["message"]


async def test_an_unknown_person_is_not_found(directory: GraphDirectory) -> None:
    with pytest.raises(NotFound):
        await directory.person(TENANT_ID, "0badc0de-0000-4000-8000-000000000000")


async def test_members_of_a_team_its_channel_and_its_group(directory: GraphDirectory) -> None:
    team = await directory.members(TENANT_ID, MembershipKind.TEAM, TEAM)
    channel = await directory.members(
        TENANT_ID, MembershipKind.CHANNEL, f"{TEAM}/19:a@thread.tacv2"
    )
    group = await directory.members(TENANT_ID, MembershipKind.GROUP, TEAM)
    assert [p.id for p in team] == [user_id(0), user_id(1)]
    assert [p.id for p in channel] == [user_id(1)]
    assert [p.display_name for p in group] == ["Ana Ruiz", "Anabel Ortiz"]


async def test_members_of_an_unknown_team_are_not_found(directory: GraphDirectory) -> None:
    with pytest.raises(NotFound):
        await directory.members(TENANT_ID, MembershipKind.TEAM, "no-such-team")


async def test_licences_say_who_can_take_teams_calls(directory: GraphDirectory) -> None:
    licensed = await directory.service_plans(TENANT_ID, user_id(0))
    unlicensed = await directory.service_plans(TENANT_ID, user_id(4))
    assert calling_licence(licensed) is CallingLicence.TEAMS_PHONE
    assert calling_licence(unlicensed) is CallingLicence.NONE


@pytest.mark.usefixtures("directory")
async def test_a_throttled_search_is_retried_after_the_time_graph_asks(
    simulator: Simulator,
) -> None:
    await simulator.control.add_fault("/v1.0/users", status=429, retry_after=2, count=1)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with GraphHttpClient(timeout_s=5) as http:
        client = build_graph_client(
            base_url=simulator.url("/v1.0"), credential=StaticTokenProvider(BOT_TOKEN),
            httpx_client=http,
        )  # fmt: skip
        directory = GraphDirectory(client, sleep=sleep)
        page = await directory.search_people(TENANT_ID, "carla")
    assert waits == [2.0]
    assert [p.display_name for p in page.people] == ["Carla Diaz"]


async def test_a_search_still_throttled_after_retries_says_so(simulator: Simulator) -> None:
    await simulator.control.add_fault("/v1.0/users", status=429, retry_after=60, count=None)
    async with GraphHttpClient(timeout_s=5) as http:
        client = build_graph_client(
            base_url=simulator.url("/v1.0"), credential=StaticTokenProvider(BOT_TOKEN),
            httpx_client=http,
        )  # fmt: skip
        with pytest.raises(Throttled):
            await GraphDirectory(client).search_people(TENANT_ID, "carla")
