// Reports: queue and agent summaries, calls by hour, abandoned calls, call details (each
// call opens in full) and an agent's timeline, with charts in the page and every table as a
// CSV download; every figure says what it means. Days are the tenant's; agents see their
// own calls only.

import { h, replaceChildren, toast } from "./dom.js";
import { barChart, heatMap, lineChart, timeline } from "./charts.js";
import { OUTCOME_LABELS, clock, count, dateTime, daysBefore, percent, seconds } from "./format.js";
import { FLOOR_STATES } from "./floor.js";
import { kpiDefinitions, kpiHeading } from "./kpi_definitions.js";

const SUPERVISOR_TABS = [
  ["queues", "Queues"],
  ["agents", "Agents"],
  ["hourly", "By hour"],
  ["abandoned", "Abandoned"],
  ["calls", "Calls"],
  ["timeline", "Timeline"],
];
const AGENT_TABS = [
  ["agents", "My summary"],
  ["calls", "My calls"],
  ["timeline", "My day"],
];

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, String(value));
  }
  return search.toString();
}

/** Fetch a CSV with the bearer token and hand it to the browser as a download. */
async function downloadCsv(ctx, path, name) {
  const token = await ctx.session.token();
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`the CSV could not be made (${response.status})`);
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: `${name}.csv`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function csvButton(ctx, path, name) {
  const button = h("button", { type: "button", class: "small csv-button" }, "Download CSV");
  button.addEventListener("click", () => downloadCsv(ctx, path, name).catch((error) => toast(error.message, { error: true })));
  return button;
}

function table(id, caption, headers, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headers.map(([label, numeric]) => h("th", { scope: "col", class: numeric ? "num" : null }, kpiHeading(label))))),
      h("tbody", {}, rows),
    ),
  );
}

function cells(values) {
  return values.map(([value, numeric], i) => (i === 0 ? h("th", { scope: "row" }, value) : h("td", { class: numeric ? "num" : null }, value)));
}

const KPI_HEADERS = [
  ["Offered", true],
  ["Answered", true],
  ["Abandoned", true],
  ["Aband. rate", true],
  ["ASA", true],
  ["SL1", true],
  ["SL2", true],
  ["SL3", true],
  ["SL4", true],
  ["AHT", true],
  ["Max wait", true],
];

function kpiCells(k) {
  return [
    [count(k.offered), true],
    [count(k.answered), true],
    [count(k.abandoned), true],
    [percent(k.abandonmentRate, 1), true],
    [seconds(k.asaS), true],
    [percent(k.serviceLevel1, 1), true],
    [percent(k.serviceLevel2, 1), true],
    [percent(k.serviceLevel3, 1), true],
    [percent(k.serviceLevel4, 1), true],
    [seconds(k.ahtS), true],
    [seconds(k.maxWaitS), true],
  ];
}

function shortDay(isoDate) {
  return new Date(`${isoDate}T12:00:00Z`).toLocaleDateString([], { month: "short", day: "numeric", timeZone: "UTC" });
}

// ------------------------------------------------------------------- the views
async function showQueues(ctx, body, filters) {
  const params = { from: filters.from, to: filters.to, queueId: filters.queueId, thresholdS: filters.thresholdS };
  const path = `/api/tab/reports/queues?${query(params)}`;
  const report = await ctx.api.get(path);
  const rows = report.queues.map((row) => h("tr", { dataset: { queueId: row.queueId } }, cells([[row.queueName], ...kpiCells(row.kpis)])));
  rows.push(h("tr", { class: "total-row" }, cells([["Total"], ...kpiCells(report.total)])));
  replaceChildren(
    body,
    h("div", { class: "report-actions" }, h("p", { class: "muted" }, `T = ${report.thresholdS} s · ${report.timeZone}`), csvButton(ctx, `${path}&format=csv`, `queues-${report.from}-${report.to}`)),
    table("queue-report", "Queue summary", [["Queue"], ...KPI_HEADERS], rows),
    kpiDefinitions(report.thresholdS),
    h(
      "div",
      { class: "chart-row" },
      h(
        "figure",
        {},
        barChart({
          title: "Calls by queue",
          categories: report.queues.map((r) => r.queueName),
          series: [
            { name: "Offered", className: "series-1", values: report.queues.map((r) => r.kpis.offered) },
            { name: "Answered", className: "series-2", values: report.queues.map((r) => r.kpis.answered) },
            { name: "Abandoned", className: "series-3", values: report.queues.map((r) => r.kpis.abandoned) },
          ],
        }),
        h("figcaption", {}, "Offered, answered and abandoned calls per queue"),
      ),
      h(
        "figure",
        {},
        lineChart({
          title: `Service level per day (T = ${report.thresholdS} s)`,
          categories: report.days.map((d) => shortDay(d.day)),
          max: 1,
          series: [
            { name: "SL1", className: "series-1", values: report.days.map((d) => d.kpis.serviceLevel1) },
            { name: "SL2", className: "series-2", values: report.days.map((d) => d.kpis.serviceLevel2) },
            { name: "SL3", className: "series-3", values: report.days.map((d) => d.kpis.serviceLevel3) },
            { name: "SL4", className: "series-4", values: report.days.map((d) => d.kpis.serviceLevel4) },
          ],
        }),
        h("figcaption", {}, "The four service-level variants, day by day: SL1 answered within T of answered; SL2 forgives callers who hung up within T; SL3 counts them as served; SL4 of every offered call."),
      ),
    ),
  );
}

