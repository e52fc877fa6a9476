"""``contact-center package``: build the sideloadable Teams app package from the settings."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.settings import Settings, SettingsError

EXIT_INVALID = 2
DEFAULT_OUT_DIR = Path("build")


def add_package_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``package`` subcommand to ``subparsers`` and return its parser."""
    package = subparsers.add_parser(
        "package",
        help="build the Teams app package (manifest.json + icons) to sideload",
        description=(
            "Fill in the manifest template from the app id, the tab's client id (if not the "
            "app's) and the public base URL, taken from the flags or the settings "
            "(MICROSOFT_APP_ID, TAB_CLIENT_ID, PUBLIC_BASE_URL); no secret is needed. Check it "
            "against the official Teams schema shipped with this release and Teams' package "
            "rules, and write the zip. Nothing is written when any check fails."
        ),
    )
    package.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write the zip (default: build/contact-center-<version>.zip)",
    )
    package.add_argument(
        "--demo",
        action="store_true",
        help="use demo mode's settings (its app id); needs --base-url, since Teams loads https only",
    )
    package.add_argument(
        "--base-url",
        metavar="URL",
        help="the https origin Teams reaches the host at (default: PUBLIC_BASE_URL)",
    )
    package.add_argument(
        "--app-id",
        metavar="GUID",
        help="the bot's Entra app id, also the Teams app id (default: MICROSOFT_APP_ID)",
    )
    package.add_argument(
        "--tab-client-id",
        metavar="GUID",
        help="the tab's Entra app, if not the bot's (default: TAB_CLIENT_ID, else the app id)",
    )
    package.add_argument(
        "--template-dir",
        type=Path,
        metavar="DIR",
        help="folder holding manifest.template.json and the icons (default: the shipped template)",
    )
    package.add_argument(
        "--schema",
        type=Path,
        metavar="FILE",
        help=(
            "the official MicrosoftTeams.schema.json to validate against (default: the one of "
            "the template's manifestVersion, shipped with this release)"
        ),
    )
    return package


def run_package(args: argparse.Namespace) -> int:
    """Build and write the package; print every problem on its own line; return the exit code."""
    from bot.package import (
        DEFAULT_SOURCE_DIR,
        InvalidPackage,
        PackageError,
        app_version,
        build_package,
        manifest_values,
        write_package,
    )

    overrides = {
        name: value.strip()
        for name, value in (
            ("public_base_url", args.base_url),
            ("microsoft_app_id", args.app_id),
            ("tab_client_id", args.tab_client_id),
        )
        if value is not None
    }
    try:
        settings = Settings.read(os.environ, demo=args.demo, **overrides)
        version = app_version()
        values = manifest_values(settings, version=version)
        package = build_package(
            values,
            source_dir=args.template_dir or DEFAULT_SOURCE_DIR,
            schema_file=args.schema,
        )
    except InvalidPackage as err:
        lines = [
            f"contact-center package: error: the app package is invalid, no zip written ({len(err.violations)} problems):"
        ]
        lines += [f"  - {violation}" for violation in err.violations]
        sys.stderr.write("\n".join(lines) + "\n")
        return EXIT_INVALID
    except (SettingsError, PackageError) as err:
        return _fail(str(err))

    out: Path = args.out or DEFAULT_OUT_DIR / f"contact-center-{version}.zip"
    try:
        write_package(package, out)
    except OSError as err:
        return _fail(f"cannot write {out}: {err.strerror or err}")
    sys.stdout.write(
        f"{out}: Teams app package {version} for https://{values.host} (app id {values.app_id})\n"
    )
    return 0


def _fail(message: str) -> int:
    sys.stderr.write(f"contact-center package: error: {message}\n")
    return EXIT_INVALID
