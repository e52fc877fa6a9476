// The admin console's IVR section: menus, keys and what they do, hours, and bound numbers.

import { segment } from "./api.js";
import { h, replaceChildren, toast } from "./dom.js";
import { confirmTwice, errorSummary, inputField, loadPrompts, promptField, section, selectField, showErrors, uid } from "./admin_form.js";
import { hoursEditor, loadTimeZones } from "./admin_hours.js";

const IVRS = "/api/tab/admin/ivrs";
const DIGITS = [..."1234567890*#"];

const OPTION_ACTIONS = {
  queue: "Send to a queue",
  menu: "Go to a menu",
  user: "Transfer to a person",
  number: "Transfer to a number",
  voicemail: "Shared voicemail",
  repeat: "Repeat the menu",
  disconnect: "Say goodbye",
};

export async function showIvrs(content, ctx) {
  const [{ ivrs }, { queues }, { users }, prompts, zones] = await Promise.all([ctx.api.get(IVRS), ctx.api.get("/api/tab/admin/queues"), ctx.api.get("/api/tab/admin/users"), loadPrompts(ctx.api), loadTimeZones(ctx.api)]);
  const data = { queues, users, prompts, zones };
  const add = h("button", { type: "button", class: "primary", id: "new-ivr" }, "New IVR");
  add.addEventListener("click", () => editIvr(content, ctx, null, data));
  const rows = ivrs.map((ivr) => {
    const edit = h("button", { type: "button", "aria-label": `Edit ${ivr.name}` }, "Edit");
    edit.addEventListener("click", () => editIvr(content, ctx, ivr, data));
    return h(
      "tr",
      { dataset: { ivrId: ivr.id } },
      h("th", { scope: "row" }, ivr.name),
      h("td", {}, String(ivr.menus.length)),
      h("td", {}, ivr.bindings.map((b) => b.displayName || b.id).join(", ") || h("span", { class: "muted" }, "none")),
      h("td", {}, ivr.hours?.closedNow ? h("span", { class: "badge danger" }, "Closed now") : ivr.hours?.mode === "set-times" ? "Set times" : "Always open"),
      h("td", {}, edit),
    );
  });
  replaceChildren(
    content,
    section(
      "IVRs",
      h("p", { class: "muted" }, "Auto attendants: menus of keys in front of queues, people and voicemail."),
      h("div", { class: "form-actions" }, add),
      rows.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { id: "ivrs-table" },
              h("caption", { class: "visually-hidden" }, "IVRs"),
              h("thead", {}, h("tr", {}, ["Name", "Menus", "Numbers and accounts", "Hours"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
              h("tbody", {}, rows),
            ),
          )
        : h("p", { class: "muted" }, "No IVRs yet."),
    ),
  );
}

function newMenu(menus) {
  let n = menus.length + 1;
  while (menus.some((menu) => menu.id === `menu-${n}`)) n += 1;
  return { id: `menu-${n}`, name: `Menu ${n}`, promptId: null, options: [], timeoutS: 8, maxRetries: 2, fallback: null };
}

function copyIvr(ivr) {
  if (!ivr) {
    return { name: "", language: "en-US", greetingPromptId: null, rootMenuId: "main", menus: [{ ...newMenu([]), id: "main", name: "Main menu" }], hours: null };
  }
  return {
    name: ivr.name,
    language: ivr.language,
    greetingPromptId: ivr.greetingPromptId,
    rootMenuId: ivr.rootMenuId,
    menus: ivr.menus.map((menu) => ({ ...menu, options: menu.options.map((o) => ({ ...o })), fallback: menu.fallback ? { ...menu.fallback } : null })),
    hours: ivr.hours,
  };
}

/** The target control of a menu option, for its action. */
function optionTarget(option, field, state, { queues, users }) {
  const kind = option.action;
  const label = "Target";
  if (kind === "queue" || kind === "voicemail") {
    return selectField({ label, state: option, key: "target", field, options: { "": "Choose a queue", ...Object.fromEntries(queues.map((q) => [q.id, q.name])) }, visuallyHiddenLabel: true });
  }
  if (kind === "menu") {
    return selectField({ label, state: option, key: "target", field, options: { "": "Choose a menu", ...Object.fromEntries(state.menus.map((m) => [m.id, m.name || m.id])) }, visuallyHiddenLabel: true });
  }
  if (kind === "user") {
    return selectField({ label, state: option, key: "target", field, options: { "": "Choose a person", ...Object.fromEntries(users.map((u) => [u.id, u.displayName])) }, visuallyHiddenLabel: true });
  }
  if (kind === "number") {
    return inputField({ label, state: option, key: "target", field, type: "tel", blank: null, placeholder: "+14255550100", visuallyHiddenLabel: true });
  }
  return h("span", { class: "muted" }, "–");
}

function editIvr(content, ctx, ivr, data) {
  const isNew = !ivr;
  const state = copyIvr(ivr);
  const summary = errorSummary();
  const menusHolder = h("div", { class: "menus" });
  const basics = h("div", { class: "form-grid" });
  let hours = null;

  const renderBasics = () => {
    replaceChildren(
      basics,
      inputField({ label: "Name", state, key: "name", field: "name", maxlength: 64, required: true, id: "ivr-name" }),
      inputField({ label: "Language", state, key: "language", field: "language", maxlength: 6, placeholder: "en-US" }),
      promptField({ label: "Greeting (played once)", state, key: "greetingPromptId", field: "greetingPromptId", prompts: data.prompts, empty: "No greeting" }),
      selectField({ label: "First menu", state, key: "rootMenuId", field: "rootMenuId", options: Object.fromEntries(state.menus.map((m) => [m.id, m.name || m.id])) }),
    );
  };

  const renderMenus = (focusSelector = null) => {
    const menus = state.menus.map((menu, menuIndex) => {
      const at = `menus[${menuIndex}]`;
      const optionRows = menu.options.map((option, optionIndex) => {
        const where = `${at}.options[${optionIndex}]`;
        const cell = h("td", {}, optionTarget(option, `${where}.target`, state, data));
        const remove = h("button", { type: "button", class: "small subtle", "aria-label": `Remove key ${option.digit} of ${menu.name || menu.id}` }, "Remove");
        remove.addEventListener("click", () => {
          menu.options.splice(optionIndex, 1);
          renderMenus(`[data-add-option="${menuIndex}"]`);
        });
        return h(
          "tr",
          { dataset: { digit: option.digit } },
          h("td", {}, selectField({ label: "Key", state: option, key: "digit", field: `${where}.digit`, options: Object.fromEntries(DIGITS.map((d) => [d, d])), visuallyHiddenLabel: true })),
          h(
            "td",
            {},
            selectField({
              label: "Action",
              state: option,
              key: "action",
              field: `${where}.action`,
              options: OPTION_ACTIONS,
              visuallyHiddenLabel: true,
              onChange: () => {
                option.target = null;
                replaceChildren(cell, optionTarget(option, `${where}.target`, state, data));
              },
            }),
          ),
          cell,
          h("td", {}, inputField({ label: "Label", state: option, key: "label", field: `${where}.label`, maxlength: 100, visuallyHiddenLabel: true })),
          h("td", {}, remove),
        );
      });
      const addOption = h("button", { type: "button", class: "small", "data-add-option": String(menuIndex) }, "Add a key");
      addOption.addEventListener("click", () => {
        const free = DIGITS.find((d) => !menu.options.some((o) => o.digit === d)) || "1";
        menu.options.push({ digit: free, action: "queue", target: null, label: "" });
        renderMenus(`[data-menu="${menuIndex}"] tbody tr:last-child select`);
      });
      const fallbackState = { on: Boolean(menu.fallback) };
      const fallbackBox = h("input", { type: "checkbox", id: uid("fallback"), checked: fallbackState.on, "data-field": `${at}.fallback` });
      fallbackBox.addEventListener("change", () => {
        menu.fallback = fallbackBox.checked ? { digit: "", action: "queue", target: null, label: "" } : null;
        renderMenus();
      });
      let fallback = null;
      if (menu.fallback) {
        const target = h("div", {}, optionTarget(menu.fallback, `${at}.fallback.target`, state, data));
        fallback = h(
          "div",
          { class: "form-grid" },
          selectField({
            label: "Then",
            state: menu.fallback,
            key: "action",
            field: `${at}.fallback.action`,
            options: OPTION_ACTIONS,
            onChange: () => {
              menu.fallback.target = null;
              replaceChildren(target, optionTarget(menu.fallback, `${at}.fallback.target`, state, data));
            },
          }),
          target,
        );
      }
      const removeMenu = state.menus.length > 1 ? h("button", { type: "button", class: "small danger" }, "Remove menu") : null;
      removeMenu?.addEventListener("click", () => {
        state.menus.splice(menuIndex, 1);
        if (!state.menus.some((m) => m.id === state.rootMenuId)) state.rootMenuId = state.menus[0].id;
        renderBasics();
        renderMenus("[data-add-menu]");
      });
      const nameInput = inputField({ label: "Menu name", state: menu, key: "name", field: `${at}.name`, maxlength: 100 });
      return h(
        "fieldset",
        { class: "menu", "data-menu": String(menuIndex), "data-field": at },
        h("legend", {}, `Menu: ${menu.name || menu.id}`),
        h(
          "div",
          { class: "form-grid" },
          nameInput,
          promptField({ label: "Menu prompt", state: menu, key: "promptId", field: `${at}.promptId`, prompts: data.prompts, empty: "Standard: choose an option" }),
          inputField({ label: "Wait for a key (s)", state: menu, key: "timeoutS", field: `${at}.timeoutS`, type: "number", min: 1, max: 60 }),
          inputField({ label: "Repeats after no key", state: menu, key: "maxRetries", field: `${at}.maxRetries`, type: "number", min: 0, max: 5 }),
        ),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "options-table" },
            h("caption", { class: "visually-hidden" }, `Keys of ${menu.name || menu.id}`),
            h("thead", {}, h("tr", {}, ["Key", "Action", "Target", "Label"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
            h("tbody", {}, optionRows.length ? optionRows : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No keys yet."))),
          ),
        ),
        h("div", { class: "form-actions" }, addOption, removeMenu),
        h("div", { class: "field" }, h("span", { class: "check" }, fallbackBox, h("label", { for: fallbackBox.id }, "When the repeats are used up, do something else than say goodbye"))),
        fallback,
      );
    });
    const addMenu = h("button", { type: "button", class: "small", "data-add-menu": "" }, "Add a menu");
    addMenu.addEventListener("click", () => {
      state.menus.push(newMenu(state.menus));
      renderBasics();
      renderMenus(`[data-menu="${state.menus.length - 1}"] input`);
    });
    replaceChildren(menusHolder, menus, h("div", { class: "form-actions" }, addMenu));
    if (focusSelector) menusHolder.querySelector(focusSelector)?.focus();
  };

  renderBasics();
  renderMenus();
  hours = hoursEditor({ hours: state.hours, queues: data.queues, users: data.users, prompts: data.prompts, zones: data.zones });

  const form = h("form", { id: "ivr-form", novalidate: true, "aria-labelledby": "section-title" }, summary, basics, h("h2", { class: "section-subtitle" }, "Menus"), menusHolder, hours.element);
  const save = h("button", { type: "submit", class: "primary" }, isNew ? "Create IVR" : "Save changes");
  const cancel = h("button", { type: "button" }, "Cancel");
  cancel.addEventListener("click", () => showIvrs(content, ctx));
  const remove = isNew ? null : h("button", { type: "button", class: "danger" }, "Delete IVR");
  form.append(h("div", { class: "form-actions" }, save, cancel, remove));
  if (remove) {
    confirmTwice(remove, "Select again to delete", async () => {
      try {
        await ctx.api.delete(`${IVRS}/${segment(ivr.id)}`);
        toast(`Deleted ${ivr.name}`);
        await showIvrs(content, ctx);
      } catch (error) {
        showErrors(form, summary, error);
      }
    });
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: state.name,
      language: state.language,
      greetingPromptId: state.greetingPromptId,
      rootMenuId: state.rootMenuId,
      menus: state.menus.map((menu) => ({
        id: menu.id,
        name: menu.name,
        promptId: menu.promptId,
        options: menu.options.map(({ digit, action, target, label }) => ({ digit, action, target, label })),
        timeoutS: menu.timeoutS,
        maxRetries: menu.maxRetries,
        fallback: menu.fallback,
      })),
      hours: hours.collect(),
    };
    save.disabled = true;
    try {
      const saved = isNew ? await ctx.api.post(IVRS, body) : await ctx.api.put(`${IVRS}/${segment(ivr.id)}`, body, { ifMatch: ivr.etag });
      toast(isNew ? `Created ${saved.name}` : `Saved ${saved.name}`);
      if (isNew) editIvr(content, ctx, saved, data);
      else await showIvrs(content, ctx);
    } catch (error) {
      save.disabled = false;
      // Reload: open the IVR as it is stored now (what was typed here is dropped).
      showErrors(form, summary, error, { reload: isNew ? null : async () => editIvr(content, ctx, await ctx.api.get(`${IVRS}/${segment(ivr.id)}`), data) });
    }
  });

  replaceChildren(content, section(isNew ? "New IVR" : `Edit ${ivr.name}`, form, isNew ? null : bindingsPanel(content, ctx, ivr, data)));
  content.querySelector("#ivr-name")?.focus();
}

