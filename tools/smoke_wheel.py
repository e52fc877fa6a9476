"""Smoke-test the product as it ships: the wheel, in a fresh virtualenv, run from an empty folder.

    python tools/smoke_wheel.py [--keep]

1. Builds the wheel from a copy of the checkout without ``node_modules``, checks that it
   holds every vendored file (tools/vendored.json), the app package template and the
   prompts, and nothing from ``node_modules``.
2. Installs it into a new virtualenv in a temporary folder, outside the checkout.
3. From an empty folder, with none of the developer's settings:
   * ``contact-center serve --demo`` answers ``/healthz``; ``/tab/`` and every script and
     style it loads (its ES modules, followed import by import, and the Teams JS library)
     answer 200; so do ``/demo/chats`` and the Adaptive Cards renderer it loads;
   * ``contact-center package`` builds from ``--app-id`` and ``--base-url`` alone, and its
     manifest is valid against the official schema as npm publishes it (the oracle here
     comes from the checkout's node_modules, never from the product);
   * ``contact-center check`` passes against a loopback configuration (the Cosmos DB test
     server, the installed simulator as the OpenID configurations and the Entra authority
     over TLS) and names each broken setting of a broken one.

This script is a test tool: it runs with the checkout's virtualenv (it uses jsonschema,
cryptography and tests/cosmos_server.py) and never imports the product it tests.
Exit code 0 when everything passed; it stops at the first failure with the reason.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jsonschema import validators  # noqa: E402 - after the checkout is on the path

from tests.cosmos_server import EMULATOR_KEY, CosmosTestServer  # noqa: E402
from tests.loopback_tls import self_signed_certificate  # noqa: E402

NODE_MODULES = ROOT / "node_modules"
# Left out of the copy the wheel is built from: what a fresh clone does not have.
NOT_COPIED = (".git", ".venv", "node_modules", "build", "dist", "data", "artifacts")
APP_ID = "5b0c2d84-7f3e-4a61-9c2b-1e8d7a6f5c40"
TENANT_ID = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
SECRET = "smoke-test-secret"  # noqa: S105 - the loopback simulator's, for this run only
# The installed simulator, served over http (OpenID configurations) and https (the Entra
# authority: msal refuses http). Run by the virtualenv's python, so it is the wheel's.
SIMULATOR_PROGRAM = """
import asyncio, ssl, sys
from pathlib import Path
from aiohttp import web
from simulator import SimulatorConfig
from simulator.app import create_simulator_app
from simulator.directory import TenantEntry

async def main(cert, key, data_dir, app_id, secret, tenant):
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    config = SimulatorConfig(data_dir=Path(data_dir), app_id=app_id, client_secret=secret,
                             seed_tenants=(TenantEntry(id=tenant),))
    runner = web.AppRunner(create_simulator_app(config))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
    print(" ".join(str(a[1]) for a in runner.addresses), flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


class SmokeFailure(Exception):
    """What the installed product got wrong."""


def step(text: str) -> None:
    """Say what is being checked."""
    sys.stdout.write(f"-- {text}\n")
    sys.stdout.flush()


def run(argv: Sequence[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command; raise SmokeFailure with its output if it fails."""
    result = subprocess.run(  # noqa: S603 - our own commands
        [str(a) for a in argv], capture_output=True, text=True, check=False, **kwargs
    )
    if result.returncode != 0:
        raise SmokeFailure(f"{' '.join(map(str, argv))} failed:\n{result.stdout}{result.stderr}")
    return result


# --- 1. the wheel -------------------------------------------------------------------------


def build_wheel(work: Path) -> Path:
    """Build the wheel from a copy of the checkout without node_modules; return its path."""
    source = work / "source"
    tracked = subprocess.run(  # noqa: S603 - git, on our own checkout
        ["git", "-C", str(ROOT), "ls-files", "-z"],  # noqa: S607 - git from PATH
        capture_output=True,
        check=False,
    )
    if tracked.returncode == 0:
        # What a fresh clone has: the tracked files, nothing the developer made.
        for name in tracked.stdout.decode().split("\0"):
            if name and (ROOT / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, source / name)
    else:
        shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_COPIED, "*.egg-info"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", work, source])
    (wheel,) = work.glob("*.whl")
    return wheel


def check_wheel_contents(wheel: Path) -> None:
    """Every runtime file is inside; nothing from node_modules is."""
    names = set(zipfile.ZipFile(wheel).namelist())
    listing = json.loads((ROOT / "tools" / "vendored.json").read_text("utf-8"))
    wanted = {entry["to"] for package in listing["packages"] for entry in package["files"]}
    wanted |= {
        "bot/app_package/manifest.template.json",
        "bot/app_package/color.png",
        "bot/app_package/outline.png",
        "bot/standard_prompts/en-US/greeting.wav",
        "tab/static/index.html",
        "bot/messaging/static/demo/chats.html",
    }
    missing = sorted(wanted - names)
    if missing:
        raise SmokeFailure(f"the wheel lacks {', '.join(missing)}")
    from_npm = sorted(name for name in names if "node_modules" in name)
    if from_npm:
        raise SmokeFailure(f"the wheel holds files from node_modules: {from_npm[:5]}")


def install(wheel: Path, work: Path) -> Path:
    """Install the wheel into a fresh virtualenv; return its bin folder."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", venv])
    bin_dir = venv / "bin"
    run(
        [
            bin_dir / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            wheel,
        ]
    )
    where = run([bin_dir / "python", "-c", "import bot; print(bot.__file__)"], cwd=work).stdout
    if not Path(where.strip()).is_relative_to(venv):
        raise SmokeFailure(f"the product was imported from {where.strip()}, not the virtualenv")
    return bin_dir


def clean_environment(bin_dir: Path, home: Path, **settings: str) -> dict[str, str]:
    """An environment with the virtualenv first on PATH and none of the developer's settings."""
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **settings,
    }


