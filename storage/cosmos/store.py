"""The Cosmos DB store: reads, writes and compare-and-set on the containers of a layout.

Compare-and-set is Cosmos DB's own: ``If-Match`` with the item's ``_etag``. A query
without a limit is one request whose matches the store orders itself. A page (``limit``)
is read in index order, served by the composite indexes the collection's
:class:`~storage.cosmos.layout.CollectionLayout` declares (an ordering without one is
sorted in the store, correct but reading every match, with a warning).

Throttling (429) is retried by the SDK, which honours ``x-ms-retry-after-ms``, a bounded
number of times; then :class:`~contactcenter.errors.Throttled` is raised. Every request's
charge (``x-ms-request-charge``) is added up in :attr:`CosmosStore.request_charges`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar, cast

from azure.core import MatchConditions
from azure.core.exceptions import AzureError
from azure.core.pipeline.transport import AioHttpTransport
from azure.cosmos import PartitionKey
from azure.cosmos.aio import ContainerProxy, CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import CosmosHttpResponseError
from azure.identity.aio import DefaultAzureCredential

from contactcenter.errors import Conflict, NotFound, Unavailable
from contactcenter.ports import Condition, Page, StoredDocument
from storage.cosmos.charges import RequestCharges, request_charge
from storage.cosmos.errors import status_of, translate_error
from storage.cosmos.items import check_id, from_item, to_item
from storage.cosmos.layout import (
    COLLECTIONS,
    DEFAULT_LAYOUT,
    PARTITION_KEY_PATH,
    CollectionLayout,
    IndexPath,
    Ordering,
    check_collection,
    check_field,
    check_layout,
    composite_indexes,
    declared_indexes,
    indexing_policy,
)
from storage.cosmos.query import (
    Group,
    check_after,
    group_sql,
    indexes_needed,
    page_of,
    resume_groups,
    segments,
    sort_here,
    where_sql,
)
from storage.documents import check_limit, decode_continuation

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

_LOGGER = logging.getLogger(__name__)

_T = TypeVar("_T")

ResponseHook = Callable[..., None]
"""Called by the SDK with each response's headers (and, for most calls, its body)."""

# Throttled requests: the SDK waits as Cosmos DB's x-ms-retry-after-ms says, at most this
# many times and this long in all, then gives up with 429. A call must be answered within
# 15 s, so waiting longer than a few seconds for one document does more harm than good.
_THROTTLE_RETRIES: Final = 5
_THROTTLE_WAIT_S: Final = 5
_PROVISIONED_MIN_THROUGHPUT: Final = 400

_MAX_PAGE_ITEMS: Final = 1000


# With environment settings on, aiohttp looks for a proxy and a .netrc entry on a worker
# thread for every request: two thread hand-offs per request, about a tenth of the host's
# CPU on Cosmos DB. They are on only when the environment names a proxy.
_PROXY_VARIABLES: Final = ("https_proxy", "http_proxy", "all_proxy")


def _proxy_configured(environ: Mapping[str, str]) -> bool:
    """Tell whether the environment names an HTTP proxy (in either case)."""
    return any(environ.get(name) or environ.get(name.upper()) for name in _PROXY_VARIABLES)


@dataclass(slots=True)
class _Container:
    proxy: ContainerProxy
    composite_indexes: frozenset[IndexPath]


