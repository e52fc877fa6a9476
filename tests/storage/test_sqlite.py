"""What the SQLite store promises beyond the Store contract: files, schema, crashes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactcenter.errors import Conflict, NotFound
from contactcenter.ports import Condition, Op, Store, StoredDocument
from storage.memory import MemoryStore
from storage.sqlite import (
    MEMORY,
    SCHEMA_VERSION,
    DatabaseOpenError,
    SchemaVersionError,
    SqliteStore,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return where a test's database file goes (its directory does not exist yet)."""
    return tmp_path / "data" / "store.db"


@pytest.fixture(params=["threaded", "inline"])
async def sqlite_store(request: pytest.FixtureRequest, db_path: Path) -> AsyncIterator[SqliteStore]:
    """Yield a file-backed store in each execution mode, closed afterwards."""
    store = await SqliteStore.open(db_path, inline=request.param == "inline")
    try:
        yield store
    finally:
        await store.close()


def _write_file(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _pragma(path: Path, name: str) -> Any:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]


# ------------------------------------------------------------------------- files
async def test_open_creates_the_data_directory(db_path: Path) -> None:
    async with await SqliteStore.open(db_path):
        pass

    assert _pragma(db_path, "user_version") == SCHEMA_VERSION
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["store.db"]


@pytest.mark.parametrize("inline", [False, True])
async def test_documents_persist_across_close_and_reopen(db_path: Path, inline: bool) -> None:
    async with await SqliteStore.open(db_path, inline=inline) as store:
        created = await store.create("calls", "t1", "c1", {"state": "queued"})

    async with await SqliteStore.open(db_path, inline=inline) as reopened:
        read = await reopened.read("calls", "t1", "c1")

    assert read.body == {"state": "queued"}
    assert read.etag == created.etag


async def test_the_database_runs_in_wal_mode(sqlite_store: SqliteStore, db_path: Path) -> None:
    assert _pragma(db_path, "journal_mode") == "wal"


async def test_the_schema_version_is_recorded(sqlite_store: SqliteStore, db_path: Path) -> None:
    assert SCHEMA_VERSION >= 1
    assert _pragma(db_path, "user_version") == SCHEMA_VERSION


async def test_a_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    async with await SqliteStore.open(db_path) as store:
        await store.create("calls", "t1", "c1", {"v": 1})
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(SchemaVersionError, match=r"schema version \d+, newer than version"):
        await SqliteStore.open(db_path)

    assert _pragma(db_path, "user_version") == SCHEMA_VERSION + 1


