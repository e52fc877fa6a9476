"""What the Cosmos DB store does beyond the storage contract (which runs on it too)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.cosmos import PartitionKey
from azure.cosmos.aio import CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import CosmosHttpResponseError

from contactcenter.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Throttled,
    Unavailable,
)
from contactcenter.model import CallOutcome, CallRecord, Party, PartyKind
from contactcenter.ports import Condition, Op
from contactcenter.repository import Repository
from storage.cosmos import (
    COLLECTIONS,
    PARTITION_KEY_PATH,
    SYSTEM_PROPERTIES,
    CosmosStore,
    translate_error,
)
from tests import cosmos_server as harness
from tests.cosmos_server import (
    EMULATOR_KEY,
    CosmosTestServer,
    cosmos_server,
    fresh_database_name,
    open_test_store,
    shared_server,
)

__all__ = ["cosmos_server"]  # the session fixture, used by the fixtures below

pytestmark = pytest.mark.cosmos

TENANT = "tenant-a"


@pytest.fixture
async def store(cosmos_server: CosmosTestServer) -> AsyncIterator[CosmosStore]:
    """Yield a store on a fresh database of the test server."""
    opened = await open_test_store(cosmos_server)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def database(
    cosmos_server: CosmosTestServer, store: CosmosStore
) -> AsyncIterator[DatabaseProxy]:
    """Yield the store's database through a client of its own, to look behind the store."""
    async with CosmosClient(
        cosmos_server.endpoint, credential=EMULATOR_KEY, connection_verify=False
    ) as client:
        yield client.get_database_client(store.database)


def _error(status: int, headers: dict[str, str] | None = None) -> CosmosHttpResponseError:
    # The SDK leaves this constructor unannotated.
    err = CosmosHttpResponseError(status_code=status, message=f"status {status}")  # type: ignore[no-untyped-call]
    err.headers = headers or {}
    return err


# ------------------------------------------------------------------------- layout
async def test_every_container_is_partitioned_by_tenant_id(database: DatabaseProxy) -> None:
    for name in COLLECTIONS:
        properties = await database.get_container_client(name).read()

        assert properties["partitionKey"]["paths"] == [PARTITION_KEY_PATH], name


async def test_call_records_have_ttl_on_without_a_default_expiry(database: DatabaseProxy) -> None:
    # The test server does not expire items: what can be tested is the setting.
    records = await database.get_container_client("callRecords").read()
    calls = await database.get_container_client("calls").read()

    assert records["defaultTtl"] == -1
    assert calls.get("defaultTtl") is None


async def test_a_call_records_ttl_becomes_the_items_ttl(
    store: CosmosStore, database: DatabaseProxy
) -> None:
    await store.create("callRecords", TENANT, "r1", {"outcome": "answered", "ttl": 3600})
    await store.create("callRecords", TENANT, "r2", {"outcome": "answered", "ttl": None})
    container = database.get_container_client("callRecords")

    kept = await container.read_item("r1", partition_key=TENANT)
    forever = await container.read_item("r2", partition_key=TENANT)

    assert kept["ttl"] == 3600
    assert "ttl" not in forever
    assert (await store.read("callRecords", TENANT, "r2")).body == {
        "outcome": "answered",
        "ttl": None,
    }


async def test_a_call_record_round_trips_through_the_repository_with_its_ttl(
    store: CosmosStore, database: DatabaseProxy
) -> None:
    ended = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    record = CallRecord(
        id="call-1",
        tenant_id=TENANT,
        chain_id="chain-1",
        direction="incoming",
        caller=Party(PartyKind.PHONE, "+14255550100"),
        queue_id="sales",
        queue_name="Sales",
        offered_at=ended - timedelta(minutes=3),
        ended_at=ended,
        outcome=CallOutcome.ANSWERED,
        wait_s=12.0,
        talk_s=150.5,
        missed_agent_ids=("agent-2",),
        ttl=395 * 86400,
    )
    records = Repository(store).call_records

    await records.put(record)

    assert (await records.get(TENANT, "call-1")).value == record
    item = await database.get_container_client("callRecords").read_item(
        "call-1", partition_key=TENANT
    )
    assert item["ttl"] == 395 * 86400


async def test_containers_have_the_composite_indexes_of_their_orderings(
    database: DatabaseProxy,
) -> None:
    properties = await database.get_container_client("calls").read()

    indexes = [
        [(part["path"], part["order"]) for part in index]
        for index in properties["indexingPolicy"]["compositeIndexes"]
    ]

    assert [("/tenantId", "ascending"), ("/id", "ascending")] in indexes
    assert [
        ("/body/priority", "descending"),
        ("/body/offeredAt", "ascending"),
        ("/tenantId", "ascending"),
        ("/id", "ascending"),
    ] in indexes


