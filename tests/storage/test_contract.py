"""The Store contract: every implementation must pass every test here."""

from __future__ import annotations

import asyncio
import copy
import math
from types import MappingProxyType
from typing import Any

import pytest

from contactcenter.errors import Conflict, InvalidInput, NotFound
from contactcenter.ports import Condition, Op, Store, StoredDocument

CALLS = "calls"
TENANT = "tenant-a"
OTHER_TENANT = "tenant-b"


async def _seed(store: Store, values: dict[str, Any], *, tenant_id: str = TENANT) -> None:
    """Create one call per id whose ``n`` field holds the given value."""
    for doc_id, value in values.items():
        await store.create(CALLS, tenant_id, doc_id, {"n": value, "id": doc_id})


async def _ids(store: Store, tenant_id: str | None, *where: Condition) -> set[str]:
    page = await store.query(CALLS, tenant_id, where)
    assert page.continuation is None
    return {doc.id for doc in page.documents}


async def _all_pages(store: Store, limit: int, **kwargs: Any) -> list[StoredDocument]:
    found: list[StoredDocument] = []
    continuation: str | None = None
    for _ in range(100):
        page = await store.query(CALLS, TENANT, limit=limit, continuation=continuation, **kwargs)
        assert len(page.documents) <= limit
        found.extend(page.documents)
        continuation = page.continuation
        if continuation is None:
            return found
    raise AssertionError("paging did not end")


# ------------------------------------------------------------------ create and read
async def test_create_then_read_returns_the_body_and_etag(store: Store) -> None:
    created = await store.create(CALLS, TENANT, "c1", {"state": "queued", "priority": 2})

    read = await store.read(CALLS, TENANT, "c1")

    assert (read.collection, read.tenant_id, read.id) == (CALLS, TENANT, "c1")
    assert read.body == {"state": "queued", "priority": 2}
    assert created.body == read.body
    assert read.etag == created.etag
    assert read.etag


async def test_creating_an_existing_id_is_a_conflict_and_keeps_the_first(store: Store) -> None:
    first = await store.create(CALLS, TENANT, "c1", {"v": 1})

    with pytest.raises(Conflict):
        await store.create(CALLS, TENANT, "c1", {"v": 2})

    read = await store.read(CALLS, TENANT, "c1")
    assert read.body == {"v": 1}
    assert read.etag == first.etag


async def test_reading_a_missing_document_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.read(CALLS, TENANT, "nope")


async def test_the_same_id_in_another_collection_or_tenant_is_another_document(
    store: Store,
) -> None:
    await store.create(CALLS, TENANT, "x", {"where": "calls/a"})
    await store.create("agents", TENANT, "x", {"where": "agents/a"})
    await store.create(CALLS, OTHER_TENANT, "x", {"where": "calls/b"})

    assert (await store.read(CALLS, TENANT, "x")).body == {"where": "calls/a"}
    assert (await store.read("agents", TENANT, "x")).body == {"where": "agents/a"}
    assert (await store.read(CALLS, OTHER_TENANT, "x")).body == {"where": "calls/b"}
    with pytest.raises(NotFound):
        await store.read("agents", OTHER_TENANT, "x")


# ------------------------------------------------------------- compare-and-set
async def test_replace_with_the_current_etag_succeeds_and_changes_the_etag(store: Store) -> None:
    created = await store.create(CALLS, TENANT, "c1", {"v": 1})

    replaced = await store.replace(CALLS, TENANT, "c1", {"v": 2}, if_match=created.etag)

    assert replaced.etag != created.etag
    assert replaced.body == {"v": 2}
    read = await store.read(CALLS, TENANT, "c1")
    assert read.body == {"v": 2}
    assert read.etag == replaced.etag


async def test_replace_with_a_stale_etag_is_a_conflict_and_changes_nothing(store: Store) -> None:
    created = await store.create(CALLS, TENANT, "c1", {"v": 1})
    current = await store.replace(CALLS, TENANT, "c1", {"v": 2}, if_match=created.etag)

    with pytest.raises(Conflict):
        await store.replace(CALLS, TENANT, "c1", {"v": 3}, if_match=created.etag)

    read = await store.read(CALLS, TENANT, "c1")
    assert read.body == {"v": 2}
    assert read.etag == current.etag


