"""The agent's day in Chromium, at a desktop size and at the Teams side-panel width:
the call at hand, notes that are never lost, transfers, calling back, one time rule.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page

from bot import keys
from bot.demo import LINES, PEOPLE
from bot.settings import DEMO_APP_ID
from contactcenter.callbacks import callback_id
from contactcenter.model import AgentStatus, Party, PartyKind, Queue, Voicemail
from simulator.installations import personal_conversation_id
from tab.analytics import ANALYTICS
from tests.browser.conftest import SCREENSHOTS, Tab
from tests.tab.support import ANA, BEN, DEV, SALES, TabStack

pytestmark = pytest.mark.browser

CHLOE = next(p for p in PEOPLE if p.upn.startswith("chloe"))
EVA = next(p for p in PEOPLE if p.upn.startswith("eva"))
FEMI = next(p for p in PEOPLE if p.upn.startswith("femi"))
CODES = ("Sale", "Question", "Complaint")
# A desktop, and the width of the side panel Teams opens a tab in.
SIZES = {"desktop": (1366, 768), "side-panel": (400, 800)}


@pytest.fixture(params=sorted(SIZES))
async def agent_tab(
    request: pytest.FixtureRequest, browser: Browser, demo: TabStack, axe_source: str
) -> AsyncIterator[Tab]:
    """A page at one of the two sizes, in a time zone other than the tenant's."""
    width, height = SIZES[request.param]
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        reduced_motion="reduce",
        timezone_id="Europe/Berlin",
        locale="de-DE",
    )
    page = await context.new_page()
    tab = Tab(page=page, base_url=demo.base_url, axe_source=axe_source)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.errors.append(message.text)

    def on_page_error(error: Error) -> None:
        tab.errors.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.set_default_timeout(8000)
    tab.size = request.param  # type: ignore[attr-defined]
    try:
        yield tab
    finally:
        await context.close()


def _size(tab: Tab) -> str:
    size: str = getattr(tab, "size", "desktop")
    return size


def _tenant(demo: TabStack) -> str:
    return demo.settings.microsoft_app_tenant_id


async def _sales_codes(demo: TabStack) -> None:
    def change(queue: Queue) -> Queue:
        return replace(queue, disposition_codes=CODES)

    await demo.repository.queues.update(_tenant(demo), SALES, change)


async def _away(demo: TabStack, *agent_ids: str) -> None:
    engine = demo.app[keys.ENGINE]
    for agent_id in agent_ids:
        await engine.set_status(_tenant(demo), agent_id, AgentStatus.AWAY, "Lunch")


async def _fire_timers_in(demo: TabStack, seconds: float) -> None:
    """Fire the timers due ``seconds`` from now (the host's timer loop is off in tests)."""
    engine = demo.app[keys.ENGINE]
    await engine.fire_due_timers(demo.clock.now() + timedelta(seconds=seconds))


async def _ana_answers(tab: Tab, demo: TabStack, number: str) -> str:
    page = tab.page
    placed = await demo.simulator.place_call(
        _tenant(demo), application_instance_id=LINES[0].application_instance_id, caller_phone=number
    )
    await page.get_by_role("button", name="Decline").wait_for()
    await demo.simulator.answer_participant(placed.id, ANA.id)
    await page.locator("#call-card .in-call").wait_for()
    return placed.id


async def test_a_note_typed_in_wrap_up_is_on_the_record_after_the_timer(
    agent_tab: Tab, demo: TabStack
) -> None:
    page = agent_tab.page
    size = _size(agent_tab)
    await _sales_codes(demo)
    await _away(demo, BEN.id, CHLOE.id)
    await agent_tab.sign_in_as("Ana Ruiz", "agent")
    call_id = await _ana_answers(agent_tab, demo, "+14255550161")

    # The call at hand: who, which queue, the talk timer, hold not measured.
    panel = page.locator("#call-card")
    text = await panel.inner_text()
    assert "+14255550161" in text
    assert "Sales" in text
    assert "Not measured" in text
    await page.locator("#talk-timer", has_text="0:0").wait_for()
    await page.locator("#caller-history, .caller-history", has_text="No earlier calls").wait_for()
    await page.locator("#disposition-note").fill("Asked about seats")
    await page.locator("#notes-save-state", has_text="wrap-up ends").wait_for()
    await agent_tab.screenshot(f"agent-day-in-call-{size}")
    assert await agent_tab.accessibility_violations() == []

    await demo.simulator.hang_up_participant(call_id, ANA.id)
    await page.locator("#call-card", has_text="Wrap-up").wait_for()
    note = page.locator("#disposition-note")
    assert await note.input_value() == "Asked about seats"
    await note.press("End")
    await note.press("Enter")
    await note.type("Renewal in May\tcall back Friday")
    await agent_tab.screenshot(f"agent-day-wrap-up-{size}")
    # The wrap-up timer runs out before anyone presses Save.
    await _fire_timers_in(demo, 20)

    await page.locator("#call-card", has_text="No call right now").wait_for()
    await page.locator("#notes-save-state", has_text="on the call's record").wait_for()
    record = (await demo.repository.call_records.get(_tenant(demo), call_id)).value
    assert record.disposition_note == "Asked about seats\nRenewal in May\tcall back Friday"
    assert (record.wrap_up_pending, record.disposition_code) == (False, None)
    row = page.locator(f"#calls-card tr[data-call-id='{call_id}']")
    await row.get_by_text("Asked about seats").wait_for()
    await agent_tab.screenshot(f"agent-day-after-wrap-up-{size}")
    assert await agent_tab.accessibility_violations() == []
    agent_tab.assert_clean()


