// After-call work in the agent workspace: the wrap-up form (what the call was about: a
// code of its queue and a note), my recent calls with their dispositions and the calls I
// missed, and my queues' callbacks.

import { segment } from "./api.js";
import { duration, h, replaceChildren, toast, when } from "./dom.js";
import { OUTCOME_LABELS as REPORT_OUTCOME_LABELS } from "./format.js";

// The reports' labels, shorter where a badge has little room, and for the agent's own
// transferred calls.
const OUTCOME_LABELS = { ...REPORT_OUTCOME_LABELS, "callback-requested": "Callback", transferred: "Transferred" };
const CALLBACK_LABELS = {
  scheduled: "Scheduled",
  waiting: "Waiting",
  reserved: "Agent reserved",
  dialing: "Calling back",
  connected: "Connected",
  failed: "Failed",
  cancelled: "Cancelled",
};
const NOTE_MAX = 2000;
const RELOAD_MS = 5000;

const partyName = (party) => party.displayName || party.id || "Anonymous";

function section(id, title, body, { className = "", action = null } = {}) {
  return h(
    "section",
    { class: `card ${className}`.trim(), "aria-labelledby": `${id}-title`, id },
    h("header", {}, h("h2", { id: `${id}-title` }, title), action),
    body,
  );
}

function table(caption, headings, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headings.map(([text, num]) => h("th", { scope: "col", class: num ? "num" : null }, text)))),
      h("tbody", {}, rows),
    ),
  );
}

/**
 * Mount the after-call work panels. ``callsBody`` is the workspace's "My recent calls"
 * card body; the wrap-up and callbacks cards are returned for the workspace to place.
 */
