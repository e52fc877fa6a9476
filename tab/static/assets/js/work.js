// After-call work in the agent workspace: the notes of the call at hand (or of a past call
// picked from my recent calls), my recent calls with their dispositions and the calls I
// missed (which I may have called back), and my queues' callbacks.

import { segment } from "./api.js";
import { HOLD_NOT_MEASURED, partyName, partyNumber } from "./callpanel.js";
import { duration, h, replaceChildren, toast } from "./dom.js";
import { OUTCOME_LABELS as REPORT_OUTCOME_LABELS, timeElement, when } from "./format.js";
import { notesForm } from "./notes.js";

// The reports' labels, shorter where a badge has little room.
const OUTCOME_LABELS = { ...REPORT_OUTCOME_LABELS, "callback-requested": "Callback" };
const CALLBACK_LABELS = {
  scheduled: "Scheduled",
  waiting: "Waiting",
  reserved: "Agent reserved",
  dialing: "Calling back",
  connected: "Connected",
  failed: "Failed",
  cancelled: "Cancelled",
};
const RELOAD_MS = 5000;

function section(id, title, body, { className = "", action = null } = {}) {
  return h(
    "section",
    { class: `card ${className}`.trim(), "aria-labelledby": `${id}-title`, id },
    h("header", {}, h("h2", { id: `${id}-title` }, title), action),
    body,
  );
}

function table(caption, headings, rows) {
  // Each cell says which column it is in, for the narrow layout that stacks a row's cells.
  for (const row of rows) {
    [...row.children].forEach((cell, index) => {
      if (headings[index]) cell.dataset.label = headings[index][0];
    });
  }
  return h(
    "div",
    { class: "table-wrap stacking" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headings.map(([text, num]) => h("th", { scope: "col", class: num ? "num" : null }, text)))),
      h("tbody", {}, rows),
    ),
  );
}

/** The line under a call's name in its notes: queue, when, how long. */
function recordDetails(c) {
  const number = partyNumber(c.caller);
  return [
    h("p", { class: "call-title" }, partyName(c.caller), " ", h("span", { class: "badge brand" }, c.queueName)),
    h(
      "p",
      { class: "muted" },
      number ? `${number} · ` : "",
      "Ended ",
      timeElement(c.endedAt),
      ` · talked ${duration(c.talkS)}`,
      c.wrapUpPending ? "" : ` · wrap-up ${duration(c.wrapUpS)}`,
    ),
  ];
}

/**
 * Mount the after-call work panels. ``callsBody`` is the workspace's "My recent calls"
 * card body; the notes and callbacks cards are returned for the workspace to place.
 */
