"""The embedded SQLite store: every collection's JSON documents in one table.

Each row is one document, keyed by (collection, tenant_id, id), with its body as JSON text
and an etag that is a fresh random value on every write. Compare-and-set is one
``UPDATE ... WHERE etag = ?`` whose row count says whether it won, so two writers (threads,
stores or processes on the same file) can never both succeed.

Durability: the database runs in WAL mode with ``synchronous=NORMAL``. A commit appends to
the write-ahead log without an fsync; the log is fsynced before each checkpoint copies it
into the database file. A killed process loses nothing that was committed (the operating
system still holds the writes). A power cut or kernel crash may lose the last commits since
the previous checkpoint, but never corrupts the file: WAL frames carry checksums, and on
the next open SQLite replays only complete, valid transactions. Every document is then
either as it was or as it was last written, never a mix. That trade (a few recent writes
for several times the write throughput) suits the single-host store; Cosmos DB is the
store for deployments that must not lose a committed write.

Work runs on one thread owned by the store, so a slow disk never stalls the event loop;
``inline=True`` runs it on the calling thread instead (simulations on a virtual clock,
``:memory:`` databases), where the thread hop would cost more than the statement.

Point reads of a database file are the exception: they run on the calling thread, on a
second connection that only reads, whenever the worker has nothing queued. WAL lets it
read beside the worker's writes, and each read is its own transaction, so a read sees
every write issued before it, as on the worker. It never waits: if the database is locked (a checkpoint truncating the log, a recovery,
another process holding it exclusively) or the read fails otherwise, the read goes to the
worker thread like any other request (docs/decisions/0035-sqlite-reads-on-the-event-loop.md).
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import os
import random
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, Final, Literal, ParamSpec, Self, TypeVar

from contactcenter.errors import Conflict, NotFound, Unavailable
from contactcenter.ports import Condition, Op, Page, StoredDocument
from storage.documents import (
    check_limit,
    decode_continuation,
    dump_body,
    encode_continuation,
    load_body,
)

_LOGGER = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

MEMORY: Final = ":memory:"
"""The path of a private, in-memory database."""

_BUSY_TIMEOUT_S: Final = 5.0
# A read on the event loop never waits for a lock: the worker thread can afford to.
_READER_BUSY_TIMEOUT_S: Final = 0.0
_JOURNAL_SIZE_LIMIT: Final = 64 * 1024 * 1024

# Migration steps, oldest first: step N brings a database from schema version N to N + 1.
# Released steps never change; a schema change is a new step at the end.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        # The primary key's index also serves every (collection, tenant_id) scan.
        """
        CREATE TABLE documents (
            collection TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            id TEXT NOT NULL,
            body TEXT NOT NULL,
            etag TEXT NOT NULL,
            PRIMARY KEY (collection, tenant_id, id)
        )
        """,
        # Due timers are scanned across tenants; queues and reports within one tenant.
        # Partial indexes: most documents have no such field, and a comparison in a query
        # implies the IS NOT NULL that lets the planner use them.
        """
        CREATE INDEX documents_due_at ON documents (collection, json_extract(body, '$.dueAt'))
        WHERE json_extract(body, '$.dueAt') IS NOT NULL
        """,
        """
        CREATE INDEX documents_queue_id
        ON documents (collection, tenant_id, json_extract(body, '$.queueId'))
        WHERE json_extract(body, '$.queueId') IS NOT NULL
        """,
        """
        CREATE INDEX documents_ended_at
        ON documents (collection, tenant_id, json_extract(body, '$.endedAt'))
        WHERE json_extract(body, '$.endedAt') IS NOT NULL
        """,
    ),
    (
        # A queue's waiting line, its length and a call's place in it, and a tenant's idle
        # agents, whatever the number of waiting calls. Each index holds the very
        # expressions the query builder writes (a condition is a type test and a value;
        # a sort key is a type rank and a value), so that the planner answers the counts
        # from the index alone and reads the line in order without sorting it. Only call
        # documents have a `state`, only agent documents an `activity`.
        """
        CREATE INDEX documents_waiting_line ON documents (
            collection, tenant_id,
            json_extract(body, '$.queueId'), ifnull(json_type(body, '$.queueId'), 'null'),
            json_extract(body, '$.state'), ifnull(json_type(body, '$.state'), 'null'),
            CASE json_type(body, '$.priority') WHEN 'true' THEN 1 WHEN 'false' THEN 1
                WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3
                WHEN 'array' THEN 4 WHEN 'object' THEN 4 ELSE 0 END DESC,
            ifnull(json_extract(body, '$.priority'), 0) DESC,
            CASE json_type(body, '$.offeredAt') WHEN 'true' THEN 1 WHEN 'false' THEN 1
                WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3
                WHEN 'array' THEN 4 WHEN 'object' THEN 4 ELSE 0 END,
            ifnull(json_extract(body, '$.offeredAt'), 0),
            id
        )
        WHERE json_extract(body, '$.state') IS NOT NULL
        """,
        """
        CREATE INDEX documents_waiting_position ON documents (
            collection, tenant_id,
            json_extract(body, '$.queueId'), ifnull(json_type(body, '$.queueId'), 'null'),
            json_extract(body, '$.state'), ifnull(json_type(body, '$.state'), 'null'),
            ifnull(json_type(body, '$.priority'), 'null'), json_extract(body, '$.priority'),
            ifnull(json_type(body, '$.offeredAt'), 'null'), json_extract(body, '$.offeredAt')
        )
        WHERE json_extract(body, '$.state') IS NOT NULL
        """,
        """
        CREATE INDEX documents_agent_status ON documents (
            collection, tenant_id,
            json_extract(body, '$.status'), ifnull(json_type(body, '$.status'), 'null'),
            json_extract(body, '$.activity'), ifnull(json_type(body, '$.activity'), 'null'),
            id
        )
        WHERE json_extract(body, '$.activity') IS NOT NULL
        """,
    ),
)

SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this code writes (``PRAGMA user_version``)."""


