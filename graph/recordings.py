"""Download what ``recordResponse`` recorded (a voicemail), with the token Graph gave.

Graph's completion notification carries ``recordingLocation`` and
``recordingAccessToken``: the recording is fetched from that location with the token as
a bearer, soon after the notification (the token is short-lived). Implements
:class:`~contactcenter.ports.RecordingSource`.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiohttp

from contactcenter.errors import Unavailable

_LOGGER = logging.getLogger(__name__)

# Graph records at most 120 s; even uncompressed 16 kHz audio is under 4 MB.
MAX_RECORDING_BYTES = 16 * 1024 * 1024
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class GraphRecordings:
    """Fetch recordings over HTTPS (plain HTTP on loopback only, for the local simulator)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        allow_loopback_http: bool = False,
        timeout_s: float = 30.0,
        max_bytes: int = MAX_RECORDING_BYTES,
    ) -> None:
        self._session = session
        self._allow_loopback_http = allow_loopback_http
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_bytes = max_bytes

    def _check(self, location: str) -> None:
        parts = urlsplit(location)
        if parts.scheme == "https" and parts.hostname:
            return
        if parts.scheme == "http" and self._allow_loopback_http and parts.hostname in _LOOPBACK:
            return
        raise Unavailable("the recording location is not an https URL")

    async def fetch(self, location: str, access_token: str) -> bytes:
        """Return the recording's bytes; raise Unavailable when it cannot be fetched."""
        self._check(location)
        headers = {"Authorization": f"Bearer {access_token}"}
        try:
            async with self._session.get(
                location, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise Unavailable(f"fetching the recording answered HTTP {response.status}")
                if (response.content_length or 0) > self._max_bytes:
                    raise Unavailable("the recording is larger than allowed")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise Unavailable("the recording is larger than allowed")
                    chunks.append(chunk)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise Unavailable(f"fetching the recording failed: {err!r}") from err
        data = b"".join(chunks)
        _LOGGER.debug("fetched a recording of %d bytes", len(data))
        return data