async def _end_talk(demo: TabStack, call_id: str, agent_id: str = ANA.id) -> None:
    await demo.simulator.hang_up_participant(call_id, agent_id)
    await demo.simulator.wait_for_call(call_id, state="terminated", timeout_s=10)


async def _people_in_call(demo: TabStack, call_id: str) -> dict[str, str]:
    """Return who is in (or being rung into) the simulator's call, by user id or number."""
    call = await demo.simulator.call(call_id)
    found: dict[str, str] = {}
    for participant in call["participants"]:
        if participant["status"] not in {"ringing", "joined"} or participant["role"] == "bot":
            continue
        identity = participant["identity"]
        person = (identity.get("user") or identity.get("phone") or {}).get("id", "")
        found[person] = participant["status"]
    return found


async def _invited_last(demo: TabStack, call_id: str) -> str:
    call = await demo.simulator.call(call_id)
    invites: list[str] = [
        r["body"]["participants"][0]["identity"]["user"]["id"]
        for r in call["requests"]
        if r["method"] == "POST" and r["path"].endswith("/participants/invite")
    ]
    return invites[-1]


async def test_an_agent_transfers_calls_to_a_queue_and_to_an_agent(
    agent_tab: Tab, demo: TabStack
) -> None:
    page = agent_tab.page
    size = _size(agent_tab)
    await _away(demo, BEN.id, CHLOE.id, EVA.id, FEMI.id)
    await agent_tab.sign_in_as("Ana Ruiz", "agent")

    # To a queue: Ana leaves the call at once, and a Support agent is rung for the caller.
    first = await _ana_answers(agent_tab, demo, "+14255550162")
    await page.locator("#transfer-queue option", has_text="Support").wait_for(state="attached")
    await page.select_option("#transfer-queue", label="Support")
    await agent_tab.screenshot(f"agent-day-transfer-choice-{size}")
    await (
        page.locator(".transfer-row", has=page.locator("#transfer-queue"))
        .get_by_role("button", name="Transfer")
        .click()
    )
    await page.locator("#call-card", has_text="Wrap-up").wait_for()
    target = await _invited_last(demo, first)
    assert target == DEV.id  # the one Support agent free
    await demo.simulator.answer_participant(first, target)
    for _ in range(50):
        if await _people_in_call(demo, first) == {"+14255550162": "joined", target: "joined"}:
            break
        await page.wait_for_timeout(100)
    assert await _people_in_call(demo, first) == {"+14255550162": "joined", target: "joined"}
    await demo.simulator.wait_until_delivered()
    live = (await demo.repository.calls.get(_tenant(demo), first)).value
    assert (live.queue_name, live.agent_id) == ("Support", target)
    await page.get_by_role("button", name="End now").click()
    await page.locator("#call-card", has_text="No call right now").wait_for()

    # To an agent: Ana stays on the call until Eva answers, then only the caller and Eva.
    await demo.app[keys.ENGINE].set_status(_tenant(demo), EVA.id, AgentStatus.AVAILABLE)
    second = await _ana_answers(agent_tab, demo, "+14255550163")
    await page.locator(f"#transfer-agent option[value='{EVA.id}']:not([disabled])").wait_for(
        state="attached"
    )
    await page.select_option("#transfer-agent", EVA.id)
    await (
        page.locator(".transfer-row", has=page.locator("#transfer-agent"))
        .get_by_role("button", name="Transfer")
        .click()
    )
    await page.locator(".transfer-state", has_text="Ringing Eva Novak").wait_for()
    await agent_tab.screenshot(f"agent-day-transfer-ringing-{size}")
    await demo.simulator.answer_participant(second, EVA.id)
    await page.locator("#call-card", has_text="Wrap-up").wait_for()
    for _ in range(50):
        if await _people_in_call(demo, second) == {"+14255550163": "joined", EVA.id: "joined"}:
            break
        await page.wait_for_timeout(100)
    assert await _people_in_call(demo, second) == {"+14255550163": "joined", EVA.id: "joined"}
    assert await agent_tab.accessibility_violations() == []
    agent_tab.assert_clean()


