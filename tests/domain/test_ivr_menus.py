"""IVR menus: what keys and silence do, what a valid IVR is, and the engine following them."""

from __future__ import annotations

import pytest

from contactcenter.engine import EngineSettings
from contactcenter.errors import InvalidInput
from contactcenter.events import (
    CallStateChanged,
    GraphCallState,
    IncomingCall,
    OperationFinished,
    OperationKind,
    OperationStatus,
    ToneReceived,
)
from contactcenter.ivr import StepKind, on_key, on_timeout, validate_ivr
from contactcenter.media import StandardPrompt
from contactcenter.model import (
    Binding,
    BindingTarget,
    CallOutcome,
    CallState,
    Ivr,
    Menu,
    MenuActionKind,
    MenuOption,
)
from tests.domain.harness import CALLER, TENANT, Harness, make_agent, make_queue

MAIN = Menu(
    id="main",
    prompt_id="std.en-US.demo-main-menu",
    options=(
        MenuOption("1", MenuActionKind.QUEUE, "q1"),
        MenuOption("2", MenuActionKind.MENU, "more"),
        MenuOption("*", MenuActionKind.REPEAT),
    ),
    timeout_s=5,
    max_retries=2,
)
MORE = Menu(id="more", options=(MenuOption("1", MenuActionKind.QUEUE, "q1"),), max_retries=0)
IVR = Ivr(id="ivr-1", tenant_id=TENANT, name="Main", menus=(MAIN, MORE), root_menu_id="main")


# ------------------------------------------------------------------ pure rules
def test_a_listed_key_does_its_option() -> None:
    step = on_key(MAIN, "2", tries=1)
    assert step.kind is StepKind.OPTION
    assert step.option == MenuOption("2", MenuActionKind.MENU, "more")
    assert step.tries == 1


def test_a_key_with_no_option_retries_until_the_retries_are_used_up() -> None:
    assert on_key(MAIN, "9", 0).kind is StepKind.RETRY
    assert on_key(MAIN, "9", 0).notice is StandardPrompt.INVALID_OPTION
    assert on_key(MAIN, "9", 1).tries == 2
    assert on_key(MAIN, "9", 2).kind is StepKind.DISCONNECT


def test_silence_retries_then_takes_the_fallback() -> None:
    menu = Menu(
        id="m", options=(), max_retries=1, fallback=MenuOption("", MenuActionKind.QUEUE, "q2")
    )
    first = on_timeout(menu, 0)
    assert first.kind is StepKind.RETRY
    assert first.notice is StandardPrompt.NO_INPUT
    last = on_timeout(menu, 1)
    assert last.kind is StepKind.OPTION
    assert last.option == MenuOption("", MenuActionKind.QUEUE, "q2")


def test_a_valid_ivr_passes() -> None:
    validate_ivr(IVR, queue_ids={"q1"})


