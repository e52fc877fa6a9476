// Form pieces the caller-experience screens share: fields with labels, error display, prompts.

import { h, replaceChildren, toast } from "./dom.js";

let counter = 0;

/** Return a fresh element id with a readable prefix. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

export function section(title, ...children) {
  return h("section", { class: "card", "aria-labelledby": "section-title" }, h("header", {}, h("h1", { id: "section-title" }, title)), children);
}

export function errorSummary() {
  return h("div", { class: "message-bar error", role: "alert", tabindex: "-1", hidden: true });
}

/** Show an API error on a form: a summary, and a message next to each invalid field.
 *
 * A 412 (the document changed since the form was loaded) gets its own message and, given
 * ``reload``, a Reload button; the form keeps what was typed until then.
 */
export function showErrors(form, summary, error, { reload = null } = {}) {
  for (const element of form.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
  for (const element of form.querySelectorAll(".field-error")) element.remove();
  if (!error) {
    summary.hidden = true;
    replaceChildren(summary);
    return;
  }
  if (error.status === 412) {
    const button = reload ? h("button", { type: "button", class: "small" }, "Reload") : null;
    button?.addEventListener("click", () => {
      button.disabled = true;
      reload().catch((failure) => {
        button.disabled = false;
        toast(failure.message, { error: true });
      });
    });
    replaceChildren(summary, h("strong", {}, "Changed by someone else since you opened it: reload to see their changes."), button ? h("div", { class: "form-actions" }, button) : null);
    summary.hidden = false;
    summary.focus();
    return;
  }
  const details = error.details || [];
  const items = details.map((detail) => {
    const target =
      form.querySelector(`[data-field="${CSS.escape(detail.field)}"]`) ||
      form.querySelector(`[data-field="${CSS.escape(detail.field.replace(/\[\d+\]$/, ""))}"]`) ||
      form.querySelector(`[data-field="${CSS.escape(detail.field.replace(/\.\w+$/, ""))}"]`);
    let label = detail.field;
    if (target) {
      target.setAttribute("aria-invalid", "true");
      const id = uid("error");
      const message = h("span", { class: "field-error", id }, detail.message);
      (target.closest(".field") || target.closest("fieldset") || target.parentElement).append(message);
      target.setAttribute("aria-describedby", id);
      const labelled = target.id ? form.querySelector(`label[for="${CSS.escape(target.id)}"]`) : null;
      label = labelled?.textContent || target.closest("fieldset")?.querySelector("legend")?.textContent || label;
    }
    return h("li", {}, `${label}: ${detail.message}`);
  });
  const heading = error.status === 422 && items.length ? "Check these fields:" : error.message;
  replaceChildren(summary, h("strong", {}, heading), items.length ? h("ul", {}, items) : null);
  summary.hidden = false;
  summary.focus();
}

/** Run ``action`` on a second activation of ``button`` (no modal dialogs inside Teams). */
export function confirmTwice(button, prompt, action) {
  const label = button.textContent;
  let armed = null;
  button.addEventListener("click", async () => {
    if (!armed) {
      button.textContent = prompt;
      armed = setTimeout(() => {
        armed = null;
        button.textContent = label;
      }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.textContent = label;
    await action();
  });
}

/** A labelled input bound to ``state[key]`` (numbers stay numbers, blanks become ``blank``). */
export function inputField({ label, state, key, field, type = "text", hint = null, blank = "", visuallyHiddenLabel = false, id: fixedId = null, ...attributes }) {
  const id = fixedId || uid(field.replace(/[^\w-]/g, "-"));
  const hintId = hint ? `${id}-hint` : null;
  const input = h("input", {
    id,
    type,
    value: state[key] === null || state[key] === undefined ? "" : String(state[key]),
    "data-field": field,
    autocomplete: "off",
    "aria-describedby": hintId,
    ...attributes,
  });
  input.addEventListener("input", () => {
    const raw = input.value.trim();
    if (raw === "") state[key] = blank;
    else state[key] = type === "number" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  });
  return h("div", { class: "field" }, h("label", { for: id, class: visuallyHiddenLabel ? "visually-hidden" : null }, label), input, hint ? h("span", { class: "hint", id: hintId }, hint) : null);
}

/** A labelled select bound to ``state[key]``; ``onChange`` runs after the state changed. */
export function selectField({ label, state, key, field, options, onChange = null, visuallyHiddenLabel = false, hint = null }) {
  const id = uid(field.replace(/[^\w-]/g, "-"));
  const hintId = hint ? `${id}-hint` : null;
  const current = state[key] ?? "";
  const entries = Object.entries(options);
  if (current !== "" && !entries.some(([value]) => value === current)) entries.push([current, current]);
  const select = h("select", { id, "data-field": field, "aria-describedby": hintId }, entries.map(([value, text]) => h("option", { value, selected: value === current }, text)));
  select.addEventListener("change", () => {
    state[key] = select.value === "" ? null : select.value;
    onChange?.(select.value);
  });
  return h("div", { class: "field" }, h("label", { for: id, class: visuallyHiddenLabel ? "visually-hidden" : null }, label), select, hint ? h("span", { class: "hint", id: hintId }, hint) : null);
}

/** A labelled checkbox bound to ``state[key]``. */
export function checkField({ label, state, key, field }) {
  const id = uid(field.replace(/[^\w-]/g, "-"));
  const box = h("input", { type: "checkbox", id, checked: Boolean(state[key]), "data-field": field });
  box.addEventListener("change", () => {
    state[key] = box.checked;
  });
  return h("div", { class: "field" }, h("span", { class: "check" }, box, h("label", { for: id }, label)));
}

// ------------------------------------------------------------------ prompts
/**
 * Return the organization's uploaded prompts, or null when they cannot be listed (then
 * prompt ids are typed in).
 */
export async function loadPrompts(api) {
  try {
    const answer = await api.get("/api/tab/admin/prompts");
    const prompts = Array.isArray(answer) ? answer : answer?.prompts;
    return Array.isArray(prompts) ? prompts : null;
  } catch {
    return null;
  }
}

/** A prompt picker bound to ``state[key]``: a select of uploaded prompts, or a text box. */
export function promptField({ label, state, key, field, prompts, empty = "Standard prompt" }) {
  if (prompts === null) {
    return inputField({ label, state, key, field, blank: null, maxlength: 100, hint: "A prompt id; empty: the standard prompt.", placeholder: "std.en-US.greeting" });
  }
  const options = { "": empty };
  for (const prompt of prompts) options[prompt.id] = prompt.language ? `${prompt.name} (${prompt.language})` : prompt.name;
  return selectField({ label, state, key, field, options });
}