async def test_set_on_a_past_call_works_while_a_new_call_rings(
    agent_tab: Tab, demo: TabStack
) -> None:
    page = agent_tab.page
    size = _size(agent_tab)
    await _sales_codes(demo)
    await _away(demo, BEN.id, CHLOE.id)
    await agent_tab.sign_in_as("Ana Ruiz", "agent")
    past = await _ana_answers(agent_tab, demo, "+14255550164")
    await _end_talk(demo, past)
    await page.get_by_role("button", name="End now").click()
    await page.locator("#call-card", has_text="No call right now").wait_for()
    # The notes of the past call still ask for a code: close them first.
    row = page.locator(f"#calls-card tr[data-call-id='{past}']")
    await row.get_by_role("button", name="Set").wait_for()

    await demo.simulator.place_call(
        _tenant(demo),
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550165",
    )
    await page.get_by_role("button", name="Decline").wait_for()
    await row.get_by_role("button", name="Set").click()

    notes = page.locator("#wrap-up-card")
    await notes.locator(f"form[data-call-id='{past}']").wait_for()
    await page.select_option("#disposition-code", "Complaint")
    await page.locator("#disposition-note").fill("Line dropped twice\nwill call back")
    await agent_tab.screenshot(f"agent-day-set-while-ringing-{size}")
    await notes.get_by_role("button", name="Save", exact=True).click()
    await row.locator(".badge", has_text="Complaint").wait_for()
    record = (await demo.repository.call_records.get(_tenant(demo), past)).value
    assert (record.disposition_code, record.disposition_note) == (
        "Complaint",
        "Line dropped twice\nwill call back",
    )
    # The offer is still there to answer or decline.
    await page.get_by_role("button", name="Decline").wait_for()
    agent_tab.assert_clean()


async def test_a_missed_call_and_a_voicemail_are_called_back_from_the_workspace(
    agent_tab: Tab, demo: TabStack
) -> None:
    page = agent_tab.page
    await _away(demo, BEN.id, CHLOE.id)
    await agent_tab.sign_in_as("Ana Ruiz", "agent")
    placed = await demo.simulator.place_call(
        _tenant(demo),
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550166",
    )
    # Ana declines (and the decline lands) before the caller gives up.
    async with page.expect_response(lambda r: r.url.endswith("/decline")) as declined:
        await page.get_by_role("button", name="Decline").click()
    assert (await declined.value).ok
    await demo.simulator.hang_up(placed.id)
    await demo.simulator.wait_for_call(placed.id, state="terminated", timeout_s=10)

    row = page.locator(f"#calls-card tr[data-call-id='{placed.id}']")
    await row.get_by_role("button", name="Call back +14255550166").click(timeout=15_000)
    await page.locator("#callbacks-card", has_text="+14255550166").wait_for(timeout=15_000)
    await agent_tab.screenshot(f"agent-day-called-back-{_size(agent_tab)}")
    line = (await demo.repository.calls.get(_tenant(demo), callback_id(placed.id))).value
    assert line.callback is not None
    assert line.caller.id == "+14255550166"

    await demo.repository.voicemails.put(
        Voicemail(
            id="vm-browser",
            tenant_id=_tenant(demo),
            queue_id=SALES,
            call_id="call-vm-browser",
            caller=Party(PartyKind.PHONE, "+14255550167", "Pat Doe"),
            recorded_at=demo.clock.now() - timedelta(minutes=5),
            queue_name="Sales",
            duration_s=12,
        )
    )
    await page.get_by_role("button", name="Refresh voicemails").click()
    await page.get_by_role("button", name="Call back Pat Doe").click()
    await page.get_by_role("button", name="Refresh callbacks").click()
    # The callbacks card names the caller the voicemail named.
    await page.locator("#callbacks-card", has_text="Pat Doe").wait_for(timeout=15_000)
    line = (await demo.repository.calls.get(_tenant(demo), callback_id("call-vm-browser"))).value
    assert line.caller.id == "+14255550167"
    agent_tab.assert_clean()