async def test_replacing_a_missing_document_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.replace(CALLS, TENANT, "nope", {"v": 1}, if_match="any")


async def test_an_etag_does_not_survive_delete_and_recreate(store: Store) -> None:
    first = await store.create(CALLS, TENANT, "c1", {"v": 1})
    await store.delete(CALLS, TENANT, "c1")
    await store.create(CALLS, TENANT, "c1", {"v": 2})

    with pytest.raises(Conflict):
        await store.replace(CALLS, TENANT, "c1", {"v": 3}, if_match=first.etag)


async def test_of_two_stale_writers_exactly_one_wins(store: Store) -> None:
    await store.create("agents", TENANT, "a1", {"currentCallId": None})
    seen_by_first = await store.read("agents", TENANT, "a1")
    seen_by_second = await store.read("agents", TENANT, "a1")

    outcomes = await asyncio.gather(
        store.replace(
            "agents", TENANT, "a1", {"currentCallId": "call-1"}, if_match=seen_by_first.etag
        ),
        store.replace(
            "agents", TENANT, "a1", {"currentCallId": "call-2"}, if_match=seen_by_second.etag
        ),
        return_exceptions=True,
    )

    winners = [o for o in outcomes if isinstance(o, StoredDocument)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], Conflict)
    stored = await store.read("agents", TENANT, "a1")
    assert stored.body == winners[0].body
    assert stored.etag == winners[0].etag


async def test_many_writers_racing_on_many_documents_each_have_one_winner(store: Store) -> None:
    etags = {}
    for n in range(10):
        etags[f"a{n}"] = (await store.create("agents", TENANT, f"a{n}", {"claim": None})).etag

    attempts = [
        store.replace("agents", TENANT, doc_id, {"claim": f"call-{k}"}, if_match=etag)
        for doc_id, etag in etags.items()
        for k in range(3)
    ]
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)

    winners = [o for o in outcomes if isinstance(o, StoredDocument)]
    assert sorted(w.id for w in winners) == sorted(etags)
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, StoredDocument))
    for winner in winners:
        assert (await store.read("agents", TENANT, winner.id)).body == winner.body


# ----------------------------------------------------------------------- upsert
async def test_upsert_creates_a_missing_document(store: Store) -> None:
    upserted = await store.upsert(CALLS, TENANT, "c1", {"v": 1})

    read = await store.read(CALLS, TENANT, "c1")
    assert read.body == {"v": 1}
    assert read.etag == upserted.etag


async def test_upsert_overwrites_an_existing_document_and_changes_the_etag(store: Store) -> None:
    created = await store.create(CALLS, TENANT, "c1", {"v": 1, "old": True})

    upserted = await store.upsert(CALLS, TENANT, "c1", {"v": 2})

    assert upserted.etag != created.etag
    read = await store.read(CALLS, TENANT, "c1")
    assert read.body == {"v": 2}
    assert read.etag == upserted.etag
    with pytest.raises(Conflict):
        await store.replace(CALLS, TENANT, "c1", {"v": 3}, if_match=created.etag)


# ----------------------------------------------------------------------- delete
async def test_delete_without_an_etag_removes_the_document(store: Store) -> None:
    await store.create(CALLS, TENANT, "c1", {"v": 1})

    await store.delete(CALLS, TENANT, "c1")

    with pytest.raises(NotFound):
        await store.read(CALLS, TENANT, "c1")


async def test_delete_with_the_current_etag_removes_the_document(store: Store) -> None:
    created = await store.create(CALLS, TENANT, "c1", {"v": 1})

    await store.delete(CALLS, TENANT, "c1", if_match=created.etag)

    with pytest.raises(NotFound):
        await store.read(CALLS, TENANT, "c1")


