"""The sideloadable Teams app package: fill in the manifest template, check it, zip it.

The template (``manifest.template.json``, installed as the package ``bot.app_package`` from
``appPackage/``) holds ``{{NAME}}`` placeholders inside its strings; :func:`render_manifest`
replaces them from :class:`ManifestValues`: the app id, the tab's client id and the public
base URL, nothing secret. Before anything is zipped, the manifest is checked twice and every
problem is collected:

* against the official JSON schema of the ``manifestVersion`` it declares, vendored from the
  npm package ``@microsoft/app-manifest`` into ``bot/manifest_schemas/`` (so packaging needs
  no Node); a missing schema is an error, never a skipped check;
* against Teams' package rules that the schema does not carry: the icons exist at the zip
  root, ``color.png`` is a 192x192 PNG, ``outline.png`` a 32x32 PNG that is white on
  transparent, ids are GUIDs, tab URLs are https on a valid domain, and the limits on
  valid domains, static tabs and entity ids.

Only a package without a single violation is zipped: ``manifest.json`` and the two icons, at
the zip root, with fixed timestamps so the same inputs give the same bytes.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import logging
import os
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema.validators import Draft4Validator, validator_for

from bot.settings import Settings

_LOGGER = logging.getLogger(__name__)

DISTRIBUTION = "contact-center-teams"
# The template and icons: appPackage/ in the repository (docs/decisions/0016).
DEFAULT_SOURCE_DIR: Traversable = resources.files("bot.app_package")
# The official manifest schemas, one folder per manifestVersion (tools/vendored.json).
SCHEMAS_DIR: Traversable = resources.files("bot").joinpath("manifest_schemas")
TEMPLATE_NAME = "manifest.template.json"
MANIFEST_NAME = "manifest.json"
SCHEMA_FILE_NAME = "MicrosoftTeams.schema.json"

# Teams' package rules beyond the schema (some are stricter than the newest schema, which
# allows 100 valid domains: Teams' validation still holds apps to 16).
MAX_VALID_DOMAINS = 16
MAX_STATIC_TABS = 16
MAX_CONFIGURABLE_TABS = 1
MAX_BOTS = 1
MAX_ENTITY_ID_LENGTH = 64
COLOR_ICON_SIZE = 192
OUTLINE_ICON_SIZE = 32

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)$")
_RELEASE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_HOST = re.compile(
    r"^(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?$"
)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Fixed zip entry timestamp (the earliest a zip can hold), so builds are reproducible.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class PackageError(Exception):
    """A problem that stops packaging before any check can run; the message says the fix."""


class InvalidPackage(PackageError):
    """The manifest or its icons break the schema or Teams' rules; nothing was zipped."""

    def __init__(self, violations: Sequence[str]) -> None:
        self.violations = tuple(violations)
        super().__init__(
            f"{len(self.violations)} problem{'s' if len(self.violations) != 1 else ''} "
            "in the app package: " + "; ".join(self.violations)
        )


@dataclass(frozen=True, slots=True)
class ManifestValues:
    """What the template's placeholders are filled with."""

    app_id: str
    tab_client_id: str
    base_url: str
    version: str

    @property
    def host(self) -> str:
        """The public host (with a port if not the default), as validDomains lists it."""
        parts = urlsplit(self.base_url)
        host = (parts.hostname or "").lower()
        return f"{host}:{parts.port}" if parts.port not in (None, 443) else host

    def placeholders(self) -> dict[str, str]:
        return {
            "APP_ID": self.app_id,
            "TAB_CLIENT_ID": self.tab_client_id,
            "PUBLIC_BASE_URL": self.base_url,
            "HOST": self.host,
            "VERSION": self.version,
        }


@dataclass(frozen=True, slots=True)
class AppPackage:
    """A checked package: the rendered manifest and the zip's bytes."""

    manifest: dict[str, Any]
    files: dict[str, bytes]
    zip_bytes: bytes