async def test_a_second_store_uses_the_existing_database(
    cosmos_server: CosmosTestServer, store: CosmosStore
) -> None:
    await store.create("calls", TENANT, "c1", {"v": 1})

    second = await open_test_store(cosmos_server, database=store.database)
    try:
        assert (await second.read("calls", TENANT, "c1")).body == {"v": 1}
    finally:
        await second.close()


async def test_a_container_with_another_partition_key_is_refused(
    cosmos_server: CosmosTestServer,
) -> None:
    name = fresh_database_name()
    async with CosmosClient(
        cosmos_server.endpoint, credential=EMULATOR_KEY, connection_verify=False
    ) as client:
        created = await client.create_database(name)
        await created.create_container("calls", PartitionKey(path="/id"))

    with pytest.raises(Unavailable, match="partitioned by"):
        await open_test_store(cosmos_server, database=name)


async def test_an_unknown_collection_gets_a_container_on_first_write(
    store: CosmosStore, database: DatabaseProxy
) -> None:
    assert await store.count("notes", TENANT) == 0
    with pytest.raises(NotFound):
        await store.read("notes", TENANT, "n1")

    await store.create("notes", TENANT, "n1", {"text": "call back after 5"})

    properties = await database.get_container_client("notes").read()
    assert properties["partitionKey"]["paths"] == [PARTITION_KEY_PATH]
    assert await store.count("notes", TENANT) == 1


async def test_a_closed_store_refuses_work(cosmos_server: CosmosTestServer) -> None:
    store = await open_test_store(cosmos_server)
    await store.create("calls", TENANT, "c1", {"v": 1})

    await store.close()
    await store.close()

    with pytest.raises(RuntimeError, match="closed"):
        await store.read("calls", TENANT, "c1")


# ----------------------------------------------------------------------- documents
async def test_returned_bodies_carry_no_system_properties(
    store: CosmosStore, database: DatabaseProxy
) -> None:
    created = await store.create("calls", TENANT, "c1", {"state": "waiting"})
    item = await database.get_container_client("calls").read_item("c1", partition_key=TENANT)

    read = await store.read("calls", TENANT, "c1")
    (queried,) = (await store.query("calls", TENANT)).documents

    assert SYSTEM_PROPERTIES - {"_attachments"} <= set(item)
    for doc in (created, read, queried):
        assert doc.body == {"state": "waiting"}
        assert doc.etag == item["_etag"]


async def test_a_body_may_use_the_names_cosmos_db_reserves(store: CosmosStore) -> None:
    body = {"id": "another", "tenantId": "another", "ttl": "soon", "_etag": "mine", "_ts": 1}

    await store.create("calls", TENANT, "c1", body)

    read = await store.read("calls", TENANT, "c1")
    assert read.body == body
    assert (read.tenant_id, read.id) == (TENANT, "c1")


async def test_whole_floats_come_back_as_floats(store: CosmosStore) -> None:
    body = {"waitS": 0.0, "ringS": 12.5, "count": 3, "nested": [1.0, {"x": 2.0}, True]}

    await store.create("calls", TENANT, "c1", body)

    read = await store.read("calls", TENANT, "c1")
    assert read.body == body
    assert type(read.body["waitS"]) is float
    assert type(read.body["count"]) is int
    assert type(read.body["nested"][0]) is float
    assert type(read.body["nested"][1]["x"]) is float
    assert read.body["nested"][2] is True


async def test_integers_cosmos_db_would_round_are_refused(store: CosmosStore) -> None:
    with pytest.raises(ValueError, match="2\\*\\*53"):
        await store.create("calls", TENANT, "c1", {"n": 2**53 + 1})

    with pytest.raises(NotFound):
        await store.read("calls", TENANT, "c1")


@pytest.mark.parametrize("doc_id", ["", "a/b", "a\\b", "a?b", "a#b", "trailing ", "x" * 256])
async def test_ids_cosmos_db_cannot_store_are_refused(store: CosmosStore, doc_id: str) -> None:
    with pytest.raises(InvalidInput):
        await store.create("calls", TENANT, doc_id, {"v": 1})


# ------------------------------------------------------------- errors translated
async def test_a_stale_etag_is_a_conflict_translated_from_412(store: CosmosStore) -> None:
    created = await store.create("agents", TENANT, "a1", {"claim": None})
    await store.replace("agents", TENANT, "a1", {"claim": "call-1"}, if_match=created.etag)

    with pytest.raises(Conflict) as caught:
        await store.replace("agents", TENANT, "a1", {"claim": "call-2"}, if_match=created.etag)

    assert isinstance(caught.value.__cause__, CosmosHttpResponseError)
    assert caught.value.__cause__.status_code == 412
    assert (await store.read("agents", TENANT, "a1")).body == {"claim": "call-1"}


