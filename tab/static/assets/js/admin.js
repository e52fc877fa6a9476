// The admin console: queues, bindings, users and roles, seats, and the audit log.

import { segment } from "./api.js";
import { h, replaceChildren, toast } from "./dom.js";
import { showWebhooks } from "./webhooks.js";
import { confirmTwice, errorSummary, section, showErrors } from "./admin_form.js";
import { CONFIG_RENDERERS, CONFIG_SECTIONS, mountQueueExtras } from "./admin_config.js";
import { TENANT_RENDERERS, TENANT_SECTIONS } from "./admin_tenant.js";
import { showUsers } from "./admin_people.js";
import { showAudit } from "./admin_audit.js";

const SECTIONS = [
  ["queues", "Queues"],
  ["bindings", "Numbers and accounts"],
  ...CONFIG_SECTIONS,
  ["users", "Users and roles"],
  ["seats", "Seats"],
  ["audit", "Audit log"],
  ["webhooks", "Webhook export"],
  ...TENANT_SECTIONS,
];

const ROUTING = {
  attendant: "Attendant (ring all)",
  serial: "Serial",
  "round-robin": "Round robin",
  "longest-idle": "Longest idle",
};

const ALERTING = {
  "ring-first": "Ring first",
  "card-first": "Card first",
};

const ACTION_KINDS = {
  disconnect: "Disconnect",
  queue: "Send to another queue",
  "redirect-user": "Forward to a person",
  "redirect-number": "Forward to a phone number",
  voicemail: "Shared voicemail",
  callback: "Offer a callback",
};

const ACTIONS = [
  ["overflowAction", "When the queue is full"],
  ["timeoutAction", "When a caller waits too long"],
  ["noAgentAction", "When no agent is signed in"],
];

const NUMBERS = [
  ["alertTimeS", "Agent alert time (s)", 15, 180, "How long an agent rings before the next one."],
  ["wrapUpS", "Wrap-up (s)", 0, 600, "Time after a call before the next one."],
  ["maxSize", "Most callers waiting", 0, 200, "More callers than this overflow."],
  ["maxWaitS", "Longest wait (s)", 0, 2700, "After this a caller times out."],
  ["serviceLevelThresholdS", "Service level target (s)", 1, 600, "Answered within this counts as met."],
  ["priority", "Priority", 0, 10, "Higher-priority queues are served first."],
  ["missedOffersToAway", "Missed calls before away", 0, 20, "0 keeps agents available."],
];

export function renderAdmin(root, ctx) {
  const content = h("div", { id: "admin-content" });
  const links = SECTIONS.map(([id, label]) =>
    h("a", { href: `#${id}`, dataset: { section: id } }, label),
  );
  replaceChildren(
    root,
    h(
      "div",
      { class: "admin" },
      h("nav", { class: "admin-nav", "aria-label": "Admin sections" }, h("ul", {}, links.map((a) => h("li", {}, a)))),
      content,
    ),
  );

  const show = () => {
    const id = SECTIONS.some(([s]) => `#${s}` === location.hash) ? location.hash.slice(1) : "queues";
    for (const link of links) {
      if (link.dataset.section === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const renderers = { queues: showQueues, bindings: showBindings, users: showUsers, seats: showSeats, audit: showAudit, webhooks: showWebhooks, ...CONFIG_RENDERERS, ...TENANT_RENDERERS };
    renderers[id](content, ctx).catch((error) => {
      replaceChildren(content, h("div", { class: "message-bar error", role: "alert" }, error.message));
    });
  };
  window.addEventListener("hashchange", show);
  show();
  return () => window.removeEventListener("hashchange", show);
}

function numberField(name, label, min, max, hint, value) {
  const id = `queue-${name}`;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name, type: "number", min, max, step: 1, required: true, value: String(value), "data-field": name, "aria-describedby": `${id}-hint` }),
    h("span", { class: "hint", id: `${id}-hint` }, hint),
  );
}

function selectField(id, name, label, options, value, attributes = {}, hint = null) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("select", { id, name, "data-field": name, ...attributes }, Object.entries(options).map(([v, text]) => h("option", { value: v, selected: v === value }, text))),
    hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null,
  );
}

