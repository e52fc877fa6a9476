// Live queue tiles: callers waiting, the longest wait, and agents by state.

import { duration, h, replaceChildren } from "./dom.js";

const AGENT_ROWS = [
  ["available", "Available"],
  ["ringing", "Ringing"],
  ["onCall", "On a call"],
  ["wrapUp", "Wrap-up"],
  ["notReady", "Not ready"],
  ["signedOut", "Signed out"],
];

export function renderTiles(container, live) {
  if (!live.queues.length) {
    replaceChildren(container, h("p", { class: "muted" }, "No queues to show."));
    return;
  }
  replaceChildren(
    container,
    h(
      "ul",
      { class: "tiles", role: "list", style: null },
      live.queues.map((queue) => {
        const late = queue.longestWaitS > queue.serviceLevelThresholdS;
        return h(
          "li",
          { class: "tile", dataset: { queueId: queue.id }, "aria-labelledby": `tile-${queue.id}` },
          h("h3", { id: `tile-${queue.id}` }, queue.name),
          h(
            "div",
            { class: "tile-numbers" },
            h(
              "div",
              {},
              h("div", { class: "big-number", dataset: { stat: "waiting" } }, String(queue.waiting + queue.ringing)),
              h("div", { class: "muted" }, "waiting"),
            ),
            h(
              "div",
              {},
              h("div", { class: late ? "big-number warn" : "big-number" }, duration(queue.longestWaitS)),
              h("div", { class: "muted" }, late ? "longest wait (over target)" : "longest wait"),
            ),
          ),
          h(
            "dl",
            {},
            AGENT_ROWS.map(([key, label]) => [h("dt", {}, label), h("dd", {}, String(queue.agents[key] ?? 0))]),
          ),
        );
      }),
    ),
  );
}
