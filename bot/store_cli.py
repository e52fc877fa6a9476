"""``contact-center store copy``: copy every document from one store to another.

``--from`` and ``--to`` take store URLs: ``sqlite:///path/to/contactcenter.db`` (or a data
directory) and ``cosmos://HOST[:PORT]?database=NAME``. Cosmos DB signs in with the account
key from ``--key`` or ``COSMOS_KEY`` (``--from-key`` / ``--to-key`` for two accounts), or
without one with the Azure identity (managed identity, Azure CLI login). Progress goes
to stderr, the summary to stdout. Running the same copy again writes nothing new; a copy
that stopped halfway finishes when run again (faster with ``--checkpoint FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from bot.progress import ProgressBar
from bot.settings import SettingsError, read_dotenv
from contactcenter.errors import DomainError
from storage.copy import (
    DEFAULT_PAGE_SIZE,
    Checkpoint,
    CheckpointError,
    CollectionCopy,
    CosmosAccess,
    StoreLocation,
    StoreUnavailable,
    StoreUrlError,
    copy_documents,
    open_destination,
    open_source,
    parse_store_url,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
PROG = "contact-center store copy"


def add_store_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``store`` command (with its ``copy`` subcommand) and return its parser."""
    store = subparsers.add_parser(
        "store",
        help="work on a store as a whole (copy between SQLite and Cosmos DB)",
        description="Work on a whole store: copy it between SQLite and Cosmos DB.",
    )
    actions = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    _add_copy_parser(actions)
    return store


def _add_copy_parser(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    copy = actions.add_parser(
        "copy",
        help="copy every document from one store to another",
        description=(
            "Copy every document of every collection from one store to another: SQLite to "
            "Cosmos DB, Cosmos DB to SQLite, or SQLite to SQLite (a backup). A document the "
            "destination already holds with the same body is not written again, so running "
            "the copy twice changes nothing and an interrupted copy finishes when run again. "
            "Documents only the destination holds are kept."
        ),
        epilog=(
            "Store URLs: sqlite:///absolute/path/contactcenter.db, sqlite:relative/path.db, "
            "sqlite:DATA_DIR (its contactcenter.db); cosmos://HOST[:PORT]?database=NAME "
            "(endpoint https://HOST:PORT/, database contactcenter by default)."
        ),
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="store to read")
    copy.add_argument(
        "--to", dest="destination", required=True, metavar="URL", help="store to write"
    )
    copy.add_argument(
        "--key",
        help="Cosmos DB account key (default: COSMOS_KEY; none: sign in with the Azure identity)",
    )
    copy.add_argument("--from-key", help="account key of the source only (two accounts)")
    copy.add_argument("--to-key", help="account key of the destination only (two accounts)")
    copy.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify Cosmos DB TLS certificates (a local test server only)",
    )
    copy.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="record progress in FILE after every page and resume from it; removed once done",
    )
    copy.add_argument(
        "--page-size",
        type=_page_size,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"documents read per request (default {DEFAULT_PAGE_SIZE})",
    )
    return copy


def _page_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("the page size must be between 1 and 1000")
    return value


class _CopyProgress:
    """One bar line per collection on stderr, with what the copy wrote and skipped."""

    def __init__(self, stream: TextIO) -> None:
        self._bar = ProgressBar(stream, unit="documents")

    def __call__(self, copy: CollectionCopy) -> None:
        note = f"written {copy.written}, unchanged {copy.unchanged}" + (
            f", done before {copy.resumed}" if copy.resumed else ""
        )
        total = max(copy.total, copy.handled)
        self._bar.show(copy.handled, total, label=f"{copy.name:<14}", note=note)

    def close(self) -> None:
        self._bar.close()


def run_store(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    """Run a ``store`` action with parsed arguments; return the exit code."""
    if args.store_command != "copy":
        return _fail(f"unknown store action {args.store_command!r}")
    env = _environment(os.environ if environ is None else environ)
    try:
        source = parse_store_url(args.source)
        destination = parse_store_url(args.destination)
    except StoreUrlError as err:
        return _fail(str(err))
    if source.same_as(destination):
        return _fail(f"--from and --to name the same store ({source})")
    default_key = args.key or env.get("COSMOS_KEY") or None
    verify = not args.insecure
    source_access = CosmosAccess(args.from_key or default_key, verify)
    destination_access = CosmosAccess(args.to_key or default_key, verify)
    checkpoint = None
    if args.checkpoint is not None:
        try:
            checkpoint = Checkpoint.load_or_start(
                args.checkpoint, source=args.source.strip(), destination=args.destination.strip()
            )
        except CheckpointError as err:
            return _fail(str(err))
    # The Cosmos DB SDK logs every request at INFO; what goes wrong is said in one line.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    progress = _CopyProgress(sys.stderr)
    try:
        return asyncio.run(
            _copy(
                source,
                destination,
                source_access,
                destination_access,
                checkpoint=checkpoint,
                page_size=args.page_size,
                progress=progress,
            )
        )
    except StoreUnavailable as err:
        progress.close()
        return _fail(str(err))
    except KeyboardInterrupt:
        progress.close()
        sys.stderr.write(f"{PROG}: interrupted; run the same command again to finish the copy\n")
        return 130
    except (DomainError, OSError, TypeError, ValueError) as err:
        progress.close()
        again = f" (progress kept in {checkpoint.path})" if checkpoint is not None else ""
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        sys.stderr.write(
            f"{PROG}: error: the copy stopped: {first_line}; run the same command again to "
            f"finish it{again}\n"
        )
        return EXIT_FAILED


async def _copy(
    source: StoreLocation,
    destination: StoreLocation,
    source_access: CosmosAccess,
    destination_access: CosmosAccess,
    *,
    checkpoint: Checkpoint | None,
    page_size: int,
    progress: _CopyProgress,
) -> int:
    opened = await open_source(source, source_access)
    try:
        target = await open_destination(destination, destination_access)
        try:
            results = await copy_documents(
                opened.store,
                target,
                opened.collections,
                page_size=page_size,
                checkpoint=checkpoint,
                progress=progress,
            )
        finally:
            await target.close()
    finally:
        await opened.store.close()
    progress.close()
    if checkpoint is not None:
        checkpoint.remove()
    written = sum(r.written for r in results)
    unchanged = sum(r.unchanged for r in results)
    resumed = sum(r.resumed for r in results)
    sys.stdout.write(
        f"copied {written + unchanged + resumed} documents in {len(results)} collections "
        f"from {source} to {destination}: {written} written, {unchanged} already there"
        + (f", {resumed} copied before" if resumed else "")
        + "\n"
    )
    return 0


def _environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the environment over an optional ``.env`` (as the host reads its settings)."""
    values: dict[str, str] = {}
    dotenv = Path(".env")
    if dotenv.is_file():
        # The host reports a malformed .env; the copy needs only COSMOS_KEY from it.
        with contextlib.suppress(SettingsError):
            values.update(read_dotenv(dotenv))
    values.update(environ)
    return values


def _fail(message: str) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run ``store ...`` as the ``contact-center`` command would (for ``python -m``)."""
    parser = argparse.ArgumentParser(prog="contact-center")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_store_parser(commands)
    args = parser.parse_args(argv)
    return run_store(args, environ)


if __name__ == "__main__":
    sys.exit(main())
