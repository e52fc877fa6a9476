// The wallboard: per queue, whether it is open, callers waiting, the longest wait, agents by
// state and today's numbers, with threshold alerts; every agent with their state and time in
// state; every waiting call with its wait and priority; live over /api/tab/wallboard/events.
// A full-screen mode for a TV (?view=wallboard&mode=tv, or the Full screen button) that fills
// the screen at any size; supervisors set the alert thresholds of their queues here.

import { h, replaceChildren, toast } from "./dom.js";
import { ALERT_LABELS, alertText, clock, count, percent, seconds } from "./format.js";
import { FLOOR_STATES, ServerClock, setText } from "./floor.js";
import { EventStream } from "./stream.js";

const CLOSED_LABELS = { closed: "After hours", holiday: "Holiday", "closed-now": "Closed now" };

const AGENT_STATES = [
  ["available", "Available", "state-available"],
  ["ringing", "Ringing", "state-ringing"],
  ["onCall", "On a call", "state-on-call"],
  ["wrapUp", "Wrap-up", "state-wrap-up"],
  ["notReady", "Not ready", "state-not-ready"],
  ["signedOut", "Signed out", "state-signed-out"],
];

function stat(name, value, label, { warn = false } = {}) {
  return h(
    "div",
    { class: warn ? "stat warn" : "stat", dataset: { stat: name } },
    h("div", { class: "stat-value" }, value),
    h("div", { class: "stat-label" }, label),
  );
}

/** A bar split by agent state, drawn with plain elements (widths in percent). */
function agentBar(agents) {
  const total = AGENT_STATES.reduce((sum, [key]) => sum + (agents[key] || 0), 0);
  return h(
    "div",
    { class: "agent-bar", role: "img", "aria-label": AGENT_STATES.map(([key, label]) => `${label} ${agents[key] || 0}`).join(", ") },
    total
      ? AGENT_STATES.filter(([key]) => agents[key]).map(([key, label, className]) =>
          h("span", { class: `agent-bar-part ${className}`, dataset: { share: String(agents[key] / total) }, title: `${label}: ${agents[key]}` }),
        )
      : null,
  );
}

function openBadge(queue) {
  const label = CLOSED_LABELS[queue.openState];
  if (!label) return h("span", { class: "board-open", dataset: { openState: "open" } }, "Open");
  const text = queue.openState === "holiday" && queue.holiday ? `${label}: ${queue.holiday}` : label;
  return h("span", { class: "board-open closed", dataset: { openState: queue.openState } }, text);
}

function queueTile(queue, timeZone) {
  const today = queue.today;
  const hasAlert = (kind) => queue.alerts.some((a) => a.kind === kind);
  const closed = queue.openState !== "open";
  const classes = ["board-tile", queue.alerts.length ? "alerting" : null, closed ? "closed" : null].filter(Boolean).join(" ");
  const tile = h(
    "li",
    { class: classes, dataset: { queueId: queue.id, openState: queue.openState }, "aria-labelledby": `board-${queue.id}` },
    h("div", { class: "board-tile-title" }, h("h2", { id: `board-${queue.id}` }, queue.name), openBadge(queue)),
    h(
      "div",
      { class: "board-live" },
      stat("waiting", count(queue.waiting + queue.ringing), "waiting", { warn: hasAlert("queue-length") }),
      stat("longest-wait", seconds(queue.longestWaitS), "longest wait", { warn: hasAlert("longest-wait") || queue.longestWaitS > queue.serviceLevelThresholdS }),
      stat("service-level", percent(today.serviceLevel), `answered in ${queue.serviceLevelThresholdS} s today`, { warn: hasAlert("service-level") }),
    ),
    h(
      "div",
      { class: "board-today" },
      stat("offered", count(today.offered), "offered"),
      stat("answered", count(today.answered), "answered"),
      stat("abandoned", count(today.abandoned), "abandoned"),
      stat("asa", seconds(today.asaS), "ASA"),
    ),
    agentBar(queue.agents),
    h(
      "ul",
      { class: "agent-states" },
      AGENT_STATES.map(([key, label, className]) =>
        h("li", { dataset: { state: key } }, h("span", { class: `swatch ${className}`, "aria-hidden": "true" }), `${label} `, h("strong", {}, String(queue.agents[key] || 0))),
      ),
    ),
  );
  for (const part of tile.querySelectorAll(".agent-bar-part")) part.style.flexGrow = part.dataset.share;
  return tile;
}

function agentList(board) {
  if (!board.agents.length) return h("p", { class: "muted" }, "No agents in these queues.");
  return h(
    "ul",
    { class: "board-agents" },
    board.agents.map((agent) => {
      const [label, className] = FLOOR_STATES[agent.state] || [agent.state, ""];
      const reason = agent.state === "not-ready" && agent.notReadyReason ? ` (${agent.notReadyReason})` : "";
      return h(
        "li",
        { class: "board-agent", dataset: { agentId: agent.id, state: agent.state } },
        h("span", { class: `swatch ${className}`, "aria-hidden": "true" }),
        h("span", { class: "board-agent-name" }, agent.displayName),
        h("span", { class: "board-agent-state" }, label, reason),
        h("span", { class: "board-agent-time", dataset: { since: agent.stateSince } }, ""),
      );
    }),
  );
}

