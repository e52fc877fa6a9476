"""The steps every bearer token goes through, whoever signed it.

A token is taken from the ``Authorization`` header, its header must say RS256 and name a
key, its signature and audience (and issuer, when the caller knows it in advance) are
checked by PyJWT, and its lifetime against our clock with five minutes of skew. Every
failure is :class:`~contactcenter.errors.Unauthorized` saying why, never quoting the token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from contactcenter.errors import Unauthorized
from graph.identity.openid_keys import SIGNING_ALGORITHM

__all__ = ["LEEWAY_S", "bearer_token", "check_lifetime", "decode", "signing_key_id"]

LEEWAY_S = 300.0
"""Clock skew allowed on ``exp`` and ``nbf``."""


def bearer_token(authorization_header: str | None) -> str:
    """Return the token of a ``Bearer`` authorization header, or raise Unauthorized."""
    if not authorization_header:
        raise Unauthorized("no authorization header")
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("not a bearer token")
    token = token.strip()
    if not token:
        raise Unauthorized("empty bearer token")
    return token


def signing_key_id(token: str) -> str:
    """Return the ``kid`` the token's header names; refuse any algorithm but RS256."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as err:
        raise Unauthorized("malformed token") from err
    # Before any key is looked at: never let "none" or a symmetric algorithm near a
    # verifier that holds public keys.
    if header.get("alg") != SIGNING_ALGORITHM:
        raise Unauthorized("algorithm not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("no key id")
    return kid


def decode(
    token: str,
    key: Any,
    *,
    audience: str | Sequence[str],
    issuers: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Return the claims of a token signed by ``key`` for ``audience``, or raise Unauthorized.

    ``issuers`` None: the issuer is checked by the caller (it depends on the claims).
    The lifetime is left to :func:`check_lifetime`, which reads the injected clock.
    """
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[SIGNING_ALGORITHM],
            audience=audience if isinstance(audience, str) else list(audience),
            issuer=issuers,
            options={
                "require": ["exp", "iss", "aud"],
                "verify_iss": issuers is not None,
                # Lifetime is checked against the injected clock instead.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError as err:
        raise Unauthorized("bad signature") from err
    except jwt.InvalidAudienceError as err:
        raise Unauthorized("wrong audience") from err
    except jwt.InvalidIssuerError as err:
        raise Unauthorized("wrong issuer") from err
    except jwt.MissingRequiredClaimError as err:
        raise Unauthorized(f"no {err.claim} claim") from err
    except jwt.InvalidAlgorithmError as err:
        raise Unauthorized("algorithm not allowed") from err
    except jwt.InvalidTokenError as err:
        raise Unauthorized("malformed token") from err


def check_lifetime(claims: Mapping[str, Any], now: float) -> float:
    """Refuse a token outside its lifetime at ``now`` (epoch seconds); return its ``exp``."""
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise Unauthorized("malformed exp claim")
    if now > expires + LEEWAY_S:
        raise Unauthorized("expired")
    not_before = claims.get("nbf")
    if not_before is not None:
        if not isinstance(not_before, int | float) or isinstance(not_before, bool):
            raise Unauthorized("malformed nbf claim")
        if now < not_before - LEEWAY_S:
            raise Unauthorized("not yet valid")
    return float(expires)
