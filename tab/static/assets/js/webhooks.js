// The admin console's webhook export section: where finished calls' records are POSTed.

import { segment } from "./api.js";
import { h, replaceChildren, toast, when } from "./dom.js";

export async function showWebhooks(content, ctx) {
  const [{ webhooks }, { deliveries }] = await Promise.all([
    ctx.api.get("/api/tab/admin/webhooks"),
    ctx.api.get("/api/tab/admin/webhook-deliveries?limit=20"),
  ]);
  const form = h(
    "form",
    { id: "webhook-form", class: "form-grid" },
    h("div", { class: "field" }, h("label", { for: "webhook-url" }, "URL"), h("input", { id: "webhook-url", type: "url", required: true, placeholder: "https://" })),
    h(
      "div",
      { class: "field" },
      h("label", { for: "webhook-secret" }, "Signing secret"),
      h("input", { id: "webhook-secret", type: "password", required: true, minlength: 16, autocomplete: "new-password" }),
      h("span", { class: "hint" }, "At least 16 characters; requests carry X-Signature: sha256=HMAC of \"timestamp.body\"."),
    ),
    h("div", { class: "field" }, h("label", { for: "webhook-description" }, "Description"), h("input", { id: "webhook-description", maxlength: 100 })),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Add webhook")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await ctx.api.post("/api/tab/admin/webhooks", {
        url: form.querySelector("#webhook-url").value,
        secret: form.querySelector("#webhook-secret").value,
        description: form.querySelector("#webhook-description").value,
      });
      toast("Webhook added");
      await showWebhooks(content, ctx);
    } catch (error) {
      toast(error.message, { error: true });
    }
  });
  const rows = webhooks.map((hook) => {
    const remove = h("button", { type: "button", class: "small danger" }, "Remove");
    remove.addEventListener("click", async () => {
      await ctx.api.delete(`/api/tab/admin/webhooks/${segment(hook.id)}`);
      await showWebhooks(content, ctx);
    });
    return h("tr", {}, h("th", { scope: "row" }, hook.url), h("td", {}, hook.description), h("td", {}, hook.secretHint), h("td", {}, remove));
  });
  replaceChildren(
    content,
    h(
      "section",
      { class: "card", "aria-labelledby": "section-title" },
      h("header", {}, h("h1", { id: "section-title" }, "Webhook export")),
      h("p", { class: "muted" }, "Every finished call's record is POSTed to each webhook, signed, and retried with backoff until it is accepted."),
      h(
        "div",
        { class: "table-wrap" },
        h("table", { id: "webhooks-table" }, h("thead", {}, h("tr", {}, ["URL", "Description", "Secret", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)),
      ),
      form,
      h("h2", {}, "Latest deliveries"),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "deliveries-table" },
          h("thead", {}, h("tr", {}, ["Call", "State", "Attempts", "Last answer", "Created"].map((t) => h("th", { scope: "col" }, t)))),
          h(
            "tbody",
            {},
            deliveries.map((d) =>
              h("tr", {}, h("th", { scope: "row" }, d.callId), h("td", {}, d.state), h("td", {}, String(d.attempts)), h("td", {}, d.lastError || String(d.lastStatus ?? "")), h("td", {}, when(d.createdAt))),
            ),
          ),
        ),
      ),
    ),
  );
}
