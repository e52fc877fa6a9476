"""The caller experience in the domain: announcements, caller lists, media and its costs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from contactcenter.announcements import (
    AnswerRate,
    comfort_parts,
    estimated_wait_s,
    number_parts,
    wait_parts,
)
from contactcenter.callbacks import callback_id, callback_number, is_e164
from contactcenter.callers import CALLER_LIST_ID, check_caller, validate_caller_list
from contactcenter.engine import EngineSettings, RoutingEngine
from contactcenter.errors import InvalidInput, NotFound, Unavailable
from contactcenter.events import (
    CallStateChanged,
    GraphCallState,
    OperationFinished,
    OperationKind,
    OperationStatus,
    RosterEntry,
    RosterUpdated,
    ToneReceived,
)
from contactcenter.model import (
    ActionKind,
    AgentActivity,
    AgentStatus,
    CallbackSettings,
    CallerList,
    CallerListEntry,
    CallerListKind,
    CallOutcome,
    CallState,
    Party,
    PartyKind,
    QueueAction,
)
from contactcenter.ports import MediaPrompt
from tests.domain.harness import CALLER, TENANT, Harness, make_agent, make_queue

MEDIA = EngineSettings(
    callback_uri="https://bot.example/api/calling", prompt_base_url="https://bot.example/media"
)


@dataclass
class MemoryMedia:
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)

    async def put(self, tenant_id: str, media_id: str, data: bytes) -> None:
        self.blobs[(tenant_id, media_id)] = data

    async def get(self, tenant_id: str, media_id: str) -> bytes:
        try:
            return self.blobs[(tenant_id, media_id)]
        except KeyError:
            raise NotFound(media_id) from None

    async def delete(self, tenant_id: str, media_id: str) -> None:
        self.blobs.pop((tenant_id, media_id), None)

    async def close(self) -> None:
        return None


@dataclass
class FailingRecordings:
    async def fetch(self, location: str, access_token: str) -> bytes:
        raise Unavailable("the recording is gone")


def _media_harness(**engine: object) -> Harness:
    h = Harness(settings=MEDIA)
    if engine:
        h.engine = RoutingEngine(
            h.repo,
            h.calls,
            h.notifier,
            h.clock,
            h.settings,
            **engine,  # type: ignore[arg-type]
        )
    return h


def _plays(h: Harness, call_id: str = "c1") -> list[tuple[list[str], str]]:
    return [
        ([p.resource_id for p in args[1]], args[2])
        for args in h.calls.of("play_prompt")
        if args[0] == call_id
    ]


async def _media_done(
    h: Harness,
    context: str,
    status: OperationStatus = OperationStatus.COMPLETED,
    call_id: str = "c1",
    *,
    kind: OperationKind = OperationKind.PLAY_PROMPT,
    subcode: int | None = None,
    **extra: object,
) -> None:
    await h.engine.handle(
        OperationFinished(
            TENANT,
            call_id,
            f"op-{context}-{status.value}",
            kind,
            status,
            client_context=context,
            result_subcode=subcode,
            **extra,  # type: ignore[arg-type]
        )
    )


# --------------------------------------------------------------- announcements
@pytest.mark.parametrize(
    ("number", "parts"),
    [
        (0, ["number-0"]),
        (7, ["number-7"]),
        (13, ["number-13"]),
        (20, ["number-20"]),
        (21, ["number-20", "number-1"]),
        (99, ["number-90", "number-9"]),
    ],
)
def test_numbers_are_said_with_the_number_set(number: int, parts: list[str]) -> None:
    assert number_parts(number) == parts


def test_waits_are_rounded_up_to_whole_minutes() -> None:
    assert wait_parts(30) == ["estimated-wait", "less-than-one-minute"]
    assert wait_parts(60) == ["estimated-wait", "number-1", "minute"]
    assert wait_parts(61) == ["estimated-wait", "number-2", "minutes"]
    assert wait_parts(200 * 60) == [
        "estimated-wait",
        "more-than",
        "number-90",
        "number-9",
        "minutes",
    ]


def test_the_estimated_wait_follows_the_recent_answer_rate() -> None:
    assert estimated_wait_s(3, AnswerRate(0, 0)) is None
    slow = estimated_wait_s(3, AnswerRate(0, 12))  # one call every five minutes
    assert slow is not None
    assert slow == pytest.approx(900)
    busier = estimated_wait_s(3, AnswerRate(9, 12))
    assert busier is not None
    assert busier < slow


def test_a_comfort_message_offers_the_callback_key() -> None:
    assert comfort_parts(position=2, wait_s=None, callback_key="1") == [
        "comfort",
        "you-are-number",
        "number-2",
        "in-line",
        "callback-offer",
        "number-1",
    ]
    assert comfort_parts(position=None, wait_s=None, callback_key="#")[-1] == "pound"


# ----------------------------------------------------------------- caller lists
BLOCKED = CallerListEntry(CallerListKind.BLOCKED, PartyKind.PHONE, "+14255550666", "abuse")
VIP = CallerListEntry(CallerListKind.VIP, PartyKind.USER, "ABC-user", priority_boost=20)
LIST = CallerList(CALLER_LIST_ID, TENANT, (BLOCKED, VIP))


def test_blocked_and_vip_callers_are_recognised() -> None:
    blocked = check_caller(LIST, Party(PartyKind.PHONE, "+14255550666"))
    assert blocked.blocked
    assert blocked.reason == "abuse"
    vip = check_caller(LIST, Party(PartyKind.USER, "abc-user"))
    assert vip.vip
    assert vip.priority_boost == 20
    assert not check_caller(LIST, Party(PartyKind.ANONYMOUS)).blocked
    assert check_caller(None, CALLER).priority_boost == 0


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (
            CallerListEntry(CallerListKind.BLOCKED, PartyKind.PHONE, "4255550666"),
            "entries[1].value",
        ),
        (CallerListEntry(CallerListKind.VIP, PartyKind.USER, " "), "entries[1].value"),
        (
            CallerListEntry(CallerListKind.VIP, PartyKind.PHONE, "+14255550100", priority_boost=0),
            "entries[1].priorityBoost",
        ),
        (CallerListEntry(CallerListKind.VIP, PartyKind.PHONE, "+14255550666"), "entries[1].value"),
    ],
    ids=["not E.164", "no user", "no boost", "listed twice"],
)
def test_bad_caller_list_entries_are_refused(entry: CallerListEntry, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_caller_list([BLOCKED, entry])
    assert refused.value.field == field


async def test_a_blocked_caller_is_rejected_before_anything_is_answered() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.repo.caller_lists.put(LIST)
    await h.incoming("c1", caller=Party(PartyKind.PHONE, "+14255550666"))
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.REJECTED
    assert record.leave_reason == "blocked caller: abuse"
    assert h.calls.names() == ["reject"]


# ------------------------------------------------------------------ callbacks
@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("+14255550100", True),
        ("+442071838750", True),
        ("14255550100", False),
        ("+0123", False),
        ("+1 425 555 0100", False),
        ("+1234567890123456", False),
    ],
)
def test_callback_numbers_must_be_e164(number: str, valid: bool) -> None:
    assert is_e164(number) is valid


def test_a_callback_needs_a_phone_number() -> None:
    with pytest.raises(InvalidInput) as refused:
        callback_number(Party(PartyKind.USER, "user-1"))
    assert refused.value.field == "number"
    with pytest.raises(InvalidInput):
        callback_number(Party(PartyKind.PHONE, "0042"))
    assert callback_number(CALLER).id == CALLER.id


async def test_a_caller_who_hangs_up_during_the_confirmation_still_gets_the_callback() -> None:
    h = _media_harness()
    queue = make_queue("q1", ["a1"], callback=CallbackSettings(offered=True))
    await h.seed(queue, [make_agent("a1", status=AgentStatus.AWAY)])
    await h.arrive("c1")
    await h.engine.handle(ToneReceived(TENANT, "c1", "1", 1))
    await h.terminated("c1")

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.CALLBACK_REQUESTED
    line = await h.call(callback_id("c1"))
    assert line is not None
    assert line.state is CallState.SCHEDULED
    assert line.caller.id == CALLER.id


async def test_a_callback_that_cannot_be_placed_is_tried_again_later() -> None:
    h = _media_harness()
    queue = make_queue("q1", ["a1"], callback=CallbackSettings(offered=True, retry_s=100))
    await h.seed(queue, [make_agent("a1", status=AgentStatus.AWAY)])
    await h.arrive("c1")
    await h.engine.handle(ToneReceived(TENANT, "c1", "1", 1))
    await h.terminated("c1")

    async def failing_place_call(**_: object) -> object:
        raise Unavailable("Graph is down")

    h.calls.place_call = failing_place_call  # type: ignore[assignment, method-assign]
    await h.engine.set_status(TENANT, "a1", AgentStatus.AVAILABLE)
    await h.advance(20)

    line = await h.call(callback_id("c1"))
    assert line is not None
    assert line.state is CallState.SCHEDULED
    assert line.callback is not None
    [attempt] = line.callback.attempts
    assert attempt.result.startswith("not placed")
    assert (await h.agent("a1")).activity is AgentActivity.IDLE


# ------------------------------------------------------------------ media
async def test_music_completions_redelivered_play_the_music_once() -> None:
    h = _media_harness()
    await h.seed(
        make_queue("q1", ["a1"], comfort_interval_s=0), [make_agent("a1", status=AgentStatus.AWAY)]
    )
    await h.arrive("c1")
    [(_, context)] = _plays(h)
    await _media_done(h, context)
    await _media_done(h, context)
    assert [prompts for prompts, _ in _plays(h)] == [
        ["std.en-US.greeting", "std.en-US.music"],
        ["std.en-US.music"],
    ]


async def test_media_we_cancelled_costs_no_store_request() -> None:
    h = _media_harness()
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1", status=AgentStatus.AWAY)])
    await h.arrive("c1")
    [(_, context)] = _plays(h)
    h.store.reset()
    await _media_done(h, context, OperationStatus.FAILED, subcode=8508)
    assert h.store.total == 0
    assert len(_plays(h)) == 1


async def test_a_comfort_message_tells_the_position_in_line() -> None:
    h = _media_harness()
    await h.seed(
        make_queue("q1", ["a1"], comfort_interval_s=30), [make_agent("a1", status=AgentStatus.AWAY)]
    )
    await h.arrive("c0")
    h.clock.advance(1)
    await h.arrive("c1")
    h.clock.advance(30)
    context = _plays(h)[-1][1]
    await _media_done(h, context)
    prompts = _plays(h)[-1][0]
    assert prompts[:4] == [
        "std.en-US.comfort",
        "std.en-US.you-are-number",
        "std.en-US.number-2",
        "std.en-US.in-line",
    ]
    assert prompts[-1] == "std.en-US.music"


async def test_answered_call_with_media_stays_within_the_store_request_budget() -> None:
    h = _media_harness()
    queue = make_queue("q1", ["a1"], wrap_up_s=10, callback=CallbackSettings(offered=True))
    await h.seed(queue, [make_agent("a1")])
    await h.arrive("c0")
    await h.answers("c0", "a1")
    await h.terminated("c0")
    await h.advance(10)
    h.store.reset()

    await h.incoming("c1")
    await h.engine.handle(CallStateChanged(TENANT, "c1", GraphCallState.ESTABLISHING))
    await h.established("c1")
    await h.answers("c1", "a1")
    # The music ends as cancelled when the agent answers.
    [(_, context)] = _plays(h, "c1")
    await _media_done(h, context, OperationStatus.FAILED, "c1", subcode=8508)
    await h.roster("c1", "a1")
    await h.roster("c1")
    await h.terminated("c1")

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED
    used = h.store.total - 1  # the read just above
    assert used <= 20, dict(h.store.counts)


# ------------------------------------------------------------ roster / voicemail
async def test_the_caller_leaving_the_roster_ends_the_talk() -> None:
    h = Harness()
    await h.seed(make_queue("q1", ["a1"], wrap_up_s=10), [make_agent("a1")])
    await h.arrive("c1")
    await h.answers("c1", "a1")
    h.clock.advance(42)
    agent = h.last_invite("c1", "a1").participant_id
    await h.engine.handle(
        RosterUpdated(
            TENANT,
            "c1",
            (RosterEntry("p-bot", application_id="bot"), RosterEntry(agent, user_id="a1")),
        )
    )

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED
    assert record.talk_s == 42
    assert h.calls.of("hang_up") == [("c1",)]
    assert (await h.agent("a1")).activity is AgentActivity.WRAP_UP


async def test_a_recording_that_cannot_be_fetched_leaves_no_voicemail() -> None:
    h = _media_harness(media=MemoryMedia(), recordings=FailingRecordings())
    queue = make_queue("q1", ["a1"], no_agent_action=QueueAction(ActionKind.VOICEMAIL))
    await h.seed(
        queue, [make_agent("a1", status=AgentStatus.OFFLINE, signed_in_queue_ids=frozenset())]
    )
    await h.arrive("c1")
    assert h.calls.of("record_response") == [("c1",)]
    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.VOICEMAIL
    await _media_done(
        h,
        f"media:{call.media_seq}:record",
        kind=OperationKind.RECORD_RESPONSE,
        recording_location="https://graph.example/r/1",
        recording_access_token="secret",
    )

    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.NO_AGENT
    assert record.leave_reason == "no-agent: voicemail: no message"
    assert record.voicemail_id is None
    assert h.notifier.voicemails == []
    assert await h.repo.voicemails.find(TENANT) == []


async def test_without_media_a_voicemail_action_ends_the_call() -> None:
    h = Harness()
    queue = make_queue("q1", ["a1"], no_agent_action=QueueAction(ActionKind.VOICEMAIL))
    await h.seed(
        queue, [make_agent("a1", status=AgentStatus.OFFLINE, signed_in_queue_ids=frozenset())]
    )
    await h.arrive("c1")
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.NO_AGENT
    assert "voicemail unavailable" in record.leave_reason


async def test_prompts_are_fetched_from_the_tenant_s_prompt_urls() -> None:
    h = _media_harness()
    await h.seed(make_queue("q1", ["a1"], music_prompt_id="0123456789abcdef0123456789abcdef"), [])
    await h.incoming("c1")
    [(_, _, prefetch)] = h.calls.of("answer")
    assert prefetch == (
        MediaPrompt(
            uri=f"https://bot.example/media/{TENANT}/std.en-US.greeting.wav",
            resource_id="std.en-US.greeting",
        ),
        MediaPrompt(
            uri=f"https://bot.example/media/{TENANT}/0123456789abcdef0123456789abcdef.wav",
            resource_id="0123456789abcdef0123456789abcdef",
        ),
    )