@pytest.mark.parametrize(
    ("ivr", "field"),
    [
        (Ivr("i", TENANT, " ", menus=(MAIN,), root_menu_id="main"), "name"),
        (Ivr("i", TENANT, "x", menus=(), root_menu_id="main"), "menus"),
        (Ivr("i", TENANT, "x", menus=(MAIN, MAIN), root_menu_id="main"), "menus"),
        (Ivr("i", TENANT, "x", menus=(MORE,), root_menu_id="main"), "rootMenuId"),
        (
            Ivr("i", TENANT, "x", menus=(MAIN, MORE), root_menu_id="main", language="english"),
            "language",
        ),
        (
            Ivr(
                "i",
                TENANT,
                "x",
                root_menu_id="m",
                menus=(
                    Menu(
                        "m",
                        options=(
                            MenuOption("1", MenuActionKind.REPEAT),
                            MenuOption("1", MenuActionKind.REPEAT),
                        ),
                    ),
                ),
            ),
            "menus[0].options[1].digit",
        ),
        (
            Ivr(
                "i",
                TENANT,
                "x",
                root_menu_id="m",
                menus=(Menu("m", options=(MenuOption("A", MenuActionKind.REPEAT),)),),
            ),
            "menus[0].options[0].digit",
        ),
        (
            Ivr(
                "i",
                TENANT,
                "x",
                root_menu_id="m",
                menus=(Menu("m", options=(MenuOption("1", MenuActionKind.MENU, "nowhere"),)),),
            ),
            "menus[0].options[0].target",
        ),
        (
            Ivr(
                "i",
                TENANT,
                "x",
                root_menu_id="m",
                menus=(Menu("m", options=(MenuOption("1", MenuActionKind.NUMBER, "555-1234"),)),),
            ),
            "menus[0].options[0].target",
        ),
        (
            Ivr(
                "i",
                TENANT,
                "x",
                root_menu_id="m",
                menus=(Menu("m", options=(MenuOption("1", MenuActionKind.QUEUE, "q9"),)),),
            ),
            "menus[0].options[0].target",
        ),
        (
            Ivr(
                "i",
                TENANT,
                "x",
                root_menu_id="m",
                menus=(Menu("m", options=(MenuOption("1", MenuActionKind.VOICEMAIL),)),),
            ),
            "menus[0].options[0].target",
        ),
        (
            Ivr("i", TENANT, "x", root_menu_id="m", menus=(Menu("m", timeout_s=0),)),
            "menus[0].timeoutS",
        ),
        (
            Ivr("i", TENANT, "x", root_menu_id="m", menus=(Menu("m", prompt_id="../../etc"),)),
            "menus[0].promptId",
        ),
    ],
    ids=[
        "no name",
        "no menus",
        "duplicate menus",
        "no root",
        "language",
        "key twice",
        "not a key",
        "unknown sub-menu",
        "not E.164",
        "unknown queue",
        "voicemail without a box",
        "no time to press",
        "bad prompt id",
    ],
)
def test_a_bad_ivr_is_refused_with_the_field(ivr: Ivr, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_ivr(ivr, queue_ids={"q1"})
    assert refused.value.field == field


# ------------------------------------------------------------------ the engine
async def _ivr_harness(*, media: bool = True) -> Harness:
    settings = EngineSettings(
        callback_uri="https://bot.example/api/calling",
        prompt_base_url="https://bot.example/media" if media else "",
    )
    h = Harness(settings=settings)
    await h.seed(make_queue("q1", ["a1"]), [make_agent("a1")])
    await h.repo.ivrs.put(IVR)
    await h.repo.bindings.put(
        Binding(id="main-line", tenant_id=TENANT, target=BindingTarget.IVR, target_id=IVR.id)
    )
    await h.engine.handle(IncomingCall(TENANT, "c1", CALLER, "main-line"))
    await h.engine.handle(CallStateChanged(TENANT, "c1", GraphCallState.ESTABLISHED))
    return h


async def _tone(h: Harness, tone: str, sequence: int) -> None:
    await h.engine.handle(ToneReceived(TENANT, "c1", tone, sequence))


def _played(h: Harness) -> list[list[str]]:
    return [[p.resource_id for p in args[1]] for args in h.calls.of("play_prompt")]


async def test_a_call_for_an_ivr_is_answered_into_its_first_menu() -> None:
    h = await _ivr_harness()
    [(_, _, prefetch)] = h.calls.of("answer")
    assert [p.resource_id for p in prefetch] == ["std.en-US.demo-main-menu"]
    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.MENU
    assert h.calls.of("subscribe_to_tone") == [("c1",)]
    assert _played(h) == [["std.en-US.demo-main-menu"]]


async def test_a_key_redelivered_is_acted_on_once() -> None:
    h = await _ivr_harness()
    await _tone(h, "2", 1)
    await _tone(h, "2", 1)
    call = await h.call("c1")
    assert call is not None
    assert call.menu_id == "more"
    assert call.ivr_path == ("ivr:ivr-1", "menu:main", "key:2", "menu:more")
    assert _played(h) == [["std.en-US.demo-main-menu"], ["std.en-US.choose"]]


async def test_a_key_in_the_menu_routes_to_the_queue_and_rings_an_agent() -> None:
    h = await _ivr_harness()
    await _tone(h, "1", 1)
    call = await h.call("c1")
    assert call is not None
    assert call.state is CallState.RINGING
    assert call.queue_id == "q1"
    assert h.invited("c1") == ["a1"]
    assert ("c1",) in h.calls.of("cancel_media_processing")


async def test_the_menu_waits_for_a_key_only_once_its_prompt_has_played() -> None:
    h = await _ivr_harness()
    [(_, _, context)] = h.calls.of("play_prompt")
    await h.advance(30)  # the prompt is still playing: no timeout yet
    assert len(h.calls.of("play_prompt")) == 1
    await h.engine.handle(
        OperationFinished(
            TENANT,
            "c1",
            "op-x",
            OperationKind.PLAY_PROMPT,
            OperationStatus.COMPLETED,
            client_context=context,
        )
    )
    await h.advance(5)
    assert _played(h)[-1] == ["std.en-US.no-input", "std.en-US.demo-main-menu"]


async def test_a_caller_who_never_chooses_is_sent_away_after_the_retries() -> None:
    h = await _ivr_harness(media=False)
    for _ in range(3):
        await _tone(h, "7", _ + 1)
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.REJECTED
    assert record.leave_reason == "IVR: no valid choice"
    assert record.ivr_path == ("ivr:ivr-1", "menu:main", "key:7", "key:7", "key:7")
    assert h.calls.of("hang_up") == [("c1",)]


async def test_without_media_the_menu_still_times_out() -> None:
    h = await _ivr_harness(media=False)
    assert h.calls.of("play_prompt") == []
    await h.advance(5)
    call = await h.call("c1")
    assert call is not None
    assert call.menu_tries == 1


async def test_hanging_up_in_the_menu_is_recorded_with_the_path() -> None:
    h = await _ivr_harness()
    await h.terminated("c1")
    record = await h.record("c1")
    assert record is not None
    assert record.outcome is CallOutcome.ABANDONED
    assert record.queue_id is None
    assert record.ivr_path == ("ivr:ivr-1", "menu:main")