async def test_creating_an_existing_id_is_a_conflict_translated_from_409(
    store: CosmosStore,
) -> None:
    await store.create("agents", TENANT, "a1", {})

    with pytest.raises(Conflict) as caught:
        await store.create("agents", TENANT, "a1", {})

    assert isinstance(caught.value.__cause__, CosmosHttpResponseError)
    assert caught.value.__cause__.status_code == 409


async def test_a_missing_document_is_not_found_translated_from_404(store: CosmosStore) -> None:
    with pytest.raises(NotFound) as caught:
        await store.read("agents", TENANT, "nobody")

    assert isinstance(caught.value.__cause__, CosmosHttpResponseError)
    assert caught.value.__cause__.status_code == 404


def test_throttling_is_throttled_with_the_servers_retry_after() -> None:
    err = _error(429, {"x-ms-retry-after-ms": "250"})

    translated = translate_error(err, "calls/c1")

    assert isinstance(translated, Throttled)
    assert translated.retry_after == pytest.approx(0.25)


def test_throttling_without_a_retry_after_is_throttled_all_the_same() -> None:
    translated = translate_error(_error(429), "calls/c1")

    assert isinstance(translated, Throttled)
    assert translated.retry_after is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, NotFound),
        (409, Conflict),
        (412, Conflict),
        (400, InvalidInput),
        (413, InvalidInput),
        (401, Unavailable),
        (403, Unavailable),
        (408, Unavailable),
        (500, Unavailable),
        (503, Unavailable),
    ],
)
def test_each_status_becomes_its_domain_error(status: int, expected: type[DomainError]) -> None:
    assert type(translate_error(_error(status), "calls/c1")) is expected


async def test_the_sdk_retries_throttled_requests_a_bounded_number_of_times(
    store: CosmosStore,
) -> None:
    client = store._client
    assert client is not None

    retry = client.client_connection.connection_policy.RetryOptions

    assert retry.MaxRetryAttemptCount == 5
    assert retry.MaxWaitTimeInSeconds == 5
    # Cosmos DB's x-ms-retry-after-ms decides each wait, not a fixed interval.
    assert retry.FixedRetryIntervalInMilliseconds is None


# ---------------------------------------------------------------------- queries
@pytest.mark.parametrize(
    "field",
    ['n"] = 1 OR c["n', "n] OR true OR c[n", "a.b", "a b", "1n", "", "n'"],
)
async def test_a_field_name_that_is_not_an_identifier_is_refused(
    store: CosmosStore, field: str
) -> None:
    await store.create("calls", TENANT, "c1", {"n": 1})

    with pytest.raises(InvalidInput):
        await store.query("calls", TENANT, [Condition(field, Op.EQ, 1)])
    with pytest.raises(InvalidInput):
        await store.query("calls", TENANT, order_by=[(field, False)])
    with pytest.raises(InvalidInput):
        await store.count("calls", TENANT, [Condition(field, Op.EQ, 1)])


async def test_values_are_bound_never_written_into_the_sql(
    store: CosmosStore, caplog: pytest.LogCaptureFixture
) -> None:
    await store.create("calls", TENANT, "c1", {"state": "waiting"})
    sneaky = '" OR true OR "'
    caplog.set_level(logging.DEBUG, logger="storage.cosmos")

    page = await store.query("calls", TENANT, [Condition("state", Op.EQ, sneaky)])

    assert page.documents == []
    queries = [r.getMessage() for r in caplog.records if "SELECT" in r.getMessage()]
    assert queries
    assert all(sneaky not in query and TENANT not in query for query in queries)


async def test_a_timer_scan_is_one_request_served_by_its_index(store: CosmosStore) -> None:
    for n in range(6):
        await store.create("calls", f"tenant-{n % 2}", f"c{n}", {"dueAt": f"10:0{n}"})
    await store.create("calls", TENANT, "idle", {"dueAt": None})
    before = store.request_charges.requests.get("query", 0)

    page = await store.query(
        "calls", None, [Condition("dueAt", Op.LE, "10:03")], order_by=[("dueAt", False)], limit=3
    )

    assert [doc.id for doc in page.documents] == ["c0", "c1", "c2"]
    assert page.continuation is not None
    assert store.request_charges.requests["query"] == before + 1