def manifest_values(settings: Settings, *, version: str) -> ManifestValues:
    """Take the app id, the tab's client id and the public base URL from ``settings``.

    Nothing else is needed: no secret, no tenant. Teams only loads https content, so the
    base URL must be an https origin (demo mode's loopback http default is refused).
    """
    missing = [
        name
        for name, value in (
            ("MICROSOFT_APP_ID (or --app-id)", settings.microsoft_app_id),
            ("PUBLIC_BASE_URL (or --base-url)", settings.public_base_url),
        )
        if not value
    ]
    if missing:
        raise PackageError(f"the app package needs {' and '.join(missing)}")
    for name, value in (
        ("MICROSOFT_APP_ID", settings.microsoft_app_id),
        ("TAB_CLIENT_ID", settings.tab_client_id),
    ):
        if value and not _GUID.match(value):
            raise PackageError(f"{name}={value!r} is not a GUID")
    base_url = settings.public_base_url.rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        where = "demo mode's base URL" if settings.demo else "the base URL"
        raise PackageError(
            f"the app package needs an https base URL that Teams can reach, but {where} is "
            f"{base_url}: give --base-url https://<public host> (for example a tunnel to this "
            "machine) or set PUBLIC_BASE_URL"
        )
    if parts.username or parts.password or parts.path or parts.query or parts.fragment:
        raise PackageError(
            f"the base URL {base_url} must be an origin only, https://<host>[:port], without "
            "a path, query, fragment or credentials"
        )
    return ManifestValues(
        app_id=settings.microsoft_app_id,
        tab_client_id=settings.bot_client_id,
        base_url=base_url,
        version=version,
    )


def teams_version(raw: str) -> str:
    """Turn a Python distribution version into the MAJOR.MINOR.PATCH that Teams requires.

    Pre-release, post-release, dev and local parts are dropped: Teams knows none of them.
    """
    match = _RELEASE.match(raw.strip())
    if match is None:
        raise PackageError(f"version {raw!r} does not start with MAJOR.MINOR")
    major, minor, patch = (int(part) if part else 0 for part in match.groups())
    return f"{major}.{minor}.{patch}"


def app_version() -> str:
    """Return the app's version: the installed distribution's, as Teams wants it."""
    try:
        raw = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as err:
        raise PackageError(
            f"cannot tell the app's version: the distribution {DISTRIBUTION} is not installed "
            "(pip install it, or pip install -e . in a checkout)"
        ) from err
    return teams_version(raw)


def render_manifest(template: Any, values: ManifestValues) -> Any:
    """Return a copy of ``template`` with every known ``{{NAME}}`` in its strings filled in.

    Unknown placeholders are left as they are; :func:`rule_violations` reports them.
    """
    known = values.placeholders()

    def fill(match: re.Match[str]) -> str:
        return known.get(match.group(1), match.group(0))

    if isinstance(template, str):
        return _PLACEHOLDER.sub(fill, template)
    if isinstance(template, list):
        return [render_manifest(item, values) for item in template]
    if isinstance(template, dict):
        return {key: render_manifest(value, values) for key, value in template.items()}
    return template


def read_template(source_dir: Traversable) -> dict[str, Any]:
    """Read and parse ``manifest.template.json`` from ``source_dir``."""
    path = source_dir / TEMPLATE_NAME
    return _json_object(
        path,
        "the manifest template",
        missing=f"no manifest template at {path}: check --template-dir",
    )


def shipped_schema(manifest_version: str, schemas_dir: Traversable = SCHEMAS_DIR) -> Traversable:
    """Return the vendored official schema of ``manifest_version``; raise PackageError if absent."""
    path = schemas_dir / f"v{manifest_version}" / SCHEMA_FILE_NAME
    if not path.is_file():
        shipped = sorted(
            entry.name.removeprefix("v")
            for entry in schemas_dir.iterdir()
            if (entry / SCHEMA_FILE_NAME).is_file()
        )
        raise PackageError(
            f"no official Teams manifest schema for manifestVersion {manifest_version} ships "
            f"with this release (it has {', '.join(shipped) or 'none'}): use a template of a "
            "shipped version or give --schema FILE"
        )
    return path


def load_schema(path: Traversable) -> dict[str, Any]:
    """Read an official manifest schema; a missing file is an error, never a skipped check."""
    return _json_object(
        path,
        "the manifest schema",
        missing=f"the manifest schema {path} does not exist",
        # A byte order mark, should the file start with one, is not JSON.
        encoding="utf-8-sig",
    )


