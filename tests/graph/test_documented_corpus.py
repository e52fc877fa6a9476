"""The corpus of Microsoft's documented notifications: complete, sourced, and read by our parser."""

from __future__ import annotations

import json
import re

import pytest

from contactcenter.events import (
    CallEvent,
    CallStateChanged,
    IncomingCall,
    OperationFinished,
    RosterUpdated,
)
from graph.notifications import parse_notifications
from tests.graph.corpus import CORPUS, DocumentedFixture, documented_fixtures, seeded_values

FIXTURES = documented_fixtures()
DOCUMENTATION = re.compile(
    r"https://learn\.microsoft\.com/en-us/graph/api/[a-z-]+\?view=graph-rest-1\.0"
)
# Every row of the delete-call page's "Call end reason codes" table (reference.md's list,
# and 5030 and 5855, which the page has since added).
ENDED_200 = (4097, 4521, 5000, 5001, 5002, 5003, 5007, 5010, 5012, 5013, 5014, 5020, 5030)
ENDED_200_MORE = (5300, 5855, 7000, 7015, 10550, 18503, 540000, 560000)
TERMINATION_CODES = [
    *((200, subcode) for subcode in (*ENDED_200, *ENDED_200_MORE)),
    (408, 8537),
    (408, 1106),
    (408, 10057),
    (410, 301005),
    (480, 10037),
    (480, 10076),
    (480, 10134),
    (480, 10199),
    (500, 1005),
]


def by_name(fixture: DocumentedFixture) -> str:
    return fixture.name.removesuffix(".json")


def test_the_corpus_holds_at_least_30_documented_notifications() -> None:
    assert len(FIXTURES) >= 30


def test_every_file_of_the_corpus_is_in_the_index_and_every_entry_has_its_file() -> None:
    files = {path.name for path in CORPUS.glob("*.json")} - {"index.json"}
    assert files == {fixture.name for fixture in FIXTURES}


def test_every_termination_code_of_the_delete_call_table_has_a_fixture() -> None:
    terminated = {
        fixture.result
        for fixture in FIXTURES
        if fixture.result is not None and "terminated" in fixture.name
    }
    assert set(TERMINATION_CODES) <= terminated


@pytest.mark.parametrize("fixture", FIXTURES, ids=by_name)
def test_a_fixture_names_the_page_it_comes_from_and_the_ids_it_replaced(
    fixture: DocumentedFixture,
) -> None:
    assert DOCUMENTATION.fullmatch(fixture.source), fixture.source
    assert fixture.example
    assert fixture.placeholders() == set(fixture.documented_ids)
    assert set(fixture.documented_ids) <= set(seeded_values())
    documented = json.dumps(fixture.render_as_documented())
    assert "{{" not in documented
    assert documented.startswith('{"@odata.type": "#microsoft.graph.commsNotifications"')


def _check(fixture: DocumentedFixture, events: list[CallEvent], values: dict[str, str]) -> None:
    assert [type(event).__name__ for event in events] == list(fixture.events)
    for event in events:
        assert event.tenant_id == values["tenantId"]
        if isinstance(event, IncomingCall):
            assert event.call_id == values["callId"]
            assert event.target_id in (values["resourceAccountId"], values["botAppId"])
            assert event.caller.id in (values["callerUserId"], values["callerPhone"])
        if isinstance(event, CallStateChanged | OperationFinished) and fixture.result:
            assert (event.result_code, event.result_subcode) == fixture.result
        if isinstance(event, OperationFinished):
            assert event.client_context == values["clientContext"]
        if isinstance(event, RosterUpdated):
            assert event.call_id in (values["callId"], values["replacedCallId"])


def _marks(fixture: DocumentedFixture) -> pytest.MarkDecorator | tuple[()]:
    if fixture.parser_gap is None:
        return ()
    return pytest.mark.xfail(strict=True, reason=fixture.parser_gap)


@pytest.mark.parametrize(
    "fixture", [pytest.param(f, id=by_name(f), marks=_marks(f)) for f in FIXTURES]
)
def test_our_parser_reads_every_documented_notification(fixture: DocumentedFixture) -> None:
    values = seeded_values()

    events = parse_notifications(fixture.render(values), tenant_id=values["tenantId"])

    _check(fixture, events, values)
