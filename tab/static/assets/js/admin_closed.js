// The emergency switch: close a queue or an IVR at once, whatever its hours say.

import { segment } from "./api.js";
import { h, replaceChildren, toast } from "./dom.js";
import { section } from "./admin_form.js";

const CLOSED_NOW = "/api/tab/supervision/closed-now";

function switchPath(item) {
  const kind = item.kind === "ivr" ? "ivrs" : "queues";
  return `/api/tab/supervision/${kind}/${segment(item.id)}/closed-now`;
}

export async function showClosedNow(content, ctx) {
  const { items } = await ctx.api.get(CLOSED_NOW);
  const rows = items.map((item) => {
    const id = `closed-now-${item.kind}-${item.id}`;
    const label = `${item.name} closed now`;
    const box = h("input", { type: "checkbox", role: "switch", id, checked: item.closedNow });
    box.addEventListener("change", async () => {
      box.disabled = true;
      try {
        const after = await ctx.api.post(switchPath(item), { closed: box.checked });
        toast(after.closedNow ? `${item.name} is closed now` : `${item.name} follows its hours again`);
        await showClosedNow(content, ctx);
        content.querySelector(`#${CSS.escape(id)}`)?.focus();
      } catch (error) {
        box.checked = !box.checked;
        box.disabled = false;
        toast(error.message, { error: true });
      }
    });
    return h(
      "tr",
      { dataset: { kind: item.kind, id: item.id } },
      h("th", { scope: "row" }, item.name),
      h("td", {}, item.kind === "ivr" ? "IVR" : "Queue"),
      h("td", {}, item.closedNow ? h("span", { class: "badge danger" }, "Closed now") : h("span", { class: "badge success" }, "Following its hours")),
      h("td", {}, h("span", { class: "check switch" }, box, h("label", { for: id }, label))),
    );
  });
  replaceChildren(
    content,
    section(
      "Closed now",
      h("p", { class: "muted" }, "In an emergency, close a queue or an IVR at once: callers get its closed action until you open it again."),
      rows.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { id: "closed-now-table" },
              h("caption", { class: "visually-hidden" }, "Queues and IVRs"),
              h("thead", {}, h("tr", {}, ["Name", "Kind", "State", "Switch"].map((t) => h("th", { scope: "col" }, t)))),
              h("tbody", {}, rows),
            ),
          )
        : h("p", { class: "muted" }, "Nothing to switch."),
    ),
  );
}
