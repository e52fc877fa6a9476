// The call at hand in the agent workspace: who is calling, from which queue, how long they
// waited, the talk timer, this caller's last calls, and handing the call to another queue
// or another agent.

import { segment } from "./api.js";
import { duration, h, replaceChildren, toast } from "./dom.js";
import { OUTCOME_LABELS, timeElement } from "./format.js";

export const HOLD_NOT_MEASURED = "Microsoft Graph does not tell when an agent puts a call the bot hosts on hold.";

export const partyName = (party) => party.displayName || party.id || "Anonymous caller";

/** The caller's number, when it is not already their name. */
export const partyNumber = (party) => (party.kind === "phone" && party.id !== partyName(party) ? party.id : "");

function fact(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

/** The caller's last few calls (their number or Teams user id), loaded once per call. */
export function callerHistory(ctx, callId) {
  const body = h("div", { class: "caller-history" }, h("p", { class: "muted" }, "Loading this caller's calls…"));
  const section = h("section", { class: "panel-section", "aria-labelledby": `history-${callId}` }, h("h3", { class: "section-subtitle", id: `history-${callId}` }, "This caller's recent calls"), body);
  ctx.api
    .get(`/api/tab/me/calls/${segment(callId)}/caller-history`)
    .then(({ calls }) => {
      if (!calls.length) {
        replaceChildren(body, h("p", { class: "muted" }, "No earlier calls in the last 30 days."));
        return;
      }
      replaceChildren(
        body,
        h(
          "ul",
          { class: "history-list" },
          calls.map((c) =>
            h(
              "li",
              {},
              h("div", {}, timeElement(c.endedAt, { withDate: true }), " ", h("span", { class: "badge brand" }, c.queueName), " ", h("span", { class: "badge" }, OUTCOME_LABELS[c.outcome] || c.outcome)),
              h(
                "div",
                { class: "muted" },
                c.agentName ? `With ${c.agentName}` : "Not answered",
                c.dispositionCode ? ` · ${c.dispositionCode}` : "",
              ),
              c.dispositionNote ? h("p", { class: "history-note" }, c.dispositionNote) : null,
            ),
          ),
        ),
      );
    })
    .catch((error) => replaceChildren(body, h("p", { class: "muted" }, `Earlier calls could not be loaded: ${error.message}`)));
  return section;
}

/**
 * The panel of the call I am on; ``update(call)`` shows a transfer being rung without
 * rebuilding the panel (so nothing being chosen is lost).
 */
export function inCallPanel(ctx, call, { onMe }) {
  const transferState = h("p", { class: "transfer-state", role: "status", "aria-live": "polite" });
  const queueSelect = h("select", { id: "transfer-queue", name: "queue" }, h("option", { value: "" }, "Loading queues…"));
  const agentSelect = h("select", { id: "transfer-agent", name: "agent" }, h("option", { value: "" }, "Loading agents…"));
  const toQueue = h("button", { type: "button", "data-focus-key": "transfer-queue" }, "Transfer");
  const toAgent = h("button", { type: "button", "data-focus-key": "transfer-agent" }, "Transfer");
  const number = partyNumber(call.caller);

  async function transfer(button, body, done) {
    button.disabled = true;
    try {
      onMe(await ctx.api.post(`/api/tab/me/calls/${segment(call.callId)}/transfer`, body));
      toast(done);
    } catch (error) {
      toast(error.message, { error: true });
    } finally {
      button.disabled = false;
    }
  }

  toQueue.addEventListener("click", () => {
    if (!queueSelect.value) return queueSelect.focus();
    const name = queueSelect.selectedOptions[0].textContent;
    transfer(toQueue, { queueId: queueSelect.value }, `Transferred to ${name}: the caller is first in line there`);
  });
  toAgent.addEventListener("click", () => {
    if (!agentSelect.value) return agentSelect.focus();
    const name = agentSelect.selectedOptions[0].dataset.name;
    transfer(toAgent, { agentId: agentSelect.value }, `Ringing ${name}: you stay on the call until they answer`);
  });

  ctx.api
    .get("/api/tab/me/transfer-targets")
    .then(({ queues, agents }) => {
      const others = queues.filter((q) => q.id !== call.queueId);
      replaceChildren(queueSelect, h("option", { value: "" }, "Choose a queue"), others.map((q) => h("option", { value: q.id }, q.name)));
      replaceChildren(
        agentSelect,
        h("option", { value: "" }, "Choose an agent"),
        agents.map((a) => h("option", { value: a.id, disabled: !a.free, dataset: { name: a.name } }, a.free ? a.name : `${a.name} (busy)`)),
      );
    })
    .catch((error) => {
      replaceChildren(queueSelect, h("option", { value: "" }, "Queues could not be loaded"));
      replaceChildren(agentSelect, h("option", { value: "" }, "Agents could not be loaded"));
      toast(error.message, { error: true });
    });

  const element = h(
    "div",
    { class: "in-call", dataset: { callId: call.callId } },
    h("p", { class: "call-title" }, partyName(call.caller)),
    h(
      "dl",
      { class: "call-facts" },
      number ? fact("Number", number) : null,
      fact("Queue", call.queueName),
      fact("Waited", duration(call.waitS)),
      fact("Answered", timeElement(call.answeredAt)),
      fact("Talking", h("span", { class: "countdown", id: "talk-timer", dataset: { since: call.answeredAt || "" } }, "0:00")),
      fact("Hold", h("span", { title: `Not measured: ${HOLD_NOT_MEASURED}` }, "Not measured")),
    ),
    h(
      "section",
      { class: "panel-section transfer", "aria-labelledby": "transfer-title" },
      h("h3", { class: "section-subtitle", id: "transfer-title" }, "Transfer"),
      h("div", { class: "transfer-row" }, h("label", { for: "transfer-queue" }, "To a queue"), queueSelect, toQueue),
      h("div", { class: "transfer-row" }, h("label", { for: "transfer-agent" }, "To an agent"), agentSelect, toAgent),
      transferState,
    ),
    callerHistory(ctx, call.callId),
  );

  function update(next) {
    const pending = next.transfer;
    toQueue.disabled = Boolean(pending);
    toAgent.disabled = Boolean(pending);
    replaceChildren(
      transferState,
      pending
        ? [`Ringing ${pending.agentName || "the agent"}: `, h("span", { class: "countdown", dataset: { until: pending.expiresAt } }, ""), " left. You stay on the call until they answer."]
        : null,
    );
  }
  update(call);
  return { element, callId: call.callId, update, transferring: () => Boolean(call.transfer) };
}