// =================================================================== queues
async function showQueues(content, ctx) {
  const [{ queues }, { bindings }, { users }, { syncs }] = await Promise.all([
    ctx.api.get("/api/tab/admin/queues"),
    ctx.api.get("/api/tab/admin/bindings"),
    ctx.api.get("/api/tab/admin/users"),
    ctx.api.get("/api/tab/admin/membership-syncs"),
  ]);
  const syncOf = Object.fromEntries(syncs.map((sync) => [sync.queueId, sync]));
  const agents = users.filter((u) => u.roles.includes("agent"));
  const names = Object.fromEntries(users.map((u) => [u.id, u.displayName]));
  const add = h("button", { type: "button", class: "primary", id: "new-queue" }, "New queue");
  add.addEventListener("click", () => editQueue(content, ctx, null, { queues, agents, users }));
  const rows = queues.map((queue) => {
    const edit = h("button", { type: "button", "aria-label": `Edit ${queue.name}` }, "Edit");
    edit.addEventListener("click", () => editQueue(content, ctx, queue, { queues, agents, users }));
    const lines = bindings.filter((b) => b.queueId === queue.id).map((b) => b.displayName || b.id);
    return h(
      "tr",
      { dataset: { queueId: queue.id } },
      h("th", { scope: "row" }, h("span", { class: "ellipsis queue-name", title: queue.name }, queue.name)),
      h("td", {}, ROUTING[queue.routingMethod]),
      h("td", {}, queue.alertingModel === "card-first" ? "Card first" : "Ring first"),
      h("td", { class: "members-cell" }, h("span", { class: "ellipsis", title: queue.members.map((m) => names[m] || m).join(", ") }, queue.members.map((m) => names[m] || m).join(", ") || h("span", { class: "muted" }, "none")), queue.membership ? membershipNote(content, ctx, queue, syncOf[queue.id]) : null),
      h("td", {}, lines.join(", ") || h("span", { class: "muted" }, "none")),
      h("td", {}, edit),
    );
  });
  replaceChildren(
    content,
    section(
      "Queues",
      h("p", { class: "muted" }, "Who takes a queue's calls, how they are chosen, and what happens when nobody can."),
      h("div", { class: "form-actions" }, add),
      queues.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { id: "queues-table" },
              h("caption", { class: "visually-hidden" }, "Queues"),
              h("thead", {}, h("tr", {}, ["Name", "Routing", "Alerting", "Members", "Numbers and accounts"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
              h("tbody", {}, rows),
            ),
          )
        : h("p", { class: "muted" }, "No queues yet."),
    ),
  );
}

/** Where a queue fed by a team gets its agents, how its last sync went, and "Sync now". */
function membershipNote(content, ctx, queue, sync) {
  const syncNow = h("button", { type: "button", class: "small", "aria-label": `Sync ${queue.name} now` }, "Sync now");
  syncNow.addEventListener("click", async () => {
    syncNow.disabled = true;
    try {
      const state = await ctx.api.post(`/api/tab/admin/queues/${segment(queue.id)}/membership/sync`);
      toast(state.lastError ? `${queue.name}: ${state.lastError}` : `Synced ${queue.name}: ${state.joined} joined, ${state.left} left`, { error: Boolean(state.lastError) });
      await showQueues(content, ctx);
    } catch (error) {
      toast(error.message, { error: true });
      syncNow.disabled = false;
    }
  });
  const source = queue.membership.displayName || queue.membership.sourceId;
  return h(
    "div",
    { class: "membership-note" },
    h("span", { class: "muted ellipsis", title: source }, `From ${source}`),
    sync?.lastError ? h("div", { class: "message-bar error" }, `Last sync failed: ${sync.lastError}`) : null,
    ...(sync?.warnings || []).map((warning) => h("div", { class: "message-bar warning" }, warning)),
    syncNow,
  );
}

function editQueue(content, ctx, queue, { queues, agents, users }) {
  const isNew = !queue;
  const q = queue || {
    name: "",
    routingMethod: "longest-idle",
    members: [],
    alertTimeS: 20,
    alertingModel: "ring-first",
    wrapUpS: 10,
    maxSize: 50,
    maxWaitS: 1200,
    serviceLevelThresholdS: 20,
    priority: 0,
    routeWhenBusy: false,
    missedOffersToAway: 3,
    requiredSkills: {},
    overflowAction: { kind: "disconnect", target: null },
    timeoutAction: { kind: "disconnect", target: null },
    noAgentAction: { kind: "disconnect", target: null },
  };
  const summary = errorSummary();
  // Members in their serial order first, then the other agents.
  const order = [...q.members, ...agents.map((a) => a.id).filter((id) => !q.members.includes(id))];
  const byId = Object.fromEntries(users.map((u) => [u.id, u]));
  const memberList = h("ul", { class: "members", "data-field": "members", "aria-label": "Members in ring order" });

  function renderMembers(checked) {
    replaceChildren(
      memberList,
      order.map((id, index) => {
        const name = byId[id]?.displayName || id;
        const box = h("input", { type: "checkbox", id: `member-${id}`, value: id, checked: checked.has(id), "data-field": `members[${index}]` });
        box.addEventListener("change", () => (box.checked ? checked.add(id) : checked.delete(id)));
        const move = (delta, label) => {
          const button = h("button", { type: "button", class: "small subtle", "aria-label": `Move ${name} ${label}`, disabled: index + delta < 0 || index + delta >= order.length }, label === "up" ? "↑" : "↓");
          button.addEventListener("click", () => {
            [order[index], order[index + delta]] = [order[index + delta], order[index]];
            renderMembers(checked);
            memberList.querySelector(`[aria-label="Move ${CSS.escape(name)} ${label}"]`)?.focus();
          });
          return button;
        };
        return h("li", {}, h("label", { class: "check", for: `member-${id}` }, box, name), move(-1, "up"), move(1, "down"));
      }),
    );
  }
  const checked = new Set(q.members);
  renderMembers(checked);

  const targetControl = (field, action) => {
    const id = `${field}-target`;
    const kind = action.kind;
    const wrap = h("div", { class: "field" });
    if (kind === "queue") {
      const others = queues.filter((other) => other.id !== q.id);
      replaceChildren(wrap, h("label", { for: id }, "Queue"), h("select", { id, "data-field": `${field}.target` }, h("option", { value: "" }, "Choose a queue"), others.map((o) => h("option", { value: o.id, selected: o.id === action.target }, o.name))));
    } else if (kind === "redirect-user") {
      replaceChildren(wrap, h("label", { for: id }, "Person"), h("select", { id, "data-field": `${field}.target` }, h("option", { value: "" }, "Choose a person"), users.map((u) => h("option", { value: u.id, selected: u.id === action.target }, u.displayName))));
    } else if (kind === "redirect-number") {
      replaceChildren(wrap, h("label", { for: id }, "Phone number"), h("input", { id, type: "tel", placeholder: "+14255550100", value: action.target || "", "data-field": `${field}.target`, autocomplete: "off" }));
    } else {
      wrap.hidden = true;
    }
    return wrap;
  };

  const actionFieldsets = ACTIONS.map(([field, legend]) => {
    const action = { ...q[field] };
    const kindId = `${field}-kind`;
    const kindSelect = h("select", { id: kindId, "data-field": `${field}.kind` }, Object.entries(ACTION_KINDS).map(([v, text]) => h("option", { value: v, selected: v === action.kind }, text)));
    let target = targetControl(field, action);
    kindSelect.addEventListener("change", () => {
      action.kind = kindSelect.value;
      const next = targetControl(field, action);
      target.replaceWith(next);
      target = next;
    });
    return h("fieldset", { dataset: { action: field } }, h("legend", {}, legend), h("div", { class: "field" }, h("label", { for: kindId }, "Action"), kindSelect), target);
  });

  const form = h(
    "form",
    { id: "queue-form", novalidate: true, "aria-labelledby": "section-title" },
    summary,
    h(
      "div",
      { class: "form-grid" },
      h("div", { class: "field" }, h("label", { for: "queue-name" }, "Name"), h("input", { id: "queue-name", name: "name", required: true, maxlength: 64, value: q.name, "data-field": "name", autocomplete: "off" })),
      selectField("queue-routing", "routingMethod", "Routing method", ROUTING, q.routingMethod),
      selectField("queue-alerting", "alertingModel", "Alerting", ALERTING, q.alertingModel, { "aria-describedby": "queue-alerting-hint" }, "Ring first: Teams rings with a card to decline. Card first: the agent accepts on the card, then Teams rings."),
      NUMBERS.map(([name, label, min, max, hint]) => numberField(name, label, min, max, hint, q[name])),
      h("div", { class: "field" }, h("span", { class: "check" }, h("input", { type: "checkbox", id: "queue-busy", name: "routeWhenBusy", checked: q.routeWhenBusy, "data-field": "routeWhenBusy" }), h("label", { for: "queue-busy" }, "Also ring agents who are busy in Teams"))),
    ),
    h("fieldset", { class: "span-all", style: null }, h("legend", {}, "Members"), agents.length ? memberList : h("p", { class: "muted" }, "No agents yet: give users the agent role first.")),
    h("div", { class: "actions-grid" }, actionFieldsets),
  );
  const save = h("button", { type: "submit", class: "primary" }, isNew ? "Create queue" : "Save changes");
  const cancel = h("button", { type: "button" }, "Cancel");
  cancel.addEventListener("click", () => showQueues(content, ctx));
  const remove = isNew ? null : h("button", { type: "button", class: "danger" }, "Delete queue");
  const knownSkills = [...queues.flatMap((other) => Object.keys(other.requiredSkills || {})), ...users.flatMap((user) => Object.keys(user.agent?.skills || {}))];
  const extras = mountQueueExtras(form, q, { api: ctx.api, queues, users, knownSkills });
  form.append(h("div", { class: "form-actions" }, save, cancel, remove));

  if (remove) confirmTwice(remove, "Select again to delete", async () => {
    try {
      await ctx.api.delete(`/api/tab/admin/queues/${segment(q.id)}`);
      toast(`Deleted ${q.name}`);
      await showQueues(content, ctx);
    } catch (error) {
      showErrors(form, summary, error);
    }
  });

  // Open the queue as it is stored now (what was typed here is dropped).
  const reloadQueue = async () => editQueue(content, ctx, await ctx.api.get(`/api/tab/admin/queues/${segment(q.id)}`), { queues, agents, users });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (name) => form.elements[name].value;
    const action = (field) => {
      const kind = form.querySelector(`#${field}-kind`).value;
      const target = form.querySelector(`#${field}-target`);
      return { kind, target: target && !target.closest("[hidden]") ? target.value.trim() || null : null };
    };
    const body = {
      name: value("name").trim(),
      routingMethod: value("routingMethod"),
      alertingModel: value("alertingModel"),
      members: order.filter((id) => checked.has(id)),
      routeWhenBusy: form.elements.routeWhenBusy.checked,
      requiredSkills: q.requiredSkills || {},
      overflowAction: action("overflowAction"),
      timeoutAction: action("timeoutAction"),
      noAgentAction: action("noAgentAction"),
      ...extras.collect(),
    };
    for (const [name] of NUMBERS) {
      const raw = value(name).trim();
      body[name] = raw === "" || Number.isNaN(Number(raw)) ? raw : Number(raw);
    }
    save.disabled = true;
    try {
      const saved = isNew ? await ctx.api.post("/api/tab/admin/queues", body) : await ctx.api.put(`/api/tab/admin/queues/${segment(q.id)}`, body, { ifMatch: q.etag });
      toast(isNew ? `Created ${saved.name}` : `Saved ${saved.name}`);
      await showQueues(content, ctx);
    } catch (error) {
      save.disabled = false;
      showErrors(form, summary, error, { reload: isNew ? null : reloadQueue });
    }
  });

  replaceChildren(content, section(isNew ? "New queue" : `Edit ${q.name}`, form));
  form.querySelector("#queue-name").focus();
}