export function mountWork(ctx, callsBody) {
  let me = ctx.me;
  let calls = [];
  // A call picked with "Edit" in my recent calls (otherwise the form is for my latest call).
  let editingId = null;
  let waitingSignature = "";
  // Dispositions saved so far on this page.
  let saves = 0;

  const wrapUpBody = h("div");
  const callbacksBody = h("div");
  const wrapUpCard = section("wrap-up-card", "Wrap-up", wrapUpBody, { className: "wrap-up-card" });
  wrapUpCard.hidden = true;
  const refreshCallbacks = h("button", { type: "button", "aria-label": "Refresh callbacks" }, "Refresh");
  refreshCallbacks.addEventListener("click", () => loadCallbacks());
  const callbacksCard = section("callbacks-card", "Callbacks", callbacksBody, { className: "span-all", action: refreshCallbacks });

  /** The call the wrap-up form is for, if the form is to show at all. */
  function wrapUpTarget() {
    if (editingId) {
      const picked = calls.find((c) => c.id === editingId && c.disposableUntil);
      if (picked) return picked;
      editingId = null;
    }
    // My newest call I may still dispose (calls come newest first).
    const latest = calls.find((c) => c.disposableUntil);
    if (!latest) return null;
    if (me.agent?.activity === "wrap-up") return latest;
    // Still undisposed while its queue asks for a code: keep asking.
    if (!latest.disposedAt && latest.dispositionCodes.length) return latest;
    return null;
  }

  function renderWrapUp({ force = false } = {}) {
    const target = wrapUpTarget();
    // Never rebuild the form under the agent's fingers.
    if (!force && target && wrapUpBody.dataset.callId === target.id && wrapUpCard.contains(document.activeElement)) return;
    wrapUpCard.hidden = !target;
    if (!target) {
      delete wrapUpBody.dataset.callId;
      replaceChildren(wrapUpBody);
      return;
    }
    wrapUpBody.dataset.callId = target.id;
    const codes = target.dispositionCodes;
    const codeSelect = codes.length
      ? h(
          "select",
          { id: "disposition-code", name: "code", required: true, "aria-describedby": "disposition-code-error" },
          h("option", { value: "" }, "Choose a code"),
          codes.map((code) => h("option", { value: code, selected: code === target.dispositionCode }, code)),
        )
      : null;
    const codeError = h("span", { class: "field-error", id: "disposition-code-error" });
    const note = h("textarea", {
      id: "disposition-note",
      name: "note",
      rows: 3,
      maxlength: NOTE_MAX,
      "aria-describedby": "disposition-note-hint disposition-note-error",
    });
    note.value = target.dispositionNote || "";
    const noteError = h("span", { class: "field-error", id: "disposition-note-error" });
    const save = h("button", { type: "submit", class: "primary" }, "Save");
    const cancel = editingId
      ? h("button", { type: "button" }, "Cancel")
      : null;
    cancel?.addEventListener("click", () => {
      const id = editingId;
      editingId = null;
      renderWrapUp({ force: true });
      callsBody.querySelector(`[data-focus-key="dispose-${CSS.escape(id)}"]`)?.focus();
    });
    const saved = target.disposedAt
      ? h("p", { class: "muted", id: "disposition-saved" }, `Saved ${when(target.disposedAt)}`, target.dispositionCode ? `: ${target.dispositionCode}` : "")
      : null;
    const form = h(
      "form",
      { class: "disposition-form", "aria-label": `What the call from ${partyName(target.caller)} was about`, novalidate: true },
      h(
        "p",
        { class: "call-title" },
        partyName(target.caller),
        " ",
        h("span", { class: "badge brand" }, target.queueName),
      ),
      h("p", { class: "muted" }, `Ended ${when(target.endedAt)} · talked ${duration(target.talkS)}`),
      saved,
      codeSelect
        ? h("div", { class: "field" }, h("label", { for: "disposition-code" }, "Disposition"), codeSelect, codeError)
        : h("p", { class: "muted" }, "This queue has no disposition codes: add a note if it helps."),
      h(
        "div",
        { class: "field" },
        h("label", { for: "disposition-note" }, "Note"),
        note,
        h("span", { class: "hint", id: "disposition-note-hint" }, `Optional, up to ${NOTE_MAX} characters`),
        noteError,
      ),
      h("div", { class: "form-actions" }, save, cancel),
    );
    const fields = { code: [codeSelect, codeError], note: [note, noteError] };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const [input, error] of Object.values(fields)) {
        input?.removeAttribute("aria-invalid");
        error.textContent = "";
      }
      if (codeSelect && !codeSelect.value) {
        codeSelect.setAttribute("aria-invalid", "true");
        codeError.textContent = "Choose a code.";
        codeSelect.focus();
        return;
      }
      save.disabled = true;
      try {
        const body = { code: codeSelect ? codeSelect.value : null, note: note.value };
        const result = await ctx.api.post(`/api/tab/me/calls/${segment(target.id)}/disposition`, body);
        saves += 1;
        calls = calls.map((c) => (c.id === result.id ? result : c));
        editingId = null;
        toast(result.dispositionCode ? `Disposition saved: ${result.dispositionCode}` : "Note saved");
        renderCalls();
        renderWrapUp({ force: true });
        const next = wrapUpCard.hidden ? callsBody : wrapUpBody;
        next.querySelector(`[data-focus-key="dispose-${CSS.escape(result.id)}"]`)?.focus();
      } catch (error) {
        let first = null;
        for (const detail of error.details || []) {
          const [input, message] = fields[detail.field] || [];
          if (!input) continue;
          input.setAttribute("aria-invalid", "true");
          message.textContent = detail.message;
          first ??= input;
        }
        first?.focus();
        toast(error.message, { error: true });
        save.disabled = false;
      }
    });
    save.dataset.focusKey = `dispose-${target.id}`;
    replaceChildren(wrapUpBody, form);
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
      editingId = c.id;
      renderWrapUp({ force: true });
      wrapUpCard.scrollIntoView({ block: "nearest" });
      (wrapUpBody.querySelector("#disposition-code") || wrapUpBody.querySelector("#disposition-note"))?.focus();
    });
    return h("td", {}, h("span", { class: "disposition-cell" }, shown, edit));
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
        h("td", {}, when(c.endedAt)),
        h("td", {}, c.queueName),
        h("td", {}, partyName(c.caller)),
        h(
          "td",
          {},
          c.missed
            ? h("span", { class: "badge warning" }, "Missed")
            : h("span", { class: c.outcome === "answered" ? "badge success" : "badge" }, OUTCOME_LABELS[c.outcome] || c.outcome),
        ),
        dispositionCell(c),
        h("td", { class: "num" }, duration(c.waitS)),
        h("td", { class: "num" }, c.missed ? "" : duration(c.talkS)),
      ),
    );
    const focused = document.activeElement?.dataset?.focusKey;
    replaceChildren(
      callsBody,
      table("My recent calls", [["Ended"], ["Queue"], ["Caller"], ["Outcome"], ["Disposition"], ["Wait", true], ["Talk", true]], rows),
    );
    if (focused && !document.activeElement?.isConnected) {
      callsBody.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
    }
  }

  async function loadCalls() {
    if (!me.agent) {
      calls = [];
      replaceChildren(callsBody, h("p", { class: "muted" }, "No calls."));
      renderWrapUp();
      return;
    }
    const started = saves;
    try {
      const loaded = await ctx.api.get("/api/tab/me/calls?limit=10");
      // A list read before a disposition was saved would show it unsaved.
      if (started !== saves) return;
      calls = loaded.calls;
      renderCalls();
      renderWrapUp();
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
        cb.nextAttemptAt ? h("span", { class: "muted" }, ` next try ${when(cb.nextAttemptAt)}`) : null,
      ),
      h("td", { class: "num" }, cb.position ?? "—"),
      h("td", {}, attempts, last?.result ? h("span", { class: "muted" }, ` · ${last.result}`) : null),
      h("td", {}, when(cb.endedAt || cb.requestedAt)),
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
  let lastReload = 0;
  let reloadTimer = null;
  function reloadSoon() {
    if (reloadTimer) return;
    const wait = Math.max(0, lastReload + RELOAD_MS - Date.now());
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      refresh();
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
  };
}