async def test_delete_with_a_stale_etag_is_a_conflict_and_keeps_the_document(
    store: Store,
) -> None:
    created = await store.create(CALLS, TENANT, "c1", {"v": 1})
    await store.replace(CALLS, TENANT, "c1", {"v": 2}, if_match=created.etag)

    with pytest.raises(Conflict):
        await store.delete(CALLS, TENANT, "c1", if_match=created.etag)

    assert (await store.read(CALLS, TENANT, "c1")).body == {"v": 2}


@pytest.mark.parametrize("if_match", [None, "any"])
async def test_deleting_a_missing_document_is_not_found(store: Store, if_match: str | None) -> None:
    with pytest.raises(NotFound):
        await store.delete(CALLS, TENANT, "nope", if_match=if_match)


# ------------------------------------------------------------------------ query
NUMBERS = {"n1": 1, "n2": 2, "n3": 3, "n4": 4}


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (Op.EQ, 2, {"n2"}),
        (Op.NE, 2, {"n1", "n3", "n4"}),
        (Op.LT, 3, {"n1", "n2"}),
        (Op.LE, 3, {"n1", "n2", "n3"}),
        (Op.GT, 2, {"n3", "n4"}),
        (Op.GE, 2, {"n2", "n3", "n4"}),
        (Op.EQ, 2.0, {"n2"}),
        (Op.GT, 2.5, {"n3", "n4"}),
    ],
)
async def test_query_filters_numbers_with_each_operator(
    store: Store, op: Op, value: float, expected: set[str]
) -> None:
    await _seed(store, NUMBERS)

    assert await _ids(store, TENANT, Condition("n", op, value)) == expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (Op.EQ, "2024-01-02T00:00:00.000000Z", {"s2"}),
        (Op.NE, "2024-01-02T00:00:00.000000Z", {"s1", "s3"}),
        (Op.LT, "2024-01-02T00:00:00.000000Z", {"s1"}),
        (Op.LE, "2024-01-02T00:00:00.000000Z", {"s1", "s2"}),
        (Op.GT, "2024-01-02T00:00:00.000000Z", {"s3"}),
        (Op.GE, "2024-01-02T00:00:00.000000Z", {"s2", "s3"}),
    ],
)
async def test_query_filters_strings_with_each_operator(
    store: Store, op: Op, value: str, expected: set[str]
) -> None:
    await _seed(
        store,
        {
            "s1": "2024-01-01T00:00:00.000000Z",
            "s2": "2024-01-02T00:00:00.000000Z",
            "s3": "2024-01-03T00:00:00.000000Z",
        },
    )

    assert await _ids(store, TENANT, Condition("n", op, value)) == expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (Op.EQ, True, {"yes"}),
        (Op.NE, True, {"no", "one", "null"}),
        (Op.EQ, False, {"no"}),
        (Op.LT, True, {"no"}),
        (Op.GE, False, {"yes", "no"}),
    ],
)
async def test_query_filters_booleans_apart_from_numbers(
    store: Store, op: Op, value: bool, expected: set[str]
) -> None:
    await _seed(store, {"yes": True, "no": False, "one": 1, "null": None})

    assert await _ids(store, TENANT, Condition("n", op, value)) == expected


async def test_query_for_null_matches_null_and_missing_fields(store: Store) -> None:
    await _seed(store, {"null": None, "zero": 0, "empty": ""})
    await store.create(CALLS, TENANT, "missing", {"other": 1})

    assert await _ids(store, TENANT, Condition("n", Op.EQ, None)) == {"null", "missing"}
    assert await _ids(store, TENANT, Condition("n", Op.NE, None)) == {"zero", "empty"}
    assert await _ids(store, TENANT, Condition("n", Op.LT, None)) == set()


async def test_query_never_orders_values_of_different_types(store: Store) -> None:
    await _seed(store, {"num": 5, "text": "5", "flag": True, "obj": {"a": 1}, "list": [1]})

    assert await _ids(store, TENANT, Condition("n", Op.GE, 0)) == {"num"}
    assert await _ids(store, TENANT, Condition("n", Op.GE, "")) == {"text"}
    assert await _ids(store, TENANT, Condition("n", Op.EQ, "5")) == {"text"}
    assert await _ids(store, TENANT, Condition("n", Op.EQ, 1)) == set()
    assert await _ids(store, TENANT, Condition("n", Op.NE, 5)) == {
        "text",
        "flag",
        "obj",
        "list",
    }


