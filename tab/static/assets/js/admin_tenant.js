// The admin console's tenant section: organization settings, not-ready reasons, retention,
// the prompt library, and the Microsoft Graph admin consent.

import { errorSummary, showErrors } from "./admin_form.js";
import { showPromptLibrary } from "./admin_prompts.js";
import { h, replaceChildren, toast } from "./dom.js";

export const TENANT_SECTIONS = [["tenant", "Tenant settings"]];
export const TENANT_RENDERERS = { tenant: showTenant };

const MAX_REASONS = 20;

function card(id, title) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-title` }, h("header", {}, h("h2", { id: `${id}-title` }, title)));
}

async function showTenant(content, ctx) {
  const settingsCard = card("tenant-settings", "Organization settings");
  const promptsCard = card("prompt-library", "Prompt library");
  const consentCard = card("graph-consent", "Microsoft Graph permissions");
  replaceChildren(
    content,
    h(
      "div",
      { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "section-title" }, h("header", {}, h("h1", { id: "section-title" }, "Tenant settings")), h("p", { class: "muted" }, "Settings for the whole organization: time zone, how long call records are kept, the reasons agents give for being away, prompts, and the app's Graph permissions.")),
      settingsCard,
      promptsCard,
      consentCard,
    ),
  );
  const failed = (target) => (error) => {
    target.append(h("div", { class: "message-bar error", role: "alert" }, error.message));
  };
  await Promise.all([
    showSettings(settingsCard, ctx).catch(failed(settingsCard)),
    showPromptLibrary(promptsCard, ctx).catch(failed(promptsCard)),
    showConsent(consentCard, ctx),
  ]);
}

// ================================================================= settings
function reasonsEditor(reasons) {
  const list = h("ol", { class: "members", id: "reasons-list", "aria-label": "Not-ready reasons in picker order" });
  const add = h("button", { type: "button", id: "add-reason" }, "Add reason");

  const render = (focusIndex = null) => {
    replaceChildren(
      list,
      reasons.map((reason, index) => {
        const id = `reason-${index}`;
        const input = h("input", { id, value: reason, maxlength: 40, required: true, autocomplete: "off", "data-field": `notReadyReasons[${index}]` });
        input.addEventListener("input", () => {
          reasons[index] = input.value;
        });
        const remove = h("button", { type: "button", class: "small subtle", "aria-label": `Remove reason ${reason || index + 1}`, disabled: reasons.length <= 1 }, "Remove");
        remove.addEventListener("click", () => {
          reasons.splice(index, 1);
          render(Math.min(index, reasons.length - 1));
        });
        return h("li", {}, h("label", { for: id, class: "visually-hidden" }, `Reason ${index + 1}`), input, remove);
      }),
    );
    add.disabled = reasons.length >= MAX_REASONS;
    if (focusIndex !== null) list.querySelector(`#reason-${focusIndex}`)?.focus();
  };
  add.addEventListener("click", () => {
    reasons.push("");
    render(reasons.length - 1);
  });
  render();
  return h(
    "fieldset",
    { class: "span-all", "data-field": "notReadyReasons", "aria-describedby": "reasons-hint" },
    h("legend", {}, "Not-ready reasons"),
    h("p", { class: "hint muted", id: "reasons-hint" }, `What agents may choose when they are away: 1 to ${MAX_REASONS} different reasons of up to 40 characters, in the order agents see them.`),
    list,
    h("div", { class: "form-actions" }, add),
  );
}