def _json_object(
    path: Traversable, what: str, *, missing: str, encoding: str = "utf-8"
) -> dict[str, Any]:
    """Read the JSON object in ``path``; raise PackageError (``missing`` if there is no file)."""
    try:
        found = json.loads(path.read_text(encoding=encoding))
    except FileNotFoundError as err:
        raise PackageError(missing) from err
    except (OSError, ValueError) as err:
        raise PackageError(f"cannot read {what} {path}: {err}") from err
    if not isinstance(found, dict):
        raise PackageError(f"{what} {path} is not a JSON object")
    return found


def schema_violations(manifest: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Validate ``manifest`` against ``schema`` (draft-04 unless it says otherwise)."""
    validator_class = validator_for(schema, default=Draft4Validator)
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.path])
    return [
        f"schema: {_json_path(error.absolute_path)}: {_one_line(error.message)}" for error in errors
    ]


def rule_violations(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> list[str]:
    """Check Teams' package rules; ``files`` maps the icons' names to their bytes."""
    problems: list[str] = []
    problems += _placeholder_violations(manifest)
    problems += _identity_violations(manifest)
    problems += _tab_violations(manifest)
    problems += _domain_violations(manifest)
    problems += _icon_violations(manifest, files)
    return problems


def build_package(
    values: ManifestValues,
    *,
    source_dir: Traversable = DEFAULT_SOURCE_DIR,
    schema_file: Path | None = None,
    schemas_dir: Traversable = SCHEMAS_DIR,
) -> AppPackage:
    """Render, check and zip the app package; raise InvalidPackage listing every problem."""
    manifest = render_manifest(read_template(source_dir), values)
    violations: list[str] = []

    manifest_version = manifest.get("manifestVersion")
    if schema_file is None and not isinstance(manifest_version, str):
        violations.append(
            "manifestVersion is missing: the manifest must say which schema version it uses"
        )
    else:
        path = schema_file or shipped_schema(str(manifest_version), schemas_dir)
        _LOGGER.debug("validating the manifest against %s", path)
        violations += schema_violations(manifest, load_schema(path))

    files = _read_icons(manifest, source_dir)
    violations += rule_violations(manifest, files)
    if violations:
        raise InvalidPackage(violations)

    entries = {MANIFEST_NAME: _manifest_bytes(manifest), **files}
    package = AppPackage(manifest=manifest, files=files, zip_bytes=zip_entries(entries))
    _LOGGER.info(
        "app package %s built for %s (%d bytes)",
        manifest.get("version"),
        values.host,
        len(package.zip_bytes),
    )
    return package


def zip_entries(entries: Mapping[str, bytes]) -> bytes:
    """Zip ``entries`` at the archive root, deterministically (fixed times and order)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            if "/" in name or "\\" in name:
                raise ValueError(f"{name!r} is not a file name at the zip root")
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def write_package(package: AppPackage, out: Path) -> None:
    """Write the zip to ``out`` atomically: a reader never sees half a package."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(package.zip_bytes)
        Path(temp_name).replace(out)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


# --- package rules -------------------------------------------------------------------


def _placeholder_violations(manifest: Mapping[str, Any]) -> list[str]:
    return [
        f"{path}: placeholder {{{{{name}}}}} has no value (known: "
        "APP_ID, TAB_CLIENT_ID, PUBLIC_BASE_URL, HOST, VERSION)"
        for path, text in _strings(manifest)
        for name in _PLACEHOLDER.findall(text)
    ]


def _identity_violations(manifest: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    app_id = manifest.get("id")
    if not isinstance(app_id, str) or not _GUID.match(app_id):
        problems.append(f"id: {app_id!r} is not a GUID; the Teams app id must be one")
    version = manifest.get("version")
    if not isinstance(version, str) or not _SEMVER.match(version):
        problems.append(f"version: {version!r} is not MAJOR.MINOR.PATCH")
    bots = _objects(manifest.get("bots"))
    if len(bots) > MAX_BOTS:
        problems.append(f"bots: {len(bots)} bots; Teams allows {MAX_BOTS}")
    for index, bot in enumerate(bots):
        bot_id = bot.get("botId")
        if not isinstance(bot_id, str) or not _GUID.match(bot_id):
            problems.append(f"bots/{index}/botId: {bot_id!r} is not a GUID")
    web_app = manifest.get("webApplicationInfo")
    if isinstance(web_app, Mapping):
        client_id = web_app.get("id")
        if not isinstance(client_id, str) or not _GUID.match(client_id):
            problems.append(f"webApplicationInfo/id: {client_id!r} is not a GUID")
    return problems


def _tab_violations(manifest: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    static_tabs = _objects(manifest.get("staticTabs"))
    if len(static_tabs) > MAX_STATIC_TABS:
        problems.append(f"staticTabs: {len(static_tabs)} tabs; Teams allows {MAX_STATIC_TABS}")
    seen: set[str] = set()
    for index, tab in enumerate(static_tabs):
        entity_id = tab.get("entityId")
        if not isinstance(entity_id, str) or not entity_id:
            problems.append(f"staticTabs/{index}/entityId is missing")
            continue
        if len(entity_id) > MAX_ENTITY_ID_LENGTH:
            problems.append(
                f"staticTabs/{index}/entityId: {len(entity_id)} characters; Teams allows "
                f"{MAX_ENTITY_ID_LENGTH}"
            )
        if entity_id in seen:
            problems.append(f"staticTabs/{index}/entityId: {entity_id!r} is used twice")
        seen.add(entity_id)
    configurable = _objects(manifest.get("configurableTabs"))
    if len(configurable) > MAX_CONFIGURABLE_TABS:
        problems.append(
            f"configurableTabs: {len(configurable)} tabs; Teams allows {MAX_CONFIGURABLE_TABS}"
        )
    for index, tab in enumerate(configurable):
        tab_id = tab.get("id")
        if isinstance(tab_id, str) and len(tab_id) > MAX_ENTITY_ID_LENGTH:
            problems.append(
                f"configurableTabs/{index}/id: {len(tab_id)} characters; Teams allows "
                f"{MAX_ENTITY_ID_LENGTH}"
            )
    return problems


def _domain_violations(manifest: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    raw_domains = manifest.get("validDomains", [])
    domains = (
        [d for d in raw_domains if isinstance(d, str)] if isinstance(raw_domains, list) else []
    )
    if len(domains) > MAX_VALID_DOMAINS:
        problems.append(f"validDomains: {len(domains)} domains; Teams allows {MAX_VALID_DOMAINS}")
    for index, domain in enumerate(domains):
        if not _HOST.match(domain):
            problems.append(
                f"validDomains/{index}: {domain!r} must be a host name (no scheme, no path)"
            )
    for path, url in _urls(manifest):
        parts = urlsplit(url)
        if parts.scheme.lower() != "https":
            problems.append(f"{path}: {url} must be https")
        elif path.startswith(("staticTabs", "configurableTabs")) and not _domain_allowed(
            _netloc_host(url), domains
        ):
            problems.append(f"{path}: the host of {url} is not in validDomains")
    web_app = manifest.get("webApplicationInfo")
    if isinstance(web_app, Mapping) and isinstance(web_app.get("resource"), str):
        resource = web_app["resource"]
        parts = urlsplit(resource)
        if parts.scheme != "api" or not parts.netloc:
            problems.append(
                f"webApplicationInfo/resource: {resource!r} is not an api://<host>/<client-id> URI"
            )
        elif not _domain_allowed(parts.netloc.lower(), domains):
            problems.append(
                f"webApplicationInfo/resource: the host of {resource} is not in validDomains "
                "(tab SSO needs the App ID URI on the tab's own domain)"
            )
        elif (client_id := web_app.get("id")) and not resource.endswith(f"/{client_id}"):
            problems.append(
                f"webApplicationInfo/resource: {resource} does not end with the client id "
                f"{client_id}"
            )
    return problems


def _icon_violations(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> list[str]:
    icons = manifest.get("icons")
    if not isinstance(icons, Mapping):
        return ["icons: missing; Teams needs a color and an outline icon"]
    problems: list[str] = []
    for kind, size in (("color", COLOR_ICON_SIZE), ("outline", OUTLINE_ICON_SIZE)):
        name = icons.get(kind)
        if not isinstance(name, str) or not name:
            problems.append(f"icons/{kind}: missing")
            continue
        if not _is_root_file_name(name):
            problems.append(f"icons/{kind}: {name!r} must be a file name at the package root")
            continue
        data = files.get(name)
        if data is None:
            problems.append(f"icons/{kind}: {name} does not exist in the app package folder")
            continue
        try:
            image = read_png(data)
        except ValueError as err:
            problems.append(f"icons/{kind}: {name} is not a valid PNG ({err})")
            continue
        if (image.width, image.height) != (size, size):
            problems.append(
                f"icons/{kind}: {name} is {image.width}x{image.height}; Teams needs {size}x{size}"
            )
        if kind == "outline":
            problems += [f"icons/outline: {name} {p}" for p in _outline_problems(image)]
    return problems


def _outline_problems(image: PngImage) -> list[str]:
    if image.interlaced:
        return ["is interlaced; save it without interlacing so its pixels can be checked"]
    if not image.has_alpha:
        return ["has no transparency; it must be white on a transparent background"]
    transparent = coloured = white = 0
    for red, green, blue, alpha in image.rgba():
        if alpha == 0:
            transparent += 1
        elif (red, green, blue) != (255, 255, 255):
            coloured += 1
        else:
            white += 1
    problems: list[str] = []
    if transparent == 0:
        problems.append("has no transparent pixels; it must be white on a transparent background")
    if coloured:
        problems.append(
            f"has {coloured} pixel{'s that are' if coloured != 1 else ' that is'} neither "
            "white nor fully transparent; it must be white only"
        )
    if white == 0 and coloured == 0:
        problems.append("is empty: every pixel is transparent")
    return problems


def _read_icons(manifest: Mapping[str, Any], source_dir: Traversable) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    icons = manifest.get("icons")
    if not isinstance(icons, Mapping):
        return files
    for kind in ("color", "outline"):
        name = icons.get(kind)
        if isinstance(name, str) and _is_root_file_name(name) and name != MANIFEST_NAME:
            try:
                files[name] = (source_dir / name).read_bytes()
            except FileNotFoundError:
                continue
            except OSError as err:
                raise PackageError(f"cannot read icon {source_dir / name}: {err}") from err
    return files


# --- PNG reading (standard library only) ------------------------------------------------

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_BIT_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}


@dataclass(frozen=True, slots=True)
class PngImage:
    """A decoded PNG header, and its raw (still filtered) image data."""

    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool
    palette: bytes
    transparency: bytes
    data: bytes

    @property
    def has_alpha(self) -> bool:
        return self.color_type in (4, 6) or bool(self.transparency)

    def rgba(self) -> Iterator[tuple[int, int, int, int]]:
        """Yield every pixel as 8-bit RGBA, row by row (non-interlaced images only)."""
        if self.interlaced:
            raise ValueError("interlaced PNGs are not supported")
        channels = _CHANNELS[self.color_type]
        bits = channels * self.bit_depth
        stride = (self.width * bits + 7) // 8
        step = max(1, bits // 8)
        rows = _unfilter(self.data, self.height, stride, step)
        for row in rows:
            for samples in _row_samples(row, self.width, channels, self.bit_depth):
                yield self._to_rgba(samples)

    def _to_rgba(self, samples: tuple[int, ...]) -> tuple[int, int, int, int]:
        depth = self.bit_depth
        if self.color_type == 3:
            index = samples[0]
            if 3 * index + 3 > len(self.palette):
                raise ValueError(f"palette index {index} is out of range")
            red, green, blue = self.palette[3 * index : 3 * index + 3]
            alpha = self.transparency[index] if index < len(self.transparency) else 255
            return red, green, blue, alpha
        scaled = tuple(_scale(sample, depth) for sample in samples)
        if self.color_type == 0:
            alpha = 0 if self._is_transparent_key(samples) else 255
            return scaled[0], scaled[0], scaled[0], alpha
        if self.color_type == 2:
            alpha = 0 if self._is_transparent_key(samples) else 255
            return scaled[0], scaled[1], scaled[2], alpha
        if self.color_type == 4:
            return scaled[0], scaled[0], scaled[0], scaled[1]
        return scaled[0], scaled[1], scaled[2], scaled[3]

    def _is_transparent_key(self, samples: tuple[int, ...]) -> bool:
        if not self.transparency:
            return False
        count = len(self.transparency) // 2
        key = struct.unpack(f">{count}H", self.transparency[: 2 * count])
        return tuple(samples) == key


def read_png(data: bytes) -> PngImage:
    """Parse a PNG's chunks (checking every CRC); raise ValueError saying what is wrong."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    offset = len(_PNG_SIGNATURE)
    header: bytes | None = None
    palette = transparency = b""
    idat: list[bytes] = []
    ended = False
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if len(body) != length or offset + 12 + length > len(data):
            raise ValueError(f"chunk {kind!r} is truncated")
        (crc,) = struct.unpack_from(">I", data, offset + 8 + length)
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"chunk {kind.decode('latin-1')} has a bad CRC")
        offset += 12 + length
        if header is None and kind != b"IHDR":
            raise ValueError("the first chunk is not IHDR")
        if kind == b"IHDR":
            header = body
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            transparency = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            ended = True
            break
    if header is None or len(header) != 13:
        raise ValueError("no valid IHDR chunk")
    if not ended:
        raise ValueError("no IEND chunk")
    width, height, bit_depth, color_type, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", header
    )
    if width == 0 or height == 0:
        raise ValueError("zero width or height")
    if color_type not in _CHANNELS or bit_depth not in _BIT_DEPTHS[color_type]:
        raise ValueError(f"bit depth {bit_depth} with colour type {color_type} is not PNG")
    if compression != 0 or filtering != 0 or interlace not in (0, 1):
        raise ValueError("unknown compression, filter or interlace method")
    if color_type == 3 and not palette:
        raise ValueError("a palette image without a PLTE chunk")
    if not idat:
        raise ValueError("no image data")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as err:
        raise ValueError(f"image data does not decompress: {err}") from err
    return PngImage(
        width=width,
        height=height,
        bit_depth=bit_depth,
        color_type=color_type,
        interlaced=interlace == 1,
        palette=palette,
        transparency=transparency,
        data=raw,
    )


