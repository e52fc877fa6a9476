"""Copy every document of one store into another: SQLite and Cosmos DB, either way.

A store is named by a URL (see :func:`parse_store_url`). The copy reads each collection
page by page in (tenant, id) order, the order every store pages in, and writes a document
only when the destination lacks it or holds a different body. A second run therefore
writes nothing, and a run that stopped halfway (a crash, a lost connection, Ctrl-C) is
finished by running it again. With a checkpoint file, the pages already copied are not
even read again: after each page the file records where the next one starts.

Documents only the destination holds are left as they are: this is a copy, not a mirror.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, ResourceNotFoundError
from azure.cosmos.aio import CosmosClient
from azure.cosmos.exceptions import CosmosHttpResponseError
from azure.identity.aio import DefaultAzureCredential

from contactcenter.errors import DomainError, NotFound
from contactcenter.ports import Store, StoredDocument
from storage.cosmos import COLLECTIONS, CollectionLayout, CosmosStore, translate_error
from storage.sqlite import DatabaseOpenError, SqliteStore

DEFAULT_DATABASE: Final = "contactcenter"
SQLITE_FILE_NAME: Final = "contactcenter.db"
DEFAULT_PAGE_SIZE: Final = 100
# Documents compared and written at once within a page.
_CONCURRENCY: Final = 16
# Written last: in the demo seed (and in any reader that follows it) the tenant document
# says that everything else of the tenant is there.
_LAST: Final = "tenants"


class StoreUrlError(ValueError):
    """A store URL that cannot name a store; the message says what is wrong."""


class StoreUnavailable(Exception):
    """A store that cannot be opened: missing, unreachable, or refusing access."""


class CheckpointError(Exception):
    """A checkpoint file that cannot be used for this copy."""


# ------------------------------------------------------------------- store URLs
@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where a store is: a SQLite file, or a Cosmos DB account's database."""

    kind: Literal["sqlite", "cosmos"]
    path: Path | None = None
    endpoint: str = ""
    database: str = ""

    def __str__(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:{self.path}"
        return f"cosmos {self.endpoint} database {self.database}"

    def same_as(self, other: StoreLocation) -> bool:
        """Tell whether both name the same store."""
        if self.kind != other.kind:
            return False
        if self.kind == "sqlite":
            assert self.path is not None
            assert other.path is not None
            return self.path.resolve() == other.path.resolve()
        return (self.endpoint, self.database) == (other.endpoint, other.database)


def parse_store_url(url: str) -> StoreLocation:
    """Parse a store URL.

    * ``sqlite:///absolute/path/contactcenter.db`` or ``sqlite:relative/path.db``: a SQLite
      database file; a path to a directory means ``<directory>/contactcenter.db`` (a data
      directory).
    * ``cosmos://HOST[:PORT]?database=NAME``: the database of the Cosmos DB account whose
      endpoint is ``https://HOST:PORT/`` (port 443 by default); ``database`` defaults to
      ``contactcenter``.
    """
    text = url.strip()
    scheme, sep, rest = text.partition(":")
    if not sep or not rest:
        raise StoreUrlError(f"{url!r} is not a store URL: expected sqlite:PATH or cosmos://HOST")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _sqlite_location(url, rest)
    if scheme == "cosmos":
        return _cosmos_location(url)
    raise StoreUrlError(f"{url!r}: unknown store kind {scheme!r} (expected sqlite or cosmos)")


def _sqlite_location(url: str, rest: str) -> StoreLocation:
    if rest.startswith("//"):
        authority, slash, local = rest[2:].partition("/")
        if authority not in ("", "localhost"):
            raise StoreUrlError(f"{url!r}: a SQLite URL names a local file, not host {authority}")
        rest = slash + local
    if "?" in rest or "#" in rest:
        raise StoreUrlError(f"{url!r}: a SQLite URL takes no query or fragment")
    if not rest or rest == "/":
        raise StoreUrlError(f"{url!r}: no database file given")
    path = Path(rest).expanduser()
    if path.is_dir():
        path = path / SQLITE_FILE_NAME
    return StoreLocation("sqlite", path=path)


def _cosmos_location(url: str) -> StoreLocation:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise StoreUrlError(f"{url!r}: {err}") from None
    if not parts.hostname:
        raise StoreUrlError(f"{url!r}: no Cosmos DB account host (cosmos://HOST?database=NAME)")
    if parts.path not in ("", "/") or parts.fragment or parts.username or parts.password:
        raise StoreUrlError(
            f"{url!r}: expected cosmos://HOST[:PORT]?database=NAME, without a path or key"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"database"})
    if unknown:
        raise StoreUrlError(f"{url!r}: unknown option {', '.join(unknown)} (only database=NAME)")
    databases = query.get("database", [DEFAULT_DATABASE])
    if len(databases) != 1 or not databases[0]:
        raise StoreUrlError(f"{url!r}: give one non-empty database=NAME")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return StoreLocation("cosmos", endpoint=f"https://{host}:{port or 443}/", database=databases[0])


