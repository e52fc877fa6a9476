"""Demo mode's stand-in for Entra ID: a token issuer for the tab's sign-in picker.

In demo mode there is no Entra tenant, so the host issues the tab's tokens itself, signed
with a demo key of its own (the host keeps it in the data dir across restarts) and
published like Entra publishes its keys: an OpenID configuration and a JWKS, which the tab
serves under ``/tab/demo/``. The tab's validator is pointed there in demo mode and checks
exactly what it checks in production (issuer, audience, scope, tenant, user). Production
never builds one, so it never trusts the demo key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from contactcenter.clock import Clock
from graph.identity.openid_keys import SIGNING_ALGORITHM
from graph.identity.tab_sso import ACCESS_SCOPE, v2_issuer

# The Teams web client's app id: Entra names the client that asked for a tab token in azp.
TEAMS_WEB_CLIENT_ID = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"


class RsaSigningKey(Protocol):
    """An RSA private key, its key id, and its public half as a JWK."""

    @property
    def private_key(self) -> rsa.RSAPrivateKey: ...

    @property
    def kid(self) -> str: ...

    def public_jwk(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class DemoTokenIssuer:
    """Sign tab tokens for demo users, shaped like Entra's v2 access tokens."""

    key: RsaSigningKey
    client_id: str
    # Where the JWKS is published (the OpenID configuration's ``jwks_uri``).
    jwks_url: str
    clock: Clock
    lifetime_s: int = 3600

    def openid_configuration(self) -> dict[str, Any]:
        """Return the OpenID configuration to publish, shaped like Entra's."""
        return {
            "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
            "jwks_uri": self.jwks_url,
            "id_token_signing_alg_values_supported": [SIGNING_ALGORITHM],
            "token_endpoint_auth_methods_supported": [],
            "response_types_supported": ["token"],
            "subject_types_supported": ["pairwise"],
        }

    def jwks(self) -> dict[str, Any]:
        """Return the JSON Web Key Set to publish."""
        jwk = {k: v for k, v in self.key.public_jwk().items() if k != "endorsements"}
        return {"keys": [jwk]}

    def token_for(
        self, tenant_id: str, user_id: str, *, name: str, username: str
    ) -> tuple[str, int]:
        """Return a token for the user and when it expires (seconds since the epoch)."""
        now = int(self.clock.now().timestamp())
        expires = now + self.lifetime_s
        claims = {
            "aud": self.client_id,
            "iss": v2_issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": expires,
            "tid": tenant_id,
            "oid": user_id,
            "sub": user_id,
            "name": name,
            "preferred_username": username,
            "scp": ACCESS_SCOPE,
            "azp": TEAMS_WEB_CLIENT_ID,
            "ver": "2.0",
            "uti": uuid.uuid4().hex,
        }
        token = jwt.encode(
            claims, self.key.private_key, algorithm=SIGNING_ALGORITHM, headers={"kid": self.key.kid}
        )
        return token, expires
