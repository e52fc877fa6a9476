"""``contact-center check``: report, as a table, what the production settings lack or get wrong."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError

EXIT_PROBLEM = 2
HEADERS = ("setting", "status", "what was found, and how to fix it")


def add_check_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``check`` subcommand to ``subparsers`` and return its parser."""
    check = subparsers.add_parser(
        "check",
        help="check the production settings before the first run",
        description=(
            "Read the production settings (environment and .env) and try them: the bot's "
            "identity, the public base URL, the Cosmos DB account and database, the trusted "
            "OpenID configurations, and the bot's tokens from Entra. Prints one line per "
            "setting; exit code 2 when any is missing, wrong or failed."
        ),
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long each remote check may take (default: 15)",
    )
    return check


def run_check(args: argparse.Namespace) -> int:
    """Run every check, print the table, return 0 when nothing is a problem, else 2."""
    from bot.check import Finding, Status, check_settings

    try:
        settings = Settings.read(os.environ)
    except SettingsError as err:
        findings = [Finding("settings", Status.WRONG, str(err))]
    else:
        findings = asyncio.run(check_settings(settings, timeout_s=args.timeout))
    sys.stdout.write(render_table([(f.setting, f.status.value, f.detail) for f in findings]))
    problems = sum(f.is_problem for f in findings)
    warnings = sum(f.status is Status.WARNING for f in findings)
    if problems:
        sys.stdout.write(
            f"\n{problems} problem{'s' if problems != 1 else ''}: fix "
            f"{'them' if problems != 1 else 'it'} and run contact-center check again\n"
        )
        return EXIT_PROBLEM
    sys.stdout.write(
        "\nReady: no problems"
        + (f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else "")
        + "\n"
    )
    return 0


def render_table(rows: Sequence[tuple[str, str, str]]) -> str:
    """Lay rows out in columns under the headers, one line each."""
    widths = [max(len(row[i]) for row in (HEADERS, *rows)) for i in range(2)]
    lines = [
        f"{setting:<{widths[0]}}  {status:<{widths[1]}}  {detail}".rstrip()
        for setting, status, detail in (HEADERS, *rows)
    ]
    lines.insert(1, f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * len(HEADERS[2])}")
    return "\n".join(lines) + "\n"