class DatabaseOpenError(OSError):
    """The database could not be created, opened or brought to the current schema."""


class SchemaVersionError(DatabaseOpenError):
    """The database was written by a newer version of this code."""


# ------------------------------------------------------------------------ opening
def _connect(location: str) -> sqlite3.Connection:
    """Open, configure and migrate the database at ``location`` (blocking)."""
    if location != MEMORY:
        _prepare_directory(Path(location).parent)
    try:
        connection = sqlite3.connect(
            location,
            timeout=_BUSY_TIMEOUT_S,
            # Autocommit: each statement is its own transaction; migrations BEGIN explicitly.
            isolation_level=None,
            # The connection is used by one thread at a time: the store's worker, or the
            # caller's thread when inline.
            check_same_thread=False,
            cached_statements=256,
        )
    except sqlite3.Error as err:
        raise DatabaseOpenError(f"cannot open the database {location}: {err}") from err
    try:
        journal_mode = _configure(connection, location)
        version = _migrate(connection, location)
    except sqlite3.Error as err:
        connection.close()
        raise DatabaseOpenError(f"cannot open the database {location}: {err}") from err
    except BaseException:
        connection.close()
        raise
    _LOGGER.debug(
        "Opened SQLite store %s (schema version %s, journal mode %s)",
        location,
        version,
        journal_mode,
    )
    return connection


def _connect_reader(location: str) -> sqlite3.Connection | None:
    """Open a read-only connection beside the writer's; None where it could not read beside it."""
    if location == MEMORY:
        # Every connection to ":memory:" is a database of its own.
        return None
    try:
        reader = sqlite3.connect(
            location,
            timeout=_READER_BUSY_TIMEOUT_S,
            isolation_level=None,
            # Used on the event loop's thread, opened and closed wherever the store is.
            check_same_thread=False,
            cached_statements=16,
        )
    except sqlite3.Error as err:
        _LOGGER.debug("No read connection to %s: %s", location, err)
        return None
    try:
        # Without WAL a reader waits for every writer: the worker reads instead.
        (journal_mode,) = reader.execute("PRAGMA journal_mode").fetchone()
        if journal_mode != "wal":
            reader.close()
            return None
        reader.execute("PRAGMA query_only = ON")
    except sqlite3.Error as err:
        _LOGGER.debug("No read connection to %s: %s", location, err)
        reader.close()
        return None
    return reader


def _prepare_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = err.strerror or str(err)
        raise DatabaseOpenError(f"cannot create the data directory {directory}: {reason}") from err
    # SQLite needs to create the -wal and -shm files next to the database, so a writable
    # database file in a read-only directory fails too; say so before SQLite says less.
    if not os.access(directory, os.W_OK | os.X_OK):
        raise DatabaseOpenError(f"the data directory {directory} is not writable")


