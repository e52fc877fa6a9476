"""``contact-center tenant``: offboard a tenant, export or erase a user's or a phone
caller's data, purge.

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
from dataclasses import fields
from pathlib import Path
from typing import Any

from bot.calling import TENANT_CACHE_TTL_S
from bot.media_routes import open_media_store
from bot.settings import Settings, SettingsError
from bot.stores import open_store
from contactcenter.audit import Actor, AuditLog
from contactcenter.clock import Clock, SystemClock
from contactcenter.codec import to_document
from contactcenter.engine import EngineSettings
from contactcenter.errors import InvalidInput, NotFound
from contactcenter.model import Tenant
from contactcenter.personal_data import (
    ErasureRefused,
    PersonalDataService,
    UserUnknown,
    caller_number,
)
from contactcenter.ports import MediaStore, Store
from contactcenter.repository import Repository
from contactcenter.retention import TenantNotFound, offboard_tenant, purge_expired
from contactcenter.seats import Seats

EXIT_FAILED = 1
EXIT_USAGE = 2


class TenantCommandFailed(Exception):
    """The command could not do what was asked; the message says why."""


def add_tenant_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``tenant`` and its subcommands to the CLI's subparsers; return its parser."""
    tenant: argparse.ArgumentParser = subparsers.add_parser(
        "tenant",
        help="data protection: offboard a tenant, export or erase a user's or a caller's data",
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
        help="terminate a tenant now: its traffic is refused at once (by a running host's "
        f"calling webhook within {TENANT_CACHE_TTL_S:g} seconds), its data purged after 90 days",
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
    export_caller = commands.add_parser(
        "export-caller", help="print everything stored about a phone caller, by their number"
    )
    common(export_caller)
    export_caller.add_argument("--number", required=True, type=_number, help=_NUMBER_HELP)
    export_caller.add_argument(
        "--out", type=Path, help="write the JSON to this file (default: stdout)"
    )
    delete_caller = commands.add_parser(
        "delete-caller",
        help="erase a phone caller's personal data: voicemails and caller-list entries are "
        "deleted, what reports keep is pseudonymised",
    )
    common(delete_caller)
    delete_caller.add_argument("--number", required=True, type=_number, help=_NUMBER_HELP)
    purge = commands.add_parser(
        "purge", help="delete expired call records and terminated tenants' data now"
    )
    purge.add_argument("--demo", action="store_true", help="use demo mode's settings")
    purge.add_argument("--data-dir", type=Path, help="data directory")
    return tenant


# How long a running host keeps a tenant's caller lists cached (the engine's default).
_CALLER_LIST_CACHE_S = next(
    f.default for f in fields(EngineSettings) if f.name == "caller_list_cache_s"
)
_NUMBER_HELP = "the caller's phone number in E.164 form, e.g. +14255550100"


def _number(text: str) -> str:
    """Parse ``--number``: an E.164 number (spaces and dashes allowed), or a usage error."""
    try:
        return caller_number(text)
    except InvalidInput as err:
        raise argparse.ArgumentTypeError(f"{text!r} is {err}") from None


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
    args.settings = settings
    try:
        return asyncio.run(
            _with_store(settings, lambda store: command(args, store, clock or SystemClock()))
        )
    except TenantCommandFailed as err:
        sys.stderr.write(f"contact-center tenant {args.tenant_command}: {err}\n")
        return EXIT_FAILED


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    store = await open_store(settings)
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


def _service(
    store: Store, clock: Clock, *, media: MediaStore | None = None
) -> tuple[Repository, AuditLog, PersonalDataService]:
    repository = Repository(store)
    audit = AuditLog(store, clock)
    service = PersonalDataService(
        store, repository, audit, Seats(store, repository, clock), clock, media=media
    )
    return repository, audit, service


def _write_export(args: argparse.Namespace, data: object) -> None:
    """Write exported personal data as JSON to ``--out`` (readable by its owner only) or stdout."""
    text = json.dumps(to_document(data), indent=2, sort_keys=True) + "\n"
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        args.out.chmod(0o600)
    else:
        sys.stdout.write(text)


def _refused(err: ErasureRefused) -> TenantCommandFailed:
    details = "".join(f"\n  {detail}" for detail in err.details)
    return TenantCommandFailed(f"{err.message}{details}")


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
        f"refused from now on (by a running host's calling webhook within {TENANT_CACHE_TTL_S:g} "
        "seconds), and its data is purged 90 days later\n"
    )
    return 0


async def _export_user(args: argparse.Namespace, store: Store, clock: Clock) -> int:
    _, _, service = _service(store, clock)
    try:
        data = await service.export(args.tenant, args.user, _operator("export-user"))
    except UserUnknown:
        raise TenantCommandFailed(f"no user {args.user} in tenant {args.tenant}") from None
    _write_export(args, data)
    return 0


async def _tenant(repository: Repository, tenant_id: str) -> Tenant:
    try:
        return (await repository.tenants.get(tenant_id, tenant_id)).value
    except NotFound:
        raise TenantCommandFailed(f"no tenant {tenant_id}") from None


async def _delete_user(args: argparse.Namespace, store: Store, clock: Clock) -> int:
    repository, _, service = _service(store, clock)
    tenant = await _tenant(repository, args.tenant)
    try:
        erasure = await service.erase(tenant, args.user, _operator("delete-user"))
    except UserUnknown:
        raise TenantCommandFailed(f"no user {args.user} in tenant {args.tenant}") from None
    except ErasureRefused as err:
        raise _refused(err) from None
    sys.stdout.write(
        f"erased: {erasure.deleted} documents deleted, {erasure.pseudonymised} kept under the "
        f"pseudonym {erasure.pseudonym}\n"
    )
    return 0


async def _export_caller(args: argparse.Namespace, store: Store, clock: Clock) -> int:
    repository, _, service = _service(store, clock)
    await _tenant(repository, args.tenant)
    data = await service.export_caller(args.tenant, args.number, _operator("export-caller"))
    _write_export(args, data)
    return 0


async def _delete_caller(args: argparse.Namespace, store: Store, clock: Clock) -> int:
    tenant = await _tenant(Repository(store), args.tenant)
    media: MediaStore = await open_media_store(args.settings)
    try:
        _, _, service = _service(store, clock, media=media)
        erasure = await service.erase_caller(tenant, args.number, _operator("delete-caller"))
    except ErasureRefused as err:
        raise _refused(err) from None
    finally:
        await media.close()
    if not erasure.pseudonym:
        sys.stdout.write(f"nothing stored names {args.number} in tenant {args.tenant}\n")
        return 0
    sys.stdout.write(
        f"erased: {erasure.deleted} documents deleted (with their recordings), "
        f"{erasure.pseudonymised} changed to name the pseudonym {erasure.pseudonym}; a running "
        "host forgets the caller's list entries within "
        f"{_CALLER_LIST_CACHE_S:g} seconds\n"
    )
    return 0


async def _purge(args: argparse.Namespace, store: Store, clock: Clock) -> int:
    media = await open_media_store(args.settings)
    try:
        deleted = await purge_expired(Repository(store), clock, media=media)
    finally:
        await media.close()
    sys.stdout.write(f"purged {deleted} documents (and the media they own)\n")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, Store, Clock], Awaitable[int]]] = {
    "offboard": _offboard,
    "export-user": _export_user,
    "delete-user": _delete_user,
    "export-caller": _export_caller,
    "delete-caller": _delete_caller,
    "purge": _purge,
}
