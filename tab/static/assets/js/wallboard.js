// The wallboard: per queue, callers waiting, the longest wait, agents by state and today's
// numbers, with threshold alerts; live over /api/tab/wallboard/events. A full-screen mode
// for a TV (?view=wallboard&mode=tv, or the Full screen button); supervisors set the
// alert thresholds of their queues here.

import { h, replaceChildren, toast } from "./dom.js";
import { ALERT_LABELS, alertText, clock, count, percent, seconds } from "./format.js";
import { EventStream } from "./stream.js";

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

function queueTile(queue, timeZone) {
  const today = queue.today;
  const hasAlert = (kind) => queue.alerts.some((a) => a.kind === kind);
  const tile = h(
    "li",
    { class: queue.alerts.length ? "board-tile alerting" : "board-tile", dataset: { queueId: queue.id }, "aria-labelledby": `board-${queue.id}` },
    h("h2", { id: `board-${queue.id}` }, queue.name),
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
    h("p", { class: "muted" }, "Leave a box empty to turn that alert off. Alerts show here and on every wallboard of the queue."),
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
  const recent = h("div");
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
      tiles,
      recent,
    ),
    rules,
  );

  const render = (board) => {
    latest = board;
    root.dataset.updated = board.at;
    now.textContent = clock(board.at, board.timeZone);
    replaceChildren(alerts, alertList(board));
    if (!board.queues.length) {
      replaceChildren(tiles, h("li", { class: "muted" }, "No queues to show."));
    } else {
      replaceChildren(tiles, board.queues.map((q) => queueTile(q, board.timeZone)));
    }
    replaceChildren(recent, recentList(board));
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
  return () => stream.stop();
}
