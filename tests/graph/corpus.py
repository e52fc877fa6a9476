"""The corpus of documented Graph notifications in ``tests/fixtures/graph/``.

Each fixture is a ``commsNotifications`` body copied from an example of Microsoft's Graph
documentation, with the ids our product correlates replaced by placeholders
(``{{callId}}``; ``{{callId:U}}`` upper case, ``{{callId:N}}`` upper case without hyphens,
as the pages write them). ``index.json`` names each fixture's page and example, what was
completed where a page is abbreviated, the ids the page used, and what our parser makes of
it. See the folder's README.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.demo import LINES, PEOPLE, VIP_NUMBER
from bot.settings import DEMO_APP_ID, DEMO_TENANT_ID

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "graph"
INDEX = CORPUS / "index.json"

_PLACEHOLDER = re.compile(r"\{\{(?P<name>[A-Za-z]+)(?::(?P<form>[UN]))?\}\}")


@dataclass(frozen=True, slots=True)
class DocumentedFixture:
    """One fixture of the corpus and what the index says of it."""

    name: str
    source: str
    example: str
    adapted: str
    documented_ids: Mapping[str, str]
    events: tuple[str, ...]
    result: tuple[int, int] | None
    parser_gap: str | None

    @property
    def path(self) -> Path:
        return CORPUS / self.name

    def placeholders(self) -> set[str]:
        """Return the names of the placeholders the fixture uses."""
        text = self.path.read_text(encoding="utf-8")
        return {match["name"] for match in _PLACEHOLDER.finditer(text)}

    def render(self, values: Mapping[str, str]) -> dict[str, Any]:
        """Return the fixture's body with every placeholder filled from ``values``."""
        text = self.path.read_text(encoding="utf-8")

        def fill(match: re.Match[str]) -> str:
            value = values[match["name"]]
            if match["form"] is None:
                return value
            guid = uuid.UUID(value)
            return str(guid).upper() if match["form"] == "U" else guid.hex.upper()

        body: dict[str, Any] = json.loads(_PLACEHOLDER.sub(fill, text))
        return body

    def render_as_documented(self) -> dict[str, Any]:
        """Return the fixture with the ids its page used: the example as Microsoft wrote it."""
        return self.render(self.documented_ids)


def documented_fixtures() -> list[DocumentedFixture]:
    """Return every fixture the index lists, by name."""
    index: dict[str, dict[str, Any]] = json.loads(INDEX.read_text(encoding="utf-8"))
    fixtures = []
    for name, entry in sorted(index.items()):
        result = entry.get("result")
        fixtures.append(
            DocumentedFixture(
                name=name,
                source=entry["source"],
                example=entry["example"],
                adapted=entry.get("adapted", ""),
                documented_ids=entry["documentedIds"],
                events=tuple(entry["events"]),
                result=None if result is None else (int(result[0]), int(result[1])),
                parser_gap=entry.get("parserGap"),
            )
        )
    return fixtures


def documented_fixture(name: str) -> DocumentedFixture:
    """Return one fixture by its file name (``tone-received.json``)."""
    [found] = [f for f in documented_fixtures() if f.name == name]
    return found


def seeded_values(**ids: str) -> dict[str, str]:
    """Return a value for every placeholder, from the seeded demo tenant where it has one.

    Calls and operations get fresh ids; pass the ones of a running call to drive a
    fixture against it (``seeded_values(callId=..., operationId=...)``).
    """
    people = {p.upn.split("@")[0]: p.id for p in PEOPLE}
    values = {
        "tenantId": DEMO_TENANT_ID,
        "botAppId": DEMO_APP_ID,
        "resourceAccountId": LINES[0].application_instance_id,
        "callerUserId": people["grace"],
        "callerPhone": "+14255550123",
        "agentUserId": people["ana"],
        "secondAgentUserId": people["ben"],
        "targetPhone": VIP_NUMBER,
        "callId": str(uuid.uuid4()),
        "replacedCallId": str(uuid.uuid4()),
        "operationId": str(uuid.uuid4()),
        "clientContext": f"media:1:{uuid.uuid4().hex[:8]}",
        "chainId": str(uuid.uuid4()),
        "agentParticipantId": str(uuid.uuid4()),
        "botParticipantId": str(uuid.uuid4()),
        "recordingLocation": "https://127.0.0.1/recordings/voicemail.wav",
        "recordingAccessToken": "recording-access-token",
    }
    values.update(ids)
    return values
