"""The Teams app package: valid against the official schema, or refused with every reason."""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import struct
import tomllib
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft4Validator

from bot.cli import main
from bot.package import (
    DEFAULT_SOURCE_DIR,
    InvalidPackage,
    ManifestValues,
    PackageError,
    app_version,
    build_package,
    read_png,
    teams_version,
)
from bot.package_cli import add_package_parser, run_package
from bot.settings import DEMO_APP_ID

ROOT = Path(__file__).resolve().parent.parent
# The oracle: the schemas as npm publishes them, not the copies the product ships.
NPM_SCHEMAS = ROOT / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas"
SNAPSHOT = ROOT / "tests" / "snapshots" / "manifest.json"
APP_ID = "11111111-2222-4333-8444-555555555555"
TAB_CLIENT_ID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
VALUES = ManifestValues(
    app_id=APP_ID,
    tab_client_id=TAB_CLIENT_ID,
    base_url="https://contact.contoso.com",
    version="1.2.3",
)
# Settings the package command reads; cleared so the developer's own environment can't leak in.
SETTINGS_ENV = (
    "MICROSOFT_APP_ID",
    "MICROSOFT_APP_PASSWORD",
    "MICROSOFT_APP_TENANT_ID",
    "MICROSOFT_APP_TYPE",
    "TAB_CLIENT_ID",
    "PUBLIC_BASE_URL",
    "GRAPH_BASE_URL",
    "ADMIN_OBJECT_IDS",
    "LOG_LEVEL",
    "LOG_FORMAT",
)


def _load_make_icons() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_icons", ROOT / "appPackage" / "make_icons.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_icons = _load_make_icons()


@pytest.fixture(scope="module")
def official_schema() -> dict[str, Any]:
    """The official schema of the template's manifestVersion, from @microsoft/app-manifest."""
    template = json.loads((DEFAULT_SOURCE_DIR / "manifest.template.json").read_text("utf-8"))
    path = NPM_SCHEMAS / "teams" / f"v{template['manifestVersion']}" / "MicrosoftTeams.schema.json"
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: the package tests need the official Teams manifest schema "
            f"from the npm package @microsoft/app-manifest; run `npm ci` in {ROOT}"
        )
    schema: dict[str, Any] = json.loads(path.read_text("utf-8-sig"))
    return schema


@pytest.fixture
def package_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment and a working directory without a .env file."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="contact-center")
    add_package_parser(parser.add_subparsers(dest="command", required=True))
    return run_package(parser.parse_args(["package", *argv]))


