"""The command line: bad input is one clear line and exit code 2; serve starts the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import unused_port

from bot.cli import main
from bot.demo import PEOPLE
from contactcenter.model import Role

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MICROSOFT_", "GRAPH_", "COSMOS_"))
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_unknown_option_is_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--demo", "--colour", "blue"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --colour blue" in capsys.readouterr().err


def test_unwritable_data_dir_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_cli("serve", "--demo", "--data-dir", str(blocker / "data"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("contact-center: error: data dir ")
    assert "not writable" in lines[0]


def test_malformed_setting_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = run_cli("serve", "--demo", env={"DEMO_CALL_RATE": "lots"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "contact-center: error: DEMO_CALL_RATE='lots' is not a number"


def test_demo_with_production_password_refuses_and_says_why(tmp_path: Path) -> None:
    result = run_cli("serve", "--demo", env={"MICROSOFT_APP_PASSWORD": "s3cret"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "demo mode refuses to start with MICROSOFT_APP_PASSWORD set" in result.stderr
    assert "s3cret" not in result.stderr


def test_production_without_settings_names_what_is_missing(tmp_path: Path) -> None:
    result = run_cli("serve", cwd=tmp_path)
    assert result.returncode == 2
    assert "missing required settings: MICROSOFT_APP_ID, PUBLIC_BASE_URL" in result.stderr


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _json(url: str, body: dict[str, Any] | None = None, token: str = "") -> Any:
    request = urllib.request.Request(  # noqa: S310 - loopback URL
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback URL
        return json.loads(response.read())


def _serve_demo(tmp_path: Path, port: int, call_rate: str) -> tuple[subprocess.Popen[str], Path]:
    """Start ``serve --demo`` on a port; its log goes to ``serve.log``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MICROSOFT_", "GRAPH_", "COSMOS_"))
    }
    env["DEMO_CALL_RATE"] = call_rate
    log = tmp_path / "serve.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "serve",
                "--demo",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            text=True,
        )
    return process, log


def _stop(process: subprocess.Popen[str], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)
        raise
    assert process.returncode == 0, log.read_text()


def test_serve_demo_answers_healthz_within_15_seconds_and_stops_cleanly(tmp_path: Path) -> None:
    port = unused_port()
    process, log = _serve_demo(tmp_path, port, "0")
    try:
        deadline = time.monotonic() + 15
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                status = None
            if status == 200:
                break
            time.sleep(0.1)  # polling an external process; not synchronisation of our own code
        assert status == 200, log.read_text() if process.poll() is not None else "no 200"
        assert body == b'{"status": "ok", "store": "sqlite"}'
        assert (tmp_path / "data" / "contactcenter.db").exists()
        assert (tmp_path / "data" / "simulator" / "signing-key.pem").exists()
    finally:
        _stop(process, log)


def test_serve_demo_reports_a_month_of_history_within_a_minute(tmp_path: Path) -> None:
    started = time.monotonic()
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    process, log = _serve_demo(tmp_path, port, "60")
    try:
        status = None
        while time.monotonic() < started + 15 and process.poll() is None:
            try:
                status, _ = _get(f"{base}/healthz")
            except OSError:
                status = None
            if status == 200:
                break
            time.sleep(0.1)  # polling an external process; not synchronisation of our own code
        assert status == 200, log.read_text() if process.poll() is not None else "no 200"
        supervisor = next(p for p in PEOPLE if Role.SUPERVISOR in p.roles)
        token = _json(f"{base}/api/tab/demo/token", {"userId": supervisor.id})["accessToken"]
        today = datetime.now(ZoneInfo("America/New_York")).date()
        first, last = today - timedelta(days=30), today - timedelta(days=1)
        path = f"{base}/api/tab/reports/queues?from={first}&to={last}"
        days: list[dict[str, Any]] = []
        while time.monotonic() < started + 60:
            days = _json(path, token=token)["days"]
            if len(days) == 30 and all(d["kpis"]["offered"] > 0 for d in days):
                break
            time.sleep(1)  # the history is made in the background of another process
        assert len(days) == 30
        assert [d["day"] for d in days if not d["kpis"]["offered"]] == []
        agents = _json(f"{base}/api/tab/reports/agents?from={first}&to={last}", token=token)
        assert all(row["handled"] > 0 for row in agents["agents"])
    finally:
        _stop(process, log)
