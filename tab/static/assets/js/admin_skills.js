// Skills with levels: an agent's (what they can do, 1-10) or a queue's (the least level a call needs).

import { h, replaceChildren } from "./dom.js";
import { uid } from "./admin_form.js";

const LEVELS = Array.from({ length: 10 }, (_, index) => String(index + 1));

/**
 * A list of skill names with a level each. ``skills`` is {name: level}; ``known`` are the
 * names in use elsewhere (offered as suggestions); ``collect()`` gives the API's object.
 */
export function skillsEditor({ skills, field, legend, levelLabel, known = [], hint = null }) {
  const rows = Object.entries(skills || {}).map(([name, level]) => ({ name, level: String(level) }));
  const listId = uid(`${field}-names`);
  const body = h("div", { class: "skills-rows" });
  const root = h("fieldset", { class: "skills-editor", "data-field": field }, h("legend", {}, legend), hint ? h("p", { class: "hint muted" }, hint) : null, body, h("datalist", { id: listId }, [...new Set(known)].sort().map((name) => h("option", { value: name }))));

  const render = (focusLast = false) => {
    const lines = rows.map((row, index) => {
      const nameId = uid(`${field}-name`);
      const levelId = uid(`${field}-level`);
      const name = h("input", { id: nameId, value: row.name, list: listId, maxlength: 40, autocomplete: "off", "data-field": `${field}.${row.name || index}`, class: "skill-name" });
      name.addEventListener("input", () => {
        row.name = name.value.trim();
      });
      const level = h("select", { id: levelId, class: "skill-level" }, LEVELS.map((value) => h("option", { value, selected: value === row.level }, value)));
      level.addEventListener("change", () => {
        row.level = level.value;
      });
      const remove = h("button", { type: "button", class: "small subtle", "aria-label": `Remove skill ${row.name || index + 1}` }, "Remove");
      remove.addEventListener("click", () => {
        rows.splice(index, 1);
        render();
      });
      return h(
        "div",
        { class: "skill-row" },
        h("div", { class: "field" }, h("label", { for: nameId }, "Skill"), name),
        h("div", { class: "field" }, h("label", { for: levelId }, levelLabel), level),
        remove,
      );
    });
    const add = h("button", { type: "button", class: "small" }, "Add a skill");
    add.addEventListener("click", () => {
      rows.push({ name: "", level: "1" });
      render(true);
    });
    replaceChildren(body, lines.length ? lines : h("p", { class: "muted" }, "No skills."), h("div", { class: "form-actions" }, add));
    if (focusLast) body.querySelector(".skill-row:last-of-type input")?.focus();
  };
  render();

  const collect = () => Object.fromEntries(rows.filter((row) => row.name).map((row) => [row.name, Number(row.level)]));
  return { element: root, collect };
}