function callList(board) {
  if (!board.calls.length) return h("p", { class: "board-calm", dataset: { calls: "0" } }, "Nobody is waiting.");
  return h(
    "table",
    { class: "board-calls", dataset: { calls: String(board.calls.length) } },
    h("thead", {}, h("tr", {}, [["Queue"], ["State"], ["Waiting", true], ["Priority", true]].map(([t, n]) => h("th", { scope: "col", class: n ? "num" : null }, t)))),
    h(
      "tbody",
      {},
      board.calls.map((call) =>
        h(
          "tr",
          { dataset: { callId: call.id, queueId: call.queueId } },
          h("th", { scope: "row" }, call.queueName),
          h("td", {}, call.state === "ringing" ? "Ringing an agent" : "Waiting"),
          h("td", { class: "num board-call-wait", dataset: { waited: String(call.waitedS) } }, seconds(call.waitedS)),
          h("td", { class: "num" }, String(call.priority)),
        ),
      ),
    ),
  );
}

function alertList(board) {
  if (!board.alerts.length) {
    return h("p", { class: "board-calm", dataset: { alerts: "0" } }, "No alerts.");
  }
  return h(
    "ul",
    { class: "board-alerts", dataset: { alerts: String(board.alerts.length) } },
    board.alerts.map((alert) =>
      h(
        "li",
        { class: "board-alert", dataset: { kind: alert.kind, queueId: alert.queueId } },
        h("strong", {}, ALERT_LABELS[alert.kind] || alert.kind),
        " — ",
        alertText(alert),
        h("span", { class: "muted" }, ` since ${clock(alert.raisedAt, board.timeZone)}`),
      ),
    ),
  );
}

function recentList(board) {
  if (!board.recentAlerts.length) return null;
  return h(
    "details",
    { class: "board-recent" },
    h("summary", {}, "Recent alerts"),
    h(
      "ul",
      {},
      board.recentAlerts.map((change) =>
        h("li", { dataset: { change: change.change, kind: change.alert.kind } }, `${clock(change.at, board.timeZone)} ${change.change}: ${alertText(change.alert)}`),
      ),
    ),
  );
}

function ruleForm(ctx, queue, rule, onSaved) {
  const id = (name) => `rule-${queue.id}-${name}`;
  const field = (name, label, value, attributes) =>
    h(
      "div",
      { class: "field" },
      h("label", { for: id(name) }, label),
      h("input", { id: id(name), name, type: "number", value: value === null || value === undefined ? "" : String(value), ...attributes }),
    );
  const form = h(
    "form",
    { class: "rule-form", dataset: { queueId: queue.id } },
    h("h3", {}, queue.name),
    rule?.default ? h("p", { class: "muted rule-default" }, `Defaults from the target of ${queue.serviceLevelThresholdS} s; saving replaces them.`) : null,
    field("serviceLevelBelow", "Service level below (%)", rule?.serviceLevelBelow === null || rule?.serviceLevelBelow === undefined ? null : Math.round(rule.serviceLevelBelow * 100), { min: 0, max: 100, step: 1 }),
    field("longestWaitAboveS", "Longest wait above (s)", rule?.longestWaitAboveS, { min: 0, max: 7200, step: 1 }),
    field("waitingAbove", "Callers waiting above", rule?.waitingAbove, { min: 0, max: 1000, step: 1 }),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary small" }, `Save ${queue.name} alerts`)),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (name) => {
      const text = form.elements[name].value.trim();
      return text === "" ? null : Number(text);
    };
    const level = value("serviceLevelBelow");
    try {
      await ctx.api.put(`/api/tab/wallboard/alert-rules/${encodeURIComponent(queue.id)}`, {
        serviceLevelBelow: level === null ? null : level / 100,
        longestWaitAboveS: value("longestWaitAboveS"),
        waitingAbove: value("waitingAbove"),
      });
      toast(`${queue.name} alerts saved`);
      onSaved();
    } catch (error) {
      toast(error.message, { error: true });
    }
  });
  return form;
}

async function showRules(ctx, panel, queues) {
  const { rules } = await ctx.api.get("/api/tab/wallboard/alert-rules");
  const byQueue = Object.fromEntries(rules.map((r) => [r.queueId, r]));
  const mine = queues.filter((q) => byQueue[q.id]);
  replaceChildren(
    panel,
    h("h2", {}, "Alert thresholds"),
    h("p", { class: "muted" }, "Leave a box empty to turn that alert off. Alerts show here, on every wallboard of the queue and on its live card in Teams channels."),
    mine.length ? h("div", { class: "rule-forms" }, mine.map((q) => ruleForm(ctx, q, byQueue[q.id], () => {}))) : h("p", {}, "You supervise no queue."),
  );
}

