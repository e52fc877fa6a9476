// Business hours: weekly opening times, holiday sets, and what happens to calls when closed.

import { h, replaceChildren } from "./dom.js";
import { checkField, inputField, promptField, selectField } from "./admin_form.js";

export const DAYS = [
  ["mon", "Monday"],
  ["tue", "Tuesday"],
  ["wed", "Wednesday"],
  ["thu", "Thursday"],
  ["fri", "Friday"],
  ["sat", "Saturday"],
  ["sun", "Sunday"],
];

export const CLOSED_ACTION_KINDS = {
  disconnect: "Disconnect after a message",
  voicemail: "Shared voicemail",
  queue: "Send to a queue",
  "redirect-user": "Forward to a person",
  "redirect-number": "Forward to a phone number",
};

/**
 * An action editor: what happens to a call, where it goes, and the message played first.
 * ``action`` is edited in place; ``field`` is its path in the API body (``hours.closedAction``).
 */
export function actionEditor({ legend, action, field, kinds, queues, users, prompts, ownQueueId = null }) {
  const target = h("div", { class: "action-target" });
  const renderTarget = () => {
    const kind = action.kind;
    if (kind === "queue" || kind === "voicemail") {
      const options = { "": kind === "voicemail" ? "This queue's own" : "Choose a queue" };
      for (const queue of queues) if (queue.id !== ownQueueId || kind === "voicemail") options[queue.id] = queue.name;
      replaceChildren(target, selectField({ label: kind === "voicemail" ? "Voicemail of" : "Queue", state: action, key: "target", field: `${field}.target`, options }));
    } else if (kind === "redirect-user") {
      const options = { "": "Choose a person" };
      for (const user of users) options[user.id] = user.displayName;
      replaceChildren(target, selectField({ label: "Person", state: action, key: "target", field: `${field}.target`, options }));
    } else if (kind === "redirect-number") {
      replaceChildren(target, inputField({ label: "Phone number", state: action, key: "target", field: `${field}.target`, type: "tel", blank: null, placeholder: "+14255550100" }));
    } else {
      replaceChildren(target);
    }
  };
  const kind = selectField({
    label: "Action",
    state: action,
    key: "kind",
    field: `${field}.kind`,
    options: kinds,
    onChange: () => {
      action.kind = action.kind || Object.keys(kinds)[0];
      action.target = null;
      renderTarget();
    },
  });
  renderTarget();
  return h("fieldset", { class: "action-editor", "data-field": field }, h("legend", {}, legend), kind, target, promptField({ label: "Message first", state: action, key: "promptId", field: `${field}.promptId`, prompts, empty: "Standard message" }));
}

/** Return the IANA time zones to pick from and the organization's ({timeZones, organizationTimeZone}). */
export async function loadTimeZones(api) {
  try {
    return await api.get("/api/tab/admin/time-zones");
  } catch {
    return { timeZones: [], organizationTimeZone: "" };
  }
}

// A new "set times" schedule: Monday to Friday, 09:00 to 17:00.
const WORKING_WEEK = ["mon", "tue", "wed", "thu", "fri"];

function copyAction(action) {
  return { kind: action?.kind || "disconnect", target: action?.target ?? null, promptId: action?.promptId ?? null };
}

/** Return editable hours (a copy): ranges grouped by day. */
function hoursState(hours) {
  const byDay = Object.fromEntries(DAYS.map(([day]) => [day, []]));
  for (const range of hours?.weekly || []) byDay[range.day]?.push({ start: range.start, end: range.end });
  const weekly = hours?.weekly || [];
  return {
    mode: hours?.mode || (weekly.length ? "set-times" : "always-open"),
    closedNow: Boolean(hours?.closedNow),
    timeZone: hours?.timeZone || "",
    byDay,
    holidaySets: (hours?.holidaySets || []).map((set) => ({
      name: set.name,
      holidays: set.holidays.map((holiday) => ({ ...holiday })),
      ownAction: Boolean(set.action),
      action: copyAction(set.action),
    })),
    closedAction: copyAction(hours?.closedAction),
    holidayAction: copyAction(hours?.holidayAction),
  };
}

/** The two modes: a radio group bound to ``state.mode``; ``onChange`` runs after a change. */
function modeChoice(state, field, onChange) {
  const name = `${field}-mode-${Math.random().toString(36).slice(2, 8)}`;
  const option = (value, label) => {
    const id = `${name}-${value}`;
    const radio = h("input", { type: "radio", id, name, value, checked: state.mode === value, "data-field": `${field}.mode` });
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      state.mode = value;
      onChange();
    });
    return h("span", { class: "check" }, radio, h("label", { for: id }, label));
  };
  return h("div", { class: "field hours-mode", role: "radiogroup", "aria-label": "When calls are taken" }, option("always-open", "Always open"), option("set-times", "Open at set times"));
}