async def test_query_conditions_all_apply(store: Store) -> None:
    for doc_id, queue, state in [
        ("c1", "q1", "queued"),
        ("c2", "q1", "connected"),
        ("c3", "q2", "queued"),
        ("c4", "q1", "queued"),
    ]:
        await store.create(CALLS, TENANT, doc_id, {"queueId": queue, "state": state})

    found = await _ids(
        store, TENANT, Condition("queueId", Op.EQ, "q1"), Condition("state", Op.EQ, "queued")
    )

    assert found == {"c1", "c4"}


async def test_query_without_conditions_returns_the_whole_collection(store: Store) -> None:
    await _seed(store, NUMBERS)
    await store.create("agents", TENANT, "a1", {"n": 1})

    assert await _ids(store, TENANT) == set(NUMBERS)
    assert await _ids(store, None) == set(NUMBERS)


async def test_query_results_carry_the_current_etags(store: Store) -> None:
    created = await store.create(CALLS, TENANT, "c1", {"v": 1})
    replaced = await store.replace(CALLS, TENANT, "c1", {"v": 2}, if_match=created.etag)

    (found,) = (await store.query(CALLS, TENANT)).documents

    assert found.etag == replaced.etag
    assert found.body == {"v": 2}


# ---------------------------------------------------------------------- ordering
@pytest.mark.parametrize(("descending", "expected"), [(False, "bcad"), (True, "dacb")])
async def test_query_orders_by_a_field(store: Store, descending: bool, expected: str) -> None:
    await _seed(store, {"a": 3, "b": 1, "c": 2.5, "d": 10})

    page = await store.query(CALLS, TENANT, order_by=[("n", descending)])

    assert "".join(doc.id for doc in page.documents) == expected


async def test_query_orders_by_several_fields_then_by_id(store: Store) -> None:
    for doc_id, priority, enqueued in [
        ("c1", 1, "10:00"),
        ("c2", 5, "10:05"),
        ("c3", 5, "10:01"),
        ("c4", 1, "10:00"),
        ("c5", 5, "10:01"),
    ]:
        await store.create(CALLS, TENANT, doc_id, {"priority": priority, "enqueuedAt": enqueued})

    page = await store.query(CALLS, TENANT, order_by=[("priority", True), ("enqueuedAt", False)])

    assert [doc.id for doc in page.documents] == ["c3", "c5", "c2", "c1", "c4"]


async def test_query_orders_null_then_booleans_then_numbers_then_strings(store: Store) -> None:
    await _seed(
        store,
        {"str": "a", "num": -7, "true": True, "false": False, "null": None, "big": 1e9},
    )
    await store.create(CALLS, TENANT, "missing", {})

    ascending = await store.query(CALLS, TENANT, order_by=[("n", False)])
    descending = await store.query(CALLS, TENANT, order_by=[("n", True)])

    expected = ["missing", "null", "false", "true", "num", "big", "str"]
    assert [doc.id for doc in ascending.documents] == expected
    assert [doc.id for doc in descending.documents] == [
        "str",
        "big",
        "num",
        "true",
        "false",
        "missing",
        "null",
    ]


async def test_query_orders_strings_by_code_point(store: Store) -> None:
    await _seed(store, {"s1": "b", "s2": "B", "s3": "é", "s4": "a", "s5": "ab", "s6": "日"})

    page = await store.query(CALLS, TENANT, order_by=[("n", False)])

    assert [doc.body["n"] for doc in page.documents] == ["B", "a", "ab", "b", "é", "日"]