# ---------------------------------------------------------------- opening stores
@dataclass(frozen=True, slots=True)
class CosmosAccess:
    """How to sign in to Cosmos DB: an account key, or (None) the Azure identity."""

    key: str | None = None
    verify_tls: bool = True


@dataclass(slots=True)
class OpenedStore:
    """A store opened for the copy and the collections it holds."""

    store: Store
    collections: list[str]


async def open_source(location: StoreLocation, access: CosmosAccess) -> OpenedStore:
    """Open an existing store to copy from, creating nothing; list its collections."""
    if location.kind == "sqlite":
        assert location.path is not None
        if not location.path.is_file():
            raise StoreUnavailable(f"no SQLite database at {location.path}")
        names = await asyncio.to_thread(_sqlite_collections, location.path)
        return OpenedStore(await _open_sqlite(location.path), names)
    names = await _cosmos_collections(location, access)
    layout = {name: COLLECTIONS.get(name, CollectionLayout()) for name in names}
    return OpenedStore(await _open_cosmos(location, access, layout), names)


async def open_destination(location: StoreLocation, access: CosmosAccess) -> Store:
    """Open (creating as needed) the store to copy into."""
    if location.kind == "sqlite":
        assert location.path is not None
        return await _open_sqlite(location.path)
    return await _open_cosmos(location, access, COLLECTIONS)


async def _open_sqlite(path: Path) -> Store:
    try:
        return await SqliteStore.open(path)
    except DatabaseOpenError as err:
        raise StoreUnavailable(str(err)) from err


async def _open_cosmos(
    location: StoreLocation, access: CosmosAccess, layout: Mapping[str, CollectionLayout]
) -> Store:
    try:
        return await CosmosStore.open(
            location.endpoint,
            key=access.key,
            database=location.database,
            verify_tls=access.verify_tls,
            layout=layout,
        )
    except (DomainError, AzureError, ValueError) as err:
        raise StoreUnavailable(f"cannot open {location}: {err}") from err


def _sqlite_collections(path: Path) -> list[str]:
    """Return the collections a SQLite store holds documents in (read-only access)."""
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT DISTINCT collection FROM documents ORDER BY collection"
            ).fetchall()
    except sqlite3.Error as err:
        raise StoreUnavailable(f"{path} is not a contact center database: {err}") from err
    return [str(name) for (name,) in rows]


async def _cosmos_collections(location: StoreLocation, access: CosmosAccess) -> list[str]:
    """Return the containers of an existing Cosmos DB database."""
    credential: AsyncTokenCredential | None = None
    auth: str | AsyncTokenCredential
    if access.key is not None:
        auth = access.key
    else:
        auth = credential = DefaultAzureCredential()
    client = CosmosClient(location.endpoint, credential=auth, connection_verify=access.verify_tls)
    try:
        # Entered by hand: the SDK leaves its HTTP session open when entering fails.
        await client.__aenter__()
        database = client.get_database_client(location.database)
        await database.read()
        return sorted([str(c["id"]) async for c in database.list_containers()])
    except ResourceNotFoundError as err:
        raise StoreUnavailable(f"no database {location.database} at {location.endpoint}") from err
    except CosmosHttpResponseError as err:
        raise StoreUnavailable(str(translate_error(err, str(location)))) from err
    except ClientAuthenticationError as err:
        raise StoreUnavailable(
            f"cannot sign in to {location}: no account key (--key or COSMOS_KEY) and no Azure "
            "identity available"
        ) from err
    except AzureError as err:
        reason = str(getattr(err, "message", None) or type(err).__name__)
        raise StoreUnavailable(f"cannot reach {location}: {reason.splitlines()[0]}") from err
    except ValueError as err:  # a key that is not base64
        raise StoreUnavailable(f"cannot sign in to {location}: {err}") from err
    finally:
        await client.close()
        if credential is not None:
            await credential.close()