/** The numbers and resource accounts whose calls the IVR answers, and a form to add one. */
function bindingsPanel(content, ctx, ivr, data) {
  const summary = errorSummary();
  const identityId = "ivr-binding-identity";
  const nameId = "ivr-binding-name";
  const form = h(
    "form",
    { id: "ivr-binding-form", novalidate: true, "aria-label": `Bind a number or account to ${ivr.name}` },
    summary,
    h(
      "div",
      { class: "form-grid" },
      h("div", { class: "field" }, h("label", { for: identityId }, "Phone number or resource account id"), h("input", { id: identityId, required: true, "data-field": "identity", autocomplete: "off", placeholder: "+14255550123" })),
      h("div", { class: "field" }, h("label", { for: nameId }, "Display name"), h("input", { id: nameId, maxlength: 100, "data-field": "displayName", autocomplete: "off" })),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Bind to this IVR")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await ctx.api.post(`${IVRS}/${segment(ivr.id)}/bindings`, {
        identity: form.querySelector(`#${identityId}`).value.trim(),
        displayName: form.querySelector(`#${nameId}`).value.trim(),
      });
      toast(`${created.id} now rings ${ivr.name}`);
      editIvr(content, ctx, await ctx.api.get(`${IVRS}/${segment(ivr.id)}`), data);
    } catch (error) {
      showErrors(form, summary, error);
    }
  });
  const rows = ivr.bindings.map((binding) => {
    const remove = h("button", { type: "button", class: "small danger", "aria-label": `Delete binding ${binding.id}` }, "Delete");
    confirmTwice(remove, "Select again to delete", async () => {
      try {
        await ctx.api.delete(`/api/tab/admin/bindings/${segment(binding.id)}`);
        toast(`Deleted ${binding.id}`);
        editIvr(content, ctx, await ctx.api.get(`${IVRS}/${segment(ivr.id)}`), data);
      } catch (error) {
        toast(error.message, { error: true });
      }
    });
    return h("tr", { dataset: { bindingId: binding.id } }, h("th", { scope: "row" }, binding.id), h("td", {}, binding.kind === "phoneNumber" ? "Phone number" : "Resource account"), h("td", {}, binding.displayName), h("td", {}, remove));
  });
  return h(
    "div",
    { class: "ivr-bindings" },
    h("h2", { class: "section-subtitle" }, "Numbers and accounts"),
    rows.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "ivr-bindings-table" },
            h("caption", { class: "visually-hidden" }, `Bound to ${ivr.name}`),
            h("thead", {}, h("tr", {}, ["Number or account", "Kind", "Display name"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
            h("tbody", {}, rows),
          ),
        )
      : h("p", { class: "muted" }, "Nothing is bound to this IVR yet."),
    form,
  );
}
