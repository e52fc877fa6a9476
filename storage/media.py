"""Media blobs (uploaded prompts, voicemail recordings): files in the data dir, or Azure Blob.

Both implement :class:`~contactcenter.ports.MediaStore`. A blob is ``<tenant>/<id>.wav``:
under ``<DATA_DIR>/media/`` by default, in the ``media`` container of Blob Storage when
``BLOB_ACCOUNT_URL`` (managed identity) or ``BLOB_CONNECTION_STRING`` (Azurite, keys) is
set, as ``infra/`` provisions it. Writes replace a blob whole: a file is written aside and
renamed over the old one, and a blob upload commits at once, so readers never see half.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from contactcenter.errors import InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

    from contactcenter.ports import MediaStore

_LOGGER = logging.getLogger(__name__)

MEDIA_CONTAINER = "media"
CONTENT_TYPE = "audio/wav"
# Tenant ids are GUIDs; media ids are ours (hex, or a prefix and a call id). Nothing else
# may reach a file name or a blob name.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _checked(tenant_id: str, media_id: str) -> str:
    for value, field in ((tenant_id, "tenantId"), (media_id, "mediaId")):
        if not _SAFE.fullmatch(value) or ".." in value:
            raise InvalidInput(f"{value!r} is not a valid id", field=field)
    return f"{tenant_id}/{media_id}.wav"


class DataDirMediaStore:
    """Media blobs as files: ``<root>/<tenant>/<id>.wav`` (``root`` is ``<DATA_DIR>/media``)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def path(self, tenant_id: str, media_id: str) -> Path:
        """Return where a blob lives (the ids are checked first)."""
        return self._root / _checked(tenant_id, media_id)

    async def put(self, tenant_id: str, media_id: str, data: bytes) -> None:
        """Write the blob atomically (aside, then renamed over the old one)."""
        await asyncio.to_thread(self._write, self.path(tenant_id, media_id), data)

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            Path(temporary).chmod(0o640)
            Path(temporary).replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
            raise

    async def get(self, tenant_id: str, media_id: str) -> bytes:
        path = self.path(tenant_id, media_id)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound(f"media {tenant_id}/{media_id} not found") from None

    async def delete(self, tenant_id: str, media_id: str) -> None:
        await asyncio.to_thread(self.path(tenant_id, media_id).unlink, missing_ok=True)

    async def close(self) -> None:
        return None


class BlobMediaStore:
    """Media blobs in an Azure Blob Storage container (azure-storage-blob aio)."""

    def __init__(
        self,
        service: BlobServiceClient,
        container: ContainerClient,
        credential: AsyncTokenCredential | None = None,
    ) -> None:
        self._service = service
        self._container = container
        self._credential = credential

    @classmethod
    async def open(
        cls,
        *,
        account_url: str = "",
        connection_string: str = "",
        credential: AsyncTokenCredential | None = None,
        container: str = MEDIA_CONTAINER,
        create_container: bool = False,
    ) -> BlobMediaStore:
        """Connect by connection string (keys, Azurite) or account URL and credential.

        ``create_container``: create it when missing (a local test server; in Azure the
        container comes from ``infra/``).
        """
        if connection_string:
            service = BlobServiceClient.from_connection_string(connection_string)
        elif account_url:
            service = BlobServiceClient(account_url, credential=credential)
        else:
            raise ValueError("BlobMediaStore needs an account URL or a connection string")
        client = service.get_container_client(container)
        if create_container:
            with contextlib.suppress(ResourceExistsError):
                await client.create_container()
        return cls(service, client, credential)

    async def put(self, tenant_id: str, media_id: str, data: bytes) -> None:
        name = _checked(tenant_id, media_id)
        try:
            await self._container.upload_blob(
                name,
                data,
                overwrite=True,
                content_settings=ContentSettings(content_type=CONTENT_TYPE),
            )
        except AzureError as err:
            raise Unavailable(f"storing media {name} failed: {err}") from err

    async def get(self, tenant_id: str, media_id: str) -> bytes:
        name = _checked(tenant_id, media_id)
        try:
            download = await self._container.download_blob(name)
            return await download.readall()
        except ResourceNotFoundError:
            raise NotFound(f"media {name} not found") from None
        except AzureError as err:
            raise Unavailable(f"reading media {name} failed: {err}") from err

    async def delete(self, tenant_id: str, media_id: str) -> None:
        name = _checked(tenant_id, media_id)
        try:
            await self._container.delete_blob(name)
        except ResourceNotFoundError:
            return
        except AzureError as err:
            raise Unavailable(f"deleting media {name} failed: {err}") from err

    async def close(self) -> None:
        await self._container.close()
        await self._service.close()
        if self._credential is not None:
            await self._credential.close()


def _conforms(store: DataDirMediaStore | BlobMediaStore) -> MediaStore:
    return store
