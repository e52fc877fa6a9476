"""Logs never carry a token, a key or a password.

A whole call runs through the stack (Graph's signed notifications, the bot's Graph
requests, a recording's completion with its access token), a tab session signs in and
works, and the messaging bot answers a message, all with every logger at DEBUG. The host's
redaction is installed as ``configure_logging`` installs it, with the configured secrets;
no record, from our code or a library's, may then hold any of them. Our own code must not
log them in the first place: its records are checked before redaction too.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from bot.demo import LINES
from bot.logs import install_redaction
from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID
from simulator.signing import SigningKey
from tests.http.conftest import invited_user_ids
from tests.security.conftest import COSMOS_KEY, INSIGHTS, PASSWORD, LiveStack
from tests.tab.support import ADMIN, ANA

RECORDING_TOKEN = "rec-" + uuid.uuid4().hex + uuid.uuid4().hex
SECRETS = (PASSWORD, COSMOS_KEY, INSIGHTS, RECORDING_TOKEN)
OURS = ("bot", "tab", "graph", "contactcenter", "storage")

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
BEARER = re.compile(r"(?i)bearer\s+(?!\[redacted)[^\s\"',;]{6,}")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at DEBUG, with the host's redaction installed as in production."""
    undo = install_redaction(SECRETS)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        undo()


def _recording_completion(call_id: str) -> bytes:
    operation = str(uuid.uuid4())
    return json.dumps(
        {
            "value": [
                {
                    "changeType": "deleted",
                    "resourceUrl": f"/communications/calls/{call_id}/operations/{operation}",
                    "resourceData": {
                        "@odata.type": "#microsoft.graph.recordOperation",
                        "id": operation,
                        "status": "completed",
                        "clientContext": "voicemail",
                        "recordingLocation": f"https://media.example/recordings/{operation}",
                        "recordingAccessToken": RECORDING_TOKEN,
                        "resultInfo": {"code": 200, "subcode": 8515, "message": "done"},
                    },
                }
            ]
        }
    ).encode()


def _graph_token(key: SigningKey) -> str:
    now = datetime.now(UTC)
    return jwt.encode(
        {
            "iss": "https://graph.microsoft.com",
            "aud": DEMO_APP_ID,
            "tid": DEMO_TENANT_ID,
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=30)).timestamp()),
        },
        key.private_key,
        algorithm="RS256",
        headers={"kid": key.kid},
    )


async def _exercise(live: LiveStack) -> list[str]:
    """Run a call, a tab session and a bad request of each kind; return the tokens used."""
    used: list[str] = []
    # A whole call: placed, answered by the bot, an agent invited, connected, hung up.
    placed = await live.simulator.place_call(
        DEMO_TENANT_ID,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550123",
    )
    assert placed.webhook_status == 202
    call = await live.simulator.wait_for_call(
        placed.id, state="established", notifications=3, timeout_s=10
    )
    [agent, *_] = invited_user_ids(call)
    await live.simulator.answer_participant(placed.id, agent)
    await live.simulator.wait_for_call(placed.id, notifications=5, timeout_s=10)
    # A recording's completion, with the token that downloads it.
    graph_token = _graph_token(live.key)
    used.append(graph_token)
    async with live.host.post(
        "/api/calling",
        data=_recording_completion(placed.id),
        headers={"Authorization": f"Bearer {graph_token}", "Content-Type": "application/json"},
    ) as response:
        assert response.status == 202
    await live.simulator.hang_up(placed.id)
    await live.simulator.wait_for_call(placed.id, state="terminated", timeout_s=10)
    # A tab session: the demo sign-in, then the agent's and the admin's calls.
    async with live.host.post("/api/tab/demo/token", json={"userId": ANA.id}) as response:
        issued = (await response.json())["accessToken"]
    used.append(issued)
    for token, path in (
        (issued, "/api/tab/me"),
        (issued, "/api/tab/me/calls"),
        (live.tokens.token(ADMIN.id), "/api/tab/admin/users"),
        (live.tokens.token(ADMIN.id), "/api/tab/admin/audit"),
        (issued + "x", "/api/tab/me"),  # a broken token is logged as refused
    ):
        used.append(token)
        async with live.host.get(path, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status in {200, 401}
    # Forged tokens on every webhook.
    for path in ("/api/calling", "/api/messages"):
        forged = graph_token[:-8] + "AAAAAAAA"
        async with live.host.post(
            path, json={"type": "message"}, headers={"Authorization": f"Bearer {forged}"}
        ) as response:
            assert response.status in {400, 401}
    return used


def _texts(records: list[logging.LogRecord]) -> list[tuple[str, str]]:
    found = []
    for record in records:
        text = record.getMessage()
        if record.exc_text:
            text += record.exc_text
        found.append((record.name, text))
    return found


def _leaks(texts: list[tuple[str, str]], used: list[str]) -> list[tuple[str, str]]:
    leaks = []
    for name, text in texts:
        if (
            JWT.search(text)
            or BEARER.search(text)
            or any(s in text for s in SECRETS)
            or any(t in text for t in used)
        ):
            leaks.append((name, text[:300]))
    return leaks


async def test_no_log_record_holds_a_token_key_or_password(
    live: LiveStack, logs: pytest.LogCaptureFixture
) -> None:
    used = await _exercise(live)
    texts = _texts(logs.records)
    assert len(texts) > 50  # DEBUG from the host, the Graph client and the libraries
    assert _leaks(texts, used) == []


async def test_our_own_code_logs_no_secret_even_before_redaction(
    live: LiveStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    used = await _exercise(live)
    ours = [t for t in _texts(caplog.records) if t[0].split(".")[0] in OURS]
    assert ours
    assert _leaks(ours, used) == []


def test_redaction_covers_opaque_bearer_tokens_and_configured_secrets() -> None:
    undo = install_redaction((PASSWORD,))
    try:
        record = logging.getLogger("tests.security").makeRecord(
            "tests.security",
            logging.INFO,
            __file__,
            1,
            "GET %s with Authorization: Bearer %s and %s",
            ("/x", RECORDING_TOKEN, PASSWORD),
            None,
        )
    finally:
        undo()
    message = record.getMessage()
    assert RECORDING_TOKEN not in message
    assert PASSWORD not in message
    assert "Bearer [redacted]" in message
