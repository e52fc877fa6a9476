"""Who is calling the tab API, and what they may do.

A validated token says who the caller is (``tid``, ``oid``); the store says what they may
do: the user document of that tenant carries their roles. Nobody is a user because Entra
says so, with two exceptions for a new deployment's first run:

* a user listed in ``ADMIN_OBJECT_IDS`` becomes the tenant's admin while the tenant has no
  admin yet;
* a user whose token carries Entra's Global Administrator role (``wids``) is an admin.

Either creates the tenant document when it does not exist yet. Both are audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from contactcenter.audit import Actor, AuditLog
from contactcenter.errors import NotFound
from contactcenter.model import Role, Tenant, TenantStatus, User
from contactcenter.repository import KEEP, Repository
from tab.dependencies import TabSettings
from tab.ports import TabIdentity

_LOGGER = logging.getLogger(__name__)

# The host itself, as the author of bootstrap changes in the audit log.
BOOTSTRAP_ACTOR = Actor(id="system", name="first sign-in")


class AccessDenied(Exception):
    """The token is valid but its user may not use this (403); ``code`` names why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Caller:
    """A signed-in user of a tenant, as the store knows them."""

    identity: TabIdentity
    tenant: Tenant
    user: User

    @property
    def tenant_id(self) -> str:
        return self.tenant.id

    @property
    def user_id(self) -> str:
        return self.user.id

    @property
    def actor(self) -> Actor:
        return Actor(id=self.user.id, name=self.user.display_name)

    def has(self, role: Role) -> bool:
        return role in self.user.roles


async def resolve_caller(
    identity: TabIdentity, settings: TabSettings, repository: Repository, audit: AuditLog
) -> Caller:
    """Return the caller the token speaks for, or raise AccessDenied."""
    tenant_id = identity.tenant_id
    if settings.single_tenant and settings.tenant_id and tenant_id != settings.tenant_id.lower():
        raise AccessDenied("wrongTenant", "this contact center does not serve your organization")
    tenant = await _tenant(repository, tenant_id)
    if tenant is not None and tenant.status is not TenantStatus.ACTIVE:
        raise AccessDenied("tenantTerminated", "your organization's contact center was closed")
    user = await _user(repository, tenant_id, identity.object_id)
    if user is None or Role.ADMIN not in user.roles:
        promoted = await _bootstrap(identity, settings, repository, audit, tenant)
        if promoted is not None:
            tenant, user = promoted
    if user is None or tenant is None:
        raise AccessDenied(
            "notAUser", "you are not a user of this contact center: ask an admin to add you"
        )
    return Caller(identity=identity, tenant=tenant, user=user)


async def _tenant(repository: Repository, tenant_id: str) -> Tenant | None:
    try:
        return (await repository.tenants.get(tenant_id, tenant_id)).value
    except NotFound:
        return None


async def _user(repository: Repository, tenant_id: str, user_id: str) -> User | None:
    try:
        return (await repository.users.get(tenant_id, user_id)).value
    except NotFound:
        return None


async def tenant_has_admin(repository: Repository, tenant_id: str) -> bool:
    """Tell whether any user of the tenant is an admin."""
    # Roles are a list in the document, which the store cannot filter on: a scan, but
    # only on the rare first-run path.
    return any(Role.ADMIN in u.value.roles for u in await repository.users.find(tenant_id))


async def _bootstrap(
    identity: TabIdentity,
    settings: TabSettings,
    repository: Repository,
    audit: AuditLog,
    tenant: Tenant | None,
) -> tuple[Tenant, User] | None:
    """Make the caller an admin if the first-run rules allow it; None when they do not."""
    listed = identity.object_id in {oid.lower() for oid in settings.admin_object_ids}
    if identity.is_global_administrator:
        reason = "Entra global administrator"
    elif listed and not await tenant_has_admin(repository, identity.tenant_id):
        reason = "listed in ADMIN_OBJECT_IDS, first admin of the tenant"
    else:
        return None
    if tenant is None:
        tenant = await _create_tenant(identity, repository, audit)
    # A user not stored yet (nor made meanwhile by a concurrent first request) is created,
    # promoted like anyone else.
    newcomer = User(
        id=identity.object_id,
        tenant_id=identity.tenant_id,
        display_name=identity.name or identity.username or identity.object_id,
        upn=identity.username,
    )
    promoted = await repository.users.apply(
        identity.tenant_id,
        identity.object_id,
        lambda u: KEEP if Role.ADMIN in u.roles else replace(u, roles=u.roles | {Role.ADMIN}),
        missing=lambda: newcomer,
    )
    assert promoted.after is not None
    before = promoted.before.value if promoted.before is not None else None
    user = promoted.after.value
    if before != user:
        _LOGGER.warning(
            "%s became an admin at sign-in (%s)",
            identity.object_id,
            reason,
            extra={"tenant_id": identity.tenant_id},
        )
        await audit.record(
            identity.tenant_id,
            BOOTSTRAP_ACTOR,
            "user.bootstrap-admin",
            target_type="user",
            target_id=user.id,
            before=before,
            after=user,
        )
    return tenant, user


async def _create_tenant(identity: TabIdentity, repository: Repository, audit: AuditLog) -> Tenant:
    _, _, domain = identity.username.partition("@")
    tenant = Tenant(id=identity.tenant_id, name=domain or f"Tenant {identity.tenant_id[:8]}")
    # Created unless a concurrent first request created it meanwhile: then that one stands.
    stored, created = await repository.tenants.ensure(tenant)
    if not created:
        return stored.value
    _LOGGER.warning("Created tenant %s at its first admin's sign-in", tenant.id)
    await audit.record(
        tenant.id,
        BOOTSTRAP_ACTOR,
        "tenant.create",
        target_type="tenant",
        target_id=tenant.id,
        after=stored.value,
    )
    return stored.value
