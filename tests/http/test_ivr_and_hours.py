"""The IVR in front of the queues, and business hours, end to end through the simulator."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.demo import IVR_NAME, MAIN_MENU, ivr_id
from bot.media_routes import MEDIA_STORE
from contactcenter.model import (
    ActionKind,
    BusinessHours,
    CallOutcome,
    CallState,
    HoursMode,
    Ivr,
    Menu,
    MenuActionKind,
    MenuOption,
    OpenRange,
    QueueAction,
    Weekday,
)
from contactcenter.voicemail import mark_handled
from tests.http.caller_stack import (
    AGENT_IDS,
    SALES,
    SUPPORT,
    CallerStack,
    played,
    requested,
)
from tests.http.conftest import invited_user_ids

MENU_PROMPT = "std.en-US.demo-main-menu"
IVR = ivr_id(IVR_NAME)
TRANSFER_NUMBER = "+14255550177"


@pytest.fixture
def stack(caller_stack: CallerStack) -> CallerStack:
    return caller_stack


async def _change_ivr(stack: CallerStack, **changes: object) -> None:
    def change(ivr: Ivr) -> Ivr:
        return replace(ivr, **changes)  # type: ignore[arg-type]

    await stack.repository.ivrs.update(stack.tenant_id, IVR, change)


async def _more_options(stack: CallerStack) -> None:
    """Give the main menu a person, a number, a sub-menu and a way out."""
    ivr = (await stack.repository.ivrs.get(stack.tenant_id, IVR)).value
    main = ivr.menus[0]
    options = (
        *main.options,
        MenuOption("3", MenuActionKind.USER, AGENT_IDS["dev"], "Dev"),
        MenuOption("4", MenuActionKind.NUMBER, TRANSFER_NUMBER, "Front desk"),
        MenuOption("5", MenuActionKind.MENU, "more", "More"),
        MenuOption("0", MenuActionKind.DISCONNECT, label="Goodbye"),
    )
    more = Menu(
        id="more",
        prompt_id="std.en-US.choose",
        options=(MenuOption("1", MenuActionKind.QUEUE, SUPPORT),),
    )
    await _change_ivr(stack, menus=(replace(main, options=options), more))


async def _press(
    stack: CallerStack, call_id: str, keys: str, notifications: int
) -> dict[str, object]:
    return await stack.after(call_id, stack.simulator.press_tones(call_id, keys), notifications)


async def test_the_ivr_answers_listens_for_keys_and_plays_the_menu(stack: CallerStack) -> None:
    call_id = await stack.dial(stack.main_line)

    call = await stack.sim_call(call_id)
    assert call["tonesSubscribed"]
    assert played(call) == [[MENU_PROMPT]]
    live = await stack.live(call_id)
    assert live.state is CallState.MENU
    assert live.ivr_path == (f"ivr:{IVR}", f"menu:{MAIN_MENU}")


async def test_key_1_takes_the_caller_to_sales(stack: CallerStack) -> None:
    call_id = await stack.dial(stack.main_line)
    # The key, and the menu prompt it cut short ending as cancelled.
    call = await _press(stack, call_id, "1", 2)

    live = await stack.live(call_id)
    assert live.queue_id == SALES
    assert live.state is CallState.RINGING
    assert live.ivr_path == (f"ivr:{IVR}", f"menu:{MAIN_MENU}", "key:1", f"queue:{SALES}")
    assert len(invited_user_ids(call)) == 1
    assert played(call)[-1] == ["std.en-US.greeting", "std.en-US.music"]


async def test_key_2_takes_the_caller_to_support_and_the_record_keeps_the_path(
    stack: CallerStack,
) -> None:
    call_id = await stack.dial(stack.main_line)
    call = await _press(stack, call_id, "2", 2)
    agent = invited_user_ids(call)[0]
    await stack.after(call_id, stack.simulator.answer_participant(call_id, agent), 3)
    await stack.after(call_id, stack.simulator.hang_up_participant(call_id, agent), 2)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.ANSWERED
    assert record.queue_id == SUPPORT
    assert record.ivr_path == (f"ivr:{IVR}", f"menu:{MAIN_MENU}", "key:2", f"queue:{SUPPORT}")
    assert record.came_from == f"ivr:{IVR}"


async def test_key_9_leaves_a_voicemail_that_an_agent_handles(stack: CallerStack) -> None:
    call_id = await stack.dial(stack.main_line)
    # The key; the recording barges in on the menu, which ends as cancelled.
    call = await _press(stack, call_id, "9", 2)
    [recording] = requested(call, "/recordResponse")
    assert recording["maxRecordDurationInSeconds"] == 120
    assert recording["prompts"][0]["mediaInfo"]["resourceId"] == "std.en-US.voicemail"

    await stack.after(call_id, stack.simulator.record(call_id, 7), 1)
    call = await stack.after(call_id, stack.simulator.complete_media(call_id), 1)

    assert played(call)[-1] == ["std.en-US.voicemail-thanks"]
    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.VOICEMAIL
    assert record.voicemail_id is not None
    voicemail = (await stack.repository.voicemails.get(stack.tenant_id, record.voicemail_id)).value
    assert voicemail.queue_id == SUPPORT
    assert voicemail.duration_s == pytest.approx(7)
    assert voicemail.ivr_path[-1] == "key:9"
    audio = await stack.host.app[MEDIA_STORE].get(stack.tenant_id, voicemail.media_id)
    assert audio[:4] == b"RIFF"
    [(alerted, agents)] = stack.notifier.voicemails
    assert alerted.id == voicemail.id
    assert AGENT_IDS["dev"] in agents

    handled = await mark_handled(
        stack.repository, stack.tenant_id, voicemail.id, AGENT_IDS["dev"], stack.clock.now()
    )
    assert handled.handled_by == AGENT_IDS["dev"]


async def test_star_repeats_the_menu(stack: CallerStack) -> None:
    call_id = await stack.dial(stack.main_line)
    call = await _press(stack, call_id, "*", 2)

    assert played(call) == [[MENU_PROMPT], [MENU_PROMPT]]
    assert (await stack.live(call_id)).state is CallState.MENU


async def test_a_key_with_no_option_is_refused_then_the_fallback_takes_the_call(
    stack: CallerStack,
) -> None:
    call_id = await stack.dial(stack.main_line)
    call = await _press(stack, call_id, "7", 2)
    assert played(call)[-1] == ["std.en-US.invalid-option", MENU_PROMPT]
    assert (await stack.live(call_id)).menu_tries == 1

    # The demo menu allows one retry; then Sales takes the call.
    await _press(stack, call_id, "7", 2)
    live = await stack.live(call_id)
    assert live.queue_id == SALES
    assert live.ivr_path[2:] == ("key:7", "key:7", f"queue:{SALES}")


async def test_no_key_plays_the_menu_again_then_falls_back(stack: CallerStack) -> None:
    call_id = await stack.dial(stack.main_line)
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)
    await stack.fire_timers(7)  # the menu waits 6 s for a key
    call = await stack.sim_call(call_id)
    assert played(call)[-1] == ["std.en-US.no-input", MENU_PROMPT]

    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)
    await stack.fire_timers(7)
    live = await stack.live(call_id)
    assert live.queue_id == SALES
    assert live.ivr_path[2:] == ("no-input", "no-input", f"queue:{SALES}")


async def test_a_sub_menu_leads_on_to_a_queue(stack: CallerStack) -> None:
    await _more_options(stack)
    call_id = await stack.dial(stack.main_line)
    call = await _press(stack, call_id, "5", 2)
    assert played(call)[-1] == ["std.en-US.choose"]

    await _press(stack, call_id, "1", 2)
    live = await stack.live(call_id)
    assert live.queue_id == SUPPORT
    assert live.ivr_path[2:] == ("key:5", "menu:more", "key:1", f"queue:{SUPPORT}")


async def test_a_person_option_transfers_the_call(stack: CallerStack) -> None:
    await _more_options(stack)
    call_id = await stack.dial(stack.main_line)
    call = await _press(stack, call_id, "3", 2)
    assert played(call)[-1] == ["std.en-US.transferring"]
    # The prompt ends; the bot transfers: "transferring".
    call = await stack.after(call_id, stack.simulator.complete_media(call_id), 2)
    [transfer] = requested(call, "/transfer")
    assert transfer["transferTarget"]["identity"]["user"]["id"] == AGENT_IDS["dev"]

    # Dev answers: transferAccepted, then the bot is out (terminated).
    await stack.after(call_id, stack.simulator.answer_participant(call_id, AGENT_IDS["dev"]), 2)
    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.TRANSFERRED
    assert record.queue_id is None
    assert record.leave_reason == f"IVR: transferred to {AGENT_IDS['dev']}"


async def test_a_number_option_transfers_the_call_to_that_number(stack: CallerStack) -> None:
    await _more_options(stack)
    call_id = await stack.dial(stack.main_line)
    await _press(stack, call_id, "4", 2)
    call = await stack.after(call_id, stack.simulator.complete_media(call_id), 2)
    [transfer] = requested(call, "/transfer")
    assert transfer["transferTarget"]["identity"]["phone"]["id"] == TRANSFER_NUMBER

    await stack.after(call_id, stack.simulator.answer_participant(call_id, TRANSFER_NUMBER), 2)
    assert (await stack.record(call_id)).outcome is CallOutcome.TRANSFERRED


async def test_the_disconnect_option_says_goodbye_and_hangs_up(stack: CallerStack) -> None:
    await _more_options(stack)
    call_id = await stack.dial(stack.main_line)
    call = await _press(stack, call_id, "0", 2)
    assert played(call)[-1] == ["std.en-US.goodbye"]
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.REJECTED
    assert record.leave_reason == "IVR: disconnected"


# ---------------------------------------------------------------------- hours
async def test_after_hours_the_ivr_takes_a_voicemail_for_support(stack: CallerStack) -> None:
    # Monday 22:00 in New York: the IVR closed at 21:00.
    stack.clock.set(datetime(2026, 3, 3, 3, 0, tzinfo=UTC))
    call_id = await stack.dial(stack.main_line)

    call = await stack.sim_call(call_id)
    assert played(call) == []
    assert len(requested(call, "/recordResponse")) == 1
    await stack.after(call_id, stack.simulator.record(call_id, 4), 1)
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.VOICEMAIL
    assert record.leave_reason == "closed: message left"
    assert stack.notifier.voicemails[0][0].queue_id == SUPPORT


async def test_on_a_holiday_the_ivr_says_so_and_hangs_up(stack: CallerStack) -> None:
    stack.clock.set(datetime(2026, 12, 25, 15, 0, tzinfo=UTC))
    call_id = await stack.dial(stack.main_line)
    assert played(await stack.sim_call(call_id)) == [["std.en-US.holiday"]]
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)

    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.REJECTED
    assert record.leave_reason == "holiday: Christmas Day"


async def test_the_closed_now_switch_redirects_without_answering(stack: CallerStack) -> None:
    ivr = (await stack.repository.ivrs.get(stack.tenant_id, IVR)).value
    assert ivr.hours is not None
    hours = replace(
        ivr.hours,
        closed_now=True,
        closed_now_action=QueueAction(ActionKind.REDIRECT_NUMBER, target=TRANSFER_NUMBER),
    )
    await _change_ivr(stack, hours=hours)
    placed = await stack.simulator.place_call(
        stack.tenant_id, application_instance_id=stack.main_line, caller_phone="+14255550123"
    )
    call = await stack.simulator.wait_for_call(placed.id, state="terminated", timeout_s=10)

    [redirect] = requested(call, "/redirect")
    assert redirect["targets"][0]["identity"]["phone"]["id"] == TRANSFER_NUMBER
    assert requested(call, "/answer") == []
    record = await stack.record(placed.id)
    assert record.outcome is CallOutcome.REJECTED
    assert record.leave_reason == f"closed now: redirected to {TRANSFER_NUMBER}"


async def test_a_queue_closed_by_its_hours_sends_callers_to_another_queue(
    stack: CallerStack,
) -> None:
    # Sales opens at 10:00 New York time; it is 09:00.
    hours = BusinessHours(
        mode=HoursMode.SET_TIMES,
        weekly=(OpenRange(Weekday.MONDAY, "10:00", "18:00"),),
        closed_action=QueueAction(ActionKind.QUEUE, target=SUPPORT),
    )
    await stack.set_queue(SALES, hours=hours)
    call_id = await stack.dial(stack.sales_line)

    live = await stack.live(call_id)
    assert live.queue_id == SUPPORT
    assert live.state is CallState.RINGING


async def test_a_queue_open_by_its_hours_takes_the_call(stack: CallerStack) -> None:
    hours = BusinessHours(
        mode=HoursMode.SET_TIMES,
        time_zone="America/New_York",
        weekly=(OpenRange(Weekday.MONDAY, "08:30", "18:00"),),
        closed_action=QueueAction(ActionKind.QUEUE, target=SUPPORT),
    )
    await stack.set_queue(SALES, hours=hours)
    call_id = await stack.dial(stack.sales_line)
    assert (await stack.live(call_id)).queue_id == SALES


async def test_a_closed_queue_chosen_in_the_ivr_applies_its_closed_action(
    stack: CallerStack,
) -> None:
    hours = BusinessHours(
        mode=HoursMode.SET_TIMES,
        weekly=(OpenRange(Weekday.TUESDAY, "09:00", "17:00"),),
        closed_action=QueueAction(ActionKind.DISCONNECT),
    )
    await stack.set_queue(SALES, hours=hours)
    call_id = await stack.dial(stack.main_line)
    call = await _press(stack, call_id, "1", 2)

    assert played(call)[-1] == ["std.en-US.closed"]
    await stack.after(call_id, stack.simulator.complete_media(call_id), 1)
    record = await stack.record(call_id)
    assert record.outcome is CallOutcome.REJECTED
    assert record.leave_reason == "closed"
