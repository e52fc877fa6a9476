"""Refresh the third-party files we ship from the npm packages pinned in package.json.

The browser libraries and schemas the product serves or validates against (the Teams
JavaScript client library, Microsoft's Adaptive Cards renderer, the Teams app manifest
schemas) live inside our Python packages, so the installed wheel needs neither Node nor
``node_modules``. ``tools/vendored.json`` lists each shipped file: its npm package, the
pinned version, its path in that package, our path and its sha256. To upgrade one:

    # change the version in package.json, then
    npm install
    python tools/vendor.py          # copy the files, record versions and sha256
    make test                       # tests/test_vendored.py compares every file again

``python tools/vendor.py --check`` changes nothing and lists every difference instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIST = Path("tools", "vendored.json")


class VendorError(Exception):
    """node_modules does not hold what package.json pins; the message says the fix."""


def load_list(root: Path = ROOT) -> dict[str, Any]:
    """Read the list of vendored files."""
    data: dict[str, Any] = json.loads((root / LIST).read_text(encoding="utf-8"))
    return data


def pinned_versions(root: Path = ROOT) -> dict[str, str]:
    """Return the npm versions package.json pins, dependencies and devDependencies alike."""
    manifest = json.loads((root / "package.json").read_text(encoding="utf-8"))
    return {**manifest.get("devDependencies", {}), **manifest.get("dependencies", {})}


def sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installed(node_modules: Path, package: str) -> dict[str, Any]:
    """Return the package.json of an installed npm package; raise VendorError if absent."""
    path = node_modules / package / "package.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VendorError(f"{package} is not in {node_modules}: run npm ci") from None
    return data


def problems(root: Path = ROOT, node_modules: Path | None = None) -> list[str]:
    """List every way the shipped files differ from the list (and from node_modules, if given)."""
    listing = load_list(root)
    pins = pinned_versions(root)
    found: list[str] = []
    listed: set[Path] = set()
    for package in listing["packages"]:
        name, version = package["package"], package["version"]
        if pins.get(name) != version:
            found.append(f"{name}: the list says {version}, package.json pins {pins.get(name)}")
        if not any(Path(f["to"]).name.startswith("LICENSE") for f in package["files"]):
            found.append(f"{name}: no licence file is shipped beside it")
        for entry in package["files"]:
            ours = root / entry["to"]
            listed.add(ours)
            if not ours.is_file():
                found.append(f"{entry['to']}: missing")
            elif sha256(ours) != entry["sha256"]:
                found.append(f"{entry['to']}: its sha256 is not the one in {LIST}")
        if node_modules is not None:
            found += _npm_differences(root, node_modules, package)
    for folder in {_package_folder(package) for package in listing["packages"]}:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path not in listed and "__pycache__" not in path.parts:
                found.append(f"{path.relative_to(root)}: not in {LIST}")
    return found


def refresh(root: Path = ROOT, node_modules: Path | None = None) -> list[str]:
    """Copy every listed file from node_modules and record versions and sha256; return changes."""
    node_modules = node_modules or root / "node_modules"
    listing = load_list(root)
    pins = pinned_versions(root)
    changes: list[str] = []
    for package in listing["packages"]:
        name = package["package"]
        npm = installed(node_modules, name)
        if pins.get(name) != npm.get("version"):
            raise VendorError(
                f"node_modules has {name} {npm.get('version')}, package.json pins "
                f"{pins.get(name)}: run npm install"
            )
        if npm.get("license") != package["license"]:
            raise VendorError(
                f"{name} {npm.get('version')} declares the licence {npm.get('license')!r}, not "
                f"{package['license']!r}: review it, then update the licence file and the list"
            )
        if package["version"] != npm["version"]:
            changes.append(f"{name}: {package['version']} -> {npm['version']}")
            package["version"] = npm["version"]
        for entry in package["files"]:
            ours = root / entry["to"]
            if entry["from"] is not None:
                source = node_modules / name / entry["from"]
                if not source.is_file():
                    raise VendorError(f"{name} {npm['version']} has no {entry['from']}")
                if not ours.is_file() or ours.read_bytes() != source.read_bytes():
                    ours.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, ours)
                    changes.append(f"{entry['to']}: copied from {name}/{entry['from']}")
            digest = sha256(ours)
            if entry["sha256"] != digest:
                entry["sha256"] = digest
                changes.append(f"{entry['to']}: sha256 recorded")
    text = json.dumps(listing, indent=2, ensure_ascii=False) + "\n"
    (root / LIST).write_text(text, encoding="utf-8")
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    """Refresh the vendored files, or with --check list what differs; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; list differences")
    parser.add_argument(
        "--node-modules", type=Path, default=ROOT / "node_modules", help="where npm installed"
    )
    args = parser.parse_args(argv)
    if args.check:
        found = problems(ROOT, args.node_modules if args.node_modules.is_dir() else None)
        for line in found:
            sys.stderr.write(f"{line}\n")
        return 1 if found else 0
    try:
        changes = refresh(ROOT, args.node_modules)
    except VendorError as err:
        sys.stderr.write(f"vendor: error: {err}\n")
        return 2
    for line in changes or ["every vendored file is up to date"]:
        sys.stdout.write(f"{line}\n")
    return 0


def _package_folder(package: dict[str, Any]) -> Path:
    """Return the one folder that holds a package's files: their common parent."""
    parents = [Path(entry["to"]).parent for entry in package["files"]]
    common = parents[0]
    while not all(common == parent or common in parent.parents for parent in parents):
        common = common.parent
    return common


def _npm_differences(root: Path, node_modules: Path, package: dict[str, Any]) -> list[str]:
    name, version = package["package"], package["version"]
    try:
        npm = installed(node_modules, name)
    except VendorError as err:
        return [str(err)]
    found: list[str] = []
    if npm.get("version") != version:
        found.append(f"{name}: node_modules has {npm.get('version')}, the list says {version}")
    if npm.get("license") != package["license"]:
        found.append(f"{name}: declares the licence {npm.get('license')!r} now")
    for entry in package["files"]:
        if entry["from"] is None:
            continue
        source, ours = node_modules / name / entry["from"], root / entry["to"]
        if not source.is_file():
            found.append(f"{name}/{entry['from']}: not in node_modules")
        elif not ours.is_file() or source.read_bytes() != ours.read_bytes():
            found.append(f"{entry['to']}: differs from {name}/{entry['from']}")
    return found


if __name__ == "__main__":
    sys.exit(main())
