// The admin console's people: users and roles, agents' skills and licences, supervisors'
// queues, and the one dialog that makes people of the directory agents of queues.

import { segment } from "./api.js";
import { h, replaceChildren, ROLE_LABELS, STATUS_LABELS, toast } from "./dom.js";
import { errorSummary, section, showErrors } from "./admin_form.js";
import { skillsEditor } from "./admin_skills.js";

const LICENCES = {
  "teams-phone": ["success", "Teams Phone", "Can take Teams calls, and calls to a number of their own."],
  teams: ["success", "Teams", "Can take Teams calls."],
  none: ["danger", "No Teams licence", "Cannot take calls in Teams: assign a Teams licence in the Microsoft 365 admin center."],
  unknown: ["", "Licence unknown", "The directory did not say."],
};

/** A name that may be long: shortened with an ellipsis, in full on hover. */
export function shortName(text, tag = "span", attributes = {}) {
  return h(tag, { class: "ellipsis", title: text, ...attributes }, text);
}

function licenceBadge(licence) {
  const [tone, label, meaning] = LICENCES[licence] || LICENCES.unknown;
  return h("span", { class: `badge ${tone}`.trim(), title: meaning, "data-licence": licence }, label);
}

function scopeText(user, queueNames) {
  if (user.supervisesAllQueues) return "All queues";
  const names = user.supervisedQueueIds.map((id) => queueNames[id]).filter(Boolean);
  return names.length ? names.join(", ") : "None";
}

/** An editor under a user's row (skills, supervised queues): one open at a time. */
function rowEditor(row, columns, title, body, onSave) {
  row.parentElement.querySelector(".row-editor")?.remove();
  const summary = errorSummary();
  const save = h("button", { type: "button", class: "primary small" }, "Save");
  const cancel = h("button", { type: "button", class: "small" }, "Cancel");
  const form = h("div", { class: "row-editor-body", role: "group", "aria-label": title }, h("h3", {}, title), summary, body, h("div", { class: "form-actions" }, save, cancel));
  const editor = h("tr", { class: "row-editor" }, h("td", { colspan: String(columns) }, form));
  cancel.addEventListener("click", () => editor.remove());
  save.addEventListener("click", async () => {
    save.disabled = true;
    try {
      await onSave();
    } catch (error) {
      showErrors(form, summary, error);
      save.disabled = false;
    }
  });
  row.after(editor);
  editor.querySelector("input, select, button")?.focus();
}