def _configure(connection: sqlite3.Connection, location: str) -> str:
    (journal_mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
    if location != MEMORY and journal_mode != "wal":
        _LOGGER.warning(
            "SQLite store %s runs in journal mode %s: WAL is unavailable on this file system",
            location,
            journal_mode,
        )
    # Crash-safe in WAL mode (see the module docstring): no corruption, at most the last
    # commits lost on power failure.
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute(f"PRAGMA journal_size_limit = {_JOURNAL_SIZE_LIMIT:d}")
    return str(journal_mode)


def _user_version(connection: sqlite3.Connection) -> int:
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def _check_version(version: int, location: str) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the database {location} has schema version {version}, newer than version "
            f"{SCHEMA_VERSION} that this version of the contact center knows; "
            "upgrade the contact center or use another data directory"
        )


def _migrate(connection: sqlite3.Connection, location: str) -> int:
    """Apply the missing migration steps in one transaction; return the schema version."""
    version = _user_version(connection)
    _check_version(version, location)
    if version == SCHEMA_VERSION:
        return version
    connection.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated between the first look and the write lock.
        version = _user_version(connection)
        _check_version(version, location)
        for step in range(version, SCHEMA_VERSION):
            _LOGGER.info(
                "Migrating SQLite store %s from schema version %s to %s",
                location,
                step,
                step + 1,
            )
            for statement in _MIGRATIONS[step]:
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        connection.execute("COMMIT")
    except BaseException:
        # Some errors (a full disk) end the transaction themselves.
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


def _close(connection: sqlite3.Connection) -> None:
    try:
        # Keeps the planner's statistics current, as SQLite recommends on closing.
        connection.execute("PRAGMA optimize")
    except sqlite3.Error as err:
        _LOGGER.debug("Skipped PRAGMA optimize on close: %s", err)
    connection.close()


# ---------------------------------------------------------------- building queries
_PLAIN_FIELD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_KINDS: Final[dict[type, str]] = {
    bool: "('true', 'false')",
    int: "('integer', 'real')",
    float: "('integer', 'real')",
    str: "('text')",
}

# JSON types ranked as Cosmos DB orders them: null (and missing) < booleans < numbers <
# strings; arrays and objects last, in a stable but unspecified order.
_RANK: Final = (
    "CASE json_type(body, {path}) WHEN 'true' THEN 1 WHEN 'false' THEN 1"
    " WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3"
    " WHEN 'array' THEN 4 WHEN 'object' THEN 4 ELSE 0 END"
)


