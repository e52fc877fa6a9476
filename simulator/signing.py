"""The simulator's signing key, its published JWKS, and the tokens it signs notifications with."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
import tempfile
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from contactcenter.clock import Clock

_LOGGER = logging.getLogger(__name__)

KEY_BITS = 2048
# Bot Framework keys name the channels they may sign for; Teams is "msteams".
ENDORSEMENTS = ("msteams",)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An RSA private key and its key id (the RFC 7638 thumbprint, so stable for the key)."""

    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def from_private_key(cls, private_key: rsa.RSAPrivateKey) -> SigningKey:
        """Wrap a key, deriving its kid from the public part."""
        numbers = private_key.public_key().public_numbers()
        canonical = json.dumps(
            {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)},
            separators=(",", ":"),
            sort_keys=True,
        )
        digest = hashlib.sha256(canonical.encode("ascii")).digest()
        kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return cls(private_key=private_key, kid=kid)

    def public_jwk(self) -> dict[str, Any]:
        """Return the public key as a JWK, in the shape Bot Framework publishes its keys."""
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
            "endorsements": list(ENDORSEMENTS),
        }

    def jwks(self) -> dict[str, Any]:
        """Return the JSON Web Key Set to publish."""
        return {"keys": [self.public_jwk()]}


def load_or_create_signing_key(path: Path) -> SigningKey:
    """Load the key at ``path``, creating it (mode 0600) on first use.

    Blocking: file I/O and, the first time, RSA key generation. Run it off the event loop.
    """
    try:
        return _load(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # mkstemp creates the file 0600; linking it into place never overwrites a key another
    # process created meanwhile, and never exposes a half-written file.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(pem)
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            return _load(path)
    finally:
        os.unlink(tmp_name)
    _LOGGER.info("Created a simulator signing key at %s", path)
    return SigningKey.from_private_key(private_key)


def _load(path: Path) -> SigningKey:
    data = path.read_bytes()
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        _LOGGER.warning("Signing key %s was readable by others (mode %o); set to 0600", path, mode)
        path.chmod(0o600)
    # The simulator wrote this key itself (mode 0600): the costly RSA consistency check
    # (about 80 ms a load) guards against crafted keys from elsewhere, not this one.
    private_key = serialization.load_pem_private_key(
        data, password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(private_key, rsa.RSAPrivateKey) or private_key.key_size < KEY_BITS:
        raise ValueError(f"{path} does not hold an RSA key of at least {KEY_BITS} bits")
    return SigningKey.from_private_key(private_key)


@dataclass(frozen=True, slots=True)
class _Minted:
    token: str
    refresh_at: float


class TokenMinter:
    """Sign RS256 bearer tokens like Graph's: one per (audience, tenant), reused until near expiry."""

    def __init__(
        self,
        key: SigningKey,
        *,
        issuer: str,
        clock: Clock,
        lifetime_s: int = 3600,
        refresh_margin_s: int = 300,
    ) -> None:
        self._key = key
        self._issuer = issuer
        self._clock = clock
        self._lifetime = timedelta(seconds=lifetime_s)
        self._refresh_margin_s = refresh_margin_s
        self._cache: dict[tuple[str, str], _Minted] = {}
        self.minted = 0

    def token_for(self, audience: str, tenant_id: str) -> str:
        """Return the current token for this audience and tenant, minting one when due."""
        cached = self._cache.get((audience, tenant_id))
        if cached is not None and self._clock.monotonic() < cached.refresh_at:
            return cached.token
        now = self._clock.now()
        issued = int(now.timestamp())
        claims = {
            "iss": self._issuer,
            "aud": audience,
            "tid": tenant_id,
            "iat": issued,
            "nbf": issued,
            "exp": int((now + self._lifetime).timestamp()),
            # Unique per token, so a token minted again is told apart from one reused.
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(
            claims, self._key.private_key, algorithm="RS256", headers={"kid": self._key.kid}
        )
        refresh_at = (
            self._clock.monotonic() + self._lifetime.total_seconds() - self._refresh_margin_s
        )
        self._cache[(audience, tenant_id)] = _Minted(token=token, refresh_at=refresh_at)
        self.minted += 1
        return token


# Bot Framework signs the activities a channel sends to a bot with this issuer.
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"


class ActivityTokenMinter:
    """Sign RS256 tokens like Bot Framework's on activities sent to a bot.

    Claims: ``iss`` https://api.botframework.com, ``aud`` the bot's app id, ``serviceurl``
    the channel's service URL (the bot checks it against the activity's), no tenant (Teams
    puts the tenant in the activity's ``channelData``). One token per (audience, service
    URL), reused until five minutes before its expiry. The key is published with the
    endorsement ``msteams``, so only Teams activities validate against it.
    """

    def __init__(
        self, key: SigningKey, *, clock: Clock, lifetime_s: int = 3600, refresh_margin_s: int = 300
    ) -> None:
        self._key = key
        self._clock = clock
        self._lifetime = timedelta(seconds=lifetime_s)
        self._refresh_margin_s = refresh_margin_s
        self._cache: dict[tuple[str, str], _Minted] = {}
        self.minted = 0

    def token_for(self, audience: str, service_url: str) -> str:
        """Return the current token for this bot and service URL, minting one when due."""
        cached = self._cache.get((audience, service_url))
        if cached is not None and self._clock.monotonic() < cached.refresh_at:
            return cached.token
        now = self._clock.now()
        issued = int(now.timestamp())
        claims = {
            "iss": BOT_FRAMEWORK_ISSUER,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": issued,
            "exp": int((now + self._lifetime).timestamp()),
        }
        token = jwt.encode(
            claims, self._key.private_key, algorithm="RS256", headers={"kid": self._key.kid}
        )
        refresh_at = (
            self._clock.monotonic() + self._lifetime.total_seconds() - self._refresh_margin_s
        )
        self._cache[(audience, service_url)] = _Minted(token=token, refresh_at=refresh_at)
        self.minted += 1
        return token
