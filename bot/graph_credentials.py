"""How the host authenticates to Microsoft Graph: the simulator's demo token, or Entra."""

from __future__ import annotations

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import ClientSecretCredential, ManagedIdentityCredential

from bot.settings import AppType, Settings
from graph.calling import StaticTokenProvider

DEMO_TOKEN = "demo-mode-token"  # noqa: S105 - not a secret: the simulator takes any token


def graph_credential(
    settings: Settings, tenant_id: str | None = None
) -> AsyncTokenCredential | StaticTokenProvider:
    """Return the credential for Graph requests, for ``tenant_id`` (default: the app's)."""
    if settings.demo:
        # The simulator accepts any bearer token; this one only proves we send one.
        return StaticTokenProvider(DEMO_TOKEN)
    if settings.microsoft_app_type is AppType.USER_ASSIGNED_MSI:
        return ManagedIdentityCredential(client_id=settings.microsoft_app_id)
    return ClientSecretCredential(
        tenant_id or settings.microsoft_app_tenant_id or "organizations",
        settings.microsoft_app_id,
        settings.microsoft_app_password,
        authority=settings.entra_authority_host,
    )


async def close_credential(credential: AsyncTokenCredential | StaticTokenProvider) -> None:
    """Close what the credential holds open (the demo token holds nothing)."""
    if not isinstance(credential, StaticTokenProvider):
        await credential.close()
