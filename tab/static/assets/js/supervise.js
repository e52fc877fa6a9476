// Supervision: my queues' agents (status, time in state, sign in and out of queues), waiting
// calls (move to another queue, raise the priority) and the closed-now switch of my queues
// and IVRs. Rows are kept by id and updated in place, so a click never lands on a row that
// was just redrawn; every action is confirmed first and its result shown. Every action is
// audited by the server.

import { segment } from "./api.js";
import { STATUS_LABELS, h, replaceChildren, toast } from "./dom.js";
import { seconds } from "./format.js";
import { CLOSED_NOW_HINT, mountClosedNow } from "./closed_now.js";
import { FLOOR_STATES, ServerClock, confirmAction, setText } from "./floor.js";

function callerName(call) {
  return call.caller.displayName || call.caller.id || "anonymous";
}

/** Keep a table body's rows in the order of ``items``, adding, updating and removing by id. */
function syncRows(body, rows, items, make, update) {
  const wanted = new Set(items.map((item) => item.id));
  for (const [id, row] of rows) {
    if (!wanted.has(id)) {
      row.element.remove();
      rows.delete(id);
    }
  }
  items.forEach((item, index) => {
    let row = rows.get(item.id);
    if (!row) {
      row = make(item);
      rows.set(item.id, row);
    }
    update(row, item);
    if (body.children[index] !== row.element) body.insertBefore(row.element, body.children[index] || null);
  });
}

/** Run a supervisor's action after a confirmation; toast its result; then reload. */
async function confirmed(question, run, done, reload) {
  if (!(await confirmAction(question))) return false;
  try {
    await run();
    toast(done);
  } catch (error) {
    toast(error.message, { error: true });
  }
  reload();
  return true;
}

function agentRow(ctx, reload) {
  const row = { agent: null, buttons: new Map() };
  const status = h("select", {}, Object.entries(STATUS_LABELS).map(([value, label]) => h("option", { value }, label)));
  status.addEventListener("change", async () => {
    const agent = row.agent;
    const chosen = status.value;
    const ok = await confirmed(
      { title: `Set ${agent.displayName} to ${STATUS_LABELS[chosen]}?`, detail: `${agent.displayName} is ${STATUS_LABELS[agent.status]} now.`, confirmLabel: `Set ${STATUS_LABELS[chosen]}` },
      () => ctx.api.post(`/api/tab/supervision/agents/${segment(agent.id)}/status`, { status: chosen, reason: null }),
      `${agent.displayName}: ${STATUS_LABELS[chosen]}`,
      reload,
    );
    if (!ok) status.value = agent.status;
  });
  row.name = h("th", { scope: "row" }, "");
  row.status = status;
  row.swatch = h("span", { class: "swatch", "aria-hidden": "true" });
  row.state = h("span", {}, "");
  row.reason = h("span", { class: "muted" }, "");
  row.since = h("td", { class: "num", dataset: { stateSince: "" } }, "");
  row.queues = h("div", { class: "queue-buttons" });
  row.element = h("tr", {}, row.name, h("td", {}, status), h("td", {}, row.swatch, row.state, row.reason), row.since, h("td", {}, row.queues));
  row.queueButton = (queue) => {
    const button = h("button", { type: "button", dataset: { queueId: queue.id } }, "");
    button.addEventListener("click", async () => {
      const agent = row.agent;
      const signedIn = agent.signedInQueueIds.includes(queue.id);
      const verb = signedIn ? "sign-out" : "sign-in";
      button.disabled = true;
      await confirmed(
        { title: `Sign ${agent.displayName} ${signedIn ? "out of" : "in to"} ${queue.name}?`, confirmLabel: signedIn ? "Sign out" : "Sign in" },
        () => ctx.api.post(`/api/tab/supervision/agents/${segment(agent.id)}/queues/${segment(queue.id)}/${verb}`),
        `${agent.displayName} signed ${signedIn ? "out of" : "in to"} ${queue.name}`,
        reload,
      );
      button.disabled = false;
    });
    return button;
  };
  return row;
}

