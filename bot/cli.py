"""The ``contact-center`` command line: parse arguments, then hand over. Nothing else."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

from bot.settings import Settings, SettingsError

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (the usage stays behind --help)."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit with the usage error code."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = _Parser(
        prog="contact-center",
        description="Contact Center for Microsoft Teams.",
    )
    commands = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
    )

    serve = commands.add_parser("serve", help="run the host")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="demo mode: local Teams simulator, seeded demo tenant, simulator keys trusted",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=3978, help="port to listen on")
    serve.add_argument("--data-dir", type=Path, help="data directory (default: DATA_DIR or ./data)")

    # Imported here: each command's module loads only what that command needs.
    from bot.check_cli import add_check_parser
    from bot.package_cli import add_package_parser
    from bot.simulate_cli import add_simulate_parser
    from bot.stats_cli import add_stats_parser
    from bot.store_cli import add_store_parser
    from bot.tenant_cli import add_tenant_parser

    add_simulate_parser(commands)
    add_package_parser(commands)
    add_check_parser(commands)
    add_store_parser(commands)
    add_stats_parser(commands)
    add_tenant_parser(commands)
    return parser


def ensure_writable_dir(path: Path) -> None:
    """Create ``path`` if needed and prove we can write there; raise CliError otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as err:
        raise CliError(f"data dir {path} is not writable: {err.strerror or err}") from err


def _serve(args: argparse.Namespace) -> int:

    from bot.app import create_app
    from bot.logs import configure_logging
    from bot.server import serve
    from bot.telemetry import configure_telemetry

    overrides: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    try:
        settings = Settings.from_env(os.environ, demo=args.demo, **overrides)
    except SettingsError as err:
        raise CliError(str(err)) from err
    ensure_writable_dir(settings.data_dir)
    configure_logging(
        settings.log_level,
        settings.log_format,
        secrets=(
            settings.microsoft_app_password,
            settings.cosmos_key,
            settings.blob_connection_string,
            settings.applicationinsights_connection_string,
        ),
    )
    configure_telemetry(settings)
    serve(create_app(settings), host=settings.host, port=settings.port)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from bot.simulate_cli import run_simulate

    return int(run_simulate(args))


def _package(args: argparse.Namespace) -> int:
    from bot.package_cli import run_package

    return run_package(args)


def _check(args: argparse.Namespace) -> int:
    from bot.check_cli import run_check

    return run_check(args)


def _store(args: argparse.Namespace) -> int:
    from bot.store_cli import run_store

    return run_store(args)


def _tenant(args: argparse.Namespace) -> int:
    from bot.tenant_cli import run_tenant

    return run_tenant(args)


def _stats(args: argparse.Namespace) -> int:
    from bot.stats_cli import run_stats

    return run_stats(args)


COMMANDS = {
    "stats": _stats,
    "serve": _serve,
    "simulate": _simulate,
    "package": _package,
    "check": _check,
    "store": _store,
    "tenant": _tenant,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CliError as err:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
