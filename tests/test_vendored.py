"""Vendored third-party files: pinned, listed with their sha256, the npm packages' own bytes."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
LISTING: dict[str, Any] = json.loads((ROOT / "tools" / "vendored.json").read_text("utf-8"))
PACKAGES: list[dict[str, Any]] = LISTING["packages"]
FILES = [(package, entry) for package in PACKAGES for entry in package["files"]]


def _load_vendor_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor", ROOT / "tools" / "vendor.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vendor = _load_vendor_tool()


def _folder(package: dict[str, Any]) -> Path:
    """The folder holding a package's files: their deepest common parent."""
    return Path(os.path.commonpath([Path(entry["to"]).parent for entry in package["files"]]))


def _need_node_modules() -> None:
    if not NODE_MODULES.is_dir():
        if os.environ.get("CI"):
            pytest.fail("node_modules is missing: run npm ci")
        pytest.skip("node_modules is missing (run npm ci)")


@pytest.mark.parametrize(
    ("package", "entry"), FILES, ids=[entry["to"] for _package, entry in FILES]
)
def test_each_shipped_file_has_the_sha256_on_the_list(
    package: dict[str, Any], entry: dict[str, Any]
) -> None:
    data = (ROOT / entry["to"]).read_bytes()

    assert hashlib.sha256(data).hexdigest() == entry["sha256"]


def test_each_package_is_listed_at_the_version_package_json_pins() -> None:
    manifest = json.loads((ROOT / "package.json").read_text("utf-8"))
    pins = {**manifest["devDependencies"], **manifest["dependencies"]}

    assert {p["package"]: p["version"] for p in PACKAGES} == {
        p["package"]: pins[p["package"]] for p in PACKAGES
    }


@pytest.mark.parametrize("package", PACKAGES, ids=[p["package"] for p in PACKAGES])
def test_each_package_ships_its_licence_beside_its_files(package: dict[str, Any]) -> None:
    licences = [Path(e["to"]) for e in package["files"] if Path(e["to"]).name == "LICENSE"]

    assert [path.parent for path in licences] == [_folder(package)]
    assert "MIT" in (ROOT / licences[0]).read_text("utf-8")


def test_every_file_in_a_vendor_folder_is_on_the_list() -> None:
    listed = {ROOT / entry["to"] for _package, entry in FILES}
    present = {
        path
        for package in PACKAGES
        for path in (ROOT / _folder(package)).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }

    assert sorted(map(str, present - listed)) == []


@pytest.mark.parametrize(
    ("package", "entry"),
    [(p, e) for p, e in FILES if e["from"] is not None],
    ids=[e["to"] for _p, e in FILES if e["from"] is not None],
)
def test_each_shipped_file_is_the_pinned_npm_packages_file(
    package: dict[str, Any], entry: dict[str, Any]
) -> None:
    _need_node_modules()
    installed = NODE_MODULES / package["package"]
    npm = json.loads((installed / "package.json").read_text("utf-8"))

    assert npm["version"] == package["version"]
    assert npm["license"] == package["license"]
    assert (ROOT / entry["to"]).read_bytes() == (installed / entry["from"]).read_bytes()


def test_the_template_declares_a_manifest_version_whose_schema_ships() -> None:
    template = json.loads((ROOT / "appPackage" / "manifest.template.json").read_text("utf-8"))
    version = template["manifestVersion"]

    assert f"bot/manifest_schemas/v{version}/MicrosoftTeams.schema.json" in {
        entry["to"] for _package, entry in FILES
    }


def test_the_refresh_command_restores_a_changed_copy_and_records_it(tmp_path: Path) -> None:
    _need_node_modules()
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "package.json", tmp_path / "package.json")
    shutil.copy(ROOT / "tools" / "vendored.json", tmp_path / "tools" / "vendored.json")
    for _package, entry in FILES:
        (tmp_path / entry["to"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / entry["to"], tmp_path / entry["to"])
    changed = tmp_path / "tab/static/vendor/teams_js/MicrosoftTeams.min.js"
    changed.write_text("window.microsoftTeams = {};", "utf-8")

    changes = vendor.refresh(tmp_path, NODE_MODULES)

    assert changes == [
        "tab/static/vendor/teams_js/MicrosoftTeams.min.js: copied from "
        "@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js"
    ]
    assert changed.read_bytes() == (ROOT / changed.relative_to(tmp_path)).read_bytes()
    assert (tmp_path / "tools" / "vendored.json").read_text("utf-8") == (
        ROOT / "tools" / "vendored.json"
    ).read_text("utf-8")


def test_the_refresh_command_refuses_node_modules_at_another_version(tmp_path: Path) -> None:
    _need_node_modules()
    (tmp_path / "tools").mkdir()
    manifest = json.loads((ROOT / "package.json").read_text("utf-8"))
    manifest["dependencies"]["@microsoft/teams-js"] = "9.9.9"
    (tmp_path / "package.json").write_text(json.dumps(manifest), "utf-8")
    shutil.copy(ROOT / "tools" / "vendored.json", tmp_path / "tools" / "vendored.json")

    with pytest.raises(vendor.VendorError, match=r"package\.json pins 9\.9\.9: run npm install"):
        vendor.refresh(tmp_path, NODE_MODULES)


def test_the_check_mode_finds_nothing_to_refresh(capsys: pytest.CaptureFixture[str]) -> None:
    _need_node_modules()

    assert vendor.main(["--check"]) == 0
    assert capsys.readouterr().err == ""