export async function showUsers(content, ctx) {
  const [{ users }, { queues }] = await Promise.all([ctx.api.get("/api/tab/admin/users"), ctx.api.get("/api/tab/admin/queues")]);
  const queueNames = Object.fromEntries(queues.map((q) => [q.id, q.name]));
  const knownSkills = [...queues.flatMap((q) => Object.keys(q.requiredSkills || {})), ...users.flatMap((u) => Object.keys(u.agent?.skills || {}))];
  const refresh = () => showUsers(content, ctx);
  const columns = 6;
  const rows = users.map((user) => {
    const boxes = Object.entries(ROLE_LABELS).map(([role, label]) => {
      const id = `role-${user.id}-${role}`;
      return h("span", { class: "check" }, h("input", { type: "checkbox", id, value: role, checked: user.roles.includes(role) }), h("label", { for: id, class: "check" }, label));
    });
    const save = h("button", { type: "button", class: "small", "aria-label": `Save roles of ${user.displayName}` }, "Save roles");
    const agentCell = h("td", { class: "agent-cell" });
    const scopeCell = h("td", {});
    const row = h(
      "tr",
      { dataset: { userId: user.id } },
      h("th", { scope: "row", class: "person-cell" }, shortName(user.displayName, "div"), shortName(user.upn, "div", { class: "ellipsis muted" })),
      h("td", {}, h("div", { class: "roles", role: "group", "aria-label": `Roles of ${user.displayName}` }, boxes), save),
      agentCell,
      h("td", { class: "licence-cell" }, user.agent ? h("span", { class: "muted" }, "…") : null),
      scopeCell,
    );
    if (user.agent) {
      const skills = Object.entries(user.agent.skills || {}).map(([name, level]) => `${name} ${level}`);
      const editSkills = h("button", { type: "button", class: "small", "aria-label": `Skills of ${user.displayName}` }, "Skills");
      editSkills.addEventListener("click", () => {
        const editor = skillsEditor({ skills: user.agent.skills, field: "skills", legend: `${user.displayName}'s skills`, levelLabel: "Level (1-10)", known: knownSkills });
        rowEditor(row, columns, `Skills of ${user.displayName}`, editor.element, async () => {
          await ctx.api.put(`/api/tab/admin/agents/${segment(user.id)}/skills`, { skills: editor.collect() });
          toast(`Saved the skills of ${user.displayName}`);
          await refresh();
        });
      });
      replaceChildren(
        agentCell,
        h("div", {}, `${STATUS_LABELS[user.agent.status]}${user.agent.hasSeat ? "" : " (no seat)"}`),
        h("div", { class: "muted skills-summary ellipsis", title: skills.join(", ") }, skills.length ? skills.join(", ") : "No skills"),
        editSkills,
      );
    } else {
      replaceChildren(agentCell, h("span", { class: "muted" }, "Not an agent"));
    }
    if (user.roles.includes("supervisor")) {
      const text = scopeText(user, queueNames);
      const change = h("button", { type: "button", class: "small", "aria-label": `Queues ${user.displayName} supervises` }, "Change");
      change.addEventListener("click", () => {
        const state = { all: user.supervisesAllQueues, ids: new Set(user.supervisedQueueIds) };
        const allId = `scope-all-${user.id}`;
        const all = h("input", { type: "checkbox", id: allId, checked: state.all, "data-field": "allQueues" });
        const list = h(
          "div",
          { class: "scope-queues", role: "group", "aria-label": "Queues" },
          queues.map((queue) => {
            const id = `scope-${user.id}-${queue.id}`;
            const box = h("input", { type: "checkbox", id, checked: state.ids.has(queue.id), disabled: state.all, "data-field": "queueIds" });
            box.addEventListener("change", () => (box.checked ? state.ids.add(queue.id) : state.ids.delete(queue.id)));
            return h("span", { class: "check" }, box, h("label", { for: id, title: queue.name, class: "ellipsis" }, queue.name));
          }),
        );
        all.addEventListener("change", () => {
          state.all = all.checked;
          for (const box of list.querySelectorAll("input")) box.disabled = state.all;
        });
        const body = h("div", {}, h("span", { class: "check" }, all, h("label", { for: allId }, "All queues, new ones too")), list, h("p", { class: "hint muted" }, "None ticked: they supervise no queue."));
        rowEditor(row, columns, `Queues ${user.displayName} supervises`, body, async () => {
          await ctx.api.put(`/api/tab/admin/users/${segment(user.id)}/supervised-queues`, { allQueues: state.all, queueIds: state.all ? [] : [...state.ids] });
          toast(`Saved the queues ${user.displayName} supervises`);
          await refresh();
        });
      });
      replaceChildren(scopeCell, h("div", { class: "ellipsis scope-summary", title: text }, text), change);
    } else {
      replaceChildren(scopeCell, h("span", { class: "muted" }, "–"));
    }
    save.addEventListener("click", async () => {
      const roles = [...row.querySelectorAll(".roles input:checked")].map((box) => box.value);
      try {
        await ctx.api.put(`/api/tab/admin/users/${segment(user.id)}/roles`, { roles });
        toast(`Saved the roles of ${user.displayName}`);
        await refresh();
      } catch (error) {
        const detail = error.details.map((d) => d.message).join("; ");
        toast(detail ? `${error.message}: ${detail}` : error.message, { error: true });
      }
    });
    return row;
  });
  const addAgents = h("button", { type: "button", class: "primary", id: "add-agents" }, "Add agents");
  addAgents.addEventListener("click", () => openAddAgents(ctx, queues, refresh));
  const table = h(
    "table",
    { id: "users-table" },
    h("caption", { class: "visually-hidden" }, "Users"),
    h("thead", {}, h("tr", {}, ["User", "Roles", "Agent", "Licence", "Supervises"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows),
  );
  replaceChildren(
    content,
    section(
      "Users and roles",
      h("p", { class: "muted" }, "Admins configure the contact center, supervisors watch queues, agents take calls. People come from your organization's directory."),
      h("div", { class: "form-actions" }, addAgents),
      h("div", { class: "table-wrap" }, table),
    ),
  );
  // Licences come from the directory, one person at a time: fill them in as they arrive.
  ctx.api
    .get("/api/tab/admin/agents/licences")
    .then(({ agents }) => {
      for (const { id, licence } of agents) {
        const cell = table.querySelector(`tr[data-user-id="${CSS.escape(id)}"] .licence-cell`);
        if (cell) replaceChildren(cell, licenceBadge(licence));
      }
    })
    .catch(() => {
      for (const cell of table.querySelectorAll(".licence-cell")) if (cell.textContent === "…") replaceChildren(cell, licenceBadge("unknown"));
    });
}

// ============================================================ the add-agents dialog
/** Open the dialog: find people, pick a seat, queues, and whether they are signed in. */
function openAddAgents(ctx, queues, refresh) {
  const picked = new Map();
  const state = { seat: true, signedIn: true, queueIds: new Set(), nextPage: null, text: "" };
  const summary = errorSummary();
  const searchId = "people-search";
  const search = h("input", { id: searchId, type: "search", autocomplete: "off", maxlength: 64, placeholder: "Part of a name, mail or sign-in name", "data-field": "text" });
  const found = h("ul", { class: "people-found", "aria-live": "polite", "aria-label": "People found" });
  const chosen = h("ul", { class: "people-chosen", "aria-label": "Chosen people", "data-field": "people" });
  const more = h("button", { type: "button", class: "small", hidden: true }, "More people");
  const submit = h("button", { type: "submit", class: "primary" }, "Add agents");
  const close = h("button", { type: "button" }, "Cancel");
  const seat = h("input", { type: "checkbox", id: "add-seat", checked: true });
  seat.addEventListener("change", () => (state.seat = seat.checked));
  const signedIn = h("input", { type: "checkbox", id: "add-signed-in", checked: true });
  signedIn.addEventListener("change", () => (state.signedIn = signedIn.checked));
  const queueBoxes = queues.map((queue) => {
    const id = `add-queue-${queue.id}`;
    const box = h("input", { type: "checkbox", id, value: queue.id, "data-field": "queueIds" });
    box.addEventListener("change", () => (box.checked ? state.queueIds.add(queue.id) : state.queueIds.delete(queue.id)));
    return h("span", { class: "check" }, box, h("label", { for: id, class: "ellipsis", title: queue.name }, queue.name));
  });

  const renderChosen = () => {
    replaceChildren(
      chosen,
      [...picked.values()].map((person) => {
        const remove = h("button", { type: "button", class: "small subtle", "aria-label": `Remove ${person.displayName}` }, "×");
        remove.addEventListener("click", () => {
          picked.delete(person.id);
          renderChosen();
          renderFound(lastFound, false);
        });
        return h("li", { class: "chip" }, shortName(person.displayName), remove);
      }),
    );
    submit.textContent = picked.size > 1 ? `Add ${picked.size} agents` : "Add agent";
    submit.disabled = picked.size === 0;
  };
  let lastFound = [];
  const renderFound = (people, append) => {
    lastFound = append ? [...lastFound, ...people] : people;
    replaceChildren(
      found,
      lastFound.length
        ? lastFound.map((person) => {
            const id = `pick-${person.id}`;
            const box = h("input", { type: "checkbox", id, checked: picked.has(person.id) });
            box.addEventListener("change", () => {
              if (box.checked) picked.set(person.id, person);
              else picked.delete(person.id);
              renderChosen();
            });
            const already = person.roles.includes("agent") ? h("span", { class: "badge" }, "Agent already") : null;
            return h("li", { class: "person-pick" }, box, h("label", { for: id }, shortName(person.displayName, "strong"), shortName(person.mail || person.upn, "span", { class: "ellipsis muted" })), already);
          })
        : h("li", { class: "muted" }, state.text ? "Nobody found." : "Type to find people."),
    );
    more.hidden = !state.nextPage;
  };
  let sequence = 0;
  const find = async (append) => {
    const mine = (sequence += 1);
    const query = new URLSearchParams({ text: state.text });
    if (append && state.nextPage) query.set("nextPage", state.nextPage);
    try {
      const page = await ctx.api.get(`/api/tab/admin/directory/people?${query}`);
      if (mine !== sequence) return;
      state.nextPage = page.nextPage;
      renderFound(page.people, append);
    } catch (error) {
      if (mine === sequence) showErrors(form, summary, error);
    }
  };
  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    state.text = search.value.trim();
    state.nextPage = null;
    if (!state.text) {
      renderFound([], false);
      return;
    }
    timer = setTimeout(() => find(false), 250);
  });
  more.addEventListener("click", () => find(true));

  const form = h(
    "form",
    { id: "add-agents-form", novalidate: true, method: "dialog" },
    h("h2", { id: "add-agents-title" }, "Add agents"),
    summary,
    h("fieldset", {}, h("legend", {}, "1. People"), h("div", { class: "field" }, h("label", { for: searchId }, "Find people"), search), found, more, h("h3", { class: "visually-hidden" }, "Chosen"), chosen),
    h("fieldset", {}, h("legend", {}, "2. Seat"), h("span", { class: "check" }, seat, h("label", { for: "add-seat" }, "Give each a seat (only agents with a seat are offered calls)"))),
    h("fieldset", { "data-field": "queueIds" }, h("legend", {}, "3. Queues"), queueBoxes.length ? h("div", { class: "scope-queues" }, queueBoxes) : h("p", { class: "muted" }, "No queues yet.")),
    h("fieldset", {}, h("legend", {}, "4. Signed in"), h("span", { class: "check" }, signedIn, h("label", { for: "add-signed-in" }, "Sign them in to these queues now"))),
    h("div", { class: "form-actions" }, submit, close),
  );
  const dialog = h("dialog", { id: "add-agents-dialog", "aria-labelledby": "add-agents-title" }, form);
  const finish = async () => {
    dialog.close();
    dialog.remove();
    await refresh();
  };
  close.addEventListener("click", () => {
    dialog.close();
    dialog.remove();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const { results } = await ctx.api.post("/api/tab/admin/agents", { people: [...picked.keys()], seat: state.seat, queueIds: [...state.queueIds], signedIn: state.signedIn });
      showResults(form, results, queues, finish);
    } catch (error) {
      showErrors(form, summary, error);
      submit.disabled = false;
    }
  });
  renderChosen();
  renderFound([], false);
  document.body.append(dialog);
  dialog.showModal();
  search.focus();
}