class _Bindings:
    """Named parameters of one statement, in the order they were bound."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


def _field_path(field: str, bindings: _Bindings) -> str:
    """Return the SQL for the JSON path of a top-level body field."""
    if _PLAIN_FIELD.fullmatch(field):
        # A literal path, so that the planner can match the expression indexes.
        return f"'$.{field}'"
    if '"' in field:
        raise ValueError(f"a queried field name cannot contain a double quote: {field!r}")
    return bindings.bind(f'$."{field}"')


def _scalar(value: object) -> tuple[str, bool | int | float | str]:
    """Return the JSON types a condition value compares with, and the value to bind."""
    # bool before int: True is an int to Python, never a number to JSON.
    if isinstance(value, bool):
        return _KINDS[bool], int(value)
    if isinstance(value, int):
        return _KINDS[int], int(value)
    if isinstance(value, float):
        return _KINDS[float], float(value)
    if isinstance(value, str):
        return _KINDS[str], str(value)
    raise TypeError(f"cannot compare a document field with {type(value).__name__}")


def _condition_sql(condition: Condition, bindings: _Bindings) -> str:
    """Return a never-NULL SQL predicate for one condition.

    A missing field reads as null; values of different JSON types are never equal and
    never ordered against each other (as in the in-memory store).
    """
    path = _field_path(condition.field, bindings)
    kind = f"ifnull(json_type(body, {path}), 'null')"
    if condition.value is None:
        if condition.op is Op.EQ:
            return f"{kind} = 'null'"
        if condition.op is Op.NE:
            return f"{kind} <> 'null'"
        return "0"
    kinds, value = _scalar(condition.value)
    operator = "=" if condition.op is Op.NE else condition.op.value
    same = f"({kind} IN {kinds} AND json_extract(body, {path}) {operator} {bindings.bind(value)})"
    return f"NOT {same}" if condition.op is Op.NE else same


def _sort_keys(order_by: Sequence[tuple[str, bool]], bindings: _Bindings) -> list[tuple[str, bool]]:
    """Return the (expression, descending) columns that order a query totally."""
    keys: list[tuple[str, bool]] = []
    for field, descending in order_by:
        path = _field_path(field, bindings)
        keys.append((_RANK.format(path=path), descending))
        keys.append((f"ifnull(json_extract(body, {path}), 0)", descending))
    # Ties end in (tenant_id, id) order, which is unique: keyset paging needs a total order.
    keys.extend((("tenant_id", False), ("id", False)))
    return keys


def _after_sql(keys: Sequence[tuple[str, bool]], after: Sequence[Any], bindings: _Bindings) -> str:
    """Return the predicate for rows that sort after the key ``after``."""
    predicate = ""
    for (expression, descending), value in reversed(list(zip(keys, after, strict=True))):
        param = bindings.bind(value)
        beyond = f"{expression} {'<' if descending else '>'} {param}"
        predicate = (
            f"({beyond} OR ({expression} = {param} AND {predicate}))" if predicate else beyond
        )
    return predicate


def _where_sql(
    collection: str, tenant_id: str | None, where: Sequence[Condition], bindings: _Bindings
) -> list[str]:
    clauses = [f"collection = {bindings.bind(collection)}"]
    if tenant_id is not None:
        clauses.append(f"tenant_id = {bindings.bind(tenant_id)}")
    clauses.extend(_condition_sql(condition, bindings) for condition in where)
    return clauses


# ------------------------------------------------------------ work on the connection
def _read(
    connection: sqlite3.Connection, collection: str, tenant_id: str, doc_id: str
) -> StoredDocument:
    row = connection.execute(
        "SELECT body, etag FROM documents WHERE collection = ? AND tenant_id = ? AND id = ?",
        (collection, tenant_id, doc_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"{collection}/{doc_id} not found")
    return StoredDocument(collection, tenant_id, doc_id, load_body(row[0]), row[1])


def _exists(connection: sqlite3.Connection, collection: str, tenant_id: str, doc_id: str) -> bool:
    row = connection.execute(
        "SELECT 1 FROM documents WHERE collection = ? AND tenant_id = ? AND id = ?",
        (collection, tenant_id, doc_id),
    ).fetchone()
    return row is not None


def _insert(
    connection: sqlite3.Connection,
    collection: str,
    tenant_id: str,
    doc_id: str,
    text: str,
    etag: str,
) -> None:
    cursor = connection.execute(
        "INSERT INTO documents (collection, tenant_id, id, body, etag) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (collection, tenant_id, id) DO NOTHING",
        (collection, tenant_id, doc_id, text, etag),
    )
    if cursor.rowcount == 0:
        raise Conflict(f"{collection}/{doc_id} already exists")


def _upsert(
    connection: sqlite3.Connection,
    collection: str,
    tenant_id: str,
    doc_id: str,
    text: str,
    etag: str,
) -> None:
    connection.execute(
        "INSERT INTO documents (collection, tenant_id, id, body, etag) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (collection, tenant_id, id)"
        " DO UPDATE SET body = excluded.body, etag = excluded.etag",
        (collection, tenant_id, doc_id, text, etag),
    )


def _raise_missing_or_changed(
    connection: sqlite3.Connection, collection: str, tenant_id: str, doc_id: str
) -> None:
    # Only names the loser's error: the conditional statement already decided the race.
    row = connection.execute(
        "SELECT 1 FROM documents WHERE collection = ? AND tenant_id = ? AND id = ?",
        (collection, tenant_id, doc_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"{collection}/{doc_id} not found")
    raise Conflict(f"{collection}/{doc_id} changed since it was read")


def _replace(
    connection: sqlite3.Connection,
    collection: str,
    tenant_id: str,
    doc_id: str,
    text: str,
    etag: str,
    if_match: str,
) -> None:
    cursor = connection.execute(
        "UPDATE documents SET body = ?, etag = ?"
        " WHERE collection = ? AND tenant_id = ? AND id = ? AND etag = ?",
        (text, etag, collection, tenant_id, doc_id, if_match),
    )
    if cursor.rowcount != 1:
        _raise_missing_or_changed(connection, collection, tenant_id, doc_id)


def _delete(
    connection: sqlite3.Connection,
    collection: str,
    tenant_id: str,
    doc_id: str,
    if_match: str | None,
) -> None:
    if if_match is None:
        cursor = connection.execute(
            "DELETE FROM documents WHERE collection = ? AND tenant_id = ? AND id = ?",
            (collection, tenant_id, doc_id),
        )
    else:
        cursor = connection.execute(
            "DELETE FROM documents WHERE collection = ? AND tenant_id = ? AND id = ? AND etag = ?",
            (collection, tenant_id, doc_id, if_match),
        )
    if cursor.rowcount != 1:
        _raise_missing_or_changed(connection, collection, tenant_id, doc_id)


def _fetch_page(
    connection: sqlite3.Connection,
    collection: str,
    sql: str,
    params: Mapping[str, Any],
    limit: int | None,
) -> tuple[list[StoredDocument], list[Any] | None]:
    """Run a query; return its documents and, if more follow, the last one's sort key."""
    rows = connection.execute(sql, params).fetchall()
    more = limit is not None and len(rows) > limit
    if more:
        rows = rows[:limit]
    # Each row is (body, etag, *sort key), and the sort key ends with (tenant_id, id).
    documents = [
        StoredDocument(collection, row[-2], row[-1], load_body(row[0]), row[1]) for row in rows
    ]
    return documents, (list(rows[-1][2:]) if more else None)


