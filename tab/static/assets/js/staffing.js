// Staffing: the Erlang C calculator (agents for a service-level target) and what-if runs
// of the discrete-event simulator, which run in the background on the server.

import { h, replaceChildren, toast } from "./dom.js";
import { lineChart } from "./charts.js";
import { percent, seconds } from "./format.js";

const ROUTING = { "longest-idle": "Longest idle", "round-robin": "Round robin", serial: "Serial", attendant: "Attendant (ring all)" };

function numberInput(id, label, value, attributes = {}, hint = null) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: id, type: "number", value: value === null ? "" : String(value), step: "any", ...attributes }),
    hint ? h("span", { class: "hint" }, hint) : null,
  );
}

function valueOf(form, id) {
  const text = form.querySelector(`#${id}`).value.trim();
  return text === "" ? null : Number(text);
}

function calculator(ctx) {
  const result = h("div", { id: "erlang-result", "aria-live": "polite" });
  const form = h(
    "form",
    { id: "erlang-form", class: "form-grid" },
    numberInput("erlang-calls", "Calls forecast", 100, { min: 0 }),
    numberInput("erlang-interval", "In minutes", 30, { min: 1, step: 1 }),
    numberInput("erlang-aht", "Average handle time (s)", 180, { min: 1 }),
    numberInput("erlang-target", "Service level target (%)", 80, { min: 1, max: 99 }),
    numberInput("erlang-threshold", "Answered within (s)", 20, { min: 0 }),
    numberInput("erlang-occupancy", "Maximum occupancy (%)", 85, { min: 1, max: 100 }, "Empty: no cap"),
    numberInput("erlang-shrinkage", "Shrinkage (%)", 30, { min: 0, max: 99 }, "Paid time not on calls"),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Calculate")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const occupancy = valueOf(form, "erlang-occupancy");
    try {
      const answer = await ctx.api.post("/api/tab/staffing/erlang-c", {
        calls: valueOf(form, "erlang-calls"),
        intervalMinutes: valueOf(form, "erlang-interval"),
        ahtS: valueOf(form, "erlang-aht"),
        targetServiceLevel: valueOf(form, "erlang-target") / 100,
        thresholdS: valueOf(form, "erlang-threshold"),
        maxOccupancy: occupancy === null ? null : occupancy / 100,
        shrinkage: (valueOf(form, "erlang-shrinkage") || 0) / 100,
      });
      replaceChildren(
        result,
        h(
          "p",
          { class: "staffing-answer" },
          h("strong", { id: "erlang-agents" }, `${answer.agents} agents`),
          ` on the phones (${answer.scheduledAgents} scheduled with shrinkage): ${percent(answer.serviceLevel, 1)} answered within the target, ASA ${seconds(answer.asaS)}, occupancy ${percent(answer.occupancy, 1)}. Traffic ${answer.trafficErlangs.toFixed(2)} erlangs.`,
        ),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "erlang-table" },
            h("thead", {}, h("tr", {}, ["Agents", "P(wait)", "Service level", "ASA", "Occupancy"].map((t) => h("th", { scope: "col", class: "num" }, t)))),
            h(
              "tbody",
              {},
              answer.table.map((row) =>
                h(
                  "tr",
                  { class: row.agents === answer.agents ? "chosen" : null },
                  h("th", { scope: "row", class: "num" }, String(row.agents)),
                  h("td", { class: "num" }, percent(row.pWait, 1)),
                  h("td", { class: "num" }, percent(row.serviceLevel, 1)),
                  h("td", { class: "num" }, seconds(row.asaS)),
                  h("td", { class: "num" }, percent(row.occupancy, 1)),
                ),
              ),
            ),
          ),
        ),
        lineChart({
          title: "Service level and occupancy by agents",
          categories: answer.table.map((r) => String(r.agents)),
          max: 1,
          series: [
            { name: "Service level", className: "series-2", values: answer.table.map((r) => r.serviceLevel) },
            { name: "Occupancy", className: "series-1", values: answer.table.map((r) => r.occupancy) },
          ],
        }),
      );
    } catch (error) {
      replaceChildren(result, h("div", { class: "message-bar error", role: "alert" }, error.message));
    }
  });
  return h("section", { class: "card", "aria-labelledby": "erlang-title" }, h("header", {}, h("h2", { id: "erlang-title" }, "Erlang C calculator")), form, result);
}