# ------------------------------------------------------------------- checkpoint
@dataclass(slots=True)
class Checkpoint:
    """Where a copy got to, kept in a JSON file written after every page."""

    path: Path
    source: str
    destination: str
    done: list[str] = field(default_factory=list)
    collection: str | None = None
    continuation: str | None = None
    # Documents of ``collection`` already handled (for the progress bar).
    handled: int = 0

    @classmethod
    def load_or_start(cls, path: Path, *, source: str, destination: str) -> Checkpoint:
        """Resume from ``path`` if it exists (it must be of this copy), else start afresh."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path, source, destination)
        except (OSError, ValueError) as err:
            raise CheckpointError(f"cannot read the checkpoint {path}: {err}") from err
        if not isinstance(data, dict) or (data.get("from"), data.get("to")) != (
            source,
            destination,
        ):
            raise CheckpointError(
                f"the checkpoint {path} belongs to another copy; delete it or name another file"
            )
        return cls(
            path,
            source,
            destination,
            done=[str(name) for name in data.get("done", [])],
            collection=data.get("collection"),
            continuation=data.get("continuation"),
            handled=int(data.get("handled", 0)),
        )

    def save(self) -> None:
        """Write the checkpoint atomically (a crash leaves the old one or the new one)."""
        data = {
            "from": self.source,
            "to": self.destination,
            "done": self.done,
            "collection": self.collection,
            "continuation": self.continuation,
            "handled": self.handled,
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(partial, self.path)

    def remove(self) -> None:
        """Forget the checkpoint once the copy is complete."""
        self.path.unlink(missing_ok=True)


# ------------------------------------------------------------------------ the copy
@dataclass(slots=True)
class CollectionCopy:
    """What copying one collection did."""

    name: str
    total: int = 0
    written: int = 0
    unchanged: int = 0
    # Handled by an earlier run (skipped thanks to the checkpoint).
    resumed: int = 0

    @property
    def handled(self) -> int:
        return self.written + self.unchanged + self.resumed


Progress = Callable[[CollectionCopy], None]


def copy_order(collections: Sequence[str]) -> list[str]:
    """Return the collections in the order they are copied: by name, tenants last."""
    names = sorted(set(collections))
    return [n for n in names if n != _LAST] + ([_LAST] if _LAST in names else [])


async def copy_documents(
    source: Store,
    destination: Store,
    collections: Sequence[str],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> list[CollectionCopy]:
    """Copy every document of ``collections``; return what was done per collection."""
    results: list[CollectionCopy] = []
    for name in copy_order(collections):
        result = CollectionCopy(name)
        results.append(result)
        if checkpoint is not None and name in checkpoint.done:
            result.total = result.resumed = await source.count(name, None)
            if progress is not None:
                progress(result)
            continue
        continuation: str | None = None
        if checkpoint is not None and checkpoint.collection == name:
            continuation = checkpoint.continuation
            result.resumed = checkpoint.handled
        result.total = await source.count(name, None)
        if progress is not None:
            progress(result)
        while True:
            page = await source.query(name, None, limit=page_size, continuation=continuation)
            await _copy_page(destination, page.documents, result)
            continuation = page.continuation
            if checkpoint is not None:
                checkpoint.collection, checkpoint.continuation = name, continuation
                checkpoint.handled = result.handled
                if continuation is None:
                    checkpoint.done.append(name)
                    checkpoint.collection, checkpoint.handled = None, 0
                await asyncio.to_thread(checkpoint.save)
            if progress is not None:
                progress(result)
            if continuation is None:
                break
    return results


async def _copy_page(
    destination: Store, documents: Sequence[StoredDocument], result: CollectionCopy
) -> None:
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def copy_one(doc: StoredDocument) -> None:
        async with limit:
            if await _has_same_body(destination, doc):
                result.unchanged += 1
                return
            await destination.upsert(doc.collection, doc.tenant_id, doc.id, doc.body)
            result.written += 1

    await _gather_all([copy_one(doc) for doc in documents])


async def _has_same_body(destination: Store, doc: StoredDocument) -> bool:
    try:
        existing = await destination.read(doc.collection, doc.tenant_id, doc.id)
    except NotFound:
        return False
    return _canonical(existing.body) == _canonical(doc.body)


def _canonical(body: Mapping[str, Any]) -> str:
    # JSON text, not ==: 3.0 and 3 are different documents to a store, equal to Python.
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)


async def _gather_all(work: Sequence[Awaitable[Any]]) -> None:
    """Run everything; once all finished, raise the first failure (if any)."""
    outcomes = await asyncio.gather(*work, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