async def _install_for(demo: TabStack, user_id: str) -> None:
    """Add the app for a user, as Teams does: the bot can then send them cards."""
    await demo.simulator.send_activity(
        personal_conversation_id(user_id),
        {"type": "conversationUpdate", "membersAdded": [{"id": f"28:{DEMO_APP_ID}"}]},
        tenant_id=_tenant(demo),
        user_id=user_id,
    )


async def _open_as(tab: Tab, name: str, path: str) -> Page:
    """Open another page of the same browser, signed in as ``name``."""
    page = await tab.page.context.new_page()
    await page.goto(f"{tab.base_url}{path}")
    await page.get_by_role("button", name=name).click()
    return page


async def test_a_call_shows_the_same_labelled_time_in_the_workspace_reports_and_card(
    agent_tab: Tab, demo: TabStack
) -> None:
    page = agent_tab.page
    size = _size(agent_tab)
    await _away(demo, BEN.id, CHLOE.id)
    await _install_for(demo, ANA.id)
    await agent_tab.sign_in_as("Ana Ruiz", "agent")
    call_id = await _ana_answers(agent_tab, demo, "+14255550168")
    await _end_talk(demo, call_id)
    await page.get_by_role("button", name="End now").click()
    record = (await demo.repository.call_records.get(_tenant(demo), call_id)).value
    ended = record.ended_at.astimezone(ZoneInfo("America/New_York"))
    label = ended.strftime("%Z")
    clock = (
        f"{ended.hour % 12 or 12}:{ended.minute:02d} {'AM' if ended.hour < 12 else 'PM'} {label}"
    )

    # The workspace: the tenant's time, labelled; the viewer's own (Berlin) on hover.
    shown = page.locator(f"#calls-card tr[data-call-id='{call_id}'] time")
    await shown.wait_for()
    assert await shown.inner_text() == clock
    own = record.ended_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{own.hour % 12 or 12}:{own.minute:02d}" in (await shown.get_attribute("title") or "")
    assert (await shown.get_attribute("title") or "").startswith("Your time: ")

    # The reports: the same time, with its date.
    reports = await _open_as(agent_tab, "Ana Ruiz", "/tab/?view=reports#calls")
    cell = reports.locator(f"#calls-table tr[data-call-id='{call_id}']").locator("th, td").first
    await cell.wait_for()
    assert (await cell.inner_text()).endswith(f", {clock}")
    await reports.screenshot(path=str(SCREENSHOTS / f"agent-day-report-time-{size}.png"))

    # The card in Ana's Teams chat: the same time.
    chat = await agent_tab.page.context.new_page()
    await chat.goto(
        f"{agent_tab.base_url}/demo/chats#{quote(personal_conversation_id(ANA.id), safe='')}"
    )
    card = chat.locator("li.message", has_text="Call ended · Sales")
    await card.wait_for()
    assert f", {clock}" in await card.inner_text()
    await chat.screenshot(path=str(SCREENSHOTS / f"agent-day-card-time-{size}.png"), full_page=True)

    # The CSV: ISO 8601 with the tenant's offset.
    today = ended.date().isoformat()
    async with demo.host.get(
        f"/api/tab/reports/calls?from={today}&to={today}&format=csv", headers=demo.auth(ANA.id)
    ) as response:
        assert response.status == 200
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    [row] = [r for r in rows if r["call id"] == call_id]
    parsed = datetime.fromisoformat(row["ended at"])
    assert parsed.utcoffset() == ended.utcoffset()
    assert parsed == record.ended_at.replace(microsecond=0)
    agent_tab.assert_clean()