export function renderWallboard(root, ctx) {
  const params = new URLSearchParams(location.search);
  const supervises = ctx.me.user.roles.some((r) => r === "supervisor" || r === "admin");
  const status = h("span", { class: "board-status", role: "status" }, "Connecting…");
  const now = h("span", { class: "board-clock" });
  const alerts = h("div", { id: "wallboard-alerts", "aria-live": "polite" });
  const tiles = h("ul", { class: "board-tiles", id: "wallboard-queues" });
  const agents = h("div", { id: "wallboard-agents" });
  const calls = h("div", { id: "wallboard-calls" });
  const recent = h("div");
  const serverClock = new ServerClock();
  let receivedAt = Date.now();
  const rules = h("section", { class: "card board-rules", id: "alert-rules", hidden: true });
  const fullScreen = h("button", { type: "button", id: "board-full-screen" }, "Full screen");
  const rulesButton = supervises ? h("button", { type: "button", id: "board-rules-button", "aria-expanded": "false", "aria-controls": "alert-rules" }, "Alert settings") : null;
  let latest = null;

  const setTv = (on) => {
    document.body.classList.toggle("tv", on);
    fullScreen.textContent = on ? "Exit full screen" : "Full screen";
  };
  if (params.get("mode") === "tv") setTv(true);
  fullScreen.addEventListener("click", async () => {
    const on = !document.body.classList.contains("tv");
    setTv(on);
    try {
      if (on && document.documentElement.requestFullscreen) await document.documentElement.requestFullscreen();
      else if (!on && document.fullscreenElement) await document.exitFullscreen();
    } catch {
      // Full screen refused (inside Teams, say): the TV layout still applies.
    }
  });
  document.addEventListener("fullscreenchange", () => {
    if (!document.fullscreenElement && params.get("mode") !== "tv") setTv(false);
  });
  rulesButton?.addEventListener("click", async () => {
    const open = rules.hidden;
    rules.hidden = !open;
    rulesButton.setAttribute("aria-expanded", String(open));
    if (open && latest) {
      try {
        await showRules(ctx, rules, latest.queues);
      } catch (error) {
        replaceChildren(rules, h("p", { role: "alert" }, error.message));
      }
    }
  });

  replaceChildren(
    root,
    h(
      "section",
      { class: "card wallboard-card", "aria-labelledby": "wallboard-title" },
      h("header", { class: "board-header" }, h("h1", { id: "wallboard-title" }, "Wallboard"), now, status, h("div", { class: "board-buttons" }, rulesButton, fullScreen)),
      alerts,
      h(
        "div",
        { class: "board-body" },
        tiles,
        h(
          "div",
          { class: "board-floor" },
          h("section", { class: "board-panel", "aria-labelledby": "board-calls-title" }, h("h2", { id: "board-calls-title" }, "Waiting calls"), calls),
          h("section", { class: "board-panel", "aria-labelledby": "board-agents-title" }, h("h2", { id: "board-agents-title" }, "Agents"), agents),
        ),
      ),
      recent,
    ),
    rules,
  );

  // Time in state and waits count on between updates, on the server's clock.
  const tick = () => {
    for (const cell of agents.querySelectorAll(".board-agent-time")) setText(cell, seconds(serverClock.secondsSince(cell.dataset.since)));
    const since = (Date.now() - receivedAt) / 1000;
    for (const cell of calls.querySelectorAll(".board-call-wait")) setText(cell, seconds(Number(cell.dataset.waited) + since));
  };
  const ticker = setInterval(tick, 1000);

  const render = (board) => {
    latest = board;
    serverClock.sync(board.at);
    receivedAt = Date.now();
    root.dataset.updated = board.at;
    now.textContent = clock(board.at, board.timeZone);
    replaceChildren(alerts, alertList(board));
    if (!board.queues.length) {
      replaceChildren(tiles, h("li", { class: "muted" }, "No queues to show."));
    } else {
      replaceChildren(tiles, board.queues.map((q) => queueTile(q, board.timeZone)));
    }
    replaceChildren(agents, agentList(board));
    replaceChildren(calls, callList(board));
    replaceChildren(recent, recentList(board));
    tick();
  };

  ctx.api.get("/api/tab/wallboard").then(render, (error) => replaceChildren(tiles, h("li", {}, error.message)));
  const stream = new EventStream(
    ctx.session,
    "/api/tab/wallboard/events",
    (event, data) => {
      if (event === "wallboard") render(data);
    },
    (connected) => {
      status.textContent = connected ? "Live" : "Reconnecting…";
      status.classList.toggle("offline", !connected);
    },
  ).start();
  return () => {
    clearInterval(ticker);
    stream.stop();
  };
}
