"""The SQLite store's indexes for the routing engine's hot queries, and their migration."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import storage.sqlite
from contactcenter.ports import Condition, Op, Page, Store
from storage.memory import MemoryStore
from storage.sqlite import _MIGRATIONS, SCHEMA_VERSION, SqliteStore

TENANT = "t1"
QUEUE = "q1"

# The engine's queries (contactcenter/engine/): a queue's waiting line, its length, a
# call's place in it, and a tenant's idle agents.
WAITING_LINE = (
    Condition("queueId", Op.EQ, QUEUE),
    Condition("state", Op.EQ, "waiting"),
)
SERVING_ORDER = (("priority", True), ("offeredAt", False))
IDLE_AGENTS = (
    Condition("status", Op.EQ, "available"),
    Condition("activity", Op.EQ, "idle"),
)
INDEXES_ADDED_IN_VERSION_2 = {
    "documents_waiting_line",
    "documents_waiting_position",
    "documents_agent_status",
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return where a test's database file goes."""
    return tmp_path / "data" / "store.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    """Yield a file-backed store (inline: these tests look at its connection's plans)."""
    opened = await SqliteStore.open(db_path, inline=True)
    try:
        yield opened
    finally:
        await opened.close()


class _Statements:
    """The statements the store ran, with their parameters."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, Mapping[str, Any]]] = []
        fetch_page = storage.sqlite._fetch_page
        count = storage.sqlite._count

        def recording_fetch_page(
            connection: sqlite3.Connection,
            collection: str,
            sql: str,
            params: Mapping[str, Any],
            limit: int | None,
        ) -> Any:
            self.seen.append((sql, params))
            return fetch_page(connection, collection, sql, params, limit)

        def recording_count(
            connection: sqlite3.Connection, sql: str, params: Mapping[str, Any]
        ) -> int:
            self.seen.append((sql, params))
            return count(connection, sql, params)

        monkeypatch.setattr(storage.sqlite, "_fetch_page", recording_fetch_page)
        monkeypatch.setattr(storage.sqlite, "_count", recording_count)

    def plan(self, connection: sqlite3.Connection) -> str:
        """Return the query plan of the one statement run since the last call."""
        assert len(self.seen) == 1
        sql, params = self.seen.pop()
        rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        return "\n".join(str(row[-1]) for row in rows)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> _Statements:
    """Record the statements the store runs."""
    return _Statements(monkeypatch)


def _connection(store: SqliteStore) -> sqlite3.Connection:
    connection = store._connection
    assert connection is not None
    return connection


async def _fill(store: Store) -> None:
    """Write calls in and out of the line, agents in every state, and odd field types."""
    for index in range(60):
        state = "waiting" if index % 3 else "connected"
        await store.create(
            "calls",
            TENANT,
            f"c{index:02d}",
            {
                "queueId": QUEUE if index % 4 else "q2",
                "state": state,
                "priority": index % 3,
                "offeredAt": f"2026-03-02T14:{index % 50:02d}:00Z",
            },
        )
    # Values of other JSON types must neither match nor sort among the numbers.
    odd: Sequence[tuple[str, dict[str, Any]]] = (
        ("o1", {"queueId": QUEUE, "state": "waiting", "priority": True}),
        ("o2", {"queueId": QUEUE, "state": "waiting", "priority": "2"}),
        ("o3", {"queueId": QUEUE, "state": "waiting", "priority": None}),
        ("o4", {"queueId": QUEUE, "state": "waiting"}),
        ("o5", {"queueId": QUEUE, "state": ["waiting"], "priority": 1}),
        ("o6", {"queueId": QUEUE, "state": "waiting", "priority": 1.5, "offeredAt": 7}),
    )
    for doc_id, body in odd:
        await store.create("calls", TENANT, doc_id, body)
    for index, (status, activity) in enumerate(
        [("available", "idle"), ("available", "busy"), ("away", "idle"), ("offline", "idle")] * 5
    ):
        await store.create(
            "agents", TENANT, f"a{index:02d}", {"status": status, "activity": activity}
        )
    await store.create("agents", "t2", "a99", {"status": "available", "activity": "idle"})


# ------------------------------------------------------------------------ migration
async def test_a_version_1_database_is_migrated_and_keeps_its_documents(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        for statement in _MIGRATIONS[0]:
            connection.execute(statement)
        connection.execute(
            "INSERT INTO documents VALUES ('calls', ?, 'c1', ?, 'e1')",
            (TENANT, '{"queueId": "q1", "state": "waiting", "priority": 1}'),
        )
        connection.execute("PRAGMA user_version = 1")
        connection.commit()

    async with await SqliteStore.open(db_path) as store:
        page = await store.query("calls", TENANT, WAITING_LINE, order_by=SERVING_ORDER)

    assert [(doc.id, doc.etag) for doc in page.documents] == [("c1", "e1")]
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        names = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert version == SCHEMA_VERSION == 2
    assert names >= INDEXES_ADDED_IN_VERSION_2


# ------------------------------------------------------------------------ plans
async def test_the_waiting_line_is_read_in_order_from_its_index(
    store: SqliteStore, statements: _Statements
) -> None:
    await store.query("calls", TENANT, WAITING_LINE, order_by=SERVING_ORDER, limit=8)

    plan = statements.plan(_connection(store))
    assert "USING INDEX documents_waiting_line" in plan
    assert "TEMP B-TREE" not in plan


def _searches_every_term(plan: str, index: str, terms: int) -> bool:
    """Return whether the plan seeks ``index`` on all of a query's ``terms`` conditions.

    Each condition is two indexed expressions (its type test and its value), after the
    collection and the tenant.
    """
    constraints = plan.partition(f"USING INDEX {index} (")[2].rstrip(")").split(" AND ")
    return constraints[:2] == ["collection=?", "tenant_id=?"] and len(constraints) == 2 + 2 * terms


async def test_the_waiting_line_is_counted_from_its_index(
    store: SqliteStore, statements: _Statements
) -> None:
    await store.count("calls", TENANT, WAITING_LINE)

    plan = statements.plan(_connection(store))
    assert _searches_every_term(plan, "documents_waiting_line", 2) or _searches_every_term(
        plan, "documents_waiting_position", 2
    )


@pytest.mark.parametrize(
    "ahead",
    [
        (Condition("priority", Op.GT, 1),),
        (Condition("priority", Op.EQ, 1), Condition("offeredAt", Op.LT, "2026-03-02T14:00:00Z")),
    ],
    ids=["higher-priority", "same-priority-earlier"],
)
async def test_a_calls_place_in_line_is_counted_from_its_index(
    store: SqliteStore, statements: _Statements, ahead: tuple[Condition, ...]
) -> None:
    await store.count("calls", TENANT, (*WAITING_LINE, *ahead))

    plan = statements.plan(_connection(store))
    assert _searches_every_term(plan, "documents_waiting_position", 2 + len(ahead))


async def test_idle_agents_are_found_through_their_index(
    store: SqliteStore, statements: _Statements
) -> None:
    await store.query("agents", TENANT, IDLE_AGENTS)

    plan = statements.plan(_connection(store))
    assert _searches_every_term(plan, "documents_agent_status", 2)
    assert "TEMP B-TREE" not in plan


# ------------------------------------------------------------------------ answers
def _ids(page: Page) -> list[str]:
    return [doc.id for doc in page.documents]


@pytest.mark.parametrize(
    ("collection", "where", "order_by"),
    [
        ("calls", WAITING_LINE, SERVING_ORDER),
        ("calls", (*WAITING_LINE, Condition("priority", Op.GT, 1)), ()),
        ("calls", (*WAITING_LINE, Condition("priority", Op.GE, 1)), SERVING_ORDER),
        (
            "calls",
            (
                *WAITING_LINE,
                Condition("priority", Op.EQ, 1),
                Condition("offeredAt", Op.LT, "2026-03-02T14:30:00Z"),
            ),
            (),
        ),
        ("agents", IDLE_AGENTS, ()),
    ],
    ids=["line", "higher", "at-least", "earlier", "idle-agents"],
)
async def test_indexed_queries_answer_as_the_in_memory_store(
    store: SqliteStore,
    collection: str,
    where: tuple[Condition, ...],
    order_by: tuple[tuple[str, bool], ...],
) -> None:
    reference = MemoryStore()
    await _fill(store)
    await _fill(reference)

    got = await store.query(collection, TENANT, where, order_by=order_by)
    expected = await reference.query(collection, TENANT, where, order_by=order_by)
    count = await store.count(collection, TENANT, where)

    if order_by:
        assert _ids(got) == _ids(expected)
    else:
        assert sorted(_ids(got)) == sorted(_ids(expected))
    assert count == len(expected.documents) > 0


async def test_the_waiting_line_pages_in_serving_order(store: SqliteStore) -> None:
    reference = MemoryStore()
    await _fill(store)
    await _fill(reference)
    expected = _ids(await reference.query("calls", TENANT, WAITING_LINE, order_by=SERVING_ORDER))

    got: list[str] = []
    continuation: str | None = None
    while True:
        page = await store.query(
            "calls",
            TENANT,
            WAITING_LINE,
            order_by=SERVING_ORDER,
            limit=4,
            continuation=continuation,
        )
        got.extend(_ids(page))
        continuation = page.continuation
        if continuation is None:
            break

    assert got == expected