async function showAgents(ctx, body, filters) {
  const path = `/api/tab/reports/agents?${query({ from: filters.from, to: filters.to, queueId: filters.queueId })}`;
  const report = await ctx.api.get(path);
  const rows = report.agents.map((row) =>
    h(
      "tr",
      { dataset: { agentId: row.agentId } },
      cells([
        [row.agentName],
        [count(row.handled), true],
        [count(row.missedOffers), true],
        [seconds(row.talkS), true],
        [seconds(row.wrapUpS), true],
        [seconds(row.ahtS), true],
        [seconds(row.availableIdleS), true],
        [seconds(row.stateS["not-ready"] || 0), true],
        [percent(row.occupancy, 1), true],
      ]),
    ),
  );
  replaceChildren(
    body,
    h("div", { class: "report-actions" }, h("p", { class: "muted" }, `${report.from} to ${report.to} · ${report.timeZone}`), csvButton(ctx, `${path}&format=csv`, `agents-${report.from}-${report.to}`)),
    table(
      "agent-report",
      "Agent summary",
      [["Agent"], ["Handled", true], ["Missed", true], ["Talk", true], ["Wrap-up", true], ["AHT", true], ["Available idle", true], ["Not ready", true], ["Occupancy", true]],
      rows,
    ),
    h(
      "figure",
      {},
      barChart({
        title: "Calls handled per agent",
        categories: report.agents.map((r) => r.agentName.split(" ")[0]),
        series: [
          { name: "Handled", className: "series-2", values: report.agents.map((r) => r.handled) },
          { name: "Missed", className: "series-3", values: report.agents.map((r) => r.missedOffers) },
        ],
      }),
      h("figcaption", {}, "Calls each agent answered, and offers they missed"),
    ),
  );
}

async function showHourly(ctx, body, filters) {
  const path = `/api/tab/reports/hourly?${query({ from: filters.from, to: filters.to, queueId: filters.queueId })}`;
  const report = await ctx.api.get(path);
  const hours = Array.from({ length: 24 }, (_, n) => String(n).padStart(2, "0"));
  replaceChildren(
    body,
    h("div", { class: "report-actions" }, h("p", { class: "muted" }, `Local hours, ${report.timeZone}`), csvButton(ctx, `${path}&format=csv`, "calls-by-hour")),
    h(
      "figure",
      { id: "hourly-heat-map" },
      heatMap({ title: "Calls offered by day and hour", rows: report.days.map(shortDay), columns: hours, values: report.offered }),
      h("figcaption", {}, "Calls offered per hour of the day; darker is busier. The CSV has every number."),
    ),
  );
}

function callerOf(call) {
  return call.caller.displayName || call.caller.id || "anonymous";
}

