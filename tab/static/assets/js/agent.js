// The agent workspace: my status, my current call or offer, my queues, live queue tiles,
// my recent calls.

import { segment } from "./api.js";
import { inCallPanel, partyName } from "./callpanel.js";
import { ACTIVITY_LABELS, duration, h, replaceChildren, STATUS_LABELS, toast } from "./dom.js";
import { setTenantTimeZone } from "./format.js";
import { renderTiles } from "./tiles.js";
import { mountVoicemails } from "./voicemail.js";
import { mountWork } from "./work.js";


/** Keep keyboard focus on the "same" control when a list is rebuilt. */
function keepFocus(container, rebuild) {
  const key = document.activeElement?.dataset?.focusKey;
  rebuild();
  if (key) container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

export function renderAgent(root, ctx) {
  let me = ctx.me;
  let clockOffset = Date.parse(me.serverTime) - Date.now();
  let lastOfferId = null;
  let lastActivity = me.agent?.activity;
  // The panel of the call I am on (kept while the call is the same), and its transfer.
  let callPanel = null;
  let lastTransfer = null;

  const statusBody = h("div");
  const callBody = h("div");
  const queuesBody = h("div");
  const tilesBody = h("div");
  const callsBody = h("div");
  const announcer = h("div", { class: "visually-hidden", "aria-live": "assertive", "aria-atomic": "true" });

  const statusSelect = h(
    "select",
    { id: "status-select", name: "status" },
    Object.entries(STATUS_LABELS).map(([value, label]) => h("option", { value }, label)),
  );
  // The organization's not-ready reasons (GET /api/tab/me): the only ones the API accepts.
  const reasonInput = h("select", { id: "status-reason", name: "reason", "aria-describedby": "status-reason-hint" });
  const showReasons = (reasons) => {
    const chosen = reasonInput.value;
    replaceChildren(reasonInput, [h("option", { value: "" }, "No reason"), ...reasons.map((r) => h("option", { value: r }, r))]);
    reasonInput.value = reasons.includes(chosen) ? chosen : "";
  };
  showReasons(me.notReadyReasons || []);
  const statusForm = h(
    "form",
    { class: "status-form", "aria-label": "Change my status" },
    h("div", { class: "field" }, h("label", { for: "status-select" }, "Status"), statusSelect),
    h(
      "div",
      { class: "field" },
      h("label", { for: "status-reason" }, "Reason"),
      reasonInput,
      h("span", { class: "hint", id: "status-reason-hint" }, "Why you are not ready (optional)"),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Set status")),
  );
  statusForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = statusForm.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const status = statusSelect.value;
      const reason = status === "available" ? null : reasonInput.value || null;
      update(await ctx.api.post("/api/tab/me/status", { status, reason }));
      toast(`Status set to ${STATUS_LABELS[status]}`);
    } catch (error) {
      toast(error.message, { error: true });
    } finally {
      button.disabled = false;
    }
  });
  statusSelect.addEventListener("change", syncReason);

  function syncReason() {
    reasonInput.disabled = statusSelect.value === "available";
  }

  function syncForm() {
    const agent = me.agent;
    if (!agent || statusForm.contains(document.activeElement)) return;
    statusSelect.value = agent.status;
    if (agent.notReadyReason && ![...reasonInput.options].some((o) => o.value === agent.notReadyReason)) {
      // A reason set before the organization's list changed: still shown as it is.
      reasonInput.append(h("option", { value: agent.notReadyReason }, agent.notReadyReason));
    }
    reasonInput.value = agent.notReadyReason || "";
    syncReason();
  }

  function renderStatus() {
    const agent = me.agent;
    if (!agent) {
      replaceChildren(statusBody, h("p", { class: "muted" }, "You have no agent profile: ask an admin to make you an agent."));
      statusForm.hidden = true;
      return;
    }
    statusForm.hidden = false;
    replaceChildren(
      statusBody,
      h(
        "div",
        { class: "status-line" },
        h("span", { class: `dot ${agent.status}`, "aria-hidden": "true" }),
        h("span", { id: "my-status" }, STATUS_LABELS[agent.status] || agent.status),
        agent.notReadyReason ? h("span", { class: "muted" }, `· ${agent.notReadyReason}`) : null,
        h("span", { class: "badge", id: "my-activity" }, ACTIVITY_LABELS[agent.activity] || agent.activity),
      ),
      agent.hasSeat
        ? null
        : h("div", { class: "message-bar warning", role: "note" }, "You have no seat, so no calls are offered to you. Ask an admin for one."),
    );
    syncForm();
  }

  async function act(button, path, success) {
    button.disabled = true;
    try {
      update(await ctx.api.post(path));
      if (success) toast(success);
    } catch (error) {
      toast(error.message, { error: true });
      button.disabled = false;
    }
  }

  function renderOffer(offer) {
    const caller = partyName(offer.caller);
    if (offer.callId !== lastOfferId) {
      announcer.textContent = `Incoming call from ${caller}, queue ${offer.queueName}`;
    }
    lastOfferId = offer.callId;
    const base = `/api/tab/me/offers/${segment(offer.callId)}`;
    const accept = h("button", { type: "button", class: "primary", "data-focus-key": "accept" }, "Accept");
    accept.addEventListener("click", () => act(accept, `${base}/accept`, "Accepted: answer in Teams"));
    const decline = h("button", { type: "button", class: offer.cardFirst ? "" : "danger", "data-focus-key": "decline" }, "Decline");
    decline.addEventListener("click", () => act(decline, `${base}/decline`, "Declined"));
    let hint;
    if (offer.cardFirst && !offer.accepted) hint = "Accept to ring your Teams client.";
    else if (offer.accepted) hint = "Your Teams client is ringing: answer there.";
    else hint = "Your Teams client is ringing: answer there, or decline here.";
    keepFocus(callBody, () =>
      replaceChildren(
        callBody,
        h("p", { class: "call-title" }, caller),
        h("p", {}, h("span", { class: "badge brand" }, offer.queueName), " ", h("span", { class: "muted" }, "waiting "), h("span", { class: "countdown", dataset: { since: offer.offeredAt || "" } }, "0:00")),
        h("p", { class: "muted" }, hint, " Offer ends in ", h("span", { class: "countdown", dataset: { until: offer.expiresAt } }, ""), "."),
        h("div", { class: "form-actions" }, offer.cardFirst && !offer.accepted ? accept : null, decline),
      ),
    );
  }

  function renderOnCall(call) {
    if (callPanel?.callId !== call.callId) {
      callPanel = inCallPanel(ctx, call, { onMe: update });
      replaceChildren(callBody, callPanel.element);
    }
    const pending = call.transfer;
    if (lastTransfer && !pending && lastTransfer.callId === call.callId) {
      toast(`${lastTransfer.agentName || "The agent"} did not take the call: it stays with you.`, { error: true });
    }
    lastTransfer = pending ? { ...pending, callId: call.callId } : null;
    callPanel.update(call);
  }

  function renderWrapUp(wrapUp) {
    const end = h("button", { type: "button", class: "primary", "data-focus-key": "end-wrap-up" }, "End now");
    end.addEventListener("click", () => act(end, "/api/tab/me/wrap-up/end", "Ready for the next call"));
    let more = null;
    if (wrapUp?.extensionS > 0) {
      more = h("button", { type: "button", "data-focus-key": "extend-wrap-up" }, `More time (+${duration(wrapUp.extensionS)})`);
      more.addEventListener("click", () => act(more, "/api/tab/me/wrap-up/extend", `Wrap-up ${duration(wrapUp.extensionS)} longer (once per call)`));
    }
    keepFocus(callBody, () =>
      replaceChildren(
        callBody,
        h("p", { class: "call-title" }, "Wrap-up"),
        h("p", {}, "Ready for calls in ", h("span", { class: "countdown", id: "wrap-up-left", dataset: { until: me.agent.wrapUpUntil || "" } }, ""), "."),
        wrapUp?.extended ? h("p", { class: "muted" }, "You took your extra wrap-up time for this call.") : null,
        h("p", { class: "muted" }, "Your notes are saved as you type, and go on the call's record when the wrap-up ends."),
        h("div", { class: "form-actions" }, end, more),
      ),
    );
  }

  function renderCall() {
    const agent = me.agent;
    const offer = me.offer;
    const card = callBody.closest(".card");
    card.classList.toggle("offer", Boolean(offer));
    if (!me.call) {
      callPanel = null;
      lastTransfer = null;
    }
    if (offer) {
      renderOffer(offer);
    } else if (me.call) {
      lastOfferId = null;
      renderOnCall(me.call);
    } else if (agent?.activity === "wrap-up") {
      lastOfferId = null;
      renderWrapUp(me.wrapUp);
    } else if (agent?.activity === "on-call") {
      lastOfferId = null;
      replaceChildren(callBody, h("p", { class: "call-title" }, "On a call"), h("p", { class: "muted" }, "Talk in Teams. Wrap-up starts when the call ends."));
    } else {
      lastOfferId = null;
      replaceChildren(callBody, h("p", { class: "muted" }, agent ? "No call right now. Offers show up here and in Teams." : "Calls are offered to agents only."));
    }
    tick();
  }

  function renderMyQueues() {
    const agent = me.agent;
    if (!agent) {
      replaceChildren(queuesBody, h("p", { class: "muted" }, "You are in no queue."));
      return;
    }
    if (!me.queues.length) {
      replaceChildren(queuesBody, h("p", { class: "muted" }, "You are not a member of any queue yet."));
      return;
    }
    keepFocus(queuesBody, () =>
      replaceChildren(
        queuesBody,
        h(
          "ul",
          { class: "queue-list" },
          me.queues.map((queue) => {
            const verb = queue.signedIn ? "sign-out" : "sign-in";
            const button = h(
              "button",
              { type: "button", class: queue.signedIn ? "" : "primary", "aria-label": `${queue.signedIn ? "Sign out of" : "Sign in to"} ${queue.name}`, "data-focus-key": `queue-${queue.id}` },
              queue.signedIn ? "Sign out" : "Sign in",
            );
            button.addEventListener("click", () => act(button, `/api/tab/me/queues/${segment(queue.id)}/${verb}`));
            return h(
              "li",
              { dataset: { queueId: queue.id } },
              h("span", {}, h("strong", {}, queue.name), " ", h("span", { class: queue.signedIn ? "badge success" : "badge" }, queue.signedIn ? "Signed in" : "Signed out")),
              button,
            );
          }),
        ),
      ),
    );
  }

  // My recent calls with their dispositions, the wrap-up form and my queues' callbacks.
  const work = mountWork(ctx, callsBody);
  const loadCalls = () => work.refresh(me);

  async function loadTiles() {
    try {
      renderTiles(tilesBody, await ctx.api.get("/api/tab/queues/live"));
    } catch (error) {
      replaceChildren(tilesBody, h("p", { class: "muted" }, `Queues could not be loaded: ${error.message}`));
    }
  }

  function tick() {
    const now = Date.now() + clockOffset;
    for (const element of root.querySelectorAll("[data-until]")) {
      element.textContent = duration((Date.parse(element.dataset.until) - now) / 1000);
    }
    for (const element of root.querySelectorAll("[data-since]")) {
      if (element.dataset.since) element.textContent = duration((now - Date.parse(element.dataset.since)) / 1000);
    }
  }

  let newest = 0;

  function update(next) {
    // A live event read before an action's answer must not undo what the answer showed.
    const at = Date.parse(next.serverTime);
    if (at < newest) return;
    newest = at;
    me = next;
    if (me.notReadyReasons) showReasons(me.notReadyReasons);
    if (me.tenant?.timeZone) setTenantTimeZone(me.tenant.timeZone);
    clockOffset = Date.parse(me.serverTime) - Date.now();
    renderStatus();
    renderCall();
    renderMyQueues();
    work.update(me);
    const activity = me.agent?.activity;
    if (activity !== lastActivity) {
      lastActivity = activity;
      loadCalls();
    }
  }

  const card = (id, title, body, extra = {}) =>
    h("section", { class: `card ${extra.class || ""}`.trim(), "aria-labelledby": `${id}-title`, id }, h("header", {}, h("h2", { id: `${id}-title` }, title), extra.action || null), body);

  replaceChildren(
    root,
    h("h1", { class: "visually-hidden" }, "Agent workspace"),
    announcer,
    h(
      "div",
      { class: "grid workspace" },
      card("call-card", "Current call", callBody, { class: "call-card" }),
      work.wrapUpCard,
      card("status-card", "My status", h("div", {}, statusBody, statusForm)),
      card("queues-card", "My queues", queuesBody),
      card("live-card", "Queues now", tilesBody, { class: "span-all" }),
      work.callbacksCard,
      card("calls-card", "My recent calls", callsBody, { class: "span-all" }),
    ),
  );
  update(me);
  loadCalls();
  loadTiles();
  mountVoicemails(root.querySelector(".workspace"), ctx);
  const timer = setInterval(tick, 1000);
  ctx.onLive((event, data) => {
    if (event === "me") update(data);
    else if (event === "queues") renderTiles(tilesBody, data);
  });
  return () => clearInterval(timer);
}