def set_package_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set what a package needs, and nothing else: no secret, no tenant."""
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    monkeypatch.setenv("TAB_CLIENT_ID", TAB_CLIENT_ID)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://cc.contoso.com/")


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def package_source(
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None] | None = None,
    **icons: bytes | None,
) -> Path:
    """Copy appPackage/ to a scratch folder, change the template, replace or drop icons."""
    source = tmp_path / "appPackage"
    source.mkdir()
    for name in ("manifest.template.json", "color.png", "outline.png"):
        (source / name).write_bytes((DEFAULT_SOURCE_DIR / name).read_bytes())
    if change is not None:
        template = json.loads((source / "manifest.template.json").read_text("utf-8"))
        change(template)
        (source / "manifest.template.json").write_text(json.dumps(template), "utf-8")
    for stem, data in icons.items():
        path = source / f"{stem}.png"
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)
    return source


def violations_of(source: Path) -> tuple[str, ...]:
    with pytest.raises(InvalidPackage) as caught:
        build_package(VALUES, source_dir=source)
    return caught.value.violations


def rgba_png(size: int, pixel: Callable[[int, int], tuple[int, int, int, int]]) -> bytes:
    rows = [b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size)]
    data: bytes = make_icons.encode_png(size, size, rows, color_type=6)
    return data


def rgb_png(size: int, colour: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    rows = [bytes(colour) * size for _ in range(size)]
    data: bytes = make_icons.encode_png(size, size, rows, color_type=2)
    return data


# --- the command's output ---------------------------------------------------------------


def test_package_command_writes_a_zip_that_validates_against_the_official_schema(
    package_env: Path, monkeypatch: pytest.MonkeyPatch, official_schema: dict[str, Any]
) -> None:
    set_package_env(monkeypatch)

    assert run_cli("--out", "app.zip") == 0

    manifest = json.loads(read_zip(package_env / "app.zip")["manifest.json"])
    errors = [e.message for e in Draft4Validator(official_schema).iter_errors(manifest)]
    assert errors == []


def test_zip_holds_exactly_the_manifest_and_both_icons_at_its_root(
    package_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_package_env(monkeypatch)

    assert run_cli("--out", "app.zip") == 0

    files = read_zip(package_env / "app.zip")
    assert sorted(files) == ["color.png", "manifest.json", "outline.png"]
    assert files["color.png"] == (DEFAULT_SOURCE_DIR / "color.png").read_bytes()
    assert files["outline.png"] == (DEFAULT_SOURCE_DIR / "outline.png").read_bytes()


def test_manifest_takes_ids_host_and_version_from_the_settings(
    package_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_package_env(monkeypatch)

    assert run_cli("--out", "app.zip") == 0

    manifest = json.loads(read_zip(package_env / "app.zip")["manifest.json"])
    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["webApplicationInfo"] == {
        "id": TAB_CLIENT_ID,
        "resource": f"api://cc.contoso.com/{TAB_CLIENT_ID}",
    }
    assert manifest["validDomains"] == ["cc.contoso.com"]
    assert manifest["staticTabs"][0]["contentUrl"].startswith("https://cc.contoso.com/tab/")
    assert manifest["version"] == app_version()


def test_bot_supports_calling_but_not_video_in_personal_and_team_scopes() -> None:
    bot = build_package(VALUES).manifest["bots"][0]

    assert bot["supportsCalling"] is True
    assert bot["supportsVideo"] is False
    assert bot["scopes"] == ["personal", "team"]


def test_default_output_is_named_after_the_version(
    package_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_package_env(monkeypatch)

    assert run_cli() == 0

    expected = package_env / "build" / f"contact-center-{app_version()}.zip"
    assert expected.is_file()
    assert str(Path("build") / expected.name) in capsys.readouterr().out


def test_same_inputs_give_the_same_zip_bytes() -> None:
    assert build_package(VALUES).zip_bytes == build_package(VALUES).zip_bytes


def test_demo_mode_refuses_its_http_base_url_and_writes_nothing(
    package_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("--demo", "--out", "app.zip") == 2

    err = capsys.readouterr().err
    assert "https" in err
    assert "--base-url" in err
    assert not (package_env / "app.zip").exists()


def test_demo_mode_builds_with_an_https_base_url(package_env: Path) -> None:
    assert run_cli("--demo", "--base-url", "https://demo.example.net", "--out", "app.zip") == 0

    manifest = json.loads(read_zip(package_env / "app.zip")["manifest.json"])
    assert manifest["id"] == DEMO_APP_ID
    assert manifest["validDomains"] == ["demo.example.net"]


def test_missing_settings_are_named_on_one_line_and_nothing_is_written(
    package_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("--out", "app.zip") == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "MICROSOFT_APP_ID (or --app-id) and PUBLIC_BASE_URL (or --base-url)" in err
    assert not (package_env / "app.zip").exists()


def test_the_app_id_and_base_url_flags_alone_build_a_valid_package(
    package_env: Path, official_schema: dict[str, Any]
) -> None:
    assert (
        run_cli("--app-id", APP_ID, "--base-url", "https://cc.contoso.com", "--out", "a.zip") == 0
    )

    manifest = json.loads(read_zip(package_env / "a.zip")["manifest.json"])
    assert manifest["id"] == APP_ID
    assert manifest["webApplicationInfo"]["id"] == APP_ID
    assert list(Draft4Validator(official_schema).iter_errors(manifest)) == []


def test_the_tab_client_id_flag_names_the_tabs_app(package_env: Path) -> None:
    assert (
        run_cli(
            *("--app-id", APP_ID, "--tab-client-id", TAB_CLIENT_ID),
            *("--base-url", "https://cc.contoso.com", "--out", "a.zip"),
        )
        == 0
    )

    manifest = json.loads(read_zip(package_env / "a.zip")["manifest.json"])
    assert manifest["webApplicationInfo"]["id"] == TAB_CLIENT_ID


def test_the_package_needs_neither_the_bots_secret_nor_its_tenant(
    package_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://cc.contoso.com")

    assert run_cli("--out", "app.zip") == 0

    assert (package_env / "app.zip").is_file()


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("http://cc.contoso.com", "needs an https base URL"),
        ("https://cc.contoso.com/contact", "must be an origin only"),
        ("https://cc.contoso.com?tenant=1", "must be an origin only"),
        ("https://cc.contoso.com/#tab", "must be an origin only"),
        ("cc.contoso.com", "needs an https base URL"),
    ],
)
def test_a_bad_base_url_is_one_line_and_writes_nothing(
    package_env: Path, capsys: pytest.CaptureFixture[str], base_url: str, reason: str
) -> None:
    assert run_cli("--app-id", APP_ID, "--base-url", base_url, "--out", "app.zip") == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert reason in err
    assert not (package_env / "app.zip").exists()


def test_an_app_id_that_is_not_a_guid_is_one_line_and_writes_nothing(
    package_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("--app-id", "bot", "--base-url", "https://cc.contoso.com", "--out", "a.zip") == 2

    assert capsys.readouterr().err == (
        "contact-center package: error: MICROSOFT_APP_ID='bot' is not a GUID\n"
    )
    assert not (package_env / "a.zip").exists()


def test_an_unknown_flag_is_one_line_exit_code_2_and_writes_nothing(
    package_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["package", "--app-id", APP_ID, "--base-url", "https://cc.contoso.com", "--zip"])

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unrecognized arguments: --zip" in err
    assert not list(package_env.rglob("*.zip"))


# --- refused packages -------------------------------------------------------------------


def test_bad_guid_id_is_refused_with_the_reason(tmp_path: Path) -> None:
    source = package_source(tmp_path, lambda m: m.update(id="not-a-guid"))

    problems = violations_of(source)

    assert any(p.startswith("id: 'not-a-guid' is not a GUID") for p in problems)


def test_missing_icon_is_refused_with_the_reason(tmp_path: Path) -> None:
    source = package_source(tmp_path, outline=None)

    assert violations_of(source) == (
        "icons/outline: outline.png does not exist in the app package folder",
    )


def test_wrong_icon_size_is_refused_with_the_reason(tmp_path: Path) -> None:
    source = package_source(tmp_path, color=rgb_png(64, (14, 124, 123)))

    assert violations_of(source) == ("icons/color: color.png is 64x64; Teams needs 192x192",)


def test_opaque_outline_is_refused_with_the_reason(tmp_path: Path) -> None:
    source = package_source(tmp_path, outline=rgb_png(32))

    assert violations_of(source) == (
        "icons/outline: outline.png has no transparency; it must be white on a transparent "
        "background",
    )


def test_outline_with_alpha_but_no_transparent_pixel_is_refused(tmp_path: Path) -> None:
    source = package_source(tmp_path, outline=rgba_png(32, lambda x, y: (255, 255, 255, 255)))

    (problem,) = violations_of(source)
    assert "has no transparent pixels" in problem


def test_outline_with_coloured_pixels_is_refused(tmp_path: Path) -> None:
    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        if x < 4:
            return (0, 0, 0, 0)
        return (255, 0, 0, 255) if (x, y) == (10, 10) else (255, 255, 255, 128)

    source = package_source(tmp_path, outline=rgba_png(32, pixel))

    assert violations_of(source) == (
        "icons/outline: outline.png has 1 pixel that is neither white nor fully transparent; "
        "it must be white only",
    )


def test_too_many_valid_domains_are_refused(tmp_path: Path) -> None:
    domains = ["{{HOST}}", *(f"d{i}.contoso.com" for i in range(16))]
    source = package_source(tmp_path, lambda m: m.update(validDomains=domains))

    assert violations_of(source) == ("validDomains: 17 domains; Teams allows 16",)


def test_schema_violations_are_reported_with_their_path(tmp_path: Path) -> None:
    source = package_source(tmp_path, lambda m: m["bots"][0].update(supportsHologram=True))

    (problem,) = violations_of(source)
    assert problem.startswith("schema: bots/0: Additional properties are not allowed")
    assert "supportsHologram" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    def break_twice(manifest: dict[str, Any]) -> None:
        manifest["id"] = "nope"
        manifest["staticTabs"][0]["entityId"] = "x" * 65

    source = package_source(tmp_path, break_twice, color=None)

    problems = violations_of(source)
    assert any(p.startswith("id: ") for p in problems)
    assert any("staticTabs/0/entityId: 65 characters" in p for p in problems)
    assert any(p.startswith("icons/color: ") for p in problems)
    assert all("\n" not in p for p in problems)


def test_unfilled_placeholder_is_refused(tmp_path: Path) -> None:
    source = package_source(tmp_path, lambda m: m["developer"].update(name="{{COMPANY}}"))

    problems = violations_of(source)
    assert any(
        p.startswith("developer/name: placeholder {{COMPANY}} has no value") for p in problems
    )


def test_tab_on_a_domain_outside_valid_domains_is_refused(tmp_path: Path) -> None:
    def move_tab(manifest: dict[str, Any]) -> None:
        manifest["staticTabs"][0]["contentUrl"] = "https://elsewhere.example.org/tab"

    source = package_source(tmp_path, move_tab)

    assert violations_of(source) == (
        "staticTabs/0/contentUrl: the host of https://elsewhere.example.org/tab is not in "
        "validDomains",
    )


def test_refused_package_exits_2_lists_each_problem_on_its_own_line_and_writes_nothing(
    package_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    set_package_env(monkeypatch)
    source = package_source(tmp_path, lambda m: m.update(id="nope"), outline=rgb_png(32))

    assert run_cli("--template-dir", str(source), "--out", "app.zip") == 2

    lines = capsys.readouterr().err.splitlines()
    assert "no zip written" in lines[0]
    assert any(line.startswith("  - id: 'nope'") for line in lines[1:])
    assert any(line.startswith("  - icons/outline: ") for line in lines[1:])
    assert not (package_env / "app.zip").exists()


def test_a_manifest_version_without_a_shipped_schema_is_an_error(tmp_path: Path) -> None:
    source = package_source(tmp_path, lambda m: m.update(manifestVersion="1.99"))

    with pytest.raises(PackageError, match=r"manifestVersion 1\.99 ships with this release"):
        build_package(VALUES, source_dir=source)


def test_missing_schema_file_stops_the_command(
    package_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_package_env(monkeypatch)

    assert run_cli("--schema", str(package_env / "absent.json"), "--out", "app.zip") == 2

    assert "absent.json does not exist" in capsys.readouterr().err
    assert not (package_env / "app.zip").exists()


# --- snapshot and icons -----------------------------------------------------------------


def test_generated_manifest_matches_the_snapshot() -> None:
    rendered = json.dumps(build_package(VALUES).manifest, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(rendered, "utf-8")
    assert rendered == SNAPSHOT.read_text("utf-8"), (
        "the manifest changed; if that is intended, rerun with UPDATE_SNAPSHOTS=1"
    )


def test_committed_icons_are_what_the_generator_draws() -> None:
    assert make_icons.render_color() == (DEFAULT_SOURCE_DIR / "color.png").read_bytes()
    assert make_icons.render_outline() == (DEFAULT_SOURCE_DIR / "outline.png").read_bytes()


def test_outline_icon_is_white_on_transparent() -> None:
    image = read_png((DEFAULT_SOURCE_DIR / "outline.png").read_bytes())
    pixels = list(image.rgba())

    assert (image.width, image.height) == (32, 32)
    assert all(a == 0 or (r, g, b) == (255, 255, 255) for r, g, b, a in pixels)
    assert any(a == 0 for *_, a in pixels)
    assert any(a == 255 for *_, a in pixels)


# --- the PNG reader ---------------------------------------------------------------------


def _filtered_png(rows: Sequence[bytes], width: int, *, step: int, color_type: int) -> bytes:
    """Encode rows with filter types 0-4 in turn, as image editors do."""

    def paeth(a: int, b: int, c: int) -> int:
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        return a if pa <= pb and pa <= pc else (b if pb <= pc else c)

    out = bytearray()
    previous = bytes(len(rows[0]))
    for index, row in enumerate(rows):
        kind = index % 5
        out.append(kind)
        for i, value in enumerate(row):
            left = row[i - step] if i >= step else 0
            up = previous[i]
            up_left = previous[i - step] if i >= step else 0
            predictor = (0, left, up, (left + up) >> 1, paeth(left, up, up_left))[kind]
            out.append((value - predictor) & 0xFF)
        previous = row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, len(rows), 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(out)))
        + chunk(b"IEND", b"")
    )


def test_png_reader_undoes_every_filter_type() -> None:
    pixels = [
        [
            ((x * 37 + y * 11) % 256, (x * y) % 256, (x + 3 * y) % 256, (7 * x) % 256)
            for x in range(9)
        ]
        for y in range(10)
    ]
    rows = [b"".join(bytes(p) for p in row) for row in pixels]

    image = read_png(_filtered_png(rows, 9, step=4, color_type=6))

    assert list(image.rgba()) == [p for row in pixels for p in row]


def test_png_reader_applies_palette_transparency() -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 4, 1, 2, 3, 0, 0, 0)  # 4x1, 2-bit palette
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", bytes((255, 255, 255, 0, 0, 0)))
        + chunk(b"tRNS", bytes((255, 0)))
        + chunk(b"IDAT", zlib.compress(bytes((0, 0b00010001))))
        + chunk(b"IEND", b"")
    )

    image = read_png(data)

    assert list(image.rgba()) == [(255, 255, 255, 255), (0, 0, 0, 0)] * 2


def test_png_reader_rejects_a_corrupted_chunk() -> None:
    data = bytearray((DEFAULT_SOURCE_DIR / "outline.png").read_bytes())
    data[20] ^= 0xFF  # inside IHDR

    with pytest.raises(ValueError, match="bad CRC"):
        read_png(bytes(data))


def test_not_a_png_is_reported_as_such(tmp_path: Path) -> None:
    source = package_source(tmp_path, color=b"GIF89a...")

    assert violations_of(source) == (
        "icons/color: color.png is not a valid PNG (no PNG signature)",
    )


# --- versions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.1.0", "0.1.0"), ("1.2", "1.2.0"), ("2.0.0rc1", "2.0.0"), ("1.4.2.dev3+g1234", "1.4.2")],
)
def test_distribution_versions_become_teams_semver(raw: str, expected: str) -> None:
    assert teams_version(raw) == expected


def test_app_version_is_the_project_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))

    assert app_version() == teams_version(pyproject["project"]["version"])


def test_unusable_version_is_an_error() -> None:
    with pytest.raises(PackageError, match=r"MAJOR\.MINOR"):
        teams_version("banana")


def test_package_bytes_open_as_a_zip() -> None:
    archive = zipfile.ZipFile(io.BytesIO(build_package(VALUES).zip_bytes))

    assert archive.testzip() is None