# ------------------------------------------------------------------------ paging
@pytest.mark.parametrize("limit", [1, 2, 3, 7, 10, 11])
@pytest.mark.parametrize("descending", [False, True])
async def test_paging_returns_every_document_once_in_order(
    store: Store, limit: int, descending: bool
) -> None:
    # Repeated values, so that pages split runs of equal sort keys.
    await _seed(store, {f"c{n:02d}": n % 4 for n in range(10)})
    everything = await store.query(CALLS, TENANT, order_by=[("n", descending)])

    paged = await _all_pages(store, limit, order_by=[("n", descending)])

    assert [doc.id for doc in paged] == [doc.id for doc in everything.documents]
    assert len({doc.id for doc in paged}) == 10


async def test_paging_with_conditions_and_no_order(store: Store) -> None:
    await _seed(store, {f"c{n:02d}": n for n in range(20)})

    paged = await _all_pages(store, 3, where=[Condition("n", Op.GE, 5)])

    assert sorted(doc.id for doc in paged) == [f"c{n:02d}" for n in range(5, 20)]


async def test_the_last_full_page_has_no_continuation(store: Store) -> None:
    await _seed(store, NUMBERS)

    page = await store.query(CALLS, TENANT, limit=4)

    assert len(page.documents) == 4
    assert page.continuation is None


async def test_paging_skips_nothing_when_a_document_stops_matching(store: Store) -> None:
    # A timer scan: each page's documents are handled (no longer due) before the next page.
    await _seed(store, {f"c{n:02d}": n for n in range(9)})
    due = [Condition("n", Op.GE, 0)]
    handled: list[str] = []
    continuation: str | None = None
    while True:
        page = await store.query(
            CALLS, TENANT, due, order_by=[("n", False)], limit=3, continuation=continuation
        )
        for doc in page.documents:
            handled.append(doc.id)
            await store.replace(CALLS, TENANT, doc.id, {"n": None}, if_match=doc.etag)
        continuation = page.continuation
        if continuation is None:
            break

    assert handled == [f"c{n:02d}" for n in range(9)]


async def test_a_continuation_from_another_ordering_is_refused(store: Store) -> None:
    await _seed(store, NUMBERS)
    page = await store.query(CALLS, TENANT, order_by=[("n", False)], limit=1)
    assert page.continuation is not None

    with pytest.raises(InvalidInput):
        await store.query(CALLS, TENANT, order_by=[("n", True)], continuation=page.continuation)
    with pytest.raises(InvalidInput):
        await store.query(CALLS, TENANT, continuation="not a token")


