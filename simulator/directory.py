"""The simulated tenant directory: tenants, their users and their resource accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

E164 = re.compile(r"^\+[1-9]\d{1,14}$")


class CamelModel(BaseModel):
    """A JSON body with camelCase names (snake_case accepted too), strict about extras."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
        extra="forbid",
    )


LicenceKind = Literal["teams-phone", "teams", "none"]
"""What a simulated user's licences hold: Teams with Teams Phone, Teams alone, or neither."""


class UserEntry(CamelModel):
    """A Teams user of a tenant: names, and the licences Graph's licenseDetails reports."""

    id: str = Field(min_length=1, max_length=128)
    display_name: str = Field(default="", max_length=256)
    mail: str = Field(default="", max_length=256)
    user_principal_name: str = Field(default="", max_length=256)
    licences: LicenceKind = "teams-phone"


class ChannelEntry(CamelModel):
    """A channel of a team (a private or shared channel has members of its own)."""

    id: str = Field(min_length=1, max_length=128)
    display_name: str = Field(default="", max_length=256)
    member_ids: tuple[str, ...] = ()


class GroupEntry(CamelModel):
    """A Microsoft 365 or security group; a team is a group with Teams on it (same id)."""

    id: str = Field(min_length=1, max_length=128)
    display_name: str = Field(default="", max_length=256)
    team: bool = False
    member_ids: tuple[str, ...] = ()
    channels: tuple[ChannelEntry, ...] = ()


class ApplicationInstanceEntry(CamelModel):
    """A resource account (application instance) a queue or IVR answers for."""

    id: str = Field(min_length=1, max_length=128)
    display_name: str = Field(default="", max_length=256)
    phone_number: str | None = None

    @field_validator("phone_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not E164.fullmatch(value):
            raise ValueError("phoneNumber must be in E.164 form, e.g. +14255550100")
        return value


class TenantEntry(CamelModel):
    """A tenant with its users and resource accounts, as the control API takes it."""

    id: str = Field(min_length=1, max_length=128)
    display_name: str = Field(default="", max_length=256)
    users: tuple[UserEntry, ...] = ()
    application_instances: tuple[ApplicationInstanceEntry, ...] = ()
    groups: tuple[GroupEntry, ...] = ()


@dataclass(slots=True)
class _Tenant:
    id: str
    display_name: str
    users: dict[str, UserEntry] = field(default_factory=dict)
    application_instances: dict[str, ApplicationInstanceEntry] = field(default_factory=dict)
    groups: dict[str, GroupEntry] = field(default_factory=dict)

    def entry(self) -> TenantEntry:
        return TenantEntry(
            id=self.id,
            display_name=self.display_name,
            users=tuple(self.users.values()),
            application_instances=tuple(self.application_instances.values()),
            groups=tuple(self.groups.values()),
        )


class UnknownTenant(KeyError):
    """The tenant is not in the directory."""


class Directory:
    """Tenants, users and resource accounts, held in memory and set through the control API."""

    def __init__(self, tenants: tuple[TenantEntry, ...] = ()) -> None:
        self._tenants: dict[str, _Tenant] = {}
        for tenant in tenants:
            self.put_tenant(tenant)

    def put_tenant(self, entry: TenantEntry) -> bool:
        """Create or replace a tenant with its contents; return whether it was created."""
        created = entry.id not in self._tenants
        self._tenants[entry.id] = _Tenant(
            id=entry.id,
            display_name=entry.display_name,
            users={user.id: user for user in entry.users},
            application_instances={app.id: app for app in entry.application_instances},
            groups={group.id: group for group in entry.groups},
        )
        return created

    def put_group(self, tenant_id: str, entry: GroupEntry) -> bool:
        """Create or replace a group or team; return whether it was created."""
        tenant = self._tenant(tenant_id)
        created = entry.id not in tenant.groups
        tenant.groups[entry.id] = entry
        return created

    def group(self, group_id: str) -> GroupEntry | None:
        """Find a group or team in any tenant."""
        for tenant in self._tenants.values():
            if (group := tenant.groups.get(group_id)) is not None:
                return group
        return None

    def set_member(self, tenant_id: str, group_id: str, user_id: str, *, member: bool) -> None:
        """Add a user to a group (a team: and to its standard channels), or take them out."""
        tenant = self._tenant(tenant_id)
        group = tenant.groups.get(group_id)
        if group is None:
            raise KeyError(group_id)
        ids = [i for i in group.member_ids if i != user_id] + ([user_id] if member else [])
        channels = tuple(
            channel.model_copy(
                update={
                    "member_ids": tuple(
                        [i for i in channel.member_ids if i != user_id]
                        + ([user_id] if member else [])
                    )
                }
            )
            for channel in group.channels
        )
        tenant.groups[group_id] = group.model_copy(
            update={"member_ids": tuple(ids), "channels": channels}
        )

    def every_group(self) -> list[GroupEntry]:
        """Return the groups and teams of every tenant."""
        return [group for tenant in self._tenants.values() for group in tenant.groups.values()]

    def every_user(self) -> list[UserEntry]:
        """Return the users of every tenant (the app's token is not bound to one here)."""
        return [user for tenant in self._tenants.values() for user in tenant.users.values()]

    def put_user(self, tenant_id: str, entry: UserEntry) -> bool:
        """Create or replace a user; return whether it was created."""
        tenant = self._tenant(tenant_id)
        created = entry.id not in tenant.users
        tenant.users[entry.id] = entry
        return created

    def put_application_instance(self, tenant_id: str, entry: ApplicationInstanceEntry) -> bool:
        """Create or replace a resource account; return whether it was created."""
        tenant = self._tenant(tenant_id)
        created = entry.id not in tenant.application_instances
        tenant.application_instances[entry.id] = entry
        return created

    def tenant(self, tenant_id: str) -> TenantEntry | None:
        """Return a tenant with its contents, or None."""
        tenant = self._tenants.get(tenant_id)
        return tenant.entry() if tenant else None

    def tenants(self) -> list[TenantEntry]:
        """Return every tenant."""
        return [tenant.entry() for tenant in self._tenants.values()]

    def tenant_user(self, tenant_id: str, user_id: str) -> UserEntry | None:
        """Return one tenant's user, or None."""
        tenant = self._tenants.get(tenant_id)
        return tenant.users.get(user_id) if tenant is not None else None

    def user(self, user_id: str) -> tuple[str, UserEntry] | None:
        """Find a user in any tenant; return (tenant id, user) or None."""
        for tenant in self._tenants.values():
            if (user := tenant.users.get(user_id)) is not None:
                return tenant.id, user
        return None

    def application_instance(
        self, tenant_id: str, *, instance_id: str | None = None, phone_number: str | None = None
    ) -> ApplicationInstanceEntry | None:
        """Find a tenant's resource account by id or by phone number."""
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            return None
        if instance_id is not None:
            return tenant.application_instances.get(instance_id)
        return next(
            (
                app
                for app in tenant.application_instances.values()
                if phone_number is not None and app.phone_number == phone_number
            ),
            None,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the directory in the control API's JSON shape."""
        return {"tenants": [tenant.model_dump(by_alias=True) for tenant in self.tenants()]}

    def _tenant(self, tenant_id: str) -> _Tenant:
        try:
            return self._tenants[tenant_id]
        except KeyError:
            raise UnknownTenant(tenant_id) from None