function updateAgentRow(row, agent, queues) {
  row.agent = agent;
  if (row.element.dataset.agentId !== agent.id) row.element.dataset.agentId = agent.id;
  setText(row.name, agent.displayName);
  const label = `Status of ${agent.displayName}`;
  if (row.status.getAttribute("aria-label") !== label) {
    row.status.setAttribute("aria-label", label);
    row.status.id = `status-${agent.id}`;
  }
  if (document.activeElement !== row.status && row.status.value !== agent.status) row.status.value = agent.status;
  const [stateLabel, stateClass] = FLOOR_STATES[agent.state] || [agent.state, ""];
  const swatchClass = `swatch ${stateClass}`;
  if (row.swatch.className !== swatchClass) row.swatch.className = swatchClass;
  setText(row.state, stateLabel);
  setText(row.reason, agent.notReadyReason && agent.state === "not-ready" ? ` (${agent.notReadyReason})` : "");
  if (row.since.dataset.stateSince !== agent.stateSince) row.since.dataset.stateSince = agent.stateSince;
  const mine = queues.filter((q) => agent.memberOf.includes(q.id));
  for (const [id, button] of row.buttons) {
    if (!mine.some((q) => q.id === id)) {
      button.remove();
      row.buttons.delete(id);
    }
  }
  for (const queue of mine) {
    let button = row.buttons.get(queue.id);
    if (!button) {
      button = row.queueButton(queue);
      row.buttons.set(queue.id, button);
      row.queues.append(button);
    }
    const signedIn = agent.signedInQueueIds.includes(queue.id);
    setText(button, `${signedIn ? "Sign out of" : "Sign in to"} ${queue.name}`);
    const className = signedIn ? "small" : "small subtle";
    if (button.className !== className) button.className = className;
    if (button.getAttribute("aria-pressed") !== String(signedIn)) button.setAttribute("aria-pressed", String(signedIn));
  }
}

function callRow(ctx, reload) {
  const row = { call: null, queues: [] };
  row.target = h("select", { "aria-label": "Move to queue" });
  row.move = h("button", { type: "button", class: "small" }, "Move");
  row.raise = h("button", { type: "button", class: "small" }, "Raise priority");
  row.move.addEventListener("click", async () => {
    const call = row.call;
    const target = row.queues.find((q) => q.id === row.target.value);
    if (!target) return;
    await confirmed(
      { title: `Move ${callerName(call)} to ${target.name}?`, detail: `The caller keeps their place: waiting since they called, priority ${call.priority}.`, confirmLabel: "Move" },
      () => ctx.api.post(`/api/tab/supervision/calls/${segment(call.id)}/move`, { queueId: target.id }),
      `${callerName(call)} moved to ${target.name}`,
      reload,
    );
  });
  row.raise.addEventListener("click", async () => {
    const call = row.call;
    const priority = Math.min(10, call.priority + 1);
    await confirmed(
      { title: `Raise ${callerName(call)} to priority ${priority}?`, detail: "Higher priorities are answered first.", confirmLabel: "Raise priority" },
      () => ctx.api.post(`/api/tab/supervision/calls/${segment(call.id)}/priority`, { priority }),
      `${callerName(call)}: priority ${priority}`,
      reload,
    );
  });
  row.caller = h("th", { scope: "row" }, "");
  row.queue = h("td", {}, "");
  row.state = h("td", {}, "");
  row.waited = h("td", { class: "num", dataset: { offeredAt: "" } }, "");
  row.priority = h("td", { class: "num" }, "");
  row.element = h("tr", {}, row.caller, row.queue, row.state, row.waited, row.priority, h("td", {}, h("div", { class: "queue-buttons" }, row.target, row.move, row.raise)));
  return row;
}

function setDisabled(button, disabled) {
  if (button.disabled !== disabled) button.disabled = disabled;
}