function facts(pairs) {
  return h(
    "dl",
    { class: "call-facts" },
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== "").map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

/** Everything a call's record says, in a dialog opened from the calls list. */
function showCallDetail(call, timeZone, opener) {
  const offers = [];
  if (call.agentName) offers.push(h("li", {}, `Answered by ${call.agentName}`));
  for (const name of call.declinedAgentNames) offers.push(h("li", { "data-offer": "declined" }, `Offered to ${name}: declined`));
  for (const name of call.unansweredAgentNames) offers.push(h("li", { "data-offer": "not-answered" }, `Offered to ${name}: did not answer`));
  const close = h("button", { type: "button", class: "small" }, "Close");
  const dialog = h(
    "dialog",
    { class: "call-detail", id: "call-detail", "aria-labelledby": "call-detail-title" },
    h("h2", { id: "call-detail-title" }, `Call from ${callerOf(call)}`),
    facts([
      ["Queue", call.queueName || "—"],
      ["Came from", call.cameFrom],
      ["Outcome", OUTCOME_LABELS[call.outcome] || call.outcome],
      ["Why it ended", call.leaveReason],
      ["Offered", dateTime(call.offeredAt, timeZone)],
      ["Answered", dateTime(call.answeredAt, timeZone)],
      ["Ended", dateTime(call.endedAt, timeZone)],
    ]),
    h("h3", {}, "Menu path"),
    call.menuPath.length ? h("ol", { class: "menu-path" }, call.menuPath.map((step) => h("li", {}, step))) : h("p", { class: "muted" }, "No menus: straight to the queue."),
    h("h3", {}, "Offers"),
    offers.length ? h("ul", { class: "call-offers" }, offers) : h("p", { class: "muted" }, "Not offered to any agent."),
    h("h3", {}, "Times"),
    facts([
      ["Wait", seconds(call.waitS)],
      ["Ringing", seconds(call.ringS)],
      ["Talk", seconds(call.talkS)],
      ["Hold", seconds(call.holdS)],
      ["Wrap-up", seconds(call.wrapUpS)],
      ["Within the queue's target", call.outcome === "answered" ? (call.metServiceLevel ? "Yes" : "No") : null],
    ]),
    h("h3", {}, "Disposition"),
    call.dispositionCode || call.dispositionNote
      ? facts([
          ["Code", call.dispositionCode],
          ["Notes", call.dispositionNote],
        ])
      : h("p", { class: "muted" }, "None recorded."),
    call.resultCode !== null && call.resultCode !== undefined
      ? facts([["Teams result", `${call.resultCode}/${call.resultSubcode ?? ""} ${call.resultMessage || ""}`.trim()]])
      : null,
    facts([
      ["Callback request", call.callbackRequestId],
      ["Voicemail", call.voicemailId],
      ["Call id", call.id],
    ]),
    h("div", { class: "form-actions" }, close),
  );
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}

function callRows(calls, timeZone) {
  return calls.map((call) => {
    const open = h("button", { type: "button", class: "small", "aria-label": `Details of the call from ${callerOf(call)}, ended ${dateTime(call.endedAt, timeZone)}` }, "Details");
    open.addEventListener("click", () => showCallDetail(call, timeZone, open));
    return h(
      "tr",
      { dataset: { callId: call.id } },
      cells([
        [dateTime(call.endedAt, timeZone)],
        [call.queueName || "—"],
        [callerOf(call)],
        [OUTCOME_LABELS[call.outcome] || call.outcome],
        [seconds(call.waitS), true],
        [seconds(call.talkS), true],
        [call.agentName || "—"],
        [call.dispositionCode || "—"],
      ]),
      h("td", {}, open),
    );
  });
}

async function showCallList(ctx, body, endpoint, params, name) {
  const path = `/api/tab/reports/${endpoint}?${query(params)}`;
  const rows = h("tbody");
  const more = h("button", { type: "button", class: "small", id: `${endpoint}-more`, hidden: true }, "Show more");
  let cursor = null;
  let timeZone = "UTC";
  const load = async () => {
    const page = await ctx.api.get(`${path}&limit=25${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    timeZone = page.timeZone;
    rows.append(...callRows(page.calls, timeZone));
    cursor = page.nextCursor;
    more.hidden = !cursor;
    if (!rows.children.length) rows.append(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No calls in this period.")));
  };
  more.addEventListener("click", () => load().catch((error) => toast(error.message, { error: true })));
  const headers = [["Ended"], ["Queue"], ["Caller"], ["Outcome"], ["Wait", true], ["Talk", true], ["Agent"], ["Disposition"], ["Call"]];
  replaceChildren(
    body,
    h("div", { class: "report-actions" }, h("p", { class: "muted" }, "Newest first"), csvButton(ctx, `${path}&format=csv`, name)),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: `${endpoint}-table` },
        h("caption", { class: "visually-hidden" }, name),
        h("thead", {}, h("tr", {}, headers.map(([label, numeric]) => h("th", { scope: "col", class: numeric ? "num" : null }, label)))),
        rows,
      ),
    ),
    more,
  );
  await load();
}

async function showTimeline(ctx, body, filters, agents) {
  const agentId = filters.agentId || ctx.me.agent?.id || agents[0]?.[0];
  if (!agentId) {
    replaceChildren(body, h("p", { class: "muted" }, "No agent to show."));
    return;
  }
  const day = filters.to || filters.from;
  const path = `/api/tab/reports/agents/${encodeURIComponent(agentId)}/timeline?${query({ day })}`;
  const data = await ctx.api.get(path);
  const stateName = (state) => FLOOR_STATES[state]?.[0] || state;
  const segments = data.segments.map((s) => ({
    state: s.state,
    stateLabel: stateName(s.state),
    start: new Date(s.start),
    end: new Date(s.end),
    label: `${clock(s.start, data.timeZone)}–${clock(s.end, data.timeZone)} ${s.queueName}`,
  }));
  const totals = {};
  const states = [];
  for (const interval of data.intervals) {
    let top = null;
    for (const [state, value] of Object.entries(interval.stateS)) {
      totals[state] = (totals[state] || 0) + value;
      if (value > 0 && (!top || value > top[1])) top = [state, value];
    }
    if (top) {
      const begins = new Date(interval.start);
      const ends = new Date(begins.getTime() + 15 * 60000);
      states.push({ state: top[0], stateLabel: `mostly ${stateName(top[0]).toLowerCase()}`, start: begins, end: ends, label: `${clock(interval.start, data.timeZone)}–${clock(ends.toISOString(), data.timeZone)}` });
    }
  }
  // Show the hours the agent worked (an hour either side), not the whole day.
  const dayStart = new Date(data.start);
  const dayEnd = new Date(data.end);
  const times = [...segments, ...states].flatMap((x) => [x.start.getTime(), x.end.getTime()]);
  const hour = 3600000;
  let from = dayStart;
  let to = dayEnd;
  if (times.length) {
    const first = dayStart.getTime() + Math.floor((Math.min(...times) - dayStart.getTime()) / hour) * hour - hour;
    const last = dayStart.getTime() + Math.ceil((Math.max(...times) - dayStart.getTime()) / hour) * hour + hour;
    from = new Date(Math.max(dayStart.getTime(), first));
    to = new Date(Math.min(dayEnd.getTime(), Math.max(last, first + 4 * hour)));
  }
  replaceChildren(
    body,
    h(
      "div",
      { class: "report-actions" },
      h("p", { class: "muted" }, `${data.agentName}, ${data.day} (${data.timeZone}). Calls and wrap-ups come from the call records; time by state from sampling every few seconds.`),
      csvButton(ctx, `${path}&format=csv`, `timeline-${data.day}`),
    ),
    h(
      "figure",
      { id: "agent-timeline" },
      timeline({
        title: `${data.agentName}'s day`,
        start: from,
        end: to,
        segments,
        states,
        hourLabel: (date) => clock(date.toISOString(), data.timeZone),
      }),
      h(
        "figcaption",
        { class: "timeline-legend" },
        ["on-call", "wrap-up", "available", "ringing", "not-ready"].map((state) => h("span", {}, h("span", { class: `swatch timeline-${state}`, "aria-hidden": "true" }), ` ${stateName(state)}`)),
        h("span", { class: "muted" }, "State: what most of each 15 minutes was spent on."),
      ),
    ),
    table(
      "timeline-states",
      "Time by state",
      [["State"], ["Time", true]],
      Object.keys(totals).length
        ? Object.entries(totals).map(([state, value]) => h("tr", { dataset: { state } }, cells([[stateName(state)], [seconds(value), true]])))
        : h("tr", {}, h("td", { colspan: 2, class: "muted" }, "No sampled time this day.")),
    ),
  );
}