function showResults(form, results, queues, finish) {
  const names = Object.fromEntries(queues.map((q) => [q.id, q.name]));
  const done = h("button", { type: "button", class: "primary" }, "Done");
  done.addEventListener("click", finish);
  const items = results.map((result) => {
    const outcome = { added: "Added", updated: "Updated", refused: "Refused" }[result.outcome];
    const queuesText = result.queueIds.map((id) => names[id] || id).join(", ");
    return h(
      "li",
      { class: `result ${result.outcome}`, dataset: { personId: result.id } },
      h("div", { class: "result-head" }, shortName(result.displayName || result.id, "strong"), h("span", { class: `badge ${result.outcome === "refused" ? "danger" : "success"}` }, outcome), result.outcome === "refused" ? null : licenceBadge(result.licence)),
      result.problem ? h("p", {}, result.problem) : null,
      result.outcome === "refused" ? null : h("p", { class: "muted" }, `${result.hasSeat ? "Has a seat" : "No seat"}; ${queuesText ? `member of ${queuesText}` : "in no queue"}; ${result.signedInQueueIds.length ? "signed in" : "signed out"}.`),
      result.warnings.length ? h("ul", { class: "warnings" }, result.warnings.map((warning) => h("li", { class: "message-bar warning" }, warning))) : null,
    );
  });
  replaceChildren(form, h("h2", { id: "add-agents-title" }, "Added"), h("ul", { class: "enrolment-results", role: "status" }, items), h("div", { class: "form-actions" }, done));
  done.focus();
}
