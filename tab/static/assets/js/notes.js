// Call notes in the agent workspace: a note (several lines) and a disposition code, saved
// as they are typed. For the call at hand they are kept with the agent until the wrap-up
// ends, then land on the call's record, whatever ends the wrap-up; for a past call they go
// to its record at once.

import { segment } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { clock } from "./format.js";

export const NOTE_MAX = 2000;
const AUTOSAVE_MS = 700;
// What the API refuses in a note: control characters other than line breaks and tabs, and
// characters that change the direction of the text around them.
const REFUSED = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const REFUSED_MESSAGE = "Line breaks and tabs are fine, but not other control characters or text-direction marks.";

const notesPath = (callId) => `/api/tab/me/calls/${segment(callId)}/notes`;

/**
 * A notes form for one call.
 *
 * ``explicitSave``: the call has a record, so a Save button records the disposition now
 * (a code is then required when the queue has codes). ``carried``: values typed in a form
 * this one replaces (the same call under its record's id), saved here instead.
 * Returns { element, callId, dirty(), flush(), setDetails(node), setExplicitSave(bool) }.
 */
export function notesForm(ctx, { callId, details, explicitSave = false, carried = null, onSaved = () => {}, onCancel = null }) {
  let codes = [];
  let dirty = false;
  let timer = null;
  let saving = null;
  let generation = 0;

  const detailsSlot = h("div", { class: "notes-details" }, details);
  const codeSelect = h("select", { id: "disposition-code", name: "code", "aria-describedby": "disposition-code-error" });
  const codeField = h(
    "div",
    { class: "field", hidden: true },
    h("label", { for: "disposition-code" }, "Disposition"),
    codeSelect,
    h("span", { class: "field-error", id: "disposition-code-error" }),
  );
  const note = h("textarea", {
    id: "disposition-note",
    name: "note",
    rows: 4,
    maxlength: NOTE_MAX,
    spellcheck: "true",
    "aria-describedby": "disposition-note-hint disposition-note-error",
  });
  const noteError = h("span", { class: "field-error", id: "disposition-note-error" });
  const state = h("p", { class: "save-state muted", id: "notes-save-state", role: "status", "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "primary", "data-focus-key": `dispose-${callId}` }, "Save");
  const cancel = onCancel ? h("button", { type: "button" }, "Done") : null;
  cancel?.addEventListener("click", async () => {
    await flush();
    onCancel();
  });
  const form = h(
    "form",
    { class: "disposition-form", "aria-label": "Call notes", novalidate: true, dataset: { callId } },
    detailsSlot,
    codeField,
    h(
      "div",
      { class: "field" },
      h("label", { for: "disposition-note" }, "Note"),
      note,
      h("span", { class: "hint", id: "disposition-note-hint" }, `Saved as you type. Several lines are fine; up to ${NOTE_MAX} characters.`),
      noteError,
    ),
    state,
    h("div", { class: "form-actions" }, save, cancel),
  );
  save.hidden = !explicitSave;

  function showCodes(list, chosen) {
    codes = list;
    codeField.hidden = !codes.length;
    replaceChildren(
      codeSelect,
      h("option", { value: "" }, "Choose a code"),
      codes.map((code) => h("option", { value: code, selected: code === chosen }, code)),
    );
  }

  function showSaved(result) {
    if (!result?.savedAt) {
      state.textContent = "Nothing saved yet.";
      return;
    }
    const at = clock(result.savedAt);
    state.textContent = result.savedTo === "draft" ? `Saved ${at}. It goes on the call's record when your wrap-up ends.` : `Saved on the call's record ${at}.`;
  }

  function values() {
    return { code: codeSelect.value || null, note: note.value };
  }

  function check() {
    note.removeAttribute("aria-invalid");
    noteError.textContent = "";
    if (REFUSED.test(note.value)) {
      note.setAttribute("aria-invalid", "true");
      noteError.textContent = REFUSED_MESSAGE;
      return false;
    }
    return true;
  }

  async function autosave() {
    timer = null;
    if (!dirty || !check()) return;
    const mine = ++generation;
    dirty = false;
    state.textContent = "Saving…";
    saving = ctx.api
      .request("PUT", notesPath(callId), values())
      .then((result) => {
        if (mine === generation) showSaved(result);
      })
      .catch((error) => {
        dirty = true;
        state.textContent = `Not saved: ${error.message}`;
        for (const detail of error.details || []) {
          if (detail.field === "note") {
            note.setAttribute("aria-invalid", "true");
            noteError.textContent = detail.message;
          }
        }
      })
      .finally(() => {
        saving = null;
      });
    await saving;
  }

  function changed() {
    dirty = true;
    state.textContent = "Not saved yet…";
    clearTimeout(timer);
    timer = setTimeout(autosave, AUTOSAVE_MS);
  }

  /** Save now whatever is waiting to be saved. */
  async function flush() {
    if (timer) {
      clearTimeout(timer);
      await autosave();
    }
    if (saving) await saving;
  }

  note.addEventListener("input", changed);
  codeSelect.addEventListener("change", changed);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const codeError = codeField.querySelector(".field-error");
    codeSelect.removeAttribute("aria-invalid");
    codeError.textContent = "";
    if (codes.length && !codeSelect.value) {
      codeSelect.setAttribute("aria-invalid", "true");
      codeError.textContent = "Choose a code.";
      codeSelect.focus();
      return;
    }
    if (!check()) {
      note.focus();
      return;
    }
    clearTimeout(timer);
    timer = null;
    save.disabled = true;
    try {
      const result = await ctx.api.post(`/api/tab/me/calls/${segment(callId)}/disposition`, values());
      dirty = false;
      generation += 1;
      showSaved({ savedAt: result.disposedAt, savedTo: "record" });
      onSaved(result);
    } catch (error) {
      for (const detail of error.details || []) {
        const target = detail.field === "code" ? codeSelect : detail.field === "note" ? note : null;
        if (!target) continue;
        target.setAttribute("aria-invalid", "true");
        (detail.field === "code" ? codeError : noteError).textContent = detail.message;
      }
      state.textContent = `Not saved: ${error.message}`;
    } finally {
      save.disabled = false;
    }
  });

  // What is saved so far (a draft, or the record's), unless something was typed meanwhile.
  showCodes([], null);
  if (carried) {
    note.value = carried.note;
    dirty = true;
  }
  ctx.api
    .get(notesPath(callId))
    .then((saved) => {
      showCodes(saved.codes, carried ? carried.code : saved.code);
      if (carried) {
        changed();
        return;
      }
      if (!dirty) {
        note.value = saved.note;
        showSaved(saved);
      }
    })
    .catch((error) => {
      state.textContent = `Notes could not be loaded: ${error.message}`;
    });

  return {
    element: form,
    callId,
    dirty: () => dirty || Boolean(timer),
    values,
    flush,
    setDetails(node) {
      replaceChildren(detailsSlot, node);
    },
    setExplicitSave(allowed) {
      save.hidden = !allowed;
    },
  };
}
