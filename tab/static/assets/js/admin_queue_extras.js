// The queue form's caller-experience part: prompts, announcements, callbacks, codes, hours.

import { h, replaceChildren } from "./dom.js";
import { checkField, inputField, loadPrompts, promptField, selectField } from "./admin_form.js";
import { hoursEditor } from "./admin_hours.js";

const KEYS = Object.fromEntries([..."0123456789*#"].map((key) => [key, key]));
const ORDERS = { "caller-first": "Call the caller first", "agent-first": "Ring the agent first" };

const CALLBACK_DEFAULTS = { offered: false, key: "1", order: "caller-first", maxAttempts: 3, retryS: 300, dialTimeoutS: 45, offerTimeoutS: 10, sourceApplicationInstanceId: "" };

/**
 * Add the caller-experience fieldsets to the queue form; ``collect()`` returns their part
 * of the body (nothing until the prompts are loaded: an update then keeps what is stored).
 */
export function mountQueueExtras(form, queue, { api, queues, users }) {
  const holder = h("div", { class: "queue-extras span-all", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading the caller experience…"));
  form.append(holder);
  const state = {
    language: queue.language || "en-US",
    greetingPromptId: queue.greetingPromptId ?? null,
    musicPromptId: queue.musicPromptId ?? null,
    comfortPromptId: queue.comfortPromptId ?? null,
    comfortIntervalS: queue.comfortIntervalS ?? 60,
    announcePosition: queue.announcePosition ?? true,
    announceWait: queue.announceWait ?? true,
    skillWidenAfterS: queue.skillWidenAfterS ?? null,
    wrapUpExtensionS: queue.wrapUpExtensionS ?? 60,
  };
  const callback = { ...CALLBACK_DEFAULTS, ...(queue.callback || {}) };
  const codes = { text: (queue.dispositionCodes || []).join("\n") };
  let hours = null;

  loadPrompts(api).then((prompts) => {
    const others = queues.filter((other) => other.id !== queue.id);
    hours = hoursEditor({ hours: queue.hours || null, queues: [...others, ...(queue.id ? [queue] : [])], users, prompts, ownQueueId: queue.id || null });
    const codesId = "queue-disposition-codes";
    const codesBox = h("textarea", { id: codesId, rows: 4, "data-field": "dispositionCodes", "aria-describedby": `${codesId}-hint` }, codes.text);
    codesBox.addEventListener("input", () => {
      codes.text = codesBox.value;
    });
    replaceChildren(
      holder,
      h(
        "fieldset",
        { class: "span-all" },
        h("legend", {}, "What callers hear"),
        h(
          "div",
          { class: "form-grid" },
          promptField({ label: "Greeting", state, key: "greetingPromptId", field: "greetingPromptId", prompts }),
          promptField({ label: "Music on hold", state, key: "musicPromptId", field: "musicPromptId", prompts }),
          promptField({ label: "Comfort message", state, key: "comfortPromptId", field: "comfortPromptId", prompts }),
          inputField({ label: "Comfort message every (s)", state, key: "comfortIntervalS", field: "comfortIntervalS", type: "number", min: 0, max: 600, hint: "0: never." }),
          inputField({ label: "Language", state, key: "language", field: "language", maxlength: 6, placeholder: "en-US", hint: "Of the standard prompts, e.g. en-US." }),
          inputField({ label: "Widen skills after (s)", state, key: "skillWidenAfterS", field: "skillWidenAfterS", type: "number", min: 0, max: 2700, blank: null, hint: "Empty: never." }),
          checkField({ label: "Announce the caller's place in line", state, key: "announcePosition", field: "announcePosition" }),
          checkField({ label: "Announce the expected wait", state, key: "announceWait", field: "announceWait" }),
        ),
      ),
      h(
        "fieldset",
        { class: "span-all", "data-field": "callback" },
        h("legend", {}, "Callbacks"),
        h(
          "div",
          { class: "form-grid" },
          checkField({ label: "Offer callers a callback", state: callback, key: "offered", field: "callback.offered" }),
          selectField({ label: "Key to ask for one", state: callback, key: "key", field: "callback.key", options: KEYS }),
          selectField({ label: "Who is called first", state: callback, key: "order", field: "callback.order", options: ORDERS }),
          inputField({ label: "Attempts", state: callback, key: "maxAttempts", field: "callback.maxAttempts", type: "number", min: 1, max: 10 }),
          inputField({ label: "Between attempts (s)", state: callback, key: "retryS", field: "callback.retryS", type: "number", min: 0, max: 86400 }),
          inputField({ label: "Ring the caller for (s)", state: callback, key: "dialTimeoutS", field: "callback.dialTimeoutS", type: "number", min: 15, max: 90 }),
          inputField({ label: "Wait for the key (s)", state: callback, key: "offerTimeoutS", field: "callback.offerTimeoutS", type: "number", min: 1, max: 60 }),
        ),
      ),
      h(
        "fieldset",
        { class: "span-all" },
        h("legend", {}, "After the call"),
        h("div", { class: "field" }, h("label", { for: codesId }, "Disposition codes agents choose from"), codesBox, h("span", { class: "hint", id: `${codesId}-hint` }, "One per line, at most 50; empty: agents are not asked.")),
        inputField({ label: "More wrap-up time on request (s)", state, key: "wrapUpExtensionS", field: "wrapUpExtensionS", type: "number", min: 0, max: 600, hint: "Once per call; 0: not allowed." }),
      ),
      hours.element,
    );
    holder.removeAttribute("aria-busy");
    form.dataset.extrasReady = "true";
  });

  const collect = () => {
    if (!hours) return {};
    return {
      ...state,
      callback: { ...callback },
      dispositionCodes: codes.text.split("\n").map((code) => code.trim()).filter(Boolean),
      hours: hours.collect(),
    };
  };
  return { collect };
}
