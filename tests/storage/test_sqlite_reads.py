"""The SQLite store's point reads on the event loop: they see every awaited write, never wait."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contactcenter.errors import Conflict, NotFound
from storage.sqlite import SqliteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """Yield a file-backed store with its worker thread, closed afterwards."""
    opened = await SqliteStore.open(tmp_path / "data" / "store.db")
    try:
        yield opened
    finally:
        await opened.close()


@contextlib.asynccontextmanager
async def _worker_held(store: SqliteStore) -> AsyncIterator[None]:
    """Keep the store's worker thread busy until the block ends."""
    release = threading.Event()
    held = asyncio.get_running_loop().run_in_executor(store._executor, release.wait)
    try:
        yield
    finally:
        release.set()
        await held


class _WatchedReader:
    """A read connection that counts its failures and raises ``error`` while it is set."""

    def __init__(self, inner: sqlite3.Connection, error: sqlite3.Error | None = None) -> None:
        self.inner = inner
        self.error = error
        self.refused = 0

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        try:
            if self.error is not None:
                raise self.error
            return self.inner.execute(sql, params)
        except sqlite3.Error:
            self.refused += 1
            raise

    def close(self) -> None:
        self.inner.close()


def _watch_reads(store: SqliteStore, error: sqlite3.Error | None = None) -> _WatchedReader:
    reader = store._reader
    assert reader is not None
    watched = _WatchedReader(reader, error)
    store._reader = watched  # type: ignore[assignment]
    return watched


async def test_a_read_after_each_awaited_write_sees_that_write(store: SqliteStore) -> None:
    created = await store.create("calls", "t1", "c1", {"v": 0})
    assert (await store.read("calls", "t1", "c1")).etag == created.etag
    etag = created.etag
    for version in range(1, 50):
        written = await store.replace("calls", "t1", "c1", {"v": version}, if_match=etag)
        read = await store.read("calls", "t1", "c1")
        assert (read.etag, read.body) == (written.etag, {"v": version})
        etag = written.etag
    await store.delete("calls", "t1", "c1")
    with pytest.raises(NotFound):
        await store.read("calls", "t1", "c1")


async def test_a_read_sees_what_another_connection_committed(store: SqliteStore) -> None:
    await store.create("calls", "t1", "c1", {"v": 1})
    await store.read("calls", "t1", "c1")
    async with await SqliteStore.open(store.path) as other:
        current = await other.read("calls", "t1", "c1")
        written = await other.replace("calls", "t1", "c1", {"v": 2}, if_match=current.etag)

    assert (await store.read("calls", "t1", "c1")).etag == written.etag


async def test_a_read_issued_while_a_write_is_queued_sees_that_write(store: SqliteStore) -> None:
    created = await store.create("calls", "t1", "c1", {"v": 1})

    async with _worker_held(store):
        writing = asyncio.create_task(
            store.replace("calls", "t1", "c1", {"v": 2}, if_match=created.etag)
        )
        # One turn of the loop: the write's task runs up to its hand-off to the worker.
        await asyncio.sleep(0)
        reading = asyncio.create_task(store.read("calls", "t1", "c1"))
        await asyncio.sleep(0)
        assert not reading.done()

    written, read = await writing, await reading
    assert (read.etag, read.body) == (written.etag, {"v": 2})


async def test_a_point_read_does_not_wait_for_the_worker_thread(store: SqliteStore) -> None:
    created = await store.create("calls", "t1", "c1", {"v": 1})

    async with _worker_held(store):
        # Answered while the worker cannot take anything: the read never went there.
        read = await asyncio.wait_for(store.read("calls", "t1", "c1"), timeout=10)

    assert read.etag == created.etag


async def test_creating_a_taken_id_conflicts_without_waiting_for_the_worker(
    store: SqliteStore,
) -> None:
    created = await store.create("calls", "t1", "c1", {"v": 1})

    async with _worker_held(store):
        with pytest.raises(Conflict):
            await asyncio.wait_for(store.create("calls", "t1", "c1", {"v": 2}), timeout=10)

    assert (await store.read("calls", "t1", "c1")).etag == created.etag
    await store.delete("calls", "t1", "c1")
    assert (await store.create("calls", "t1", "c1", {"v": 3})).body == {"v": 3}


async def test_the_read_connection_only_reads_and_never_waits_for_a_lock(
    store: SqliteStore,
) -> None:
    reader = store._reader
    assert reader is not None
    # A lock is the worker's to wait for: a busy handler here would sleep on the event loop.
    assert reader.execute("PRAGMA busy_timeout").fetchone() == (0,)
    assert reader.execute("PRAGMA query_only").fetchone() == (1,)
    assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("failure", ["database is locked", "disk I/O error"])
async def test_a_read_the_read_connection_cannot_make_goes_to_the_worker(
    store: SqliteStore, failure: str
) -> None:
    created = await store.create("calls", "t1", "c1", {"v": 1})
    failing = _watch_reads(store, sqlite3.OperationalError(failure))

    read = await store.read("calls", "t1", "c1")

    assert failing.refused == 1
    assert read.etag == created.etag
    failing.error = None
    assert (await store.read("calls", "t1", "c1")).etag == created.etag