def _unfilter(data: bytes, height: int, stride: int, step: int) -> list[bytes]:
    if len(data) < height * (stride + 1):
        raise ValueError("image data is shorter than the image")
    rows: list[bytes] = []
    previous = bytearray(stride)
    for index in range(height):
        start = index * (stride + 1)
        kind = data[start]
        row = bytearray(data[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(step, stride):
                row[i] = (row[i] + row[i - step]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                row[i] = (row[i] + previous[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = row[i - step] if i >= step else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = row[i - step] if i >= step else 0
                up_left = previous[i - step] if i >= step else 0
                row[i] = (row[i] + _paeth(left, previous[i], up_left)) & 0xFF
        elif kind != 0:
            raise ValueError(f"unknown filter type {kind} on row {index}")
        rows.append(bytes(row))
        previous = row
    return rows


def _paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    to_left, to_up, to_up_left = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
    if to_left <= to_up and to_left <= to_up_left:
        return left
    return up if to_up <= to_up_left else up_left


def _row_samples(
    row: bytes, width: int, channels: int, bit_depth: int
) -> Iterator[tuple[int, ...]]:
    if bit_depth == 8:
        for x in range(width):
            yield tuple(row[x * channels : (x + 1) * channels])
    elif bit_depth == 16:
        for x in range(width):
            yield struct.unpack_from(f">{channels}H", row, x * channels * 2)
    else:  # 1, 2 or 4 bits: one sample per pixel (grey or palette), packed high bits first
        per_byte = 8 // bit_depth
        mask = (1 << bit_depth) - 1
        for x in range(width):
            byte = row[x // per_byte]
            shift = 8 - bit_depth * (x % per_byte + 1)
            yield ((byte >> shift) & mask,)


def _scale(sample: int, bit_depth: int) -> int:
    if bit_depth == 8:
        return sample
    if bit_depth == 16:
        return sample >> 8
    return sample * 255 // ((1 << bit_depth) - 1)


# --- small helpers ---------------------------------------------------------------------


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _json_path(path: Sequence[object] | Iterator[object]) -> str:
    text = "/".join(str(part) for part in path)
    return text or "(manifest)"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _objects(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _strings(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path or "(manifest)", value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}/{index}" if path else str(index))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}/{key}" if path else str(key))


_URL_KEYS = {
    "contentUrl",
    "websiteUrl",
    "configurationUrl",
    "searchUrl",
    "privacyUrl",
    "termsOfUseUrl",
}


def _urls(manifest: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for path, text in _strings(manifest):
        if path.rsplit("/", 1)[-1] in _URL_KEYS:
            yield path, text


def _netloc_host(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port not in (None, 443) else host


def _domain_allowed(host: str, domains: Sequence[str]) -> bool:
    for domain in domains:
        pattern = domain.lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def _is_root_file_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in {".", ".."}