// ------------------------------------------------------------------ the page
export function renderReports(root, ctx) {
  const roles = ctx.me.user.roles;
  const supervises = roles.includes("admin") || roles.includes("supervisor");
  const tabs = supervises ? SUPERVISOR_TABS : AGENT_TABS;
  const filters = { from: "", to: "", queueId: "", agentId: "", outcome: "", thresholdS: 20 };
  const body = h("div", { id: "report-body", class: "report-body" });
  let agents = [];

  const input = (id, label, attributes) => h("div", { class: "field" }, h("label", { for: id }, label), h("input", { id, ...attributes }));
  const queueSelect = h("select", { id: "report-queue" }, h("option", { value: "" }, "All my queues"));
  const agentSelect = h("select", { id: "report-agent" }, h("option", { value: "" }, "Every agent"));
  const outcomeSelect = h(
    "select",
    { id: "report-outcome" },
    h("option", { value: "" }, "Every outcome"),
    Object.entries(OUTCOME_LABELS).map(([value, label]) => h("option", { value }, label)),
  );
  const form = h(
    "form",
    { class: "report-filters", id: "report-filters" },
    input("report-from", "From", { type: "date", required: true }),
    input("report-to", "To", { type: "date", required: true }),
    supervises ? h("div", { class: "field" }, h("label", { for: "report-queue" }, "Queue"), queueSelect) : null,
    supervises ? h("div", { class: "field" }, h("label", { for: "report-agent" }, "Agent"), agentSelect) : null,
    h("div", { class: "field" }, h("label", { for: "report-outcome" }, "Outcome"), outcomeSelect),
    supervises ? input("report-threshold", "T (s)", { type: "number", min: 0, max: 600, value: "20" }) : null,
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Show")),
  );
  const links = tabs.map(([id, label]) => h("a", { href: `#${id}`, dataset: { report: id } }, label));
  replaceChildren(
    root,
    h(
      "section",
      { class: "card reports", "aria-labelledby": "reports-title" },
      h("header", {}, h("h1", { id: "reports-title" }, supervises ? "Reports" : "My reports")),
      form,
      h("nav", { class: "report-tabs", "aria-label": "Reports" }, h("ul", {}, links.map((a) => h("li", {}, a)))),
      body,
    ),
  );

  const current = () => (tabs.some(([id]) => `#${id}` === location.hash) ? location.hash.slice(1) : tabs[0][0]);
  const show = async () => {
    const id = current();
    for (const link of links) {
      if (link.dataset.report === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    replaceChildren(body, h("p", { class: "muted" }, "Loading…"));
    try {
      const base = { from: filters.from, to: filters.to, queueId: filters.queueId };
      if (id === "queues") await showQueues(ctx, body, filters);
      else if (id === "agents") await showAgents(ctx, body, filters);
      else if (id === "hourly") await showHourly(ctx, body, filters);
      else if (id === "abandoned") await showCallList(ctx, body, "abandoned", base, "abandoned-calls");
      else if (id === "calls") await showCallList(ctx, body, "calls", { ...base, agentId: filters.agentId, outcome: filters.outcome }, "calls");
      else await showTimeline(ctx, body, filters, agents);
      body.dataset.ready = id;
    } catch (error) {
      replaceChildren(body, h("div", { class: "message-bar error", role: "alert" }, error.message));
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    filters.from = form.querySelector("#report-from").value;
    filters.to = form.querySelector("#report-to").value;
    filters.queueId = supervises ? queueSelect.value : "";
    filters.agentId = supervises ? agentSelect.value : "";
    filters.outcome = outcomeSelect.value;
    filters.thresholdS = supervises ? Number(form.querySelector("#report-threshold").value || 20) : 20;
    show();
  });
  window.addEventListener("hashchange", show);
  // The tenant's today (and its agents) come from a first report with no dates.
  const setup = async () => {
    const first = await ctx.api.get("/api/tab/reports/agents");
    filters.to = first.to;
    filters.from = daysBefore(first.to, 6);
    form.querySelector("#report-from").value = filters.from;
    form.querySelector("#report-to").value = filters.to;
    agents = first.agents.map((r) => [r.agentId, r.agentName]);
    if (supervises) {
      agentSelect.append(...agents.map(([id, name]) => h("option", { value: id }, name)));
      const live = await ctx.api.get("/api/tab/queues/live");
      queueSelect.append(...live.queues.map((q) => h("option", { value: q.id }, q.name)));
    }
  };
  setup()
    .catch((error) => toast(error.message, { error: true }))
    .finally(show);
  return () => window.removeEventListener("hashchange", show);
}