/**
 * The business hours editor. Returns the element and ``collect()``, which gives the API
 * body: always open, or open at set times (a new schedule starts as Monday to Friday,
 * 09:00 to 17:00, in the organization's time zone). The emergency switch is left out: it
 * has its own screen, and a form saved later must not undo it.
 */
export function hoursEditor({ hours, field = "hours", queues, users, prompts, ownQueueId = null, zones = { timeZones: [], organizationTimeZone: "" } }) {
  const state = hoursState(hours);
  const body = h("div", { class: "hours-body" });
  const root = h("fieldset", { class: "span-all hours-editor", "data-field": field }, h("legend", {}, "Business hours"));
  const mode = modeChoice(state, field, () => {
    const empty = DAYS.every(([day]) => state.byDay[day].length === 0);
    if (state.mode === "set-times" && empty) for (const day of WORKING_WEEK) state.byDay[day].push({ start: "09:00", end: "17:00" });
    render();
  });
  root.append(mode, body);
  const organization = zones.organizationTimeZone;
  const zoneOptions = { "": organization ? `${organization} (the organization's)` : "The organization's" };
  for (const name of zones.timeZones) zoneOptions[name] = name;
  const zoneField = () =>
    zones.timeZones.length
      ? selectField({ label: "Time zone", state, key: "timeZone", field: `${field}.timeZone`, options: zoneOptions })
      : inputField({ label: "Time zone", state, key: "timeZone", field: `${field}.timeZone`, placeholder: "Europe/Paris", maxlength: 64, hint: "An IANA time zone; empty: the organization's." });

  const render = (focusSelector = null) => {
    let index = 0;
    const days = DAYS.map(([day, dayName]) => {
      const ranges = state.byDay[day].map((range, position) => {
        const at = `${field}.weekly[${index}]`;
        index += 1;
        const remove = h("button", { type: "button", class: "small subtle", "aria-label": `Remove ${dayName} ${range.start || ""}-${range.end || ""}` }, "Remove");
        remove.addEventListener("click", () => {
          state.byDay[day].splice(position, 1);
          render(`[data-add-day="${day}"]`);
        });
        return h(
          "div",
          { class: "range", "data-field": at },
          inputField({ label: `${dayName} opens`, state: range, key: "start", field: `${at}.start`, placeholder: "09:00", maxlength: 5, inputmode: "numeric", size: 5, visuallyHiddenLabel: true }),
          h("span", { "aria-hidden": "true" }, "–"),
          inputField({ label: `${dayName} closes`, state: range, key: "end", field: `${at}.end`, placeholder: "17:00", maxlength: 5, inputmode: "numeric", size: 5, visuallyHiddenLabel: true }),
          remove,
        );
      });
      const add = h("button", { type: "button", class: "small", "data-add-day": day, "aria-label": `Add hours on ${dayName}` }, "Add hours");
      add.addEventListener("click", () => {
        const last = state.byDay[day].at(-1);
        state.byDay[day].push(last ? { start: last.end, end: "" } : { start: "09:00", end: "17:00" });
        render(`[data-day="${day}"] .range:last-of-type input`);
      });
      return h("div", { class: "day", role: "group", "aria-label": dayName, "data-day": day }, h("span", { class: "day-name" }, dayName), h("div", { class: "ranges" }, ranges.length ? ranges : h("span", { class: "muted" }, "Closed")), add);
    });

    const sets = state.holidaySets.map((set, setIndex) => {
      const at = `${field}.holidaySets[${setIndex}]`;
      const rows = set.holidays.map((holiday, holidayIndex) => {
        const where = `${at}.holidays[${holidayIndex}]`;
        const remove = h("button", { type: "button", class: "small subtle", "aria-label": `Remove holiday ${holiday.name || holidayIndex + 1}` }, "Remove");
        remove.addEventListener("click", () => {
          set.holidays.splice(holidayIndex, 1);
          render(`[data-add-holiday="${setIndex}"]`);
        });
        return h(
          "div",
          { class: "holiday", "data-field": where },
          inputField({ label: "Holiday name", state: holiday, key: "name", field: `${where}.name`, maxlength: 64 }),
          inputField({ label: "From", state: holiday, key: "start", field: `${where}.start`, placeholder: "2026-12-25", maxlength: 16 }),
          inputField({ label: "Until (not included)", state: holiday, key: "end", field: `${where}.end`, placeholder: "2026-12-26", maxlength: 16 }),
          remove,
        );
      });
      const addHoliday = h("button", { type: "button", class: "small", "data-add-holiday": String(setIndex) }, "Add a holiday");
      addHoliday.addEventListener("click", () => {
        set.holidays.push({ name: "", start: "", end: "" });
        render(`[data-holiday-set="${setIndex}"] .holiday:last-of-type input`);
      });
      const removeSet = h("button", { type: "button", class: "small danger" }, "Remove holiday set");
      removeSet.addEventListener("click", () => {
        state.holidaySets.splice(setIndex, 1);
        render("[data-add-holiday-set]");
      });
      const own = checkField({ label: "Its own action (otherwise the holiday action below)", state: set, key: "ownAction", field: `${at}.ownAction` });
      own.querySelector("input").addEventListener("change", () => render());
      return h(
        "fieldset",
        { class: "holiday-set", "data-holiday-set": String(setIndex), "data-field": at },
        h("legend", {}, set.name || `Holiday set ${setIndex + 1}`),
        inputField({ label: "Name of the set", state: set, key: "name", field: `${at}.name`, maxlength: 64 }),
        h("div", { class: "holidays" }, rows),
        h("div", { class: "form-actions" }, addHoliday, removeSet),
        own,
        set.ownAction ? actionEditor({ legend: "During these holidays", action: set.action, field: `${at}.action`, kinds: CLOSED_ACTION_KINDS, queues, users, prompts, ownQueueId }) : null,
      );
    });
    const addSet = h("button", { type: "button", class: "small", "data-add-holiday-set": "" }, "Add a holiday set");
    addSet.addEventListener("click", () => {
      state.holidaySets.push({ name: "Holidays", holidays: [{ name: "", start: "", end: "" }], ownAction: false, action: copyAction(null) });
      render(`[data-holiday-set="${state.holidaySets.length - 1}"] input`);
    });

    const setTimes = state.mode === "set-times";
    replaceChildren(
      body,
      state.closedNow ? h("p", { class: "message-bar warning" }, "Closed now by the emergency switch (see Closed now).") : null,
      setTimes ? null : h("p", { class: "muted", "data-field": `${field}.weekly` }, "Open around the clock, but on the holidays below."),
      h("div", { class: "form-grid" }, zoneField()),
      setTimes ? h("h3", {}, "Weekly opening hours") : null,
      setTimes ? h("p", { class: "hint muted" }, "Local times as HH:MM; 24:00 ends a day. At least one opening time.") : null,
      setTimes ? h("div", { class: "weekly", "data-field": `${field}.weekly` }, days) : null,
      h("h3", {}, "Holidays"),
      sets,
      h("div", { class: "form-actions" }, addSet),
      h(
        "div",
        { class: "actions-grid" },
        actionEditor({ legend: "When closed", action: state.closedAction, field: `${field}.closedAction`, kinds: CLOSED_ACTION_KINDS, queues, users, prompts, ownQueueId }),
        actionEditor({ legend: "On a holiday", action: state.holidayAction, field: `${field}.holidayAction`, kinds: CLOSED_ACTION_KINDS, queues, users, prompts, ownQueueId }),
      ),
    );
    if (focusSelector) (body.querySelector(focusSelector) || root.querySelector("input"))?.focus();
  };
  render();

  const collect = () => {
    // No schedule, left always open with nothing added: stays no schedule (nothing changed).
    const untouched = !hours && state.mode === "always-open" && !state.holidaySets.length && state.closedAction.kind === "disconnect" && !state.closedAction.promptId && state.holidayAction.kind === "disconnect" && !state.holidayAction.promptId;
    if (untouched) return null;
    const weekly = [];
    if (state.mode === "set-times") for (const [day] of DAYS) for (const range of state.byDay[day]) weekly.push({ day, start: range.start, end: range.end });
    return {
      mode: state.mode,
      timeZone: state.timeZone || "",
      weekly,
      holidaySets: state.holidaySets.map((set) => ({
        name: set.name,
        holidays: set.holidays.map((holiday) => ({ name: holiday.name, start: holiday.start, end: holiday.end })),
        action: set.ownAction ? { ...set.action } : null,
      })),
      closedAction: { ...state.closedAction },
      holidayAction: { ...state.holidayAction },
    };
  };
  return { element: root, collect };
}
