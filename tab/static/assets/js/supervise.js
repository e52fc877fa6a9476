// Supervision: my queues' agents (status, sign in and out of queues), waiting calls (move to
// another queue, raise the priority) and the closed-now switch of my queues and IVRs. Every
// action is audited by the server.

import { segment } from "./api.js";
import { ACTIVITY_LABELS, STATUS_LABELS, h, replaceChildren, toast } from "./dom.js";
import { seconds } from "./format.js";
import { CLOSED_NOW_HINT, mountClosedNow } from "./closed_now.js";

function agentRow(ctx, agent, queues, reload) {
  const status = h(
    "select",
    { id: `status-${agent.id}`, "aria-label": `Status of ${agent.displayName}` },
    Object.entries(STATUS_LABELS).map(([value, label]) => h("option", { value, selected: value === agent.status }, label)),
  );
  status.addEventListener("change", async () => {
    try {
      await ctx.api.post(`/api/tab/supervision/agents/${segment(agent.id)}/status`, { status: status.value, reason: null });
      toast(`${agent.displayName}: ${STATUS_LABELS[status.value]}`);
    } catch (error) {
      toast(error.message, { error: true });
    }
    reload();
  });
  const queueButtons = queues
    .filter((q) => agent.memberOf.includes(q.id))
    .map((queue) => {
      const signedIn = agent.signedInQueueIds.includes(queue.id);
      const verb = signedIn ? "sign-out" : "sign-in";
      const button = h(
        "button",
        { type: "button", class: signedIn ? "small" : "small subtle", "aria-pressed": String(signedIn), dataset: { queueId: queue.id } },
        `${signedIn ? "Sign out of" : "Sign in to"} ${queue.name}`,
      );
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await ctx.api.post(`/api/tab/supervision/agents/${segment(agent.id)}/queues/${segment(queue.id)}/${verb}`);
        } catch (error) {
          toast(error.message, { error: true });
        }
        reload();
      });
      return button;
    });
  return h(
    "tr",
    { dataset: { agentId: agent.id } },
    h("th", { scope: "row" }, agent.displayName),
    h("td", {}, status),
    h("td", {}, ACTIVITY_LABELS[agent.activity] || agent.activity, agent.notReadyReason ? h("span", { class: "muted" }, ` (${agent.notReadyReason})`) : null),
    h("td", {}, h("div", { class: "queue-buttons" }, queueButtons)),
  );
}

function callRow(ctx, call, queues, reload) {
  const others = queues.filter((q) => q.id !== call.queueId);
  const target = h(
    "select",
    { id: `move-${call.id}`, "aria-label": "Move to queue" },
    others.map((q) => h("option", { value: q.id }, q.name)),
  );
  const move = h("button", { type: "button", class: "small", disabled: !others.length || call.state !== "waiting" }, "Move");
  move.addEventListener("click", async () => {
    try {
      await ctx.api.post(`/api/tab/supervision/calls/${segment(call.id)}/move`, { queueId: target.value });
      toast("Call moved");
    } catch (error) {
      toast(error.message, { error: true });
    }
    reload();
  });
  const raise = h("button", { type: "button", class: "small", disabled: call.priority >= 10 || call.state !== "waiting" }, "Raise priority");
  raise.addEventListener("click", async () => {
    try {
      await ctx.api.post(`/api/tab/supervision/calls/${segment(call.id)}/priority`, { priority: Math.min(10, call.priority + 1) });
    } catch (error) {
      toast(error.message, { error: true });
    }
    reload();
  });
  return h(
    "tr",
    { dataset: { callId: call.id } },
    h("th", { scope: "row" }, call.caller.displayName || call.caller.id || "anonymous"),
    h("td", {}, call.queueName),
    h("td", {}, call.state === "ringing" ? "Ringing an agent" : "Waiting"),
    h("td", { class: "num" }, seconds(call.waitedS)),
    h("td", { class: "num" }, String(call.priority)),
    h("td", {}, h("div", { class: "queue-buttons" }, others.length ? [target, move] : null, raise)),
  );
}

export function renderSupervise(root, ctx) {
  const agentsBody = h("tbody");
  const callsBody = h("tbody");
  const closedNow = h("div", { id: "supervise-closed-now" });
  replaceChildren(
    root,
    h(
      "section",
      { class: "card supervise", "aria-labelledby": "supervise-title" },
      h("header", {}, h("h1", { id: "supervise-title" }, "Supervise")),
      h("h2", {}, "Agents"),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "supervise-agents" },
          h("thead", {}, h("tr", {}, ["Agent", "Status", "Doing", "Queues"].map((t) => h("th", { scope: "col" }, t)))),
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
  let loading = null;
  const reload = () => {
    loading ??= ctx.api
      .get("/api/tab/supervision")
      .then((view) => {
        replaceChildren(agentsBody, view.agents.map((a) => agentRow(ctx, a, view.queues, reload)));
        replaceChildren(
          callsBody,
          view.calls.length ? view.calls.map((c) => callRow(ctx, c, view.queues, reload)) : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "Nobody is waiting.")),
        );
        root.dataset.loaded = view.at;
      })
      .catch((error) => replaceChildren(callsBody, h("tr", {}, h("td", { colspan: 6, role: "alert" }, error.message))))
      .finally(() => {
        loading = null;
      });
    return loading;
  };
  ctx.onLive((event) => {
    if (event !== "queues") return;
    reload();
    // Another supervisor may have switched one; keep the panel as it is while it is in use.
    if (refreshClosedNow && !closedNow.contains(document.activeElement)) refreshClosedNow().catch(showClosedNowError);
  });
  reload();
}
