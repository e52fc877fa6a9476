// The admin console's caller lists: blocked callers are refused, VIPs are served first.

import { h, replaceChildren, toast } from "./dom.js";
import { errorSummary, inputField, section, selectField, showErrors } from "./admin_form.js";

const CALLERS = "/api/tab/admin/caller-lists";
const PARTY_KINDS = { phone: "Phone number", user: "Teams user id" };
const LISTS = [
  ["blocked", "Blocked callers", "Calls from these are refused."],
  ["vip", "VIP callers", "Calls from these are served before others (their priority is raised)."],
];

export async function showCallerLists(content, ctx) {
  const lists = await ctx.api.get(CALLERS);
  const entries = lists.entries.map((entry) => ({ ...entry }));
  const summary = errorSummary();
  const tables = h("div", { class: "caller-lists" });
  const form = h("form", { id: "callers-form", novalidate: true, "aria-labelledby": "section-title" }, summary, tables);

  const render = (focusSelector = null) => {
    replaceChildren(
      tables,
      LISTS.map(([kind, title, note]) => {
        const rows = [];
        entries.forEach((entry, index) => {
          if (entry.kind !== kind) return;
          const at = `entries[${index}]`;
          const remove = h("button", { type: "button", class: "small subtle", "aria-label": `Remove ${entry.value || "this caller"} from ${title.toLowerCase()}` }, "Remove");
          remove.addEventListener("click", () => {
            entries.splice(index, 1);
            render(`[data-add-caller="${kind}"]`);
          });
          rows.push(
            h(
              "tr",
              { dataset: { caller: entry.value } },
              h("td", {}, selectField({ label: "Kind", state: entry, key: "partyKind", field: `${at}.partyKind`, options: PARTY_KINDS, visuallyHiddenLabel: true })),
              h("td", {}, inputField({ label: "Number or user id", state: entry, key: "value", field: `${at}.value`, maxlength: 64, placeholder: "+14255550123", visuallyHiddenLabel: true })),
              h("td", {}, inputField({ label: "Reason", state: entry, key: "reason", field: `${at}.reason`, maxlength: 100, visuallyHiddenLabel: true })),
              kind === "vip" ? h("td", {}, inputField({ label: "Priority boost", state: entry, key: "priorityBoost", field: `${at}.priorityBoost`, type: "number", min: 1, max: 1000, visuallyHiddenLabel: true })) : null,
              h("td", {}, remove),
            ),
          );
        });
        const add = h("button", { type: "button", class: "small", "data-add-caller": kind }, kind === "vip" ? "Add a VIP" : "Block a caller");
        add.addEventListener("click", () => {
          entries.push({ kind, partyKind: "phone", value: "", reason: "", priorityBoost: 10 });
          render(`[data-list="${kind}"] tbody tr:last-child input`);
        });
        const headings = ["Kind", "Number or user id", "Reason", ...(kind === "vip" ? ["Priority boost"] : [])];
        return h(
          "div",
          { class: "caller-list", "data-list": kind },
          h("h2", { class: "section-subtitle" }, title),
          h("p", { class: "muted" }, note),
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { id: `${kind}-callers-table` },
              h("caption", { class: "visually-hidden" }, title),
              h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
              h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headings.length + 1, class: "muted" }, "Nobody."))),
            ),
          ),
          h("div", { class: "form-actions" }, add),
        );
      }),
    );
    if (focusSelector) tables.querySelector(focusSelector)?.focus();
  };
  render();

  const save = h("button", { type: "submit", class: "primary" }, "Save caller lists");
  form.append(h("div", { class: "form-actions" }, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      const body = { entries: entries.map(({ kind, partyKind, value, reason, priorityBoost }) => ({ kind, partyKind, value, reason, priorityBoost: kind === "vip" ? priorityBoost : 10 })) };
      await ctx.api.request("PUT", CALLERS, body);
      toast("Caller lists saved");
      await showCallerLists(content, ctx);
    } catch (error) {
      save.disabled = false;
      showErrors(form, summary, error);
    }
  });
  replaceChildren(content, section("Caller lists", form));
}