# --- 2. the demo -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def get(url: str) -> tuple[int, str, bytes]:
    """GET ``url``; return the status, content type and body (errors included)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


@contextlib.contextmanager
def demo_host(bin_dir: Path, folder: Path) -> Iterator[str]:
    """Run ``contact-center serve --demo`` from ``folder`` until it is healthy; yield its URL."""
    port = free_port()
    log = folder / "serve.log"
    env = clean_environment(bin_dir, folder, DEMO_CALL_RATE="0")
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - the installed console script
            [bin_dir / "contact-center", "serve", "--demo", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SmokeFailure(
                    f"serve --demo exited with {process.returncode}:\n{log.read_text()}"
                )
            with contextlib.suppress(OSError):
                status, _, body = get(f"{base}/healthz")
                if status == 200:
                    break
            if time.monotonic() > deadline:
                raise SmokeFailure(f"serve --demo was not healthy within 60 s:\n{log.read_text()}")
            time.sleep(0.2)  # polling another process
        health = json.loads(body)
        if health != {"status": "ok", "store": "sqlite"}:
            raise SmokeFailure(f"/healthz answered {health}")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_TAGS = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)\"""")
_IMPORTS = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+\.js)["']""")
_SCRIPT_URLS = re.compile(r"""["'](/(?:tab|demo)/[^"']+\.js)["']""")


def loads_of_page(base: str, path: str) -> set[str]:
    """Fetch a page; return every script and style it loads, modules followed to the end."""
    status, _, body = get(base + path)
    if status != 200:
        raise SmokeFailure(f"{path} answered {status}")
    pending = [u for u in _TAGS.findall(body.decode()) if u.startswith("/")]
    seen: set[str] = set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        status, content_type, data = get(base + url)
        if status != 200:
            raise SmokeFailure(f"{path} loads {url}, which answers {status}")
        if url.endswith(".js"):
            if "javascript" not in content_type:
                raise SmokeFailure(f"{url} is served as {content_type}")
            text = data.decode("utf-8", errors="replace")
            folder = url.rsplit("/", 1)[0]
            for name in _IMPORTS.findall(text):
                pending.append(name if name.startswith("/") else _join(folder, name))
            pending += _SCRIPT_URLS.findall(text)
    return seen


def _join(folder: str, relative: str) -> str:
    parts = folder.split("/")
    for part in relative.split("/"):
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def check_demo(bin_dir: Path, folder: Path) -> None:
    """The demo runs; the tab and the demo chats load every script they need."""
    with demo_host(bin_dir, folder) as base:
        tab = loads_of_page(base, "/tab/")
        if "/tab/vendor/teams-js.js" not in tab:
            raise SmokeFailure("the tab's scripts never name /tab/vendor/teams-js.js")
        _, _, teams_js = get(f"{base}/tab/vendor/teams-js.js")
        if b"microsoftTeams" not in teams_js[:4096]:
            raise SmokeFailure("/tab/vendor/teams-js.js is not the Teams JavaScript library")
        for page in ("/tab/configure", "/tab/about"):
            loads_of_page(base, page)
        chats = loads_of_page(base, "/demo/chats")
        if "/demo/vendor/adaptivecards.js" not in chats:
            raise SmokeFailure("/demo/chats does not load the Adaptive Cards renderer")
        _, _, renderer = get(f"{base}/demo/vendor/adaptivecards.js")
        if b"AdaptiveCards" not in renderer:
            raise SmokeFailure("/demo/vendor/adaptivecards.js is not the Adaptive Cards renderer")
        step(f"the tab loads {len(tab)} files, the demo chats {len(chats)}: all 200")


# --- 3. the package ----------------------------------------------------------------------