def _count(connection: sqlite3.Connection, sql: str, params: Mapping[str, Any]) -> int:
    (found,) = connection.execute(sql, params).fetchone()
    return int(found)


# Etags need to be unique, not secret: a generator seeded once from the OS (os.urandom,
# per process) instead of a system call for each write.
_ETAGS = random.Random()  # noqa: S311 - uniqueness, not secrecy


def _new_etag() -> str:
    # Random rather than a counter: a document deleted and created again never repeats
    # an etag that a stale writer may still hold.
    return f"{_ETAGS.getrandbits(128):032x}"


class _Unanswered(enum.Enum):
    """What the read connection returns for work it leaves to the worker thread."""

    TO_WORKER = "to worker"


# ------------------------------------------------------------------------ the store
class SqliteStore:
    """A :class:`~contactcenter.ports.Store` in one SQLite database file.

    Open it with :meth:`open`; use it as an async context manager or call :meth:`close`.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        path: str,
        executor: ThreadPoolExecutor | None,
        reader: sqlite3.Connection | None = None,
    ) -> None:
        """Wrap an open, migrated connection (use :meth:`open` to get one).

        ``reader``, a read-only connection to the same file, serves point reads on the
        calling thread; without it every request goes to ``executor`` (or runs inline).
        """
        self._connection: sqlite3.Connection | None = connection
        self._path = path
        self._executor = executor
        self._reader = reader
        # Requests handed to the worker and not yet answered (counted on the loop's thread).
        self._on_worker = 0

    @classmethod
    async def open(cls, path: str | Path, *, inline: bool = False) -> Self:
        """Open the database at ``path``, creating its directory and schema as needed.

        ``inline=True`` runs every statement on the calling thread: for discrete-event
        simulations and ``:memory:`` databases, never for a server handling requests.
        Raises :class:`DatabaseOpenError` (an ``OSError``) when the data directory is not
        writable or the file is not a usable database, and :class:`SchemaVersionError`
        when a newer version of the code wrote it.
        """
        location = str(path)
        if inline:
            return cls(_connect(location), path=location, executor=None)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        loop = asyncio.get_running_loop()
        try:
            connection = await loop.run_in_executor(executor, _connect, location)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        try:
            reader = await loop.run_in_executor(executor, _connect_reader, location)
        except BaseException:
            await loop.run_in_executor(executor, _close, connection)
            executor.shutdown(wait=False)
            raise
        return cls(connection, path=location, executor=executor, reader=reader)

    @property
    def path(self) -> str:
        """The database file (or ``:memory:``)."""
        return self._path

    @property
    def inline(self) -> bool:
        """Whether statements run on the calling thread rather than the store's own."""
        return self._executor is None

    async def _run(
        self,
        work: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``work`` on the connection, translating SQLite's failures."""
        connection = self._connection
        if connection is None:
            raise RuntimeError(f"the SQLite store {self._path} is closed")
        try:
            if self._executor is None:
                return work(connection, *args, **kwargs)
            call = functools.partial(work, connection, *args, **kwargs)
            self._on_worker += 1
            try:
                return await asyncio.get_running_loop().run_in_executor(self._executor, call)
            finally:
                self._on_worker -= 1
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            # Mistakes in this module, not conditions a caller can handle.
            raise
        except sqlite3.DatabaseError as err:
            # A locked, full, unreadable or damaged database.
            raise Unavailable(f"SQLite store {self._path}: {err}") from err

    def _on_reader(
        self,
        work: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T | Literal[_Unanswered.TO_WORKER]:
        """Run read-only ``work`` on the read connection, here and now, if it can."""
        reader = self._reader
        # With requests queued on the worker, a read there comes after them and one here
        # might not: then the worker keeps the order in which requests were made.
        if reader is None or self._connection is None or self._on_worker:
            return _Unanswered.TO_WORKER
        try:
            return work(reader, *args, **kwargs)
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise
        except sqlite3.DatabaseError as err:
            # Locked or failing here: the worker waits for the lock, or says what broke.
            _LOGGER.debug("SQLite read in %s goes to the worker: %s", self._path, err)
            return _Unanswered.TO_WORKER

    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        """Return the document, or raise NotFound."""
        found = self._on_reader(_read, collection, tenant_id, doc_id)
        if found is not _Unanswered.TO_WORKER:
            return found
        return await self._run(_read, collection, tenant_id, doc_id)

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        """Store a new document; raise Conflict if the id is taken."""
        # The id is taken in the last committed state: the insert would lose whatever else
        # is in flight, so it loses here, without the hop (a redelivered notification).
        if self._on_reader(_exists, collection, tenant_id, doc_id) is True:
            raise Conflict(f"{collection}/{doc_id} already exists")
        # Encode before any thread hop: the caller may change its mapping once we yield.
        text, etag = dump_body(body), _new_etag()
        await self._run(_insert, collection, tenant_id, doc_id, text, etag)
        return StoredDocument(collection, tenant_id, doc_id, load_body(text), etag)

    async def replace(
        self,
        collection: str,
        tenant_id: str,
        doc_id: str,
        body: Mapping[str, Any],
        *,
        if_match: str,
    ) -> StoredDocument:
        """Overwrite the document if its etag is still ``if_match``; else Conflict or NotFound."""
        text, etag = dump_body(body), _new_etag()
        await self._run(_replace, collection, tenant_id, doc_id, text, etag, if_match)
        return StoredDocument(collection, tenant_id, doc_id, load_body(text), etag)

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        """Create or overwrite the document unconditionally."""
        text, etag = dump_body(body), _new_etag()
        await self._run(_upsert, collection, tenant_id, doc_id, text, etag)
        return StoredDocument(collection, tenant_id, doc_id, load_body(text), etag)

    async def delete(
        self, collection: str, tenant_id: str, doc_id: str, *, if_match: str | None = None
    ) -> None:
        """Remove the document (only if its etag is ``if_match``, when given)."""
        await self._run(_delete, collection, tenant_id, doc_id, if_match)

    async def query(
        self,
        collection: str,
        tenant_id: str | None,
        where: Sequence[Condition] = (),
        *,
        order_by: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        continuation: str | None = None,
    ) -> Page:
        """Return documents matching every condition; ``order_by`` is (field, descending)."""
        check_limit(limit)
        bindings = _Bindings()
        clauses = _where_sql(collection, tenant_id, where, bindings)
        keys = _sort_keys(order_by, bindings)
        if continuation:
            after = decode_continuation(continuation, order_by, len(keys))
            clauses.append(_after_sql(keys, after, bindings))
        columns = ", ".join(expression for expression, _ in keys)
        ordering = ", ".join(f"{expr} DESC" if desc else expr for expr, desc in keys)
        # Every interpolated piece comes from this module's templates and checked field
        # names; every value is a bound parameter.
        sql = (
            f"SELECT body, etag, {columns} FROM documents"  # noqa: S608
            f" WHERE {' AND '.join(clauses)} ORDER BY {ordering}"
        )
        if limit is not None:
            # One more than the page, to learn whether another page follows.
            sql += f" LIMIT {bindings.bind(limit + 1)}"
        documents, last_key = await self._run(_fetch_page, collection, sql, bindings.values, limit)
        if last_key is None:
            return Page(documents)
        return Page(documents, encode_continuation(order_by, last_key))

    async def count(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition] = ()
    ) -> int:
        """Return how many documents match every condition."""
        bindings = _Bindings()
        clauses = _where_sql(collection, tenant_id, where, bindings)
        sql = f"SELECT count(*) FROM documents WHERE {' AND '.join(clauses)}"  # noqa: S608
        return await self._run(_count, sql, bindings.values)

    async def close(self) -> None:
        """Finish queued work, close the database and stop the worker thread."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        reader, self._reader = self._reader, None
        if reader is not None:
            # Never the database's last connection (the writer is): closing reads nothing.
            reader.close()
        if self._executor is None:
            _close(connection)
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, _close, connection)
        finally:
            # The queue is empty by now: closing was the last piece of work submitted.
            self._executor.shutdown(wait=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