// ================================================================= bindings
async function showBindings(content, ctx) {
  const [{ bindings }, { queues }] = await Promise.all([ctx.api.get("/api/tab/admin/bindings"), ctx.api.get("/api/tab/admin/queues")]);
  const summary = errorSummary();
  const form = h(
    "form",
    { id: "binding-form", novalidate: true, "aria-label": "Bind a number or account" },
    summary,
    h(
      "div",
      { class: "form-grid" },
      h("div", { class: "field" }, h("label", { for: "binding-identity" }, "Phone number or resource account id"), h("input", { id: "binding-identity", name: "identity", required: true, "data-field": "identity", autocomplete: "off", placeholder: "+14255550123", "aria-describedby": "binding-identity-hint" }), h("span", { class: "hint", id: "binding-identity-hint" }, "E.164 number, or the resource account's object id")),
      h("div", { class: "field" }, h("label", { for: "binding-queue" }, "Queue"), h("select", { id: "binding-queue", name: "queueId", "data-field": "queueId" }, queues.map((q) => h("option", { value: q.id }, q.name)))),
      h("div", { class: "field" }, h("label", { for: "binding-name" }, "Display name"), h("input", { id: "binding-name", name: "displayName", maxlength: 100, "data-field": "displayName", autocomplete: "off" })),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Bind")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await ctx.api.post("/api/tab/admin/bindings", {
        identity: form.elements.identity.value.trim(),
        queueId: form.elements.queueId.value,
        displayName: form.elements.displayName.value.trim(),
      });
      toast(`${created.id} now rings ${created.queueName}`);
      await showBindings(content, ctx);
    } catch (error) {
      showErrors(form, summary, error);
    }
  });
  const rows = bindings.map((b) => {
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete binding ${b.id}` }, "Delete");
    confirmTwice(remove, "Select again to delete", async () => {
      try {
        await ctx.api.delete(`/api/tab/admin/bindings/${segment(b.id)}`);
        toast(`Deleted ${b.id}`);
        await showBindings(content, ctx);
      } catch (error) {
        toast(error.message, { error: true });
      }
    });
    return h("tr", { dataset: { bindingId: b.id } }, h("th", { scope: "row" }, b.id), h("td", {}, b.kind === "phoneNumber" ? "Phone number" : "Resource account"), h("td", {}, b.queueName), h("td", {}, b.displayName), h("td", {}, remove));
  });
  replaceChildren(
    content,
    section(
      "Numbers and accounts",
      h("p", { class: "muted" }, "Calls to these resource accounts and numbers go to their queue."),
      rows.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { id: "bindings-table" },
              h("caption", { class: "visually-hidden" }, "Bindings"),
              h("thead", {}, h("tr", {}, ["Number or account", "Kind", "Queue", "Display name"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
              h("tbody", {}, rows),
            ),
          )
        : h("p", {}, "Nothing is bound yet: calls to your resource accounts are refused."),
      h("h2", { class: "section-subtitle" }, "Bind a number or account"),
      form,
    ),
  );
}

// ==================================================================== seats
async function showSeats(content, ctx) {
  const seats = await ctx.api.get("/api/tab/admin/seats");
  const summary = errorSummary();
  const form = h(
    "form",
    { id: "seat-count-form", novalidate: true, "aria-label": "Number of seats" },
    summary,
    h("div", { class: "form-grid" }, h("div", { class: "field" }, h("label", { for: "seat-count" }, "Seats"), h("input", { id: "seat-count", name: "seatCount", type: "number", min: 0, value: String(seats.seatCount), "data-field": "seatCount" }))),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Save")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await ctx.api.put("/api/tab/admin/seats", { seatCount: Number(form.elements.seatCount.value) });
      toast("Seat count saved");
      await showSeats(content, ctx);
    } catch (error) {
      showErrors(form, summary, error);
    }
  });
  const rows = seats.agents.map((agent) => {
    const button = h("button", { type: "button", class: agent.hasSeat ? "" : "primary", "aria-label": `${agent.hasSeat ? "Release the seat of" : "Give a seat to"} ${agent.displayName}` }, agent.hasSeat ? "Release seat" : "Assign seat");
    button.addEventListener("click", async () => {
      try {
        const path = `/api/tab/admin/seats/${segment(agent.id)}`;
        await (agent.hasSeat ? ctx.api.delete(path) : ctx.api.put(path));
        await showSeats(content, ctx);
      } catch (error) {
        toast(error.message, { error: true });
      }
    });
    return h("tr", { dataset: { agentId: agent.id } }, h("th", { scope: "row" }, agent.displayName), h("td", {}, agent.hasSeat ? h("span", { class: "badge success" }, "Has a seat") : h("span", { class: "badge" }, "No seat")), h("td", {}, button));
  });
  replaceChildren(
    content,
    section(
      "Seats",
      h("p", { id: "seat-summary" }, h("strong", {}, `${seats.assigned} of ${seats.seatCount}`), " seats assigned. Only agents with a seat are offered calls."),
      form,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "seats-table" },
          h("caption", { class: "visually-hidden" }, "Agents and seats"),
          h("thead", {}, h("tr", {}, ["Agent", "Seat"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
          h("tbody", {}, rows),
        ),
      ),
    ),
  );
}

// ==================================================================== audit
