"""``contact-center store copy``: SQLite and Cosmos DB, either way, idempotent and resumable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import unused_port

from bot.demo import seed_demo_tenant
from bot.store_cli import main
from contactcenter.clock import SystemClock
from contactcenter.errors import Unavailable
from contactcenter.ports import Store, StoredDocument
from contactcenter.repository import Repository
from storage.copy import (
    Checkpoint,
    CosmosAccess,
    copy_documents,
    open_destination,
    open_source,
    parse_store_url,
)
from storage.cosmos import COLLECTIONS, CosmosStore
from storage.sqlite import SqliteStore
from tests.cosmos_server import EMULATOR_KEY, fresh_database_name, shared_server

OTHER_TENANT = "7c0ffee0-0000-4000-8000-0000000000b2"
# A page size that makes even this small store span several pages per collection.
PAGE = "7"

Dump = dict[tuple[str, str, str], str]


async def _fill(store: Store) -> None:
    """Write the demo tenant and documents of every shape a store must keep exactly."""
    await seed_demo_tenant(Repository(store), SystemClock())
    for i in range(23):
        tenant = OTHER_TENANT if i % 3 else "0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
        await store.upsert(
            "callRecords",
            tenant,
            f"record-{i:03d}",
            {
                "outcome": "answered" if i % 2 else "abandoned",
                "waitS": 3.0,  # a whole float stays a float
                "talkS": 61.25,
                "missedAgentIds": [f"agent-{i}", "agent-x"],
                "caller": {"kind": "phone", "id": f"+1206555{i:04d}", "name": "Zoë ✓"},
                "ttl": 86_400,
                "answeredAt": None,
            },
        )
    await store.upsert("auditLog", OTHER_TENANT, "2026-03-02T14:00:00Z-1", {"before": {}})
    # A collection the product does not declare: copied all the same.
    await store.upsert("notes", OTHER_TENANT, "n 1", {"text": "with a space in the id"})


def _sqlite_dump(path: Path) -> Dump:
    """Read every document of a SQLite store straight from its table."""
    import sqlite3

    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT collection, tenant_id, id, body FROM documents")
        return {(c, t, i): _canonical(json.loads(body)) for c, t, i, body in rows}


def _canonical(body: Mapping[str, Any]) -> str:
    # json.dumps tells 3.0 from 3, unlike ==.
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


async def _dump(store: Store, collections: Sequence[str]) -> Dump:
    found: Dump = {}
    for name in collections:
        continuation: str | None = None
        while True:
            page = await store.query(name, None, limit=50, continuation=continuation)
            found.update(
                ((d.collection, d.tenant_id, d.id), _canonical(d.body)) for d in page.documents
            )
            continuation = page.continuation
            if continuation is None:
                break
    return found


async def _sqlite_source(path: Path) -> Dump:
    store = await SqliteStore.open(path)
    try:
        await _fill(store)
    finally:
        await store.close()
    return _sqlite_dump(path)


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, Dump]:
    """A SQLite store with the demo tenant and more; return its file and its documents."""
    path = tmp_path / "source" / "contactcenter.db"
    return path, asyncio.run(_sqlite_source(path))


def _copy(
    capsys: pytest.CaptureFixture[str], *args: str, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    code = main(["store", "copy", "--page-size", PAGE, *args], environ=env or {})
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ SQLite only
def test_sqlite_to_sqlite_copies_every_document(
    source: tuple[Path, Dump], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, documents = source
    backup = tmp_path / "backup" / "contactcenter.db"

    code, out, err = _copy(capsys, "--from", f"sqlite://{path}", "--to", f"sqlite://{backup}")

    assert code == 0, err
    assert _sqlite_dump(backup) == documents
    assert f"copied {len(documents)} documents" in out
    assert f"{len(documents)} written, 0 already there" in out
    assert "callRecords" in err  # the progress bar
    assert {"notes", "auditLog", "tenants"} <= {c for c, _, _ in documents}


def test_a_data_directory_names_its_database(
    source: tuple[Path, Dump], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, documents = source
    target = tmp_path / "data"
    target.mkdir()

    code, _, err = _copy(capsys, "--from", f"sqlite:{path.parent}", "--to", f"sqlite:{target}")

    assert code == 0, err
    assert _sqlite_dump(target / "contactcenter.db") == documents


def test_copying_twice_changes_nothing(
    source: tuple[Path, Dump], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, documents = source
    backup = tmp_path / "backup.db"
    assert _copy(capsys, "--from", f"sqlite://{path}", "--to", f"sqlite://{backup}")[0] == 0
    etags = _etags(backup)

    code, out, err = _copy(capsys, "--from", f"sqlite://{path}", "--to", f"sqlite://{backup}")

    assert code == 0, err
    assert f"0 written, {len(documents)} already there" in out
    assert _etags(backup) == etags  # not one document rewritten
    assert _sqlite_dump(backup) == documents


def test_a_document_that_differs_is_written_again(
    source: tuple[Path, Dump], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    path, documents = source
    backup = tmp_path / "backup.db"
    assert _copy(capsys, "--from", f"sqlite://{path}", "--to", f"sqlite://{backup}")[0] == 0
    with sqlite3.connect(backup) as connection:
        # 3.0 became 3: equal to Python, a different document to a store.
        connection.execute(
            "UPDATE documents SET body = replace(body, '\"waitS\":3.0', '\"waitS\":3')"
            " WHERE collection = 'callRecords' AND id = 'record-005'"
        )

    code, out, err = _copy(capsys, "--from", f"sqlite://{path}", "--to", f"sqlite://{backup}")

    assert code == 0, err
    assert f"1 written, {len(documents) - 1} already there" in out
    assert _sqlite_dump(backup) == documents


def _etags(path: Path) -> dict[tuple[str, str, str], str]:
    import sqlite3

    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT collection, tenant_id, id, etag FROM documents")
        return {(c, t, i): etag for c, t, i, etag in rows}


class _FailingAfter:
    """A destination that loses its connection after ``writes`` upserts."""

    def __init__(self, inner: Store, writes: int) -> None:
        self.inner = inner
        self.writes_left = writes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def upsert(
        self, collection: str, tenant_id: str, doc_id: str, body: Mapping[str, Any]
    ) -> StoredDocument:
        if self.writes_left <= 0:
            raise Unavailable("the connection to the store was lost")
        self.writes_left -= 1
        return await self.inner.upsert(collection, tenant_id, doc_id, body)


async def _interrupted_copy(source_url: str, target_url: str, checkpoint: Path) -> int:
    """Copy until the destination fails; return how many documents were written."""
    access = CosmosAccess()
    opened = await open_source(parse_store_url(source_url), access)
    target = await open_destination(parse_store_url(target_url), access)
    failing = _FailingAfter(target, writes=30)
    try:
        with pytest.raises(Unavailable):
            await copy_documents(
                opened.store,
                failing,
                opened.collections,
                page_size=int(PAGE),
                checkpoint=Checkpoint.load_or_start(
                    checkpoint, source=source_url, destination=target_url
                ),
            )
    finally:
        await target.close()
        await opened.store.close()
    return 30 - failing.writes_left


def test_an_interrupted_copy_resumes_where_it_stopped(
    source: tuple[Path, Dump], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, documents = source
    backup = tmp_path / "backup.db"
    checkpoint = tmp_path / "copy.checkpoint"
    source_url, target_url = f"sqlite://{path}", f"sqlite://{backup}"
    written = asyncio.run(_interrupted_copy(source_url, target_url, checkpoint))
    assert written == 30
    assert checkpoint.is_file()
    assert len(_sqlite_dump(backup)) == 30

    code, out, err = _copy(
        capsys, "--from", source_url, "--to", target_url, "--checkpoint", str(checkpoint)
    )

    assert code == 0, err
    assert _sqlite_dump(backup) == documents
    # The pages done before were not read again; the page cut short was compared.
    copied_before = int(out.split(", ")[-1].split()[0])
    assert 0 < copied_before <= 30
    assert not checkpoint.exists()


def test_an_interrupted_copy_also_finishes_without_a_checkpoint(
    source: tuple[Path, Dump], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, documents = source
    backup = tmp_path / "backup.db"
    source_url, target_url = f"sqlite://{path}", f"sqlite://{backup}"
    asyncio.run(_interrupted_copy(source_url, target_url, tmp_path / "ignored"))

    code, out, err = _copy(capsys, "--from", source_url, "--to", target_url)

    assert code == 0, err
    assert _sqlite_dump(backup) == documents
    assert f"{len(documents) - 30} written, 30 already there" in out


def test_a_checkpoint_of_another_copy_is_refused(
    source: tuple[Path, Dump], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = source
    checkpoint = tmp_path / "copy.checkpoint"
    checkpoint.write_text(json.dumps({"from": "sqlite:elsewhere.db", "to": "sqlite:x.db"}))

    code, out, err = _copy(
        capsys,
        "--from",
        f"sqlite://{path}",
        "--to",
        f"sqlite://{tmp_path / 'b.db'}",
        "--checkpoint",
        str(checkpoint),
    )

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "belongs to another copy" in err


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "url",
    [
        "contactcenter.db",
        "mysql://db.example/contactcenter",
        "sqlite:",
        "sqlite://fileserver/share/contactcenter.db",
        "sqlite:///tmp/x.db?mode=ro",
        "cosmos://?database=contactcenter",
        "cosmos://account.documents.azure.com/dbs/contactcenter",
        "cosmos://account.documents.azure.com?db=contactcenter",
        "cosmos://account.documents.azure.com?database=",
        "cosmos://account.documents.azure.com:99999?database=x",
    ],
)
def test_a_bad_url_is_one_line_and_exit_2(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _copy(capsys, "--from", url, "--to", f"sqlite:{tmp_path / 'x.db'}")

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("contact-center store copy: error: ")
    assert not (tmp_path / "x.db").exists()


def test_a_missing_source_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nothing-here.db"
    code, out, err = _copy(
        capsys, "--from", f"sqlite://{missing}", "--to", f"sqlite://{tmp_path / 'x.db'}"
    )

    assert code == 2
    assert out == ""
    assert err == f"contact-center store copy: error: no SQLite database at {missing}\n"
    assert not missing.exists()


def test_copying_a_store_onto_itself_is_refused(
    source: tuple[Path, Dump], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = source
    code, _, err = _copy(capsys, "--from", f"sqlite://{path}", "--to", f"sqlite:{path.parent}")

    assert code == 2
    assert "the same store" in err


@pytest.mark.parametrize("side", ["--from", "--to"])
def test_an_unreachable_cosmos_db_is_exit_2(
    side: str, source: tuple[Path, Dump], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = source
    nowhere = f"cosmos://127.0.0.1:{unused_port()}?database=contactcenter"
    urls = {"--from": nowhere, "--to": f"sqlite://{path}"}
    if side == "--to":
        urls = {"--from": f"sqlite://{path}", "--to": nowhere}

    code, out, err = _copy(
        capsys, "--from", urls["--from"], "--to", urls["--to"], "--insecure", "--key", EMULATOR_KEY
    )

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("contact-center store copy: error: ")
    assert "127.0.0.1" in err


def test_a_cosmos_key_that_is_not_base64_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _copy(
        capsys,
        "--from",
        f"cosmos://127.0.0.1:{unused_port()}?database=contactcenter",
        "--to",
        f"sqlite://{tmp_path / 'x.db'}",
        "--key",
        "not a key",
    )

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("contact-center store copy: error: cannot sign in to cosmos ")


# ------------------------------------------------------------------ Cosmos DB
@pytest.mark.cosmos
def test_sqlite_to_cosmos_and_back_keeps_every_document(
    source: tuple[Path, Dump], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, documents = source
    server = shared_server()
    database = fresh_database_name()
    cosmos = f"cosmos://127.0.0.1:{server.port}?database={database}"
    env = {"COSMOS_KEY": EMULATOR_KEY}
    back = tmp_path / "back.db"

    there = _copy(capsys, "--from", f"sqlite://{path}", "--to", cosmos, "--insecure", env=env)
    again = _copy(capsys, "--from", f"sqlite://{path}", "--to", cosmos, "--insecure", env=env)
    home = _copy(capsys, "--from", cosmos, "--to", f"sqlite://{back}", "--insecure", env=env)

    assert [there[0], again[0], home[0]] == [0, 0, 0], (there[2], again[2], home[2])
    assert f"{len(documents)} written" in there[1]
    assert f"0 written, {len(documents)} already there" in again[1]
    assert _sqlite_dump(back) == documents
    in_cosmos = asyncio.run(_cosmos_dump(server.endpoint, database, documents))
    assert in_cosmos == documents


async def _cosmos_dump(endpoint: str, database: str, documents: Dump) -> Dump:
    names = sorted({c for c, _, _ in documents} | set(COLLECTIONS))
    store = await CosmosStore.open(endpoint, key=EMULATOR_KEY, database=database, verify_tls=False)
    try:
        return await _dump(store, names)
    finally:
        await store.close()


@pytest.mark.cosmos
def test_a_missing_cosmos_database_is_exit_2_and_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = shared_server()
    database = fresh_database_name()
    code, _, err = _copy(
        capsys,
        "--from",
        f"cosmos://127.0.0.1:{server.port}?database={database}",
        "--to",
        f"sqlite://{tmp_path / 'x.db'}",
        "--insecure",
        env={"COSMOS_KEY": EMULATOR_KEY},
    )

    assert code == 2
    assert err == (
        f"contact-center store copy: error: no database {database} at "
        f"https://127.0.0.1:{server.port}/\n"
    )
    # Asking again still finds nothing: the copy created no database.
    assert (
        _copy(
            capsys,
            "--from",
            f"cosmos://127.0.0.1:{server.port}?database={database}",
            "--to",
            f"sqlite://{tmp_path / 'x.db'}",
            "--insecure",
            env={"COSMOS_KEY": EMULATOR_KEY},
        )[0]
        == 2
    )