export function mountWork(ctx, callsBody) {
  let me = ctx.me;
  let calls = [];
  // A past call picked with "Set" or "Edit" in my recent calls: its notes stay open until
  // "Done", whatever else happens (a new call ringing, a wrap-up ending).
  let pickedId = null;
  // The notes form shown, if any.
  let notes = null;
  let waitingSignature = "";
  // Dispositions saved so far on this page.
  let saves = 0;

  const wrapUpBody = h("div");
  const callbacksBody = h("div");
  const wrapUpCard = section("wrap-up-card", "Call notes", wrapUpBody, { className: "wrap-up-card" });
  wrapUpCard.hidden = true;
  const refreshCallbacks = h("button", { type: "button", "aria-label": "Refresh callbacks" }, "Refresh");
  refreshCallbacks.addEventListener("click", () => loadCallbacks());
  const callbacksCard = section("callbacks-card", "Callbacks", callbacksBody, { className: "span-all", action: refreshCallbacks });

  /** The call at hand: the one I am on, or the record I am wrapping up. */
  function atHand() {
    if (me.call) return me.call.callId;
    if (me.agent?.activity === "wrap-up" && me.wrapUp) return me.wrapUp.recordId;
    return null;
  }

  /** The call whose notes show: picked, at hand, still being typed, or still needing a code. */
  function notesTarget() {
    if (pickedId) {
      if (calls.some((c) => c.id === pickedId && c.disposableUntil)) return pickedId;
      pickedId = null;
    }
    const hand = atHand();
    if (hand) return hand;
    // Never take the notes away while they are being typed (the wrap-up just ended).
    if (notes && (notes.dirty() || wrapUpCard.contains(document.activeElement))) return notes.callId;
    const latest = calls.find((c) => c.disposableUntil);
    if (latest && !latest.dispositionCode && latest.dispositionCodes.length) return latest.id;
    return null;
  }

  function detailsOf(callId) {
    const record = calls.find((c) => c.id === callId);
    if (record) return recordDetails(record);
    if (me.call?.callId === callId) {
      return [h("p", { class: "call-title" }, partyName(me.call.caller), " ", h("span", { class: "badge brand" }, me.call.queueName)), h("p", { class: "muted" }, "On the call now: your notes are kept until your wrap-up ends.")];
    }
    return [h("p", { class: "call-title" }, "Your last call")];
  }

  function renderNotes() {
    const target = notesTarget();
    wrapUpCard.hidden = !target;
    if (!target) {
      notes = null;
      replaceChildren(wrapUpBody);
      return;
    }
    const hasRecord = calls.some((c) => c.id === target);
    if (notes?.callId === target) {
      notes.setDetails(detailsOf(target));
      notes.setExplicitSave(hasRecord);
      return;
    }
    // A new call for the form; what was typed in the old one for the same talk (the call
    // became its leg's record) comes along.
    const carried = notes && notes.dirty() && target.startsWith(`${notes.callId}.leg`) ? notes.values() : null;
    notes?.flush();
    notes = notesForm(ctx, {
      callId: target,
      details: detailsOf(target),
      explicitSave: hasRecord,
      carried,
      onSaved: (result) => {
        saves += 1;
        calls = calls.map((c) => (c.id === result.id ? result : c));
        toast(result.dispositionCode ? `Disposition saved: ${result.dispositionCode}` : "Note saved");
        renderCalls();
      },
      onCancel: pickedId === target
        ? () => {
            const id = pickedId;
            pickedId = null;
            renderNotes();
            callsBody.querySelector(`[data-focus-key="dispose-${CSS.escape(id)}"]`)?.focus();
          }
        : null,
    });
    replaceChildren(wrapUpBody, notes.element);
  }

  function dispositionCell(c) {
    const shown = c.dispositionCode || c.dispositionNote
      ? h(
          "span",
          { class: "disposition" },
          c.dispositionCode ? h("span", { class: "badge brand" }, c.dispositionCode) : null,
          c.dispositionNote ? h("span", { class: "disposition-note", title: c.dispositionNote }, c.dispositionNote) : null,
        )
      : h("span", { class: "muted" }, c.disposableUntil ? "Not set" : "—");
    if (!c.disposableUntil) return h("td", {}, shown);
    const edit = h(
      "button",
      {
        type: "button",
        class: "small",
        "data-focus-key": `dispose-${c.id}`,
        "aria-label": `${c.disposedAt ? "Edit" : "Set"} the disposition of the call from ${partyName(c.caller)}, ended ${when(c.endedAt)}`,
      },
      c.disposedAt ? "Edit" : "Set",
    );
    edit.addEventListener("click", () => {
      pickedId = c.id;
      renderNotes();
      wrapUpCard.scrollIntoView({ block: "nearest" });
      const code = wrapUpBody.querySelector("#disposition-code");
      (code && !code.closest("[hidden]") && c.dispositionCodes.length ? code : wrapUpBody.querySelector("#disposition-note"))?.focus();
    });
    return h("td", {}, h("span", { class: "disposition-cell" }, shown, edit));
  }

  async function callBack(c, button) {
    button.disabled = true;
    try {
      const asked = await ctx.api.post(`/api/tab/me/calls/${segment(c.id)}/callback`);
      toast(`Callback asked for: ${asked.queueName} calls ${asked.number.id} back`);
      calls = calls.map((other) => (other.id === c.id ? { ...other, canCallBack: false } : other));
      renderCalls();
      loadCallbacks();
    } catch (error) {
      toast(error.message, { error: true });
      button.disabled = false;
    }
  }

  function outcomeCell(c) {
    const badge = c.missed
      ? h("span", { class: "badge warning" }, "Missed")
      : h("span", { class: c.outcome === "answered" ? "badge success" : "badge" }, OUTCOME_LABELS[c.outcome] || c.outcome);
    if (!c.canCallBack) return h("td", {}, badge);
    const button = h(
      "button",
      { type: "button", class: "small", "data-focus-key": `call-back-${c.id}`, "aria-label": `Call back ${partyName(c.caller)}` },
      "Call back",
    );
    button.addEventListener("click", () => callBack(c, button));
    return h("td", {}, h("span", { class: "disposition-cell" }, badge, button));
  }

  function renderCalls() {
    if (!calls.length) {
      replaceChildren(callsBody, h("p", { class: "muted" }, "No calls yet."));
      return;
    }
    const rows = calls.map((c) =>
      h(
        "tr",
        { class: c.missed ? "missed" : null, dataset: { callId: c.id } },
        h("td", {}, timeElement(c.endedAt)),
        h("td", {}, c.queueName),
        h("td", {}, partyName(c.caller)),
        outcomeCell(c),
        dispositionCell(c),
        h("td", { class: "num" }, duration(c.waitS)),
        h("td", { class: "num" }, c.missed ? "" : duration(c.talkS)),
        h("td", { class: "num" }, c.missed ? "" : c.wrapUpPending ? h("span", { class: "muted" }, "…") : duration(c.wrapUpS)),
      ),
    );
    const focused = document.activeElement?.dataset?.focusKey;
    replaceChildren(
      callsBody,
      table("My recent calls", [["Ended"], ["Queue"], ["Caller"], ["Outcome"], ["Disposition"], ["Wait", true], ["Talk", true], ["Wrap-up", true]], rows),
      h("p", { class: "muted table-note" }, `Hold time is not measured: ${HOLD_NOT_MEASURED} Handle time counts your talk and the wrap-up you actually took.`),
    );
    if (focused && !document.activeElement?.isConnected) {
      callsBody.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
    }
  }

  async function loadCalls() {
    if (!me.agent) {
      calls = [];
      replaceChildren(callsBody, h("p", { class: "muted" }, "No calls."));
      renderNotes();
      return;
    }
    const started = saves;
    try {
      const loaded = await ctx.api.get("/api/tab/me/calls?limit=10");
      // A list read before a disposition was saved would show it unsaved.
      if (started !== saves) return;
      calls = loaded.calls;
      renderCalls();
      renderNotes();
    } catch (error) {
      replaceChildren(callsBody, h("p", { class: "muted" }, `Calls could not be loaded: ${error.message}`));
    }
  }

  function callbackRow(cb) {
    const attempts = cb.maxAttempts ? `${cb.attempts.length} of ${cb.maxAttempts}` : String(cb.attempts.length);
    const last = cb.attempts.at(-1);
    return h(
      "tr",
      { dataset: { callbackId: cb.id } },
      h("td", {}, partyName(cb.number), cb.assignedToMe ? [" ", h("span", { class: "badge brand" }, "Yours")] : null),
      h("td", {}, cb.queueName),
      h(
        "td",
        {},
        h("span", { class: cb.status === "connected" ? "badge success" : cb.status === "failed" ? "badge danger" : "badge" }, CALLBACK_LABELS[cb.status] || cb.status),
        cb.nextAttemptAt ? h("span", { class: "muted" }, " next try ", timeElement(cb.nextAttemptAt)) : null,
      ),
      h("td", { class: "num" }, cb.position ?? "—"),
      h("td", {}, attempts, last?.result ? h("span", { class: "muted" }, ` · ${last.result}`) : null),
      h("td", {}, timeElement(cb.endedAt || cb.requestedAt)),
    );
  }

  async function loadCallbacks() {
    if (!me.agent) {
      replaceChildren(callbacksBody, h("p", { class: "muted" }, "Callbacks are for agents."));
      return;
    }
    try {
      const { waiting, recent } = await ctx.api.get("/api/tab/me/callbacks");
      const headings = (time) => [["Number"], ["Queue"], ["Status"], ["Position", true], ["Attempts"], [time]];
      replaceChildren(
        callbacksBody,
        waiting.length
          ? table("Callbacks waiting in my queues", headings("Requested"), waiting.map(callbackRow))
          : h("p", { class: "muted", id: "no-callbacks" }, "No callbacks waiting in your queues."),
        recent.length
          ? [h("h3", { class: "section-subtitle" }, "Ended in the last day"), table("Callbacks ended in the last day", headings("Ended"), recent.map(callbackRow))]
          : null,
      );
    } catch (error) {
      replaceChildren(callbacksBody, h("p", { class: "muted" }, `Callbacks could not be loaded: ${error.message}`));
    }
  }

  // My queues' lines and agents changed: a call of mine (or one I missed) may have ended,
  // a callback may have moved. Reload then, but at most every RELOAD_MS per page.
  // A call's end shows in the live counts a moment before its record is written, so each
  // change is followed by one more reload, RELOAD_MS after the first.
  let lastReload = 0;
  let reloadTimer = null;
  let followUp = false;
  function reloadSoon() {
    followUp = true;
    scheduleReload();
  }
  function scheduleReload() {
    if (reloadTimer) return;
    const wait = Math.max(0, lastReload + RELOAD_MS - Date.now());
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      const again = followUp;
      followUp = false;
      refresh();
      if (again) scheduleReload();
    }, wait);
  }

  ctx.onLive((event, data) => {
    if (event !== "queues" || !Array.isArray(data?.queues)) return;
    const signature = JSON.stringify(data.queues.map((q) => [q.id, q.waiting, q.ringing, q.agents]));
    if (waitingSignature && signature !== waitingSignature) reloadSoon();
    waitingSignature = signature;
  });

  function refresh(next) {
    if (next) me = next;
    lastReload = Date.now();
    return Promise.all([loadCalls(), loadCallbacks()]);
  }

  return {
    wrapUpCard,
    callbacksCard,
    /** Reload my calls and callbacks (the workspace calls this when my activity changes). */
    refresh,
    /** Follow my state: the call at hand's notes open, stay, or move to its record. */
    update(next) {
      me = next;
      renderNotes();
    },
  };
}