function whatIf(ctx) {
  const progress = h("progress", { id: "what-if-progress", max: 1, value: 0, hidden: true });
  const result = h("div", { id: "what-if-result", "aria-live": "polite" });
  const routing = h("select", { id: "what-if-routing" }, Object.entries(ROUTING).map(([value, label]) => h("option", { value }, label)));
  const form = h(
    "form",
    { id: "what-if-form", class: "form-grid" },
    numberInput("what-if-agents", "Agents", 14, { min: 1, max: 200, step: 1 }),
    numberInput("what-if-rate", "Calls per hour", 200, { min: 1 }),
    numberInput("what-if-handle", "Mean talk time (s)", 180, { min: 1 }),
    numberInput("what-if-calls", "Calls to simulate", 2000, { min: 1, max: 20000, step: 1 }),
    numberInput("what-if-wrap", "Wrap-up (s)", 0, { min: 0, max: 600, step: 1 }),
    numberInput("what-if-patience", "Mean patience (s)", null, { min: 1 }, "Empty: callers never hang up"),
    numberInput("what-if-ring", "Ring time (s)", 0, { min: 0, max: 60 }),
    h("div", { class: "field" }, h("label", { for: "what-if-routing" }, "Routing"), routing),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Run simulation")),
  );
  let polling = null;
  const poll = async (runId) => {
    const run = await ctx.api.get(`/api/tab/staffing/what-if/${encodeURIComponent(runId)}`);
    progress.hidden = false;
    progress.max = run.total || 1;
    progress.value = run.done;
    if (run.state === "done") {
      const r = run.result;
      replaceChildren(
        result,
        h(
          "dl",
          { class: "what-if-numbers" },
          [
            ["Offered", r.offered],
            ["Answered", r.answered],
            ["Abandoned", r.abandoned],
            ["ASA", seconds(r.asa_seconds)],
            ["Service level", percent(r.service_level, 1)],
            ["Occupancy", percent(r.occupancy, 1)],
            ["Longest queue", r.max_queue_length],
          ].map(([label, value]) => [h("dt", {}, label), h("dd", {}, String(value))]),
        ),
      );
      return;
    }
    if (run.state === "failed") {
      replaceChildren(result, h("div", { class: "message-bar error", role: "alert" }, run.error));
      return;
    }
    replaceChildren(result, h("p", { class: "muted" }, `Running: ${run.done} of ${run.total} calls`));
    polling = setTimeout(() => poll(runId).catch((error) => toast(error.message, { error: true })), 500);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearTimeout(polling);
    try {
      const run = await ctx.api.post("/api/tab/staffing/what-if", {
        agents: valueOf(form, "what-if-agents"),
        arrivalRate: valueOf(form, "what-if-rate"),
        handleTimeS: valueOf(form, "what-if-handle"),
        calls: valueOf(form, "what-if-calls"),
        wrapUpS: valueOf(form, "what-if-wrap"),
        patienceS: valueOf(form, "what-if-patience"),
        ringTimeS: valueOf(form, "what-if-ring"),
        routing: routing.value,
      });
      await poll(run.id);
    } catch (error) {
      replaceChildren(result, h("div", { class: "message-bar error", role: "alert" }, error.message));
    }
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "what-if-title" },
    h("header", {}, h("h2", { id: "what-if-title" }, "What if? Simulate a queue")),
    h("p", { class: "muted" }, "Runs the real routing engine on a virtual clock, in the background: Poisson arrivals, exponential talk times."),
    form,
    progress,
    result,
  );
}

export function renderStaffing(root, ctx) {
  replaceChildren(root, h("div", { class: "staffing" }, h("h1", { class: "visually-hidden" }, "Staffing"), calculator(ctx), whatIf(ctx)));
}
