// What the reports' figures mean, shipped with the tab (the definitions are those of
// docs/kpis.md in the project's documentation; tests/analytics/test_kpi_definitions.py
// checks that every formula here is the one written there).

import { h } from "./dom.js";

export const KPI_DOCS = "docs/kpis.md";

/** The figures a report heads its columns with: short name, formula, and a sentence. */
export const KPI_DEFINITIONS = [
  { id: "aband-rate", name: "Aband. rate", formula: "abandoned / offered", sentence: "Share of offered calls whose caller hung up while waiting or ringing." },
  { id: "asa", name: "ASA", formula: "total wait of answered calls / answered", sentence: "Average speed of answer: how long answered callers waited, ringing included." },
  { id: "sl1", name: "SL1", formula: "answered within T / answered", sentence: "Of the calls answered, the share answered within T. Ignores callers who hung up." },
  { id: "sl2", name: "SL2", formula: "answered within T / (offered − abandoned within T)", sentence: "Like SL1 over every offered call, but forgives callers who hung up within T." },
  { id: "sl3", name: "SL3", formula: "(answered within T + abandoned within T) / offered", sentence: "Counts callers who hung up within T as served." },
  { id: "sl4", name: "SL4", formula: "answered within T / offered", sentence: "The strictest: every offered call counts, and only those answered within T pass." },
  { id: "aht", name: "AHT", formula: "(talk + hold + wrap-up) / answered", sentence: "Average handle time of an answered call." },
  { id: "max-wait", name: "Max wait", formula: "the longest waitS of any offered call in the period", sentence: "The longest any caller waited, answered or not." },
];

const BY_NAME = Object.fromEntries(KPI_DEFINITIONS.map((d) => [d.name, d]));

/**
 * A column heading that says what its figure means: on hover, and on a click, which opens
 * the definitions below the table (the page's hash names the report, so no anchor link).
 */
export function kpiHeading(name) {
  const definition = BY_NAME[name];
  if (!definition) return name;
  const button = h("button", { type: "button", class: "kpi-link", title: `${definition.formula}. ${definition.sentence}` }, name);
  button.addEventListener("click", () => {
    const list = document.getElementById("kpi-definitions");
    const entry = document.getElementById(`kpi-${definition.id}`);
    if (!list || !entry) return;
    list.open = true;
    entry.scrollIntoView({ block: "center" });
    entry.classList.add("kpi-shown");
    setTimeout(() => entry.classList.remove("kpi-shown"), 2000);
  });
  return button;
}

/** The definitions of a report's figures, with T, a wait "within T" being at most T seconds. */
export function kpiDefinitions(thresholdS) {
  return h(
    "details",
    { class: "kpi-definitions", id: "kpi-definitions" },
    h("summary", {}, "What these figures mean"),
    h("p", {}, `T is ${thresholdS} s: a wait within T is at most ${thresholdS} seconds. A figure with nothing to divide by is shown as —. Calls count in the day and queue they were offered in.`),
    h(
      "dl",
      {},
      KPI_DEFINITIONS.map((d) => [h("dt", { id: `kpi-${d.id}` }, d.name), h("dd", {}, h("code", {}, d.formula), ". ", d.sentence)]),
    ),
    h("p", { class: "muted" }, `The full definitions are in ${KPI_DOCS} of the product's documentation.`),
  );
}
