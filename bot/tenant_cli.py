"""``contact-center tenant``: offboard a tenant, export or erase a user's data, purge.

Each subcommand opens the configured store (the same settings as ``serve``), does its
work and closes it. Every change is audited in the tenant's audit log, by the operator
running the command.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.settings import Settings, SettingsError
from contactcenter.clock import Clock, SystemClock
from contactcenter.codec import to_document
from contactcenter.errors import NotFound
from contactcenter.ports import Store
from contactcenter.repository import Repository
from contactcenter.retention import TenantNotFound, offboard_tenant, purge_expired
from storage.cosmos import CosmosStore
from storage.sqlite import SqliteStore
from tab.audit import Actor, AuditLog
from tab.privacy import ErasureRefused, PersonalDataService, UserUnknown
from tab.seats import Seats

EXIT_FAILED = 1
EXIT_USAGE = 2


class TenantCommandFailed(Exception):
    """The command could not do what was asked; the message says why."""


def add_tenant_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``tenant`` and its subcommands to the CLI's subparsers; return its parser."""
    tenant: argparse.ArgumentParser = subparsers.add_parser(
        "tenant", help="data protection: offboard a tenant, export or erase a user's data"
    )
    commands = tenant.add_subparsers(dest="tenant_command", required=True, metavar="COMMAND")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--tenant", required=True, help="the tenant's id (Entra tenant id)")
        parser.add_argument(
            "--demo", action="store_true", help="use demo mode's settings (local store)"
        )
        parser.add_argument(
            "--data-dir", type=Path, help="data directory (default: DATA_DIR or ./data)"
        )

    offboard = commands.add_parser(
        "offboard",
        help="terminate a tenant now: its traffic is refused at once, its data purged "
        "after 90 days",
    )
    common(offboard)
    export = commands.add_parser("export-user", help="print everything stored about a user")
    common(export)
    export.add_argument("--user", required=True, help="the user's id (Entra object id)")
    export.add_argument("--out", type=Path, help="write the JSON to this file (default: stdout)")
    delete = commands.add_parser(
        "delete-user",
        help="erase a user's personal data (what reports keep is pseudonymised)",
    )
    common(delete)
    delete.add_argument("--user", required=True, help="the user's id (Entra object id)")
    purge = commands.add_parser(
        "purge", help="delete expired call records and terminated tenants' data now"
    )
    purge.add_argument("--demo", action="store_true", help="use demo mode's settings")
    purge.add_argument("--data-dir", type=Path, help="data directory")
    return tenant


def run_tenant(args: argparse.Namespace, *, clock: Clock | None = None) -> int:
    """Run one ``tenant`` subcommand; return the process exit code."""
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    try:
        settings = Settings.from_env(os.environ, demo=args.demo, **overrides)
    except SettingsError as err:
        sys.stderr.write(f"contact-center tenant: error: {err}\n")
        return EXIT_USAGE
    command = _COMMANDS[args.tenant_command]
    try:
        return asyncio.run(
            _with_store(settings, lambda store: command(args, store, clock or SystemClock()))
        )
    except TenantCommandFailed as err:
        sys.stderr.write(f"contact-center tenant {args.tenant_command}: {err}\n")
        return EXIT_FAILED


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    if settings.uses_cosmos:
        store: Store = await CosmosStore.open(
            settings.cosmos_endpoint,
            key=settings.cosmos_key or None,
            database=settings.cosmos_database,
            verify_tls=settings.cosmos_verify_tls,
        )
    else:
        store = await SqliteStore.open(settings.database_path)
    try:
        return await work(store)
    finally:
        await store.close()


def _operator(command: str) -> Actor:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return Actor(id=f"cli:{login}", name=f"contact-center tenant {command}")


def _service(store: Store, clock: Clock) -> tuple[Repository, AuditLog, PersonalDataService]:
    repository = Repository(store)
    audit = AuditLog(store, clock)
    service = PersonalDataService(store, repository, audit, Seats(store, repository), clock)
    return repository, audit, service


async def _offboard(args: argparse.Namespace, store: Store, clock: Clock) -> int:
    repository, audit, _ = _service(store, clock)
    try:
        before, after = await offboard_tenant(repository, args.tenant, clock)
    except TenantNotFound as err:
        raise TenantCommandFailed(str(err)) from None
    if before != after:
        await audit.record(
            args.tenant,
            _operator("offboard"),
            "tenant.offboard",
            target_type="tenant",
            target_id=args.tenant,
            before=before,
            after=after,
        )
    assert after.terminated_at is not None
    sys.stdout.write(
        f"tenant {args.tenant} terminated at {after.terminated_at.isoformat()}: its traffic is "
        "refused from now on, and its data is purged 90 days later\n"
    )
    return 0


async def _export_user(args: argparse.Namespace, store: Store, clock: Clock) -> int:
    _, _, service = _service(store, clock)
    try:
        data = await service.export(args.tenant, args.user, _operator("export-user"))
    except UserUnknown:
        raise TenantCommandFailed(f"no user {args.user} in tenant {args.tenant}") from None
    text = json.dumps(to_document(data), indent=2, sort_keys=True) + "\n"
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        args.out.chmod(0o600)
    else:
        sys.stdout.write(text)
    return 0


async def _delete_user(args: argparse.Namespace, store: Store, clock: Clock) -> int:
    repository, _, service = _service(store, clock)
    try:
        tenant = (await repository.tenants.get(args.tenant, args.tenant)).value
    except NotFound:
        raise TenantCommandFailed(f"no tenant {args.tenant}") from None
    try:
        erasure = await service.erase(tenant, args.user, _operator("delete-user"))
    except UserUnknown:
        raise TenantCommandFailed(f"no user {args.user} in tenant {args.tenant}") from None
    except ErasureRefused as err:
        details = "".join(f"\n  {detail}" for detail in err.details)
        raise TenantCommandFailed(f"{err.message}{details}") from None
    sys.stdout.write(
        f"erased: {erasure.deleted} documents deleted, {erasure.pseudonymised} kept under the "
        f"pseudonym {erasure.pseudonym}\n"
    )
    return 0


async def _purge(args: argparse.Namespace, store: Store, clock: Clock) -> int:
    deleted = await purge_expired(Repository(store), clock)
    sys.stdout.write(f"purged {deleted} documents\n")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, Store, Clock], Awaitable[int]]] = {
    "offboard": _offboard,
    "export-user": _export_user,
    "delete-user": _delete_user,
    "purge": _purge,
}
