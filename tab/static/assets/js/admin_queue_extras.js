// The queue form's caller-experience part: prompts, announcements, callbacks, codes, hours.

import { h, replaceChildren } from "./dom.js";
import { checkField, inputField, loadPrompts, promptField, selectField } from "./admin_form.js";
import { hoursEditor, loadTimeZones } from "./admin_hours.js";
import { skillsEditor } from "./admin_skills.js";

const KEYS = Object.fromEntries([..."0123456789*#"].map((key) => [key, key]));
const ORDERS = { "caller-first": "Call the caller first", "agent-first": "Ring the agent first" };

const CALLBACK_DEFAULTS = { offered: false, key: "1", order: "caller-first", maxAttempts: 3, retryS: 300, dialTimeoutS: 45, offerTimeoutS: 10, sourceApplicationInstanceId: "" };

const SOURCES = { "": "Chosen by hand (Members above)", team: "The members of a Teams team", channel: "The members of a channel", group: "The members of an Entra group" };

/** Where the queue's agents come from: by hand, or a team, channel or group kept in sync. */
function membershipEditor(api, membership) {
  const state = { kind: membership?.kind || "", sourceId: membership?.sourceId || "", displayName: membership?.displayName || "" };
  const body = h("div", { class: "membership-body" });
  const root = h("fieldset", { class: "span-all membership-editor", "data-field": "membership" }, h("legend", {}, "Agents from Teams"), selectField({ label: "The queue's agents are", state, key: "kind", field: "membership.kind", options: SOURCES, onChange: () => render() }), body);
  const render = () => {
    if (!state.kind) {
      replaceChildren(body);
      return;
    }
    if (state.kind === "channel") {
      replaceChildren(body, inputField({ label: "Team id/channel id", state, key: "sourceId", field: "membership.sourceId", maxlength: 300, hint: "The team's id, a slash, and the channel's id (from the channel's link)." }), inputField({ label: "Channel name", state, key: "displayName", field: "membership.displayName", maxlength: 100 }));
      return;
    }
    const results = h("ul", { class: "group-results", "aria-label": "Teams and groups found" });
    const chosen = h("p", { class: "chosen-group", "data-field": "membership.sourceId" }, state.sourceId ? `Chosen: ${state.displayName || state.sourceId}` : "None chosen yet.");
    const search = h("input", { id: "membership-search", type: "search", autocomplete: "off", maxlength: 64, placeholder: "Part of its name" });
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      const text = search.value.trim();
      if (!text) return replaceChildren(results);
      timer = setTimeout(async () => {
        try {
          const { groups } = await api.get(`/api/tab/admin/directory/groups?${new URLSearchParams({ text })}`);
          const fitting = groups.filter((group) => state.kind !== "team" || group.team);
          replaceChildren(
            results,
            fitting.length
              ? fitting.map((group) => {
                  const pick = h("button", { type: "button", class: "small", "aria-label": `Choose ${group.displayName}` }, "Choose");
                  pick.addEventListener("click", () => {
                    state.sourceId = group.id;
                    state.displayName = group.displayName;
                    chosen.textContent = `Chosen: ${group.displayName}`;
                    replaceChildren(results);
                  });
                  return h("li", {}, h("span", { class: "ellipsis", title: group.displayName }, group.displayName), group.team ? h("span", { class: "badge" }, "Team") : null, pick);
                })
              : h("li", { class: "muted" }, "Nothing found."),
          );
        } catch (error) {
          replaceChildren(results, h("li", { class: "message-bar error" }, error.message));
        }
      }, 250);
    });
    replaceChildren(body, h("div", { class: "field" }, h("label", { for: "membership-search" }, state.kind === "team" ? "Find a team" : "Find a group"), search), results, chosen, h("p", { class: "hint muted" }, "Members who join become agents of the queue (with a seat if one is free); members who leave are signed out and taken off it. Synced every few minutes."));
  };
  render();
  const collect = () => (state.kind ? { kind: state.kind, sourceId: state.sourceId, displayName: state.displayName } : null);
  return { element: root, collect };
}

/**
 * Add the caller-experience fieldsets to the queue form; ``collect()`` returns their part
 * of the body (nothing until the prompts are loaded: an update then keeps what is stored).
 */
export function mountQueueExtras(form, queue, { api, queues, users, knownSkills = [] }) {
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
  const membership = membershipEditor(api, queue.membership);
  const required = skillsEditor({
    skills: queue.requiredSkills,
    field: "requiredSkills",
    legend: "Required skills",
    levelLabel: "Least level",
    known: knownSkills,
    hint: "Calls go to agents with each skill at this level or more (see Widen skills after).",
  });

  Promise.all([loadPrompts(api), loadTimeZones(api)]).then(([prompts, zones]) => {
    const others = queues.filter((other) => other.id !== queue.id);
    hours = hoursEditor({ hours: queue.hours || null, queues: [...others, ...(queue.id ? [queue] : [])], users, prompts, ownQueueId: queue.id || null, zones });
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
      h("div", { class: "span-all" }, required.element),
      membership.element,
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
      requiredSkills: required.collect(),
      membership: membership.collect(),
      callback: { ...callback },
      dispositionCodes: codes.text.split("\n").map((code) => code.trim()).filter(Boolean),
      hours: hours.collect(),
    };
  };
  return { collect };
}
