"""Wrap-up: the record keeps the time actually taken, and the notes typed meanwhile."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contactcenter.dispositions import (
    Disposition,
    check_note,
    record_disposition,
    save_notes,
)
from contactcenter.errors import InvalidInput
from contactcenter.model import AgentActivity, CallRecord
from tests.domain.harness import TENANT, Harness, make_agent, make_queue

CODES = ("Sale", "Question")


async def _talk(h: Harness, call_id: str = "c1", *, talk_s: float = 60) -> None:
    await h.arrive(call_id)
    await h.answers(call_id, "a1")
    h.clock.advance(talk_s)
    await h.terminated(call_id)


async def _record(h: Harness, call_id: str = "c1") -> CallRecord:
    record = await h.record(call_id)
    assert record is not None
    return record


async def _setup(**queue: object) -> Harness:
    h = Harness()
    settings = {"wrap_up_s": 30, "disposition_codes": CODES, **queue}
    await h.seed(make_queue("q1", ["a1"], **settings), [make_agent("a1")])
    return h


async def test_the_record_waits_for_the_wrap_up_and_gets_the_time_taken() -> None:
    h = await _setup()
    await _talk(h)
    assert (await _record(h)).wrap_up_pending

    await h.advance(30)

    record = await _record(h)
    assert (record.wrap_up_s, record.wrap_up_pending) == (30, False)


async def test_ending_wrap_up_early_records_the_shorter_wrap_up() -> None:
    h = await _setup()
    await _talk(h)
    h.clock.advance(7)

    agent = await h.engine.end_wrap_up(TENANT, "a1")

    assert agent.activity is AgentActivity.IDLE
    record = await _record(h)
    assert (record.wrap_up_s, record.wrap_up_pending) == (7, False)
    # The timer that would have ended it finds nothing left to do.
    await h.advance(60)
    assert (await _record(h)).wrap_up_s == 7


async def test_the_wrap_up_time_costs_one_more_record_write_per_answered_call() -> None:
    h = await _setup()
    await _talk(h)
    assert h.store.counts["create callRecords"] == 1
    assert h.store.counts["replace callRecords"] == 0
    h.store.reset()

    await h.advance(30)  # the timer that ends the wrap-up

    # One write, no read: the record learns the time taken (and the notes drafted).
    record_requests = {k: n for k, n in h.store.counts.items() if k.endswith(" callRecords")}
    assert record_requests == {"replace callRecords": 1}


async def test_an_agent_extends_wrap_up_once_by_the_queue_s_amount() -> None:
    h = await _setup(wrap_up_extension_s=45)
    await _talk(h)
    ends = h.now

    agent = await h.engine.extend_wrap_up(TENANT, "a1")

    assert agent.wrap_up_until is not None
    assert (agent.wrap_up_until - ends).total_seconds() == 75
    with pytest.raises(InvalidInput, match="already"):
        await h.engine.extend_wrap_up(TENANT, "a1")
    await h.advance(74)
    assert (await h.agent("a1")).activity is AgentActivity.WRAP_UP
    await h.advance(1)
    assert (await h.agent("a1")).activity is AgentActivity.IDLE
    assert (await _record(h)).wrap_up_s == 75


async def test_a_queue_without_extension_refuses_more_wrap_up_time() -> None:
    h = await _setup(wrap_up_extension_s=0)
    await _talk(h)

    with pytest.raises(InvalidInput, match="does not allow"):
        await h.engine.extend_wrap_up(TENANT, "a1")


async def test_a_note_typed_in_wrap_up_is_on_the_record_when_the_timer_ends_it() -> None:
    h = await _setup()
    await _talk(h)
    h.clock.advance(5)

    saved = await save_notes(
        h.repo,
        TENANT,
        "c1",
        Disposition(None, "Wants a quote\n\tfor 3 seats"),
        agent_id="a1",
        now=h.now,
    )

    assert saved.where == "draft"
    assert (await _record(h)).disposition_note == ""
    await h.advance(30)
    record = await _record(h)
    assert record.disposition_note == "Wants a quote\n\tfor 3 seats"
    assert (record.disposition_code, record.disposed_by) == (None, "a1")
    assert (await h.agent("a1")).notes_draft is None


async def test_notes_typed_during_the_talk_follow_the_call_to_its_record() -> None:
    h = await _setup()
    await h.arrive("c1")
    await h.answers("c1", "a1")

    saved = await save_notes(
        h.repo, TENANT, "c1", Disposition("Sale", "Renewal"), agent_id="a1", now=h.now
    )
    await h.terminated("c1")
    await h.engine.end_wrap_up(TENANT, "a1")

    assert saved.where == "draft"
    record = await _record(h)
    assert (record.disposition_code, record.disposition_note) == ("Sale", "Renewal")


async def test_a_later_explicit_save_wins_over_an_older_draft() -> None:
    h = await _setup()
    await _talk(h)
    await save_notes(h.repo, TENANT, "c1", Disposition(None, "draft"), agent_id="a1", now=h.now)
    h.clock.advance(2)
    await record_disposition(
        h.repo, TENANT, "c1", Disposition("Question", "saved"), agent_id="a1", now=h.now
    )

    await h.advance(30)

    record = await _record(h)
    assert (record.disposition_code, record.disposition_note) == ("Question", "saved")


async def test_notes_on_a_past_call_go_straight_to_its_record_without_a_code() -> None:
    h = await _setup()
    await _talk(h)
    await h.advance(30)
    await _talk(h, "c2")  # a new call: c1 is in the past now

    saved = await save_notes(
        h.repo, TENANT, "c1", Disposition(None, "called back later"), agent_id="a1", now=h.now
    )

    assert saved.where == "record"
    record = await _record(h)
    assert (record.disposition_note, record.disposition_code) == ("called back later", None)


async def test_an_agent_who_left_the_call_before_it_ended_leaves_a_complete_record() -> None:
    h = await _setup()
    await h.arrive("c1")
    await h.answers("c1", "a1")
    # The agent's claim is gone (released elsewhere): nobody will wrap this call up.
    await h.repo.agents.update(
        TENANT, "a1", lambda a: replace(a, activity=AgentActivity.IDLE, current_call_id=None)
    )
    await h.terminated("c1")

    record = await _record(h)
    assert (record.wrap_up_pending, record.wrap_up_s) == (False, 0)


@pytest.mark.parametrize("note", ["line one\nline two", "a\ttab", "crlf\r\nline"])
def test_notes_keep_line_breaks_and_tabs(note: str) -> None:
    assert "\r" not in check_note(note)
    assert check_note(note).replace("\n", "").replace("\t", "")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202e", "\u2066"])
def test_notes_refuse_other_control_and_direction_characters(char: str) -> None:
    with pytest.raises(InvalidInput, match="control or bidirectional-override") as raised:
        check_note(f"before{char}after")
    assert raised.value.field == "note"