async function showSettings(target, ctx) {
  const settings = await ctx.api.get("/api/tab/admin/settings");
  const reasons = [...settings.notReadyReasons];
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const summary = errorSummary();
  const form = h(
    "form",
    { id: "tenant-settings-form", novalidate: true, "aria-labelledby": "tenant-settings-title" },
    summary,
    h(
      "div",
      { class: "form-grid" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "tenant-time-zone" }, "Time zone"),
        h("input", { id: "tenant-time-zone", name: "timeZone", value: settings.timeZone, list: "tenant-time-zones", autocomplete: "off", required: true, "data-field": "timeZone", "aria-describedby": "tenant-time-zone-hint" }),
        h("datalist", { id: "tenant-time-zones" }, zones.map((zone) => h("option", { value: zone }))),
        h("span", { class: "hint", id: "tenant-time-zone-hint" }, "An IANA name such as Europe/Paris: report days and business hours use it."),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "tenant-retention" }, "Keep call records (days)"),
        h("input", { id: "tenant-retention", name: "retentionDays", type: "number", min: 30, max: 3650, step: 1, required: true, value: String(settings.retentionDays), "data-field": "retentionDays", "aria-describedby": "tenant-retention-hint" }),
        h("span", { class: "hint", id: "tenant-retention-hint" }, "30 to 3650. Call records older than this are purged, and reports no longer cover them."),
      ),
      reasonsEditor(reasons),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary", id: "save-tenant-settings" }, "Save settings")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const raw = form.elements.retentionDays.value.trim();
    const body = {
      timeZone: form.elements.timeZone.value.trim(),
      retentionDays: raw === "" || Number.isNaN(Number(raw)) ? raw : Number(raw),
      notReadyReasons: reasons.map((reason) => reason.trim()),
    };
    const button = form.querySelector("#save-tenant-settings");
    button.disabled = true;
    try {
      await ctx.api.put("/api/tab/admin/settings", body);
      toast("Settings saved");
      await showSettings(target, ctx);
    } catch (error) {
      button.disabled = false;
      showErrors(form, summary, error);
    }
  });
  replaceChildren(target, target.querySelector("header"), form);
}

// ================================================================== consent
async function showConsent(target, ctx) {
  const header = target.querySelector("header");
  replaceChildren(target, header, h("p", { class: "muted" }, "Checking the granted permissions…"));
  let consent;
  try {
    consent = await ctx.api.get("/api/tab/admin/consent");
  } catch (error) {
    const retry = h("button", { type: "button", id: "consent-retry" }, "Try again");
    retry.addEventListener("click", () => showConsent(target, ctx));
    replaceChildren(target, header, h("div", { class: "message-bar error", role: "alert", id: "consent-error" }, error.message), h("div", { class: "form-actions" }, retry));
    return;
  }
  const missing = consent.permissions.filter((p) => !p.granted);
  const rows = consent.permissions.map((permission) =>
    h(
      "tr",
      { dataset: { permission: permission.name } },
      h("th", { scope: "row" }, h("code", {}, permission.name)),
      h(
        "td",
        {},
        permission.granted
          ? h("span", { class: "badge success" }, h("span", { "aria-hidden": "true" }, "✓"), " Granted")
          : h("span", { class: "badge danger" }, h("span", { "aria-hidden": "true" }, "✗"), " Missing"),
      ),
      h("td", {}, permission.purpose),
    ),
  );
  replaceChildren(
    target,
    header,
    h("p", { class: "muted" }, "The app calls Microsoft Graph with these application permissions. An admin of the organization grants them once, with admin consent."),
    missing.length
      ? h("div", { class: "message-bar warning", role: "status", id: "consent-summary" }, `${missing.length} of ${consent.permissions.length} permissions are missing: calls cannot be handled fully until an admin grants them.`)
      : h("div", { class: "message-bar", role: "status", id: "consent-summary" }, "Every permission the app needs is granted."),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "consent-table" },
        h("caption", { class: "visually-hidden" }, "Microsoft Graph application permissions"),
        h("thead", {}, h("tr", {}, ["Permission", "Status", "What it is for"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    ),
    h(
      "div",
      { class: "form-actions" },
      h("a", { class: "button primary", id: "consent-link", href: consent.consentUrl, target: "_blank", rel: "noopener noreferrer" }, "Grant admin consent"),
    ),
  );
}
