// What the views of the floor (wallboard, supervise) share: agents' state names, the
// server's clock for time in state, text updated in place, and a small confirmation before
// a supervisor's action (Teams blocks window.confirm in its frames: a <dialog> of our own).

import { h } from "./dom.js";

/** An agent's state on the floor, by the API's name: label and colour class. */
export const FLOOR_STATES = {
  available: ["Available", "state-available"],
  ringing: ["Ringing", "state-ringing"],
  "on-call": ["On a call", "state-on-call"],
  "wrap-up": ["Wrap-up", "state-wrap-up"],
  "not-ready": ["Not ready", "state-not-ready"],
  "signed-out": ["Signed out", "state-signed-out"],
};

let open = null;

/** Ask to confirm an action; resolve true when confirmed, false when cancelled. */
export function confirmAction({ title, detail = "", confirmLabel = "Confirm" }) {
  open?.close("cancel");
  const yes = h("button", { type: "button", class: "primary small", value: "confirm" }, confirmLabel);
  const no = h("button", { type: "button", class: "small", value: "cancel" }, "Cancel");
  const dialog = h(
    "dialog",
    { class: "confirm-dialog", "aria-labelledby": "confirm-title", "aria-describedby": detail ? "confirm-detail" : null },
    h("h2", { id: "confirm-title" }, title),
    detail ? h("p", { id: "confirm-detail" }, detail) : null,
    h("div", { class: "form-actions" }, yes, no),
  );
  document.body.append(dialog);
  open = dialog;
  return new Promise((resolve) => {
    yes.addEventListener("click", () => dialog.close("confirm"));
    no.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => {
      if (open === dialog) open = null;
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    dialog.showModal();
    yes.focus();
  });
}

/** The server's clock as this page estimates it (milliseconds), from a view's ``at``. */
export class ServerClock {
  constructor() {
    this.offset = 0;
  }

  /** Align with the time a view was made at. */
  sync(iso) {
    const at = Date.parse(iso);
    if (!Number.isNaN(at)) this.offset = at - Date.now();
  }

  /** Seconds elapsed since ``iso`` on the server's clock. */
  secondsSince(iso) {
    const since = Date.parse(iso);
    return Number.isNaN(since) ? null : Math.max(0, (Date.now() + this.offset - since) / 1000);
  }
}

/** Set an element's text, touching the DOM only when it changed. */
export function setText(element, text) {
  const value = String(text);
  const node = element.firstChild;
  if (node && node.nodeType === Node.TEXT_NODE && !node.nextSibling) {
    if (node.data !== value) node.data = value;
  } else if (element.textContent !== value) {
    element.textContent = value;
  }
}
