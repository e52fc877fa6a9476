// The audit log in words: who did what to which named thing, and what changed from what to what.

import { h, replaceChildren, toast, when } from "./dom.js";
import { section } from "./admin_form.js";

// What each action did, as "<who> <verb> <thing>".
const ACTIONS = {
  "queue.create": "created the queue",
  "queue.update": "changed the queue",
  "queue.delete": "deleted the queue",
  "queue.closedNow": "switched closed now on the queue",
  "queue.syncWarning": "warned about the team sync of the queue",
  "binding.create": "bound a number or account to",
  "binding.delete": "unbound a number or account from",
  "ivr.create": "created the IVR",
  "ivr.update": "changed the IVR",
  "ivr.delete": "deleted the IVR",
  "user.create": "added the user",
  "user.roles": "changed the roles of",
  "user.scope": "changed the queues supervised by",
  "agent.create": "made an agent of",
  "agent.skills": "changed the skills of",
  "seat.assign": "gave a seat to",
  "seat.release": "took the seat back from",
  "tenant.seats": "changed the number of seats of",
  "tenant.settings": "changed the settings of",
};

// Fields whose changes say nothing to an admin (bookkeeping of the engine and the store).
const HIDDEN = new Set(["id", "tenantId", "etag", "dueAt", "idleSince", "presenceAt", "lastOfferedAt", "lastCallEndedAt", "missedInARow", "wrapUpUntil", "currentCallId", "activity", "presence"]);

/** "alertTimeS" → "Alert time (s)", "hours.weekly" → "Hours: weekly". */
export function fieldLabel(path) {
  return path
    .split(".")
    .map((part) => {
      const words = part.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
      return words.replace(/ s$/, " (s)").replace(/ id$/, "").replace(/ ids$/, "s");
    })
    .join(": ")
    .replace(/^./, (first) => first.toUpperCase());
}

function valueText(value, names) {
  if (value === undefined || value === null || value === "") return "none";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) return value.length ? value.map((item) => valueText(item, names)).join(", ") : "none";
  if (typeof value === "object") {
    return Object.entries(value)
      .filter(([key]) => !HIDDEN.has(key))
      .map(([key, item]) => `${fieldLabel(key).toLowerCase()} ${valueText(item, names)}`)
      .join("; ");
  }
  return names[value] || String(value);
}

/** Flatten one level of nested objects (hours, callback...) so each change reads on its own. */
function flatten(document, prefix = "", into = {}) {
  for (const [key, value] of Object.entries(document || {})) {
    if (HIDDEN.has(key)) continue;
    const path = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === "object" && !Array.isArray(value) && !prefix) flatten(value, path, into);
    else into[path] = value;
  }
  return into;
}

/** Return the changes between two documents as "Label: old → new" items. */
export function changeList(before, after, names) {
  const old = flatten(before);
  const now = flatten(after);
  const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])];
  return keys
    .filter((key) => valueText(old[key], names) !== valueText(now[key], names))
    .map((key) => {
      if (!before) return h("li", {}, `${fieldLabel(key)}: ${valueText(now[key], names)}`);
      if (!after) return h("li", {}, `${fieldLabel(key)}: was ${valueText(old[key], names)}`);
      return h("li", {}, `${fieldLabel(key)}: ${valueText(old[key], names)} → ${valueText(now[key], names)}`);
    });
}

function targetName(entry, names) {
  const document = entry.after || entry.before || {};
  return document.name || document.displayName || names[entry.targetId] || entry.targetId;
}

export async function showAudit(content, ctx) {
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Show older");
  const [{ users }, { queues }] = await Promise.all([ctx.api.get("/api/tab/admin/users"), ctx.api.get("/api/tab/admin/queues")]);
  const names = Object.fromEntries([...users.map((u) => [u.id, u.displayName]), ...queues.map((q) => [q.id, q.name])]);
  let continuation = null;
  const load = async () => {
    const query = continuation ? `?limit=50&continuation=${encodeURIComponent(continuation)}` : "?limit=50";
    const page = await ctx.api.get(`/api/tab/admin/audit${query}`);
    for (const entry of page.entries) {
      const diff = changeList(entry.before, entry.after, names);
      const what = ACTIONS[entry.action] || `${entry.action.replace(/([a-z])([A-Z])/g, "$1 $2").replace(".", ": ").toLowerCase()} of`;
      const target = targetName(entry, names);
      body.append(
        h(
          "tr",
          { dataset: { action: entry.action } },
          h("td", {}, when(entry.at)),
          h("td", { class: "audit-sentence" }, h("strong", {}, entry.actorName), ` ${what} `, h("strong", { class: "ellipsis audit-target", title: target }, target)),
          h("td", {}, diff.length ? h("details", {}, h("summary", {}, diff.length === 1 ? "1 change" : `${diff.length} changes`), h("ul", { class: "changes" }, diff)) : h("span", { class: "muted" }, "–")),
        ),
      );
    }
    continuation = page.continuation;
    more.hidden = !continuation;
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 3, class: "muted" }, "No changes yet.")));
  };
  more.addEventListener("click", () => load().catch((error) => toast(error.message, { error: true })));
  replaceChildren(
    content,
    section(
      "Audit log",
      h("p", { class: "muted" }, "Every configuration change: who did what, when, and what changed."),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "audit-table" },
          h("caption", { class: "visually-hidden" }, "Configuration changes"),
          h("thead", {}, h("tr", {}, ["When", "What was done", "Changes"].map((t) => h("th", { scope: "col" }, t)))),
          body,
        ),
      ),
      h("div", { class: "form-actions" }, more),
    ),
  );
  await load();
}