async def test_handle_time_in_the_reports_drops_when_an_agent_ends_wrap_up_early(
    agent_tab: Tab, demo: TabStack
) -> None:
    page = agent_tab.page
    size = _size(agent_tab)
    await _away(demo, BEN.id, CHLOE.id)
    await agent_tab.sign_in_as("Ana Ruiz", "agent")
    full = await _ana_answers(agent_tab, demo, "+14255550169")
    await _end_talk(demo, full)
    await page.locator("#call-card", has_text="Wrap-up").wait_for()
    await _fire_timers_in(demo, 20)  # the whole wrap-up (Sales: 15 s)
    await page.locator("#call-card", has_text="No call right now").wait_for()
    early = await _ana_answers(agent_tab, demo, "+14255550170")
    await _end_talk(demo, early)
    await page.get_by_role("button", name="End now").click()
    await page.locator("#call-card", has_text="No call right now").wait_for()

    records = [
        (await demo.repository.call_records.get(_tenant(demo), call_id)).value
        for call_id in (full, early)
    ]
    assert records[0].wrap_up_s == 15
    assert records[1].wrap_up_s < 5
    aht = sum(r.talk_s + r.hold_s + r.wrap_up_s for r in records) / 2
    planned = sum(r.talk_s + 15 for r in records) / 2
    assert aht < planned

    # Finished calls are counted in batches: count the batch now rather than wait for it.
    await demo.app[ANALYTICS].feed.flush()
    reports = await _open_as(agent_tab, "Ana Ruiz", "/tab/?view=reports#agents")
    row = reports.locator(f"#agent-report tr[data-agent-id='{ANA.id}']")
    await row.wait_for()
    cells = await row.locator("th, td").all_inner_texts()
    # Agent, handled, missed, talk, wrap-up, AHT...
    assert cells[5] == _m_ss(aht)
    assert cells[4] == _m_ss(records[0].wrap_up_s + records[1].wrap_up_s)
    await reports.screenshot(path=str(SCREENSHOTS / f"agent-day-report-aht-{size}.png"))
    agent_tab.assert_clean()


async def test_an_agent_takes_more_wrap_up_time_once_and_the_record_keeps_it(
    agent_tab: Tab, demo: TabStack
) -> None:
    page = agent_tab.page
    await _away(demo, BEN.id, CHLOE.id)
    await agent_tab.sign_in_as("Ana Ruiz", "agent")
    call_id = await _ana_answers(agent_tab, demo, "+14255550172")
    await _end_talk(demo, call_id)
    panel = page.locator("#call-card")
    await panel.get_by_role("button", name="More time (+1:00)").click()
    await panel.get_by_text("You took your extra wrap-up time for this call.").wait_for()
    assert await panel.get_by_role("button", name=re.compile("^More time")).count() == 0
    await agent_tab.screenshot(f"agent-day-more-time-{_size(agent_tab)}")

    await _fire_timers_in(demo, 20)  # past the queue's 15 s, not past the extra minute
    await panel.get_by_text("Wrap-up").first.wait_for()
    await _fire_timers_in(demo, 80)
    await page.locator("#call-card", has_text="No call right now").wait_for()
    record = (await demo.repository.call_records.get(_tenant(demo), call_id)).value
    assert record.wrap_up_s == 15 + 60
    agent_tab.assert_clean()


def _m_ss(seconds: float) -> str:
    """Write seconds as the reports do (m:ss, rounded half up)."""
    total = int(seconds + 0.5)
    return f"{total // 60}:{total % 60:02d}"


async def test_the_teams_card_of_the_call_at_hand_saves_notes_and_follows_the_call(
    agent_tab: Tab, demo: TabStack
) -> None:
    size = _size(agent_tab)
    await _away(demo, BEN.id, CHLOE.id)
    await _install_for(demo, ANA.id)
    await agent_tab.sign_in_as("Ana Ruiz", "agent")
    call_id = await _ana_answers(agent_tab, demo, "+14255550171")
    chat = await agent_tab.page.context.new_page()
    await chat.goto(
        f"{agent_tab.base_url}/demo/chats#{quote(personal_conversation_id(ANA.id), safe='')}"
    )
    card = chat.locator("li.message", has_text="On a call · Sales")
    await card.wait_for()
    text = await card.inner_text()
    assert "+14255550171" in text
    assert "Not measured" in text
    assert "Transfer to queue" in text

    await card.get_by_placeholder("What the call was about").fill("Card note\nsecond line")
    await card.get_by_role("button", name="Save notes").click()
    await card.get_by_text(re.compile(r"^Saved \d")).wait_for()
    await chat.screenshot(path=str(SCREENSHOTS / f"agent-day-card-on-call-{size}.png"))
    agent = (await demo.repository.agents.get(_tenant(demo), ANA.id)).value
    assert agent.notes_draft is not None
    assert agent.notes_draft.note == "Card note\nsecond line"

    # The workspace shows the same notes, and the record gets them when the wrap-up ends.
    await _end_talk(demo, call_id)
    await chat.locator("li.message", has_text="Call ended · Sales").wait_for()
    await _fire_timers_in(demo, 20)
    record = (await demo.repository.call_records.get(_tenant(demo), call_id)).value
    assert record.disposition_note == "Card note\nsecond line"