function updateCallRow(row, call, queues) {
  row.call = call;
  if (row.element.dataset.callId !== call.id) row.element.dataset.callId = call.id;
  setText(row.caller, callerName(call));
  setText(row.queue, call.queueName);
  setText(row.state, call.state === "ringing" ? "Ringing an agent" : "Waiting");
  if (row.waited.dataset.offeredAt !== call.offeredAt) row.waited.dataset.offeredAt = call.offeredAt || "";
  setText(row.priority, String(call.priority));
  const others = queues.filter((q) => q.id !== call.queueId);
  const key = others.map((q) => q.id).join(" ");
  if (row.targetKey !== key) {
    const kept = row.target.value;
    replaceChildren(row.target, others.map((q) => h("option", { value: q.id, selected: q.id === kept }, q.name)));
    row.targetKey = key;
    row.target.hidden = row.move.hidden = !others.length;
  }
  if (row.target.id !== `move-${call.id}`) row.target.id = `move-${call.id}`;
  row.queues = others;
  setDisabled(row.move, !others.length || call.state !== "waiting");
  setDisabled(row.raise, call.priority >= 10 || call.state !== "waiting");
}

export function renderSupervise(root, ctx) {
  const agentsBody = h("tbody");
  const callsBody = h("tbody");
  const nobody = h("tr", { class: "empty-row" }, h("td", { colspan: 6, class: "muted" }, "Nobody is waiting."));
  const problem = h("p", { role: "alert", hidden: true });
  const closedNow = h("div", { id: "supervise-closed-now" });
  replaceChildren(
    root,
    h(
      "section",
      { class: "card supervise", "aria-labelledby": "supervise-title" },
      h("header", {}, h("h1", { id: "supervise-title" }, "Supervise")),
      problem,
      h("h2", {}, "Agents"),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "supervise-agents" },
          h("thead", {}, h("tr", {}, [["Agent"], ["Status"], ["Doing"], ["For", true], ["Queues"]].map(([t, n]) => h("th", { scope: "col", class: n ? "num" : null }, t)))),
          agentsBody,
        ),
      ),
      h("h2", {}, "Waiting calls"),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "supervise-calls" },
          h("thead", {}, h("tr", {}, [["Caller"], ["Queue"], ["State"], ["Waited", true], ["Priority", true], ["Actions"]].map(([t, n]) => h("th", { scope: "col", class: n ? "num" : null }, t)))),
          callsBody,
          h("tbody", {}, nobody),
        ),
      ),
      h("h2", {}, "Closed now"),
      h("p", { class: "muted" }, CLOSED_NOW_HINT),
      closedNow,
    ),
  );
  let refreshClosedNow = null;
  const showClosedNowError = (error) => replaceChildren(closedNow, h("p", { role: "alert" }, error.message));
  mountClosedNow(closedNow, ctx)
    .then((refresh) => {
      refreshClosedNow = refresh;
    })
    .catch(showClosedNowError);

  const clock = new ServerClock();
  const agentRows = new Map();
  const callRows = new Map();
  const tick = () => {
    for (const row of agentRows.values()) setText(row.since, seconds(clock.secondsSince(row.since.dataset.stateSince)));
    for (const row of callRows.values()) setText(row.waited, seconds(clock.secondsSince(row.waited.dataset.offeredAt)));
  };
  let loading = null;
  const reload = () => {
    loading ??= ctx.api
      .get("/api/tab/supervision")
      .then((view) => {
        clock.sync(view.at);
        syncRows(agentsBody, agentRows, view.agents, () => agentRow(ctx, reload), (row, agent) => updateAgentRow(row, agent, view.queues));
        syncRows(callsBody, callRows, view.calls, () => callRow(ctx, reload), (row, call) => updateCallRow(row, call, view.queues));
        if (nobody.hidden !== view.calls.length > 0) nobody.hidden = view.calls.length > 0;
        if (!problem.hidden) problem.hidden = true;
        tick();
        root.dataset.loaded = view.at;
      })
      .catch((error) => {
        setText(problem, error.message);
        problem.hidden = false;
      })
      .finally(() => {
        loading = null;
      });
    return loading;
  };
  const ticker = setInterval(tick, 1000);
  ctx.onLive((event) => {
    if (event !== "queues") return;
    reload();
    // Another supervisor may have switched one; keep the panel as it is while it is in use.
    if (refreshClosedNow && !closedNow.contains(document.activeElement)) refreshClosedNow().catch(showClosedNowError);
  });
  reload();
  return () => clearInterval(ticker);
}