async def test_opening_an_old_empty_database_migrates_it(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    sqlite3.connect(db_path).close()
    assert _pragma(db_path, "user_version") == 0

    async with await SqliteStore.open(db_path) as store:
        await store.create("calls", "t1", "c1", {"v": 1})

    assert _pragma(db_path, "user_version") == SCHEMA_VERSION


async def test_a_file_that_is_not_a_database_is_a_clear_error(db_path: Path) -> None:
    _write_file(db_path, b"this is not an SQLite database, " * 100)

    with pytest.raises(DatabaseOpenError, match=str(db_path)):
        await SqliteStore.open(db_path)


async def test_a_data_directory_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    _write_file(blocker, b"a file where the data directory should be")

    with pytest.raises(OSError, match="cannot create the data directory") as raised:
        await SqliteStore.open(blocker / "store.db")

    assert isinstance(raised.value, DatabaseOpenError)


# Root may write anywhere: run as root, the child drops to ``nobody`` once its modules are
# loaded (the interpreter itself may live where only root can read).
READ_ONLY_OPENER = """
import asyncio, os, pwd, sys, tempfile
from pathlib import Path
from storage.sqlite import DatabaseOpenError, SqliteStore

if os.geteuid() == 0:
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)

async def main():
    with tempfile.TemporaryDirectory() as base:
        data = Path(base) / "data"
        data.mkdir()
        data.chmod(0o500)
        try:
            if os.access(data, os.W_OK):
                sys.exit(f"uid {os.geteuid()} may write to {data} anyway: nothing is tested")
            try:
                await SqliteStore.open(data / "store.db")
            except DatabaseOpenError as err:
                print(err)
            else:
                sys.exit("the store opened in a read-only data directory")
        finally:
            data.chmod(0o700)

asyncio.run(main())
"""


def test_a_read_only_data_directory_is_a_clear_error() -> None:
    child = subprocess.run(
        [sys.executable, "-c", READ_ONLY_OPENER],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert child.returncode == 0, child.stderr
    assert "is not writable" in child.stdout


async def test_a_closed_store_refuses_work(sqlite_store: SqliteStore) -> None:
    await sqlite_store.close()
    await sqlite_store.close()

    with pytest.raises(RuntimeError, match="closed"):
        await sqlite_store.read("calls", "t1", "c1")


async def test_an_in_memory_database_works_in_both_modes() -> None:
    for inline in (False, True):
        async with await SqliteStore.open(MEMORY, inline=inline) as store:
            assert store.inline is inline
            created = await store.create("calls", "t1", "c1", {"v": 1})
            with pytest.raises(Conflict):
                await store.replace("calls", "t1", "c1", {"v": 2}, if_match="stale")
            assert (await store.read("calls", "t1", "c1")).etag == created.etag


# ------------------------------------------------------------------- concurrency
async def test_of_two_stores_on_one_file_exactly_one_stale_writer_wins(db_path: Path) -> None:
    async with (
        await SqliteStore.open(db_path) as first,
        await SqliteStore.open(db_path) as second,
    ):
        etags = {}
        for n in range(20):
            etags[f"a{n}"] = (await first.create("agents", "t1", f"a{n}", {"claim": None})).etag

        outcomes = await asyncio.gather(
            *(
                writer.replace("agents", "t1", doc_id, {"claim": name}, if_match=etag)
                for doc_id, etag in etags.items()
                for writer, name in ((first, "first"), (second, "second"))
            ),
            return_exceptions=True,
        )

        winners = [o for o in outcomes if isinstance(o, StoredDocument)]
        assert sorted(w.id for w in winners) == sorted(etags)
        assert all(isinstance(o, Conflict) for o in outcomes if o not in winners)
        for winner in winners:
            assert (await second.read("agents", "t1", winner.id)).body == winner.body


# ------------------------------------------------------------------------ crashes
WRITER = """
import asyncio, sys
from storage.sqlite import SqliteStore

DOCS = 10

async def main(path):
    store = await SqliteStore.open(path, inline=True)
    for n in range(DOCS):
        await store.upsert("docs", "t1", f"d{n}", {"generation": 0, "payload": "0" * 5000})
    print(0, flush=True)
    # Bounded: the test kills this loop long before it ends on its own.
    for generation in range(1, 100_000):
        for n in range(DOCS):
            body = {"generation": generation, "payload": str(generation % 10) * 5000}
            await store.upsert("docs", "t1", f"d{n}", body)
        print(generation, flush=True)

asyncio.run(main(sys.argv[1]))
"""


async def test_a_writer_killed_mid_write_leaves_every_document_old_or_new(
    db_path: Path,
) -> None:
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(db_path),
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert writer.stdout is not None
    try:
        # Let a few whole generations commit, then kill the writer wherever it is.
        for _ in range(4):
            line = await asyncio.wait_for(writer.stdout.readline(), timeout=30)
            assert line, "the writer stopped before it was killed"
    finally:
        writer.send_signal(signal.SIGKILL)
        rest, _ = await writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    reported = [line, *rest.splitlines()]
    last_committed = int(reported[-1])

    async with await SqliteStore.open(db_path) as store:
        documents = [await store.read("docs", "t1", f"d{n}") for n in range(10)]
        generations = [doc.body["generation"] for doc in documents]
        for doc in documents:
            assert doc.body["payload"] == str(doc.body["generation"] % 10) * 5000
        # Every committed generation survived the kill; the one in progress reached a
        # prefix of the documents, written in order.
        assert set(generations) <= {last_committed, last_committed + 1}
        assert generations == sorted(generations, reverse=True)
        await store.replace("docs", "t1", "d0", {"after": "crash"}, if_match=documents[0].etag)

    assert _pragma(db_path, "integrity_check") == "ok"


# ------------------------------------------------------- agreement with memory
_FIELDS = ("a", "b", "c")
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.integers(-12, 12).map(lambda n: n / 4),
    st.sampled_from(["", "a", "B", "ab", "é", "3"]),
)
_values = st.one_of(_scalars, st.just({"x": 1}), st.just([1, 2]))
_bodies = st.dictionaries(st.sampled_from(_FIELDS), _scalars)
_conditions = st.builds(
    Condition, st.sampled_from((*_FIELDS, "o")), st.sampled_from(list(Op)), _scalars
)
_orders = st.lists(st.tuples(st.sampled_from(_FIELDS), st.booleans()), max_size=2)


async def _pages(store: Store, tenant_id: str | None, **query: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    continuation: str | None = None
    while True:
        page = await store.query("docs", tenant_id, continuation=continuation, **query)
        found.extend((doc.tenant_id, doc.id) for doc in page.documents)
        continuation = page.continuation
        if continuation is None:
            return found


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    bodies=st.lists(st.tuples(st.sampled_from(["t1", "t2"]), _bodies, _values), max_size=12),
    where=st.lists(_conditions, max_size=2),
    order_by=_orders,
    tenant_id=st.sampled_from(["t1", None]),
    limit=st.sampled_from([None, 1, 2, 5]),
)
async def test_sqlite_answers_every_query_as_the_memory_store_does(
    bodies: list[tuple[str, dict[str, Any], Any]],
    where: list[Condition],
    order_by: list[tuple[str, bool]],
    tenant_id: str | None,
    limit: int | None,
) -> None:
    memory = MemoryStore()
    async with await SqliteStore.open(MEMORY, inline=True) as sqlite:
        for n, (tenant, body, other) in enumerate(bodies):
            # "o" holds objects and arrays too: filtered on, never ordered by.
            for store in (memory, sqlite):
                await store.create("docs", tenant, f"d{n}", {**body, "o": other})
        query: dict[str, Any] = {"order_by": order_by, "limit": limit}

        expected = await _pages(memory, tenant_id, where=where, **query)
        assert await _pages(sqlite, tenant_id, where=where, **query) == expected
        assert await sqlite.count("docs", tenant_id, where) == len(expected)


async def test_reading_in_another_tenant_is_not_found(sqlite_store: SqliteStore) -> None:
    await sqlite_store.create("calls", "t1", "c1", {"v": 1})

    with pytest.raises(NotFound):
        await sqlite_store.read("calls", "t2", "c1")


async def test_unusual_field_names_can_be_queried(sqlite_store: SqliteStore) -> None:
    await sqlite_store.create("calls", "t1", "c1", {"odd name.x": 1, "it's": "yes"})
    await sqlite_store.create("calls", "t1", "c2", {"odd name.x": 2})

    page = await sqlite_store.query(
        "calls",
        "t1",
        [Condition("odd name.x", Op.GE, 1), Condition("it's", Op.NE, "no")],
        order_by=[("odd name.x", True)],
    )

    assert [doc.id for doc in page.documents] == ["c2", "c1"]
    with pytest.raises(ValueError, match="double quote"):
        await sqlite_store.query("calls", "t1", [Condition('say "hi"', Op.EQ, 1)])