def check_package(bin_dir: Path, folder: Path) -> None:
    """The package builds from the app id and base URL alone and passes the official schema."""
    env = clean_environment(bin_dir, folder)
    run(
        [
            bin_dir / "contact-center",
            *("package", "--app-id", APP_ID, "--base-url", "https://contact.contoso.example"),
            *("--out", "app.zip"),
        ],
        cwd=folder,
        env=env,
    )
    manifest = json.loads(zipfile.ZipFile(folder / "app.zip").read("manifest.json"))
    schema_file = (
        NODE_MODULES
        / "@microsoft/app-manifest/build/json-schemas/teams"
        / f"v{manifest['manifestVersion']}"
        / "MicrosoftTeams.schema.json"
    )
    if not schema_file.is_file():
        raise SmokeFailure(f"{schema_file} is missing: run npm ci (it is this check's oracle)")
    schema = json.loads(schema_file.read_text("utf-8-sig"))
    validator = validators.validator_for(schema, default=validators.Draft4Validator)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]
    if errors:
        raise SmokeFailure(f"the package's manifest breaks the official schema: {errors}")
    bad = subprocess.run(  # noqa: S603 - the installed console script
        [bin_dir / "contact-center", "package", "--app-id", APP_ID, "--base-url", "http://x"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if bad.returncode != 2 or bad.stderr.count("\n") != 1:
        raise SmokeFailure(f"a bad base URL gave {bad.returncode}: {bad.stderr!r}")


# --- 4. the check ------------------------------------------------------------------------


@contextlib.contextmanager
def loopback_cloud(bin_dir: Path, work: Path) -> Iterator[dict[str, str]]:
    """Start the stand-ins; yield the settings (and trust) that point at them."""
    cert, key = self_signed_certificate(work)
    cosmos = CosmosTestServer.start()
    arguments = (cert, key, work / "sim", APP_ID, SECRET, TENANT_ID)
    simulator = subprocess.Popen(  # noqa: S603 - the installed simulator
        [bin_dir / "python", "-c", SIMULATOR_PROGRAM, *arguments],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert simulator.stdout is not None
        ports = simulator.stdout.readline().split()
        if len(ports) != 2:
            raise SmokeFailure(f"the installed simulator did not start (exit {simulator.poll()})")
        http_port, https_port = ports
        openid = f"http://127.0.0.1:{http_port}/.well-known/OpenIdConfiguration"
        yield {
            "MICROSOFT_APP_ID": APP_ID,
            "MICROSOFT_APP_TENANT_ID": TENANT_ID,
            "MICROSOFT_APP_PASSWORD": SECRET,
            "PUBLIC_BASE_URL": "https://contact.contoso.example",
            "COSMOS_ENDPOINT": cosmos.endpoint,
            "COSMOS_KEY": EMULATOR_KEY,
            "COSMOS_VERIFY_TLS": "false",
            "CALLING_OPENID_CONFIG_URL": openid,
            "BOT_OPENID_CONFIG_URL": openid,
            "TAB_OPENID_CONFIG_URL": openid,
            "ENTRA_AUTHORITY_HOST": f"https://127.0.0.1:{https_port}",
            "REQUESTS_CA_BUNDLE": str(cert),
        }
    finally:
        simulator.terminate()
        simulator.wait(timeout=20)
        cosmos.stop()


def run_check(bin_dir: Path, folder: Path, settings: Mapping[str, str]) -> tuple[int, str]:
    result = subprocess.run(  # noqa: S603 - the installed console script
        [bin_dir / "contact-center", "check", "--timeout", "10"],
        cwd=folder,
        env=clean_environment(bin_dir, folder, **settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


def check_check(bin_dir: Path, folder: Path, work: Path) -> None:
    """``check`` passes on the loopback configuration and names each fault of a broken one."""
    with loopback_cloud(bin_dir, work) as settings:
        code, output = run_check(bin_dir, folder, settings)
        if code != 0:
            raise SmokeFailure(f"check failed on the loopback configuration:\n{output}")
        broken = {
            **settings,
            "MICROSOFT_APP_PASSWORD": "not-the-secret",
            "PUBLIC_BASE_URL": "http://contact.contoso.example",
            "TAB_OPENID_CONFIG_URL": settings["TAB_OPENID_CONFIG_URL"] + "-missing",
        }
        code, output = run_check(bin_dir, folder, broken)
        named = sorted(
            line.split()[0]
            for line in output.splitlines()
            if line.split()[1:2] in (["failed"], ["wrong"], ["missing"])
        )
        expected = ["MICROSOFT_APP_PASSWORD", "PUBLIC_BASE_URL", "TAB_OPENID_CONFIG_URL"]
        if code != 2 or named != expected:
            raise SmokeFailure(f"check on a broken configuration named {named}:\n{output}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run every step; return 0 when the installed product passed them all."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="contact-center-wheel-"))
    empty = work / "empty"
    empty.mkdir()
    try:
        step("building the wheel from a copy of the checkout without node_modules")
        wheel = build_wheel(work)
        check_wheel_contents(wheel)
        step(f"installing {wheel.name} into a fresh virtualenv in {work}")
        bin_dir = install(wheel, work)
        step("serve --demo from an empty folder")
        check_demo(bin_dir, empty)
        step("package from the app id and base URL alone")
        check_package(bin_dir, empty)
        step("check on a loopback configuration, then on a broken one")
        check_check(bin_dir, empty, work)
    except SmokeFailure as err:
        sys.stderr.write(f"smoke test of the wheel FAILED: {err}\n")
        return 1
    finally:
        if args.keep:
            step(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    step(f"the installed wheel passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