async def test_an_ordering_without_a_composite_index_is_sorted_in_the_store(
    cosmos_server: CosmosTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_test_store(cosmos_server, layout=COLLECTIONS)
    try:
        for doc_id, n in [("a", 3), ("b", None), ("c", 1), ("d", "x"), ("e", 1)]:
            await store.create("calls", TENANT, doc_id, {"n": n})
        caplog.set_level(logging.WARNING, logger="storage.cosmos")

        found: list[str] = []
        continuation: str | None = None
        for _ in range(10):
            page = await store.query(
                "calls", TENANT, order_by=[("n", True)], limit=2, continuation=continuation
            )
            found += [doc.id for doc in page.documents]
            continuation = page.continuation
            if continuation is None:
                break
    finally:
        await store.close()

    assert found == ["d", "a", "c", "e", "b"]
    warnings = [r for r in caplog.records if "no composite index" in r.getMessage()]
    assert len(warnings) == 1


# ----------------------------------------------------------- charges and logs
async def test_request_charges_are_added_up_per_operation(store: CosmosStore) -> None:
    before = store.request_charge_total
    await store.create("calls", TENANT, "c1", {"n": 1})
    await store.read("calls", TENANT, "c1")
    await store.query("calls", TENANT, [Condition("n", Op.GE, 0)])
    with pytest.raises(NotFound):
        await store.read("calls", TENANT, "nope")

    charges = store.request_charges
    assert charges.operations["create"] == 1
    assert charges.operations["read"] == 2
    assert charges.operations["query"] == 1
    assert charges.charges["create"] > 0
    assert charges.charges["read"] > 0
    assert charges.charges["query"] > 0
    assert store.request_charge_total > before
    assert store.request_charge_total == pytest.approx(sum(charges.charges.values()))


async def test_request_charges_are_logged_at_debug(
    store: CosmosStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="storage.cosmos")

    await store.create("calls", TENANT, "c1", {"n": 1})

    assert any(
        "create" in r.getMessage() and "RU" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.DEBUG
    )


async def test_the_key_is_never_logged(
    cosmos_server: CosmosTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    store = await open_test_store(cosmos_server)
    try:
        await store.create("calls", TENANT, "c1", {"n": 1})
        await store.query("calls", None, order_by=[("n", False)], limit=1)
    finally:
        await store.close()

    assert caplog.records
    assert all(EMULATOR_KEY not in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ credentials
class _TokenCredential:
    """A token credential that hands out one fixed token (the test server checks none)."""

    def __init__(self) -> None:
        self.scopes: list[str] = []
        self.closed = False

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("test-token", int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> _TokenCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()


async def test_a_token_credential_signs_requests_when_there_is_no_key(
    cosmos_server: CosmosTestServer,
) -> None:
    credential = _TokenCredential()

    store = await CosmosStore.open(
        cosmos_server.endpoint,
        key=None,
        credential=credential,
        database=fresh_database_name(),
        verify_tls=False,
    )
    try:
        await store.create("calls", TENANT, "c1", {"n": 1})
    finally:
        await store.close()

    assert credential.scopes
    assert all(scope.endswith("/.default") for scope in credential.scopes)
    # The caller's credential stays the caller's to close.
    assert not credential.closed


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": EMULATOR_KEY, "credential": _TokenCredential()}, "not both"),
        ({"key": ""}, "empty"),
        ({"key": EMULATOR_KEY, "throughput": 400}, "serverless"),
        ({"key": EMULATOR_KEY, "database": ""}, "database"),
    ],
)
async def test_open_refuses_contradicting_options(
    cosmos_server: CosmosTestServer, options: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"database": fresh_database_name(), "verify_tls": False}
    arguments.update(options)

    with pytest.raises(ValueError, match=message):
        await CosmosStore.open(cosmos_server.endpoint, **arguments)


# ---------------------------------------------------------------------- harness
def test_without_the_server_package_cosmos_tests_fail_on_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "SERVER_CLI", tmp_path / "lib" / "cli.js")
    monkeypatch.setattr(harness, "_shared", None)
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="run npm ci"):
        shared_server()


def test_without_the_server_package_cosmos_tests_are_skipped_off_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "SERVER_CLI", tmp_path / "lib" / "cli.js")
    monkeypatch.setattr(harness, "_shared", None)
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="run npm ci"):
        shared_server()


def test_proxy_lookups_are_on_only_when_the_environment_names_a_proxy() -> None:
    from storage.cosmos.store import _proxy_configured

    assert not _proxy_configured({})
    assert not _proxy_configured({"HTTPS_PROXY": ""})
    assert _proxy_configured({"HTTPS_PROXY": "http://proxy.example:3128"})
    assert _proxy_configured({"all_proxy": "socks5://proxy.example"})