# ------------------------------------------------------------------------ the store
class CosmosStore:
    """A :class:`~contactcenter.ports.Store` on Azure Cosmos DB (``azure.cosmos.aio``).

    Open it with :meth:`open`; it owns its client (one per process) and closes it in
    :meth:`close`. Use it as an async context manager or call :meth:`close`.
    """

    def __init__(
        self,
        client: CosmosClient,
        database: DatabaseProxy,
        *,
        layout: Mapping[str, CollectionLayout],
        owned_credential: AsyncTokenCredential | None = None,
    ) -> None:
        """Wrap an entered client (use :meth:`open` to get one)."""
        self._client: CosmosClient | None = client
        self._database = database
        self._layout = layout
        self._owned_credential = owned_credential
        self._containers: dict[str, _Container] = {}
        self._creating: dict[str, asyncio.Lock] = {}
        self._warned_orderings: set[tuple[str, IndexPath]] = set()
        self.request_charges = RequestCharges()

    @classmethod
    async def open(
        cls,
        endpoint: str,
        *,
        key: str | None,
        database: str,
        verify_tls: bool = True,
        serverless: bool = True,
        throughput: int | None = None,
        credential: AsyncTokenCredential | None = None,
        layout: Mapping[str, CollectionLayout] = COLLECTIONS,
    ) -> Self:
        """Connect, and create the database and the layout's containers if missing.

        ``key`` is the account key; without one, ``credential`` (or, when that is None
        too, ``DefaultAzureCredential``: managed identity in Azure) signs the requests.
        ``throughput`` is the database's shared manual RU/s when the store creates it on a
        provisioned account (``serverless=False``; default 400); a serverless account
        takes none. ``verify_tls=False`` is for a local test server only.
        """
        if key is not None and credential is not None:
            raise ValueError("give either an account key or a credential, not both")
        if key == "":
            raise ValueError("the account key is empty: pass None to sign with a credential")
        if serverless and throughput is not None:
            raise ValueError("a serverless Cosmos DB account takes no throughput")
        if not serverless and throughput is None:
            throughput = _PROVISIONED_MIN_THROUGHPUT
        if not database:
            raise ValueError("a Cosmos DB database name is required")
        check_layout(layout)
        if not verify_tls:
            _LOGGER.warning("TLS certificates of %s are not verified", endpoint)

        owned: AsyncTokenCredential | None = None
        auth: str | AsyncTokenCredential
        if key is not None:
            auth = key
        elif credential is not None:
            auth = credential
        else:
            owned = DefaultAzureCredential()
            auth = owned
        client = CosmosClient(
            endpoint,
            credential=auth,
            connection_verify=verify_tls,
            transport=AioHttpTransport(use_env_settings=_proxy_configured(os.environ)),
            retry_throttle_total=_THROTTLE_RETRIES,
            retry_throttle_backoff_max=_THROTTLE_WAIT_S,
            user_agent_suffix="contact-center",
        )
        store = cls(
            client,
            client.get_database_client(database),
            layout=layout,
            owned_credential=owned,
        )
        try:
            await store._run(
                "open", f"Cosmos DB account {endpoint}", lambda _hook: client.__aenter__()
            )
            await store._prepare(database, throughput)
        except BaseException:
            await store.close()
            raise
        _LOGGER.info(
            "Opened Cosmos DB store %s/%s (%s auth)",
            endpoint,
            database,
            "key" if key is not None else "token",
        )
        return store

    @property
    def database(self) -> str:
        """The name of the store's database."""
        return self._database.id

    @property
    def request_charge_total(self) -> float:
        """Request units charged since the store was opened."""
        return self.request_charges.total

    # -------------------------------------------------------------- plumbing
    async def _run(
        self,
        operation: str,
        what: str,
        call: Callable[[ResponseHook], Awaitable[_T]],
    ) -> _T:
        """Run one Cosmos DB call: record its charge, translate its failure."""
        if self._client is None:
            raise RuntimeError("the Cosmos DB store is closed")
        charges: list[float] = []

        def hook(headers: Mapping[str, Any], _body: Any = None) -> None:
            charge = request_charge(headers)
            if charge is not None:
                charges.append(charge)

        try:
            return await call(hook)
        except CosmosHttpResponseError as err:
            charge = request_charge(getattr(err, "headers", None))
            if charge is not None:
                charges.append(charge)
            _LOGGER.debug("Cosmos DB %s %s failed: %s", operation, what, err.status_code)
            raise translate_error(err, what) from err
        except AzureError as err:
            # Connection failures and timeouts, after the SDK's own retries.
            raise Unavailable(
                f"{what}: Cosmos DB cannot be reached ({type(err).__name__})"
            ) from err
        finally:
            self.request_charges.record(operation, charges)
            _LOGGER.debug(
                "Cosmos DB %s %s: %.2f RU in %d requests",
                operation,
                what,
                sum(charges),
                len(charges),
            )

    def _database_proxy(self) -> DatabaseProxy:
        if self._client is None:
            raise RuntimeError("the Cosmos DB store is closed")
        return self._database

    async def _prepare(self, database: str, throughput: int | None) -> None:
        fresh = await self._open_database(database, throughput)
        # Concurrently: creating a container is a round trip of its own. In a database
        # just created, no container can exist yet.
        outcomes = await asyncio.gather(
            *(self._ensure_container(name, known_missing=fresh) for name in self._layout),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _open_database(self, name: str, throughput: int | None) -> bool:
        """Create the database unless it exists; return whether it was created."""
        client = self._client
        assert client is not None
        what = f"database {name}"
        try:
            self._database = await self._run(
                "metadata",
                what,
                lambda hook: client.create_database(
                    name, offer_throughput=throughput, response_hook=hook
                ),
            )
        except Conflict:
            return False
        except Unavailable as err:
            # Data-plane roles (managed identity) may not create databases; the
            # deployment does. Go on if it exists.
            if status_of(err) != 403:
                raise
            database = self._database
            await self._run("metadata", what, lambda hook: database.read(response_hook=hook))
            return False
        _LOGGER.info("Created Cosmos DB database %s", name)
        return True

    async def _read_container(self, name: str) -> _Container | None:
        """Return the container of ``name`` if it exists (and remember it)."""
        proxy = self._database_proxy().get_container_client(name)
        try:
            properties = await self._run(
                "metadata", f"container {name}", lambda hook: proxy.read(response_hook=hook)
            )
        except NotFound:
            return None
        paths = (properties.get("partitionKey") or {}).get("paths") or []
        if paths[:1] != [PARTITION_KEY_PATH]:
            raise Unavailable(
                f"Cosmos DB container {name} is partitioned by {paths}, not {PARTITION_KEY_PATH}"
            )
        container = _Container(proxy, declared_indexes(properties))
        self._check_existing(name, properties, container)
        self._containers[name] = container
        return container

    def _check_existing(
        self, name: str, properties: Mapping[str, Any], container: _Container
    ) -> None:
        spec = self._layout.get(name)
        if spec is None:
            return
        if spec.default_ttl is not None and properties.get("defaultTtl") != spec.default_ttl:
            _LOGGER.warning(
                "Cosmos DB container %s has default TTL %s, not %s: item TTLs may be ignored",
                name,
                properties.get("defaultTtl"),
                spec.default_ttl,
            )
        missing = [
            index for index in composite_indexes(spec) if index not in container.composite_indexes
        ]
        if missing:
            _LOGGER.warning(
                "Cosmos DB container %s lacks %d composite indexes of its layout: "
                "queries needing them sort in the store",
                name,
                len(missing),
            )

    async def _ensure_container(self, name: str, *, known_missing: bool = False) -> _Container:
        """Return the container of ``name``, creating it from its layout if missing."""
        found = self._containers.get(name)
        if found is None and not known_missing:
            found = await self._read_container(name)
        if found is not None:
            return found
        async with self._creating.setdefault(name, asyncio.Lock()):
            if name in self._containers:
                return self._containers[name]
            return await self._create_container(name)

    async def _create_container(self, name: str) -> _Container:
        spec = self._layout.get(name, DEFAULT_LAYOUT)
        if name not in self._layout:
            _LOGGER.info("Creating Cosmos DB container %s with the default layout", name)
        database = self._database_proxy()
        what = f"container {name}"
        try:
            proxy, properties = await self._run(
                "metadata",
                what,
                lambda hook: database.create_container(
                    name,
                    PartitionKey(path=PARTITION_KEY_PATH),
                    indexing_policy=cast(dict[str, str], indexing_policy(spec)),
                    default_ttl=spec.default_ttl,
                    return_properties=True,
                    response_hook=hook,
                ),
            )
        except Conflict:
            # Another host created it first.
            found = await self._read_container(name)
            if found is None:
                raise
            return found
        except Unavailable as err:
            if status_of(err) != 403:
                raise
            raise Unavailable(
                f"{what} is missing and this identity may not create it: "
                "deploy the containers with the infrastructure templates"
            ) from err
        container = _Container(proxy, declared_indexes(properties))
        self._containers[name] = container
        return container

    async def _existing_container(self, name: str) -> _Container | None:
        check_collection(name)
        return self._containers.get(name) or await self._read_container(name)

    # ---------------------------------------------------------- documents
    async def read(self, collection: str, tenant_id: str, doc_id: str) -> StoredDocument:
        """Return the document, or raise NotFound."""
        what = f"{collection}/{doc_id}"
        container = await self._existing_container(collection)
        if container is None:
            raise NotFound(f"{what} not found")
        item = await self._run(
            "read",
            what,
            lambda hook: container.proxy.read_item(
                doc_id, partition_key=tenant_id, response_hook=hook
            ),
        )
        return from_item(collection, item)

    async def create(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        """Store a new document; raise Conflict if the id is taken."""
        item = self._item(collection, tenant_id, doc_id, body)
        container = await self._ensure_container(collection)
        stored = await self._run(
            "create",
            f"{collection}/{doc_id}",
            lambda hook: container.proxy.create_item(item, response_hook=hook),
        )
        return from_item(collection, stored)

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
        item = self._item(collection, tenant_id, doc_id, body)
        what = f"{collection}/{doc_id}"
        container = await self._existing_container(collection)
        if container is None:
            raise NotFound(f"{what} not found")
        stored = await self._run(
            "replace",
            what,
            lambda hook: container.proxy.replace_item(
                doc_id,
                item,
                etag=if_match,
                match_condition=MatchConditions.IfNotModified,
                response_hook=hook,
            ),
        )
        return from_item(collection, stored)

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        """Create or overwrite the document unconditionally."""
        item = self._item(collection, tenant_id, doc_id, body)
        container = await self._ensure_container(collection)
        stored = await self._run(
            "upsert",
            f"{collection}/{doc_id}",
            lambda hook: container.proxy.upsert_item(item, response_hook=hook),
        )
        return from_item(collection, stored)

    async def delete(
        self, collection: str, tenant_id: str, doc_id: str, *, if_match: str | None = None
    ) -> None:
        """Remove the document (only if its etag is ``if_match``, when given)."""
        what = f"{collection}/{doc_id}"
        container = await self._existing_container(collection)
        if container is None:
            raise NotFound(f"{what} not found")
        if if_match is None:
            await self._run(
                "delete",
                what,
                lambda hook: container.proxy.delete_item(
                    doc_id, partition_key=tenant_id, response_hook=hook
                ),
            )
            return
        await self._run(
            "delete",
            what,
            lambda hook: container.proxy.delete_item(
                doc_id,
                partition_key=tenant_id,
                etag=if_match,
                match_condition=MatchConditions.IfNotModified,
                response_hook=hook,
            ),
        )

    @staticmethod
    def _item(
        collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        check_collection(collection)
        check_id(doc_id, "id")
        check_id(tenant_id, "tenant id")
        # Encoded before the first await: the caller may change its mapping once we yield.
        return to_item(tenant_id, doc_id, body)

    # ------------------------------------------------------------- queries
    async def _fetch(
        self,
        container: _Container,
        collection: str,
        tenant_id: str | None,
        sql: str,
        parameters: list[dict[str, Any]],
        *,
        top: int | None,
    ) -> list[dict[str, Any]]:
        """Run one query to the end; return its items."""
        what = f"query on {collection}"
        max_items = min(top, _MAX_PAGE_ITEMS) if top is not None else _MAX_PAGE_ITEMS

        async def run(hook: ResponseHook) -> list[dict[str, Any]]:
            if tenant_id is None:
                pager = container.proxy.query_items(
                    sql, parameters=parameters, max_item_count=max_items, response_hook=hook
                )
            else:
                pager = container.proxy.query_items(
                    sql,
                    parameters=parameters,
                    partition_key=tenant_id,
                    max_item_count=max_items,
                    response_hook=hook,
                )
            return [item async for item in pager]

        _LOGGER.debug("Cosmos DB query on %s: %s", collection, sql)
        return await self._run("query", what, run)

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
        order_by = tuple(order_by)
        for condition in where:
            check_field(condition.field)
        for name, _ in order_by:
            check_field(name)
        after: list[Any] | None = None
        if continuation:
            after = decode_continuation(continuation, order_by, 2 * len(order_by) + 2)
            check_after(after, order_by)
        container = await self._existing_container(collection)
        if container is None or where_sql(tenant_id, where) is None:
            return Page([])

        if limit is None:
            # Every match is read anyway: one request, ordered here, costs least.
            return await self._query_sorting_here(
                container, collection, tenant_id, where, order_by, limit, after
            )
        groups = list(segments(order_by, where))
        needed = indexes_needed(order_by, groups)
        if not needed <= container.composite_indexes:
            self._warn_unindexed(collection, container, needed)
            return await self._query_sorting_here(
                container, collection, tenant_id, where, order_by, limit, after
            )
        return await self._query_by_groups(
            container, collection, tenant_id, where, order_by, limit, after, groups
        )

    def _warn_unindexed(
        self, collection: str, container: _Container, needed: set[IndexPath]
    ) -> None:
        for path in sorted(needed - container.composite_indexes):
            if (collection, path) not in self._warned_orderings:
                self._warned_orderings.add((collection, path))
                _LOGGER.warning(
                    "Cosmos DB container %s has no composite index %s: such queries read "
                    "every match and sort in the store; declare the ordering in its layout",
                    collection,
                    [f"{p} {o}" for p, o in path],
                )

    async def _query_by_groups(
        self,
        container: _Container,
        collection: str,
        tenant_id: str | None,
        where: Sequence[Condition],
        order_by: Ordering,
        limit: int,
        after: list[Any] | None,
        groups: list[Group],
    ) -> Page:
        """Read each group of documents in order, ordered by Cosmos DB, until the page is full."""
        # One more than the page, to learn whether another page follows.
        wanted = limit + 1
        groups, start = resume_groups(groups, order_by, after)
        found: list[StoredDocument] = []
        for group in groups:
            top = wanted - len(found)
            text, parameters = group_sql(
                tenant_id,
                where,
                order_by,
                group,
                top=top,
                after=after if group == start else None,
            )
            items = await self._fetch(container, collection, tenant_id, text, parameters, top=top)
            found.extend(from_item(collection, item) for item in items)
            if len(found) >= wanted:
                break
        return page_of(found, order_by, limit)

    async def _query_sorting_here(
        self,
        container: _Container,
        collection: str,
        tenant_id: str | None,
        where: Sequence[Condition],
        order_by: Ordering,
        limit: int | None,
        after: list[Any] | None,
    ) -> Page:
        """Read every match in one request and order it here."""
        sql = where_sql(tenant_id, where)
        assert sql is not None
        items = await self._fetch(
            container, collection, tenant_id, sql.text(), sql.parameters, top=None
        )
        return sort_here([from_item(collection, item) for item in items], order_by, after, limit)

    async def count(
        self, collection: str, tenant_id: str | None, where: Sequence[Condition] = ()
    ) -> int:
        """Return how many documents match every condition."""
        for condition in where:
            check_field(condition.field)
        container = await self._existing_container(collection)
        sql = where_sql(tenant_id, where)
        if container is None or sql is None:
            return 0
        items = await self._fetch(
            container, collection, tenant_id, sql.text(count=True), sql.parameters, top=None
        )
        # A query across partitions may answer one partial count per partition.
        return sum(int(cast(Any, value)) for value in items)

    # ------------------------------------------------------------- lifetime
    async def close(self) -> None:
        """Close the client (and the credential the store created)."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        credential, self._owned_credential = self._owned_credential, None
        if credential is not None:
            await credential.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