@pytest.mark.parametrize("limit", [0, -1])
async def test_a_limit_below_one_is_refused(store: Store, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.query(CALLS, TENANT, limit=limit)


# ---------------------------------------------------------------- tenant scoping
async def test_a_query_in_one_tenant_never_returns_another_tenants_documents(
    store: Store,
) -> None:
    await _seed(store, {"a1": 1, "a2": 2})
    await _seed(store, {"b1": 1, "b2": 2}, tenant_id=OTHER_TENANT)

    assert await _ids(store, TENANT) == {"a1", "a2"}
    assert await _ids(store, OTHER_TENANT, Condition("n", Op.EQ, 1)) == {"b1"}
    assert await _ids(store, "tenant-c") == set()
    assert await store.count(CALLS, TENANT) == 2


async def test_a_query_without_a_tenant_crosses_tenants(store: Store) -> None:
    await _seed(store, {"a1": 1, "a2": 2})
    await _seed(store, {"b1": 1, "b2": 2}, tenant_id=OTHER_TENANT)

    page = await store.query(CALLS, None, [Condition("n", Op.EQ, 1)], order_by=[("n", False)])

    assert sorted((doc.tenant_id, doc.id) for doc in page.documents) == [
        (TENANT, "a1"),
        (OTHER_TENANT, "b1"),
    ]
    assert await store.count(CALLS, None) == 4


async def test_cross_tenant_paging_covers_every_tenant(store: Store) -> None:
    await _seed(store, {"x": 1, "y": 2, "z": 3})
    await _seed(store, {"x": 1, "y": 2, "z": 3}, tenant_id=OTHER_TENANT)
    found: list[tuple[str, str]] = []
    continuation: str | None = None
    while True:
        page = await store.query(CALLS, None, limit=2, continuation=continuation)
        found.extend((doc.tenant_id, doc.id) for doc in page.documents)
        continuation = page.continuation
        if continuation is None:
            break

    assert sorted(found) == sorted((t, i) for t in (TENANT, OTHER_TENANT) for i in "xyz")
    assert len(found) == 6


# ------------------------------------------------------------------------- count
async def test_count_counts_matching_documents(store: Store) -> None:
    await _seed(store, NUMBERS)
    await store.create("agents", TENANT, "a1", {"n": 1})

    assert await store.count(CALLS, TENANT) == 4
    assert await store.count(CALLS, TENANT, [Condition("n", Op.GT, 1)]) == 3
    assert (
        await store.count(CALLS, TENANT, [Condition("n", Op.GT, 1), Condition("n", Op.LT, 4)]) == 2
    )
    assert await store.count("agents", TENANT) == 1
    assert await store.count("nothing", TENANT) == 0


# ------------------------------------------------------------------------ values
VALUES: dict[str, Any] = {
    "text": "Zoë — 日本 ☎",
    "empty": "",
    "int": 42,
    "negative": -7,
    "large": 2**53,
    "float": 0.1,
    "whole float": 3.0,
    "tiny": 1e-300,
    "true": True,
    "false": False,
    "null": None,
    "nested": {"a": {"b": [1, "two", None, {"c": False}]}, "d": []},
    "list": [1, 2.5, "x", True, None],
    "empty object": {},
}


async def test_values_of_every_json_type_are_preserved(store: Store) -> None:
    await store.create(CALLS, TENANT, "c1", VALUES)

    read = await store.read(CALLS, TENANT, "c1")
    (queried,) = (await store.query(CALLS, TENANT)).documents

    for body in (read.body, queried.body):
        assert body == VALUES
        for key, value in VALUES.items():
            assert type(body[key]) is type(value), key


async def test_a_mapping_that_is_not_a_dict_is_stored(store: Store) -> None:
    await store.create(CALLS, TENANT, "c1", MappingProxyType({"v": 1}))

    assert (await store.read(CALLS, TENANT, "c1")).body == {"v": 1}


async def test_tuples_come_back_as_lists(store: Store) -> None:
    await store.create(CALLS, TENANT, "c1", {"ids": ("a", "b")})

    assert (await store.read(CALLS, TENANT, "c1")).body == {"ids": ["a", "b"]}


@pytest.mark.parametrize("bad", [math.nan, math.inf, object(), {1, 2}])
async def test_a_body_json_cannot_hold_is_refused_and_nothing_is_stored(
    store: Store, bad: object
) -> None:
    with pytest.raises((TypeError, ValueError)):
        await store.create(CALLS, TENANT, "c1", {"bad": bad})

    with pytest.raises(NotFound):
        await store.read(CALLS, TENANT, "c1")


# ------------------------------------------------------------------------ copies
async def test_the_store_does_not_change_or_keep_the_callers_body(store: Store) -> None:
    body: dict[str, Any] = {"tags": ["a"], "nested": {"k": 1}}
    before = copy.deepcopy(body)

    created = await store.create(CALLS, TENANT, "c1", body)
    assert body == before
    body["tags"].append("b")
    body["nested"]["k"] = 2
    await store.upsert(CALLS, TENANT, "c2", body)
    body["nested"]["k"] = 3

    assert (await store.read(CALLS, TENANT, "c1")).body == before
    assert (await store.read(CALLS, TENANT, "c2")).body == {"tags": ["a", "b"], "nested": {"k": 2}}
    assert created.body is not body


async def test_returned_bodies_are_copies(store: Store) -> None:
    created = await store.create(CALLS, TENANT, "c1", {"tags": ["a"], "nested": {"k": 1}})
    created.body["tags"].append("from create")

    read = await store.read(CALLS, TENANT, "c1")
    read.body["tags"].append("from read")
    read.body["nested"]["k"] = 99
    (queried,) = (await store.query(CALLS, TENANT)).documents
    queried.body["tags"].append("from query")

    again = await store.read(CALLS, TENANT, "c1")
    assert again.body == {"tags": ["a"], "nested": {"k": 1}}
    assert again.body is not read.body
