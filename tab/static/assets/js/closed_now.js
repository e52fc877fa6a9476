// The emergency switch, in the admin console and the Supervise view: close a queue or an IVR
// at once, whatever its hours say, and open it again. The list holds what the signed-in
// user may switch.

import { segment } from "./api.js";
import { h, replaceChildren, toast } from "./dom.js";

const CLOSED_NOW = "/api/tab/supervision/closed-now";

/** What the switch does, for the line above the table. */
export const CLOSED_NOW_HINT =
  "In an emergency, close a queue or an IVR at once: callers get its closed action, or the one you choose, until you open it again.";

// What callers get while closed now: the closed action of the hours, or one chosen here.
const FOLLOW_HOURS = "closed-action";
const KEEP = "keep";

function switchPath(item) {
  const kind = item.kind === "ivr" ? "ivrs" : "queues";
  return `/api/tab/supervision/${kind}/${segment(item.id)}/closed-now`;
}

function actionChoices(item, queues) {
  const choices = [[FOLLOW_HOURS, "Its closed action"], ["disconnect", "Say goodbye and hang up"]];
  for (const queue of queues) {
    if (!(item.kind === "queue" && queue.id === item.id)) choices.push([`queue:${queue.id}`, `Send to ${queue.name}`]);
    choices.push([`voicemail:${queue.id}`, `Voicemail of ${queue.name}`]);
  }
  return choices;
}

function choiceOf(action) {
  if (!action) return FOLLOW_HOURS;
  if (action.kind === "disconnect") return "disconnect";
  if ((action.kind === "queue" || action.kind === "voicemail") && action.target) return `${action.kind}:${action.target}`;
  return KEEP;
}

/** The body's ``action`` for a choice (undefined: leave what is set). */
function actionOf(choice) {
  if (choice === KEEP) return undefined;
  if (choice === FOLLOW_HOURS) return null;
  if (choice === "disconnect") return { kind: "disconnect", target: null };
  const [kind, target] = choice.split(":");
  return { kind, target };
}

function describe(action, names) {
  if (!action) return "Callers get its closed action.";
  if (action.kind === "disconnect") return "Callers hear goodbye.";
  if (action.kind === "queue") return `Callers go to ${names[action.target] || action.target}.`;
  if (action.kind === "voicemail") return `Callers reach the voicemail of ${names[action.target] || action.target}.`;
  return "Callers get the action set for closed now.";
}

function itemRow(item, queues, names, ctx, refresh) {
  const id = `closed-now-${item.kind}-${item.id}`;
  const actionId = `${id}-action`;
  const box = h("input", { type: "checkbox", role: "switch", id, checked: item.closedNow });
  const choices = actionChoices(item, queues);
  const current = choiceOf(item.closedNowAction);
  if (current === KEEP) choices.unshift([KEEP, "As set before"]);
  const select = h(
    "select",
    { id: actionId, "aria-label": `What ${item.name} does while closed now` },
    choices.map(([value, text]) => h("option", { value, selected: value === current }, text)),
  );
  box.addEventListener("change", async () => {
    box.disabled = true;
    select.disabled = true;
    const body = { closed: box.checked };
    const action = box.checked ? actionOf(select.value) : undefined;
    if (action !== undefined) body.action = action;
    try {
      const after = await ctx.api.post(switchPath(item), body);
      toast(after.closedNow ? `${item.name} is closed now` : `${item.name} follows its hours again`);
      await refresh(id);
    } catch (error) {
      box.checked = !box.checked;
      box.disabled = false;
      select.disabled = false;
      toast(error.message, { error: true });
    }
  });
  return h(
    "tr",
    { dataset: { kind: item.kind, id: item.id } },
    h("th", { scope: "row" }, h("span", { class: "ellipsis closed-now-name", title: item.name }, item.name)),
    h("td", {}, item.kind === "ivr" ? "IVR" : "Queue"),
    h("td", {}, item.closedNow ? h("span", { class: "badge danger" }, "Closed now") : h("span", { class: "badge success" }, "Following its hours")),
    h("td", {}, item.closedNow ? h("span", { class: "muted" }, describe(item.closedNowAction, names)) : select),
    // The name is in the row's header already: the label shows "Closed now", and says whose.
    h("td", {}, h("span", { class: "check switch" }, box, h("label", { for: id }, h("span", { class: "visually-hidden" }, `${item.name} `), "Closed now"))),
  );
}

/**
 * Load the queues and IVRs the user may switch into ``holder``, as a table of switches; it
 * loads again after each switch, and the returned function loads it again on demand.
 */
export async function mountClosedNow(holder, ctx) {
  let latest = 0;
  const refresh = async (focusId = null) => {
    // Answers may arrive out of order: only the last load asked for is shown.
    const mine = ++latest;
    const { items } = await ctx.api.get(CLOSED_NOW);
    if (mine !== latest) return;
    const queues = items.filter((item) => item.kind === "queue");
    const names = Object.fromEntries(queues.map((queue) => [queue.id, queue.name]));
    replaceChildren(
      holder,
      items.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "closed-now-table" },
              h("caption", { class: "visually-hidden" }, "Queues and IVRs"),
              h("thead", {}, h("tr", {}, ["Name", "Kind", "State", "While closed now", "Switch"].map((t) => h("th", { scope: "col" }, t)))),
              h("tbody", {}, items.map((item) => itemRow(item, queues, names, ctx, refresh))),
            ),
          )
        : h("p", { class: "muted" }, "Nothing to switch."),
    );
    if (focusId) holder.querySelector(`#${CSS.escape(focusId)}`)?.focus();
  };
  await refresh();
  return refresh;
}
