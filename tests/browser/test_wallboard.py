"""The wallboard and reports in Chromium against the demo host with analytics running.

A call placed through the simulator shows on the wallboard within a second; a threshold
alert set in the page is raised while the caller waits and cleared when they hang up.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot import keys
from bot.demo import LINES
from bot.messaging.demo_chats import DEMO_CHANNEL, DEMO_TEAM
from bot.settings import DEMO_TENANT_ID
from contactcenter.clock import SystemClock
from contactcenter.model import AgentStatus, CallState
from simulator.signing import SigningKey
from tab.analytics import AnalyticsOptions
from tests.analytics.records import RECORDS
from tests.analytics.support import demo_record, eventually, start_analytics_stack, state_of
from tests.browser.conftest import Tab
from tests.messaging.support import card_of, card_text
from tests.tab.support import ADMIN, ANA, DEV, SALES, SUPERVISOR, TabStack, options_for

pytestmark = pytest.mark.browser

CHANNEL = f"{DEMO_TEAM['id']};messageid=1700000000001"


@pytest.fixture
async def demo(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    browser_simulator_dir: Path,
    browser_key_path: Path,
    browser_key: SigningKey,
) -> TabStack:
    """The demo host with analytics and its loops on short intervals, on the real clock."""
    return await start_analytics_stack(
        aiohttp_server,
        aiohttp_client,
        data_dir=tmp_path / "host",
        simulator_dir=browser_simulator_dir,
        key=browser_key,
        clock=SystemClock(),
        options=options_for(browser_key_path, poll_interval_s=0.2, heartbeat_s=2.0),
        analytics_options=AnalyticsOptions(
            sweep_interval_s=0.2, delivery_interval_s=0.5, sample_interval_s=1.0
        ),
    )


async def sales_agents_away(demo: TabStack) -> None:
    engine = demo.app[keys.ENGINE]
    sales = (await demo.repository.queues.get(DEMO_TENANT_ID, SALES)).value
    for member in sales.members:
        await engine.set_status(DEMO_TENANT_ID, member, AgentStatus.AWAY, "team meeting")


async def post_sales_card(demo: TabStack) -> str:
    """Post Sales' live queue card in the demo team's channel, as its supervisor would."""
    delivered = await demo.simulator.send_activity(
        CHANNEL,
        {
            "type": "message",
            "text": "<at>Contact Center</at> queue card sales",
            "conversation": {"conversationType": "channel", "isGroup": True},
            "channelData": {"team": DEMO_TEAM, "channel": DEMO_CHANNEL},
        },
        tenant_id=DEMO_TENANT_ID,
        user_id=SUPERVISOR.id,
    )
    [reply] = delivered["replies"]
    activity_id: str = reply["activityId"]
    return activity_id


async def card_says(demo: TabStack, activity_id: str, words: str, *, present: bool) -> None:
    """Wait until the latest version of the card shows (or no longer shows) ``words``."""

    async def latest() -> bool:
        conversation = await demo.simulator.conversation(CHANNEL)
        versions = [
            e["activity"]
            for e in conversation["events"]
            if e["kind"] == "updated" and e["activityId"] == activity_id
        ]
        if not versions:
            return False
        return (words in card_text(card_of(versions[-1]))) is present

    # Card updates are coalesced to one per 5 s.
    await eventually(latest, timeout_s=8.0)


def tile(name: str) -> str:
    return f".board-tile[data-queue-id='{SALES}'] [data-stat='{name}'] .stat-value"


async def test_the_wallboard_shows_a_call_live_and_raises_and_clears_an_alert(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await sales_agents_away(demo)
    await tab_page.sign_in_as("Hiro Tanaka", "wallboard")
    await page.wait_for_selector(f"{tile('waiting')}:text-is('0')")
    assert await page.locator(".board-tile h2").all_inner_texts() == ["Sales", "Support"]

    # A supervisor sets Sales' threshold in the page: more than 0 callers waiting.
    await page.get_by_role("button", name="Alert settings").click()
    form = page.locator(f".rule-form[data-queue-id='{SALES}']")
    await form.get_by_label("Callers waiting above").fill("0")
    await form.get_by_role("button", name="Save Sales alerts").click()
    await page.locator(".toast", has_text="Sales alerts saved").wait_for()
    await page.get_by_role("button", name="Alert settings").click()
    card_id = await post_sales_card(demo)

    placed = await demo.simulator.place_call(
        DEMO_TENANT_ID,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550177",
    )

    async def waiting() -> bool:
        call = await demo.repository.calls.get(DEMO_TENANT_ID, placed.id)
        return call.value.state is CallState.WAITING

    await eventually(waiting)
    started = time.monotonic()
    # The change shows within a second of the store saying so.
    await page.wait_for_selector(f"{tile('waiting')}:text-is('1')", timeout=1000)
    shown_after = time.monotonic() - started
    assert shown_after < 1.0
    alert = page.locator(".board-alert[data-kind='queue-length']")
    await alert.wait_for(timeout=1000)
    assert "Sales: 1 caller waiting, more than 0" in await alert.inner_text()
    assert await page.inner_text(tile("offered")) == "1"
    await tab_page.screenshot("wallboard-alert")
    assert await tab_page.accessibility_violations() == []
    # The queue's channel card shows the alert too.
    await card_says(demo, card_id, "More than 0 callers waiting", present=True)

    # The caller gives up: the alert clears, and today's abandoned calls count them.
    await demo.simulator.hang_up(placed.id)
    await page.wait_for_selector("#wallboard-alerts [data-alerts='0']", timeout=2000)
    await page.wait_for_selector(f"{tile('abandoned')}:text-is('1')", timeout=2000)
    assert await page.inner_text(tile("waiting")) == "0"
    await page.locator(".board-recent summary").click()
    changes = page.locator(".board-recent li")
    assert [await c.get_attribute("data-change") for c in await changes.all()] == [
        "cleared",
        "raised",
    ]
    assert "cleared: Sales: 1 caller waiting" in await changes.first.inner_text()
    await tab_page.screenshot("wallboard-cleared")
    await card_says(demo, card_id, "Alerts", present=False)

    await page.get_by_role("button", name="Full screen").click()
    await page.wait_for_selector("body.tv")
    assert not await page.locator(".app-header").is_visible()
    await tab_page.screenshot("wallboard-tv")
    tab_page.assert_clean()


async def test_reports_draw_their_charts_from_the_aggregates(tab_page: Tab, demo: TabStack) -> None:
    made = [demo_record(r) for r in RECORDS]
    # One answered call went through the main menu and was given a disposition; Dev
    # declined it before Ben let it ring out.
    answered = next(i for i, r in enumerate(made) if r.agent_id and r.missed_agent_ids)
    made[answered] = replace(
        made[answered],
        missed_agent_ids=(DEV.id, *made[answered].missed_agent_ids),
        declined_agent_ids=(DEV.id,),
        ivr_path=("menu:main", "key:1", f"queue:{SALES}"),
        disposition_code="Order",
        disposition_note="Wants the blue one",
    )
    for item in made:
        await demo.repository.call_records.create(item)
    await state_of(demo).aggregator.add_records(made)
    page = tab_page.page
    await tab_page.open("/tab/?view=reports#queues")
    await page.get_by_role("button", name="Grace Lee").click()
    await page.wait_for_selector("body[data-ready='reports']")
    await page.fill("#report-from", "2026-03-02")
    await page.fill("#report-to", "2026-03-02")
    await page.get_by_role("button", name="Show").click()
    sales = page.locator(f"#queue-report tr[data-queue-id='{SALES}']")
    await sales.wait_for()
    cells = await sales.locator("td").all_inner_texts()
    assert cells[:4] == ["12", "5", "2", "16.7%"]
    assert await page.locator("figure svg.chart rect.chart-bar").count() > 3
    assert await page.locator("figure svg.chart path.chart-line").count() == 4
    # Each service-level variant says what it is, where it is shown.
    await page.get_by_role("button", name="SL2").click()
    definitions = page.locator("#kpi-definitions")
    assert await definitions.get_attribute("open") is not None
    assert "forgives callers who hung up within T" in await definitions.inner_text()
    await tab_page.screenshot("reports-queues")
    assert await tab_page.accessibility_violations() == []

    # The calls list has each call's disposition, and opens a call in full.
    await page.get_by_role("link", name="Calls").click()
    row = page.locator(f"#calls-table tr[data-call-id='{made[answered].id}']")
    await row.wait_for()
    assert "Order" in await row.inner_text()
    await row.get_by_role("button", name="Details").click()
    detail = page.get_by_role("dialog")
    await detail.wait_for()
    text = await detail.inner_text()
    assert "Pressed 1" in text
    assert f"Answered by {made[answered].agent_name}" in text
    offers = await detail.locator(".call-offers li").all_inner_texts()
    assert offers == [
        f"Answered by {made[answered].agent_name}",
        "Offered to Dev Patel: declined",
        "Offered to Ben Okafor: did not answer",
    ]
    assert "Wants the blue one" in text
    await tab_page.screenshot("reports-call-detail")
    assert await tab_page.accessibility_violations() == []
    await detail.get_by_role("button", name="Close").click()
    await detail.wait_for(state="detached")
    await page.get_by_role("link", name="By hour").click()
    await page.wait_for_selector("#hourly-heat-map svg rect.heat-5")
    await tab_page.screenshot("reports-by-hour")
    await page.get_by_role("link", name="Timeline").click()
    await page.wait_for_selector("#agent-timeline svg")
    await tab_page.screenshot("reports-timeline")
    labels = await page.locator("#agent-timeline text.chart-label").all()
    box = await page.locator("#agent-timeline svg").bounding_box()
    assert box is not None
    for label in labels:
        # Every hour label is inside the chart: none is clipped at its edges.
        edges = await label.bounding_box()
        assert edges is not None
        assert box["x"] <= edges["x"]
        assert edges["x"] + edges["width"] <= box["x"] + box["width"] + 0.5
    tab_page.assert_clean()


async def test_a_supervisor_supervises_and_plans_staffing(tab_page: Tab, demo: TabStack) -> None:
    page = tab_page.page
    await tab_page.sign_in_as("Hiro Tanaka", "supervise")
    ana = page.locator("#supervise-agents tr", has_text="Ana Ruiz")
    await ana.wait_for()
    await ana.get_by_label("Status of Ana Ruiz").select_option("away")
    dialog = page.get_by_role("dialog", name="Set Ana Ruiz to Away?")
    await tab_page.screenshot("supervise-confirm")
    await dialog.get_by_role("button", name="Set Away").click()
    await page.locator(".toast", has_text="Ana Ruiz: Away").wait_for()
    agents = await demo.repository.agents.find(DEMO_TENANT_ID)
    assert next(a.value for a in agents if a.value.display_name == "Ana Ruiz").status is (
        AgentStatus.AWAY
    )
    await tab_page.screenshot("supervise")

    await page.get_by_role("link", name="Staffing").click()
    await page.wait_for_selector("body[data-ready='staffing']")
    await page.get_by_role("button", name="Calculate").click()
    await page.wait_for_selector("#erlang-agents:text('14 agents')")
    assert await page.locator("#erlang-table tr.chosen th").inner_text() == "14"
    await page.fill("#what-if-calls", "300")
    await page.get_by_role("button", name="Run simulation").click()
    await page.wait_for_selector("#what-if-result dl", timeout=15000)
    assert "Service level" in await page.inner_text("#what-if-result")
    await tab_page.screenshot("staffing")
    assert await tab_page.accessibility_violations() == []
    tab_page.assert_clean()


# Counts rows added to or removed from the Supervise tables, and every change to them.
_WATCH_ROWS = """() => {
  window.rowChanges = 0;
  window.tableChanges = 0;
  window.changed = [];
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      window.tableChanges += 1;
      window.changed.push(`${record.type} ${record.target.nodeName} ${record.attributeName}`);
      for (const node of [...record.addedNodes, ...record.removedNodes]) {
        if (node.nodeName === "TR") window.rowChanges += 1;
      }
    }
  });
  for (const table of document.querySelectorAll("#supervise-agents, #supervise-calls")) {
    observer.observe(table, { childList: true, subtree: true, attributes: true });
  }
}"""


async def test_supervise_updates_its_rows_in_place_and_confirms_each_action(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await page.set_viewport_size({"width": 1366, "height": 768})
    await sales_agents_away(demo)
    placed = await demo.simulator.place_call(
        DEMO_TENANT_ID,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550188",
    )
    await tab_page.sign_in_as("Hiro Tanaka", "supervise")
    row = page.locator(f"#supervise-calls tr[data-call-id='{placed.id}']")
    await row.wait_for()
    ana = page.locator("#supervise-agents tr", has_text="Ana Ruiz")
    assert "Not ready (team meeting)" in await ana.inner_text()

    # Nothing changes for five seconds (the caller waits on): no row is drawn again.
    await page.evaluate(_WATCH_ROWS)
    await page.wait_for_timeout(5000)
    assert await page.evaluate("window.rowChanges") == 0
    assert await page.evaluate("window.tableChanges") <= 2, await page.evaluate("window.changed")
    # Time in state and the wait count on meanwhile.
    waited = await row.locator("td.num").first.inner_text()
    assert waited >= "0:05"

    # Raising the priority asks first; cancelling changes nothing.
    await row.get_by_role("button", name="Raise priority").click()
    dialog = page.get_by_role("dialog", name="Raise +14255550188 to priority 1?")
    await dialog.get_by_role("button", name="Cancel").click()
    await dialog.wait_for(state="detached")
    call = (await demo.repository.calls.get(DEMO_TENANT_ID, placed.id)).value
    assert call.priority == 0
    await row.get_by_role("button", name="Raise priority").click()
    await dialog.get_by_role("button", name="Raise priority").click()
    await page.locator(".toast", has_text="priority 1").wait_for()
    await row.locator("td.num:text-is('1')").wait_for()
    call = (await demo.repository.calls.get(DEMO_TENANT_ID, placed.id)).value
    assert call.priority == 1
    await tab_page.screenshot("supervise-1366")
    assert await tab_page.accessibility_violations() == []
    await demo.simulator.hang_up(placed.id)
    await row.wait_for(state="detached")
    tab_page.assert_clean()


async def test_the_wallboard_shows_the_floor_live_and_a_closed_queue_closed(
    tab_page: Tab, demo: TabStack
) -> None:
    page = tab_page.page
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await tab_page.sign_in_as("Hiro Tanaka", "wallboard")
    ana = page.locator(f".board-agent[data-agent-id='{ANA.id}']")
    await ana.wait_for()
    assert await ana.get_attribute("data-state") == "available"

    # An agent's state change shows within a second, with its time in state.
    engine = demo.app[keys.ENGINE]
    started = time.monotonic()
    await engine.set_status(DEMO_TENANT_ID, ANA.id, AgentStatus.AWAY, "lunch")
    await page.wait_for_selector(
        f".board-agent[data-agent-id='{ANA.id}'][data-state='not-ready']", timeout=1000
    )
    assert time.monotonic() - started < 1.0
    assert "Not ready (lunch)" in await ana.inner_text()

    # A new waiting call shows within a second of waiting, with its wait and priority.
    await sales_agents_away(demo)
    placed = await demo.simulator.place_call(
        DEMO_TENANT_ID,
        application_instance_id=LINES[0].application_instance_id,
        caller_phone="+14255550199",
    )

    async def waiting() -> bool:
        call = await demo.repository.calls.get(DEMO_TENANT_ID, placed.id)
        return call.value.state is CallState.WAITING

    await eventually(waiting)
    started = time.monotonic()
    row = page.locator(f"#wallboard-calls tr[data-call-id='{placed.id}']")
    await row.wait_for(timeout=1000)
    assert time.monotonic() - started < 1.0
    assert (await row.locator("th, td").all_inner_texts())[::3] == ["Sales", "0"]
    await tab_page.screenshot("wallboard-1920")

    # Closed now: the tile says so, and is not shown as healthy.
    status, _ = await demo.call(
        "POST",
        f"/api/tab/supervision/queues/{SALES}/closed-now",
        user=ADMIN.id,
        json={"closed": True},
    )
    assert status == 200
    sales = page.locator(f".board-tile[data-queue-id='{SALES}']")
    await page.wait_for_selector(
        f".board-tile.closed[data-queue-id='{SALES}'][data-open-state='closed-now']", timeout=2000
    )
    assert "Closed now" in await sales.locator(".board-open").inner_text()
    assert await tab_page.accessibility_violations() == []

    # TV mode fills the screen, at 1080p and at 4K, and nothing scrolls.
    await page.get_by_role("button", name="Full screen").click()
    await page.wait_for_selector("body.tv")
    for width, height in ((1920, 1080), (3840, 2160)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.wait_for_timeout(100)
        size = await page.evaluate(
            "() => ({scroll: document.documentElement.scrollHeight,"
            " card: document.querySelector('.wallboard-card').getBoundingClientRect().height,"
            " tile: document.querySelector('.board-tile').getBoundingClientRect().width})"
        )
        assert size["scroll"] <= height
        assert size["card"] > 0.9 * height
        assert size["tile"] > 0.25 * width
        await tab_page.screenshot(f"wallboard-tv-{width}")

    # Out of TV mode on a laptop: nothing wider than the screen.
    await page.get_by_role("button", name="Exit full screen").click()
    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.wait_for_timeout(100)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1366
    await tab_page.screenshot("wallboard-1366")
    await demo.simulator.hang_up(placed.id)
    tab_page.assert_clean()
