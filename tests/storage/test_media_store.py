"""Media blobs: one contract for the data-dir store and Blob Storage (on Azurite)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contactcenter.errors import InvalidInput, NotFound
from contactcenter.ports import MediaStore
from storage.media import BlobMediaStore, DataDirMediaStore
from tests.azurite_server import shared_azurite

TENANT = "0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
OTHER = "11111111-2222-4333-8444-555555555555"


@pytest.fixture(params=["data-dir", "blob"])
async def media(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MediaStore]:
    if request.param == "data-dir":
        yield DataDirMediaStore(tmp_path / "media")
        return
    store = await BlobMediaStore.open(
        connection_string=shared_azurite().connection_string,
        # A container per test: tests never see each other's blobs.
        container=f"media-{uuid.uuid4().hex[:12]}",
        create_container=True,
    )
    try:
        yield store
    finally:
        await store.close()


async def test_a_blob_reads_back_as_written(media: MediaStore) -> None:
    await media.put(TENANT, "abc", b"RIFF....WAVE")
    assert await media.get(TENANT, "abc") == b"RIFF....WAVE"


async def test_a_write_replaces_the_blob_whole(media: MediaStore) -> None:
    await media.put(TENANT, "abc", b"first version, longer")
    await media.put(TENANT, "abc", b"second")
    assert await media.get(TENANT, "abc") == b"second"


async def test_a_missing_blob_is_not_found(media: MediaStore) -> None:
    with pytest.raises(NotFound):
        await media.get(TENANT, "nothing")


async def test_a_deleted_blob_is_gone_and_deleting_twice_is_fine(media: MediaStore) -> None:
    await media.put(TENANT, "abc", b"x")
    await media.delete(TENANT, "abc")
    await media.delete(TENANT, "abc")
    with pytest.raises(NotFound):
        await media.get(TENANT, "abc")


async def test_tenants_do_not_share_blobs(media: MediaStore) -> None:
    await media.put(TENANT, "abc", b"mine")
    with pytest.raises(NotFound):
        await media.get(OTHER, "abc")


@pytest.mark.parametrize(
    ("tenant", "media_id"),
    [(TENANT, "../etc/passwd"), ("..", "abc"), (TENANT, ""), (TENANT, "a/b"), (TENANT, ".hidden")],
)
async def test_ids_cannot_leave_the_tenant_s_folder(
    media: MediaStore, tenant: str, media_id: str
) -> None:
    with pytest.raises(InvalidInput):
        await media.put(tenant, media_id, b"x")


async def test_the_data_dir_store_leaves_no_partial_files(tmp_path: Path) -> None:
    store = DataDirMediaStore(tmp_path / "media")
    await store.put(TENANT, "abc", b"x" * 100_000)
    await store.put(TENANT, "abc", b"y")
    assert [p.name for p in (tmp_path / "media" / TENANT).iterdir()] == ["abc.wav"]
    assert store.path(TENANT, "abc").read_bytes() == b"y"
